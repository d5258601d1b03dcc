//! Gateways, their listeners, and which routes attach where.
//!
//! From the specification: listeners on one port must share a protocol and, when they do, have
//! distinct hostnames, or every listener involved is Conflicted; a route attaches to the
//! listeners its parentRef selects (by `sectionName` and `port`) whose `allowedRoutes` admit its
//! namespace and kind, and whose hostname intersects the route's hostnames.

use gatesim_generate::universe::GATEWAY_GROUP;
use gatesim_generate::{AllowedNamespaces, Gateway, GroupKind, Listener, Protocol, Route, World};

use super::hostnames;
use super::refs;

/// What the specification makes of one listener.
#[derive(Clone, Debug)]
pub struct ListenerEval {
    /// `Some(reason)` when the listener is Conflicted.
    pub conflict: Option<&'static str>,
    pub kinds: Vec<GroupKind>,
    pub invalid_kinds: bool,
    /// Why a certificateRef does not resolve (HTTPS only).
    pub certificate_problem: Option<&'static str>,
}

impl ListenerEval {
    /// Routes may attach: the listener is not in conflict.
    pub fn valid(&self) -> bool {
        self.conflict.is_none()
    }

    /// The data plane serves the listener.
    pub fn serves(&self) -> bool {
        self.valid() && self.certificate_problem.is_none()
    }

    pub fn accepts_http_routes(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| k.group == GATEWAY_GROUP && k.kind == "HTTPRoute")
    }
}

pub fn evaluate_gateway(world: &World, gw: &Gateway) -> Vec<ListenerEval> {
    gw.listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let same_port: Vec<&Listener> = gw
                .listeners
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && o.port == l.port)
                .map(|(_, o)| o)
                .collect();
            let conflict = if same_port.iter().any(|o| o.protocol != l.protocol) {
                Some("ProtocolConflict")
            } else if same_port.iter().any(|o| o.hostname == l.hostname) {
                Some("HostnameConflict")
            } else {
                None
            };
            let (kinds, invalid_kinds) = match &l.kinds {
                None => (
                    vec![GroupKind {
                        group: GATEWAY_GROUP.to_owned(),
                        kind: "HTTPRoute".to_owned(),
                    }],
                    false,
                ),
                Some(asked) => {
                    let ok = |k: &GroupKind| k.group == GATEWAY_GROUP && k.kind == "HTTPRoute";
                    let mut kinds: Vec<GroupKind> =
                        asked.iter().filter(|k| ok(k)).cloned().collect();
                    kinds.dedup();
                    (kinds, asked.iter().any(|k| !ok(k)))
                }
            };
            let certificate_problem = match l.protocol {
                Protocol::Http => None,
                Protocol::Https if l.certificates.is_empty() => Some("InvalidCertificateRef"),
                Protocol::Https => l
                    .certificates
                    .iter()
                    .map(|c| refs::certificate(world, &gw.namespace, c))
                    .find_map(Result::err),
            };
            ListenerEval {
                conflict,
                kinds,
                invalid_kinds,
                certificate_problem,
            }
        })
        .collect()
}

/// A Gateway is accepted while at least one listener is valid.
pub fn gateway_accepted(listeners: &[ListenerEval]) -> bool {
    listeners.iter().any(ListenerEval::valid)
}

pub fn allows_namespace(world: &World, gw: &Gateway, l: &Listener, route_ns: &str) -> bool {
    match &l.allowed {
        AllowedNamespaces::Same => route_ns == gw.namespace,
        AllowedNamespaces::All => true,
        AllowedNamespaces::Selector(labels) => {
            let have = world.namespace(route_ns).map(|n| &n.labels);
            labels
                .iter()
                .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
        }
    }
}

/// The outcome of one parentRef of a route that names a Gateway of the world.
#[derive(Clone, Debug)]
pub struct ParentOutcome {
    /// Index of the parentRef in the route.
    pub parent: usize,
    pub gateway: usize,
    /// Listeners the route is attached to (hostnames intersect).
    pub attached: Vec<usize>,
    /// Listeners the parentRef and `allowedRoutes` select, whatever the hostnames (what
    /// `attachedRoutes` may count, in the looser reading of the specification).
    pub selected: Vec<usize>,
    /// `Accepted`: `Ok` or the reasons a controller may give.
    pub accepted: Result<(), Vec<&'static str>>,
}

/// Every parentRef of `route` that names a Gateway of the world.
pub fn parents(world: &World, evals: &[Vec<ListenerEval>], route: &Route) -> Vec<ParentOutcome> {
    let mut out = Vec::new();
    for (p, pref) in route.parents.iter().enumerate() {
        let ns = pref.namespace.as_deref().unwrap_or(&route.namespace);
        let Some((g, gw)) = world.gateway(ns, &pref.name) else {
            continue;
        };
        let eval = &evals[g];
        let by_ref: Vec<usize> = gw
            .listeners
            .iter()
            .enumerate()
            .filter(|(_, l)| pref.section.as_ref().is_none_or(|s| *s == l.name))
            .filter(|(_, l)| pref.port.is_none_or(|port| port == l.port))
            .map(|(i, _)| i)
            .collect();
        let admits = |i: &usize| {
            eval[*i].accepts_http_routes()
                && allows_namespace(world, gw, &gw.listeners[*i], &route.namespace)
        };
        let selected: Vec<usize> = by_ref.iter().copied().filter(admits).collect();
        let usable: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&i| eval[i].valid())
            .collect();
        let attached: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|&i| {
                !hostnames::intersection(gw.listeners[i].hostname.as_deref(), &route.hostnames)
                    .is_empty()
            })
            .collect();
        let accepted = if !gateway_accepted(eval) {
            Err(Vec::new())
        } else if by_ref.is_empty() {
            Err(vec!["NoMatchingParent"])
        } else if usable.is_empty() {
            if selected.is_empty() {
                Err(vec!["NotAllowedByListeners"])
            } else {
                // Only invalid listeners are left: the specification names no reason.
                Err(Vec::new())
            }
        } else if attached.is_empty() {
            Err(vec!["NoMatchingListenerHostname"])
        } else {
            Ok(())
        };
        out.push(ParentOutcome {
            parent: p,
            gateway: g,
            attached: if accepted.is_ok() {
                attached
            } else {
                Vec::new()
            },
            selected,
            accepted,
        });
    }
    out
}
