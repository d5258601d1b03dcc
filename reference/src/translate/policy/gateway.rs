//! Gateway-level policies (VirtualHostOption, ListenerOption, HttpListenerOption): which apply
//! to each listener of each Gateway, through one generic resolution per kind.

use std::collections::BTreeMap;

use super::OptionKind;
use super::invalid;
use super::rank::{Candidate, Combined, Rank};
use super::status::{Ancestor, Report};
use crate::api::k8sgateway::{HttpListenerOptions, ListenerOptions, VirtualHostOptions};
use crate::model::{ObjectKey, ResourceSet};
use crate::translate::gateways::{GatewayIr, Protocol};

/// How Gateway-level policy candidates rank.
const TIERS: &[&str] = &[
    "a targetRef with sectionName",
    "a targetRef to the whole Gateway",
];

/// The effective Gateway-level options of one Gateway listener.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListenerPolicies {
    /// Applied to every virtual host the listener owns.
    pub virtual_host: Option<VirtualHostOptions>,
    /// For the Envoy listener of the listener's port and its connection managers
    /// (`envoy::listener_options`); the same for every Gateway listener on that port.
    pub listener: Option<ListenerOptions>,
    /// For the HTTP connection manager serving the listener (`envoy::listener_options`); the
    /// same for every HTTP Gateway listener on its port, which share one.
    pub http_listener: Option<HttpListenerOptions>,
}

/// The effective options of every listener of one Gateway, by listener index.
#[derive(Clone, Debug, Default)]
pub(crate) struct GatewayPolicies {
    pub listeners: Vec<ListenerPolicies>,
}

/// Resolve the three Gateway-level kinds for every Gateway (`gateways`, indexed by `index`).
pub(crate) fn resolve(
    set: &ResourceSet,
    gateways: &[GatewayIr],
    index: &BTreeMap<ObjectKey, usize>,
    report: &mut Report,
) -> Vec<GatewayPolicies> {
    let mut out: Vec<GatewayPolicies> = gateways
        .iter()
        .map(|g| GatewayPolicies {
            listeners: vec![ListenerPolicies::default(); g.listeners.len()],
        })
        .collect();
    let mut r = Resolver {
        set,
        gateways,
        index,
        report,
        out: &mut out,
    };
    r.kind::<crate::api::VirtualHostOption>(Scope::Listener, |l| &mut l.virtual_host);
    r.kind::<crate::api::ListenerOption>(Scope::Port, |l| &mut l.listener);
    r.kind::<crate::api::HttpListenerOption>(Scope::ConnectionManager, |l| &mut l.http_listener);
    out
}

/// Which Gateway listeners share the Envoy object a kind configures, and so compete for it as
/// one: a policy targeting any of them applies to all of them, since Envoy has one object.
#[derive(Clone, Copy)]
enum Scope {
    /// Each Gateway listener has its own virtual hosts.
    Listener,
    /// The Gateway listeners on one port share one Envoy listener.
    Port,
    /// HTTP listeners on one port share one connection manager; each HTTPS listener has its
    /// own filter chain and connection manager.
    ConnectionManager,
}

impl Scope {
    /// The Gateway listener whose competition decides for listener `l`: the first served
    /// listener sharing the Envoy object with it (itself when it shares nothing).
    fn owner(self, gw: &GatewayIr, l: usize) -> usize {
        let listener = &gw.listeners[l];
        let shared = match self {
            Scope::Listener => false,
            Scope::Port => true,
            Scope::ConnectionManager => listener.protocol == Some(Protocol::Http),
        };
        if !shared || listener.programmed().is_some() {
            return l;
        }
        gw.listeners
            .iter()
            .position(|o| o.port == listener.port && o.programmed().is_none())
            .unwrap_or(l)
    }
}

struct Resolver<'a, 'r> {
    set: &'a ResourceSet,
    gateways: &'a [GatewayIr],
    index: &'a BTreeMap<ObjectKey, usize>,
    report: &'r mut Report,
    out: &'r mut Vec<GatewayPolicies>,
}

impl<'a> Resolver<'a, '_> {
    fn kind<K: OptionKind>(
        &mut self,
        scope: Scope,
        slot: impl Fn(&mut ListenerPolicies) -> &mut Option<K::Options>,
    ) {
        // Candidates per (Gateway, owning listener), and the listener each one named.
        let mut competitions: BTreeMap<(usize, usize), Vec<Candidate<'a, K::Options>>> =
            BTreeMap::new();
        let mut sections: BTreeMap<(usize, usize, ObjectKey), &'a str> = BTreeMap::new();
        for (key, obj) in K::store(self.set) {
            let problem = invalid::option_object(self.set, key, obj.as_ref());
            let valid = problem.is_none();
            self.report.register(K::KIND, key, obj.as_ref(), problem);
            let created = obj.meta().creation_timestamp.as_ref().map(|t| t.0);
            for (i, t) in obj.targets().iter().enumerate() {
                let gw_key = ObjectKey::new(&key.namespace, t.name);
                if !t.names_kind::<K>() {
                    // Invalid, and said so; reported to the target as written.
                    let written = Ancestor::new(t.group, t.kind, &gw_key, t.section_name);
                    self.report.named(K::KIND, key, &written);
                    continue;
                }
                let ancestor = Ancestor::gateway(&gw_key, t.section_name);
                let Some(&g) = self.index.get(&gw_key) else {
                    // A Gateway of another controller is none of our business.
                    if !self.set.gateways.contains_key(&gw_key) {
                        self.report.not_found(
                            K::KIND,
                            key,
                            &ancestor,
                            format!("spec.targetRefs[{i}]: Gateway {gw_key} does not exist"),
                        );
                    }
                    continue;
                };
                let gw = &self.gateways[g];
                let listeners: Vec<usize> = match t.section_name {
                    Some(s) => gw
                        .listeners
                        .iter()
                        .position(|l| l.name == s)
                        .into_iter()
                        .collect(),
                    None => (0..gw.listeners.len()).collect(),
                };
                if let (Some(s), true) = (t.section_name, listeners.is_empty()) {
                    self.report.not_found(
                        K::KIND,
                        key,
                        &ancestor,
                        format!("spec.targetRefs[{i}]: Gateway {gw_key} has no listener named {s}"),
                    );
                    continue;
                }
                self.report.named(K::KIND, key, &ancestor);
                if !valid {
                    continue;
                }
                for l in listeners {
                    let owner = scope.owner(gw, l);
                    if let Some(s) = t.section_name {
                        sections.entry((g, owner, key.clone())).or_insert(s);
                    }
                    competitions.entry((g, owner)).or_default().push(Candidate {
                        kind: K::KIND,
                        rank: Rank {
                            tier: u8::from(t.section_name.is_none()),
                            position: 0,
                            created,
                            key: key.clone(),
                        },
                        options: obj.options(),
                    });
                }
            }
        }
        for ((g, l), candidates) in competitions {
            let gw = &self.gateways[g];
            let members: Vec<usize> = (0..gw.listeners.len())
                .filter(|&o| scope.owner(gw, o) == l)
                .collect();
            // Where the competition took place, when the ancestor alone does not say it.
            let shared_place = (members.len() > 1).then(|| {
                let names: Vec<&str> = members
                    .iter()
                    .map(|&m| gw.listeners[m].name.as_str())
                    .collect();
                format!(
                    "port {} (listeners {} share it)",
                    gw.listeners[l].port,
                    names.join(", ")
                )
            });
            let combined = Combined::new(candidates, K::COMBINE, TIERS);
            for (c, outcome) in combined.outcomes() {
                let whole = c.rank.tier == 1;
                let section = sections.get(&(g, l, c.rank.key.clone())).copied();
                let ancestor = Ancestor::gateway(&gw.key, (!whole).then_some(section).flatten());
                let place = match (&shared_place, whole) {
                    (Some(p), _) => p.clone(),
                    (None, true) => format!("listener {}", gw.listeners[l].name),
                    (None, false) => String::new(),
                };
                self.report
                    .outcome(K::KIND, &c.rank.key, &ancestor, &place, &outcome);
            }
            for m in members {
                *slot(&mut self.out[g].listeners[m]) = combined.effective.clone();
            }
        }
    }
}
