//! Gateways and their listeners: validation, conflicts, TLS certificates, and status.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::classes::ClassOutcome;
use super::conditions::{Problem, condition, kind, negative_condition, reason};
use super::output::{ObjectRef, StatusPatch, StatusUpdate};
use super::refs::{self, RefFrom, RefTo};
use crate::api::k8sgateway::gateway_parameters::GatewayParametersSpec;
use crate::api::{
    GATEWAY_GROUP, Gateway, GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom as From,
    GatewayListenersTlsMode,
};
use crate::model::{ObjectKey, ProxyProgress, ResourceSet};

/// A route kind a listener accepts: (group, kind).
pub(crate) type RouteGroupKind = (String, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Protocol {
    Http,
    Https,
}

impl Protocol {
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }

    /// Route kinds served on listeners of this protocol.
    fn route_kinds(self) -> &'static [&'static str] {
        &["HTTPRoute"]
    }
}

/// Which namespaces may attach routes to a listener.
#[derive(Clone, Debug)]
pub(crate) enum AllowedNamespaces {
    Same,
    All,
    Selector {
        labels: Option<BTreeMap<String, String>>,
        expressions: Vec<(String, String, Vec<String>)>,
    },
}

/// A PEM certificate chain and private key, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertPair {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Clone, Debug)]
pub(crate) struct ListenerIr {
    pub name: String,
    pub port: i32,
    /// `None` for a protocol this controller does not serve.
    pub protocol: Option<Protocol>,
    pub hostname: Option<String>,
    pub allowed: AllowedNamespaces,
    pub supported_kinds: Vec<RouteGroupKind>,
    pub accepted: Option<Problem>,
    pub resolved_refs: Option<Problem>,
    pub conflicted: Option<Problem>,
    pub certificates: Vec<CertPair>,
    pub attached_routes: AttachedRoutes,
}

/// How many distinct routes attached to a listener. All of one route's attachments are made
/// in one call (`routes::attach`), and each route comes once, so a route is told from the one
/// before by its position in the translation's route order: no keys copied or compared.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttachedRoutes {
    count: usize,
    last: Option<usize>,
}

impl AttachedRoutes {
    /// Count the route at `position`, once however many of its parentRefs attach here.
    pub fn add(&mut self, position: usize) {
        if self.last != Some(position) {
            self.last = Some(position);
            self.count += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }
}

impl ListenerIr {
    /// Routes may attach: the listener is accepted and not in conflict.
    pub fn accepts_routes(&self) -> bool {
        self.accepted.is_none() && self.conflicted.is_none() && self.protocol.is_some()
    }

    /// The listener is configured in Envoy.
    pub fn programmed(&self) -> Option<Problem> {
        if let Some(p) = self.accepted.as_ref().or(self.conflicted.as_ref()) {
            return Some(Problem::new(reason::INVALID, p.message.clone()));
        }
        if self.protocol == Some(Protocol::Https) && self.certificates.is_empty() {
            return Some(Problem::new(
                reason::INVALID,
                "the listener has no valid TLS certificate",
            ));
        }
        None
    }

    pub fn allows_kind(&self, group: &str, kind: &str) -> bool {
        self.supported_kinds
            .iter()
            .any(|(g, k)| g == group && k == kind)
    }

    pub fn allows_namespace(&self, set: &ResourceSet, gateway_ns: &str, route_ns: &str) -> bool {
        match &self.allowed {
            AllowedNamespaces::Same => gateway_ns == route_ns,
            AllowedNamespaces::All => true,
            AllowedNamespaces::Selector {
                labels,
                expressions,
            } => refs::selector_matches(
                labels.as_ref(),
                expressions
                    .iter()
                    .map(|(k, o, v)| (k.as_str(), o.as_str(), v.as_slice())),
                refs::namespace_labels(set, route_ns),
            ),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GatewayIr {
    pub key: ObjectKey,
    pub generation: Option<i64>,
    pub listeners: Vec<ListenerIr>,
    /// `Ok(reason)` when accepted (`Accepted` or `ListenersNotValid`), else the problem.
    pub accepted: Result<&'static str, Problem>,
    pub address: Option<String>,
    /// Why the data plane is not (yet) programmed, beyond what translation can see: the
    /// proxy has not acknowledged a configuration, or rejects the current one.
    pub data_plane: Option<Problem>,
    /// How its proxy is deployed (GatewayParameters, merged), when any apply.
    pub parameters: Option<GatewayParametersSpec>,
}

impl GatewayIr {
    pub fn is_accepted(&self) -> bool {
        self.accepted.is_ok()
    }
}

/// Validate every Gateway whose class is ours.
pub(crate) fn evaluate(
    set: &ResourceSet,
    classes: &BTreeMap<String, ClassOutcome>,
) -> Vec<GatewayIr> {
    set.gateways
        .iter()
        .filter_map(|(key, gw)| {
            let class = classes.get(&gw.spec.gateway_class_name)?;
            Some(evaluate_one(set, key, gw, class))
        })
        .collect()
}

fn evaluate_one(
    set: &ResourceSet,
    key: &ObjectKey,
    gw: &Gateway,
    class: &ClassOutcome,
) -> GatewayIr {
    let mut invalid = super::invalid::gateway(set, gw);
    let mut listeners: Vec<ListenerIr> = gw
        .spec
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| evaluate_listener(set, key, l, invalid.listeners.remove(&i)))
        .collect();
    mark_conflicts(&mut listeners);

    let valid = listeners.iter().filter(|l| l.accepts_routes()).count();
    let parameters = match class {
        Ok(default) => super::parameters::for_gateway(set, key, gw, default.clone()),
        Err(_) => Ok(None),
    };
    let accepted = if let Err(p) = class {
        // The class's parameters are this Gateway's too: say so with their reason.
        let why = match p.reason {
            reason::INVALID_PARAMETERS => reason::INVALID_PARAMETERS,
            _ => reason::PENDING,
        };
        Err(Problem::new(
            why,
            format!(
                "GatewayClass {} is not accepted: {}",
                gw.spec.gateway_class_name, p.message
            ),
        ))
    } else if let Some(p) = invalid.gateway {
        Err(p)
    } else if let Err(p) = &parameters {
        Err(p.clone())
    } else if gw.spec.addresses.as_ref().is_some_and(|a| !a.is_empty()) {
        Err(Problem::new(
            reason::UNSUPPORTED_ADDRESS,
            "spec.addresses is not supported: each Gateway gets an address from the infrastructure provider",
        ))
    } else if valid == 0 {
        Err(Problem::new(
            reason::LISTENERS_NOT_VALID,
            "no listener is valid",
        ))
    } else if valid < listeners.len() {
        Ok(reason::LISTENERS_NOT_VALID)
    } else {
        Ok(reason::ACCEPTED)
    };
    GatewayIr {
        key: key.clone(),
        generation: gw.metadata.generation,
        listeners,
        accepted,
        address: set.gateway_addresses.get(key).cloned(),
        data_plane: data_plane_problem(set, key),
        parameters: parameters.ok().flatten(),
    }
}

fn data_plane_problem(set: &ResourceSet, key: &ObjectKey) -> Option<Problem> {
    if !set.config.programmed_on_ack {
        return None;
    }
    match set.proxy_progress.get(key) {
        Some(ProxyProgress::Acknowledged) => None,
        Some(ProxyProgress::Rejected(message)) => Some(Problem::new(
            reason::INVALID,
            format!("the proxy rejected the current configuration: {message}"),
        )),
        Some(ProxyProgress::Pending) | None => Some(Problem::new(
            reason::PENDING,
            "waiting for the Gateway's proxy to acknowledge its configuration",
        )),
    }
}

/// `invalid`: what validation found wrong with the listener's fields.
fn evaluate_listener(
    set: &ResourceSet,
    gw_key: &ObjectKey,
    l: &GatewayListeners,
    invalid: Option<Problem>,
) -> ListenerIr {
    let protocol = match l.protocol.as_str() {
        "HTTP" => Some(Protocol::Http),
        "HTTPS" => Some(Protocol::Https),
        _ => None,
    };
    let mut accepted = match (invalid, protocol) {
        (Some(invalid), _) => Some(invalid),
        (None, Some(_)) => None,
        (None, None) => Some(Problem::new(
            reason::UNSUPPORTED_PROTOCOL,
            format!(
                "protocol {:?} is not supported; supported: HTTP, HTTPS",
                l.protocol
            ),
        )),
    };
    if accepted.is_none() && i64::from(l.port) + i64::from(set.config.port_offset) > 65535 {
        accepted = Some(Problem::new(
            reason::PORT_UNAVAILABLE,
            format!(
                "port {} plus the port offset {} exceeds 65535",
                l.port, set.config.port_offset
            ),
        ));
    }

    let allowed_routes = l.allowed_routes.as_ref();
    let namespaces = allowed_routes.and_then(|a| a.namespaces.as_ref());
    let allowed = match namespaces.and_then(|n| n.from.as_ref()) {
        None | Some(From::Same) => AllowedNamespaces::Same,
        Some(From::All) => AllowedNamespaces::All,
        Some(From::Selector) => {
            let sel = namespaces.and_then(|n| n.selector.as_ref());
            AllowedNamespaces::Selector {
                labels: sel.and_then(|s| s.match_labels.clone()),
                expressions: sel
                    .and_then(|s| s.match_expressions.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        (
                            e.key.clone(),
                            e.operator.clone(),
                            e.values.clone().unwrap_or_default(),
                        )
                    })
                    .collect(),
            }
        }
    };

    // Route kinds: the protocol's defaults, or the valid subset of those requested.
    let mut resolved_refs = None;
    let supported_kinds: Vec<RouteGroupKind> = match protocol {
        None => Vec::new(),
        Some(p) => match allowed_routes.and_then(|a| a.kinds.as_ref()) {
            None => p
                .route_kinds()
                .iter()
                .map(|k| (GATEWAY_GROUP.to_string(), k.to_string()))
                .collect(),
            Some(requested) => {
                let mut kinds = Vec::new();
                for rk in requested {
                    let group = rk
                        .group
                        .clone()
                        .unwrap_or_else(|| GATEWAY_GROUP.to_string());
                    if group == GATEWAY_GROUP && p.route_kinds().contains(&rk.kind.as_str()) {
                        let entry = (group, rk.kind.clone());
                        if !kinds.contains(&entry) {
                            kinds.push(entry);
                        }
                    } else if resolved_refs.is_none() {
                        resolved_refs = Some(Problem::new(
                            reason::INVALID_ROUTE_KINDS,
                            format!(
                                "route kind {group}/{} is not supported on {} listeners",
                                rk.kind, l.protocol
                            ),
                        ));
                    }
                }
                kinds
            }
        },
    };

    let mut certificates = Vec::new();
    if protocol == Some(Protocol::Https) && accepted.is_none() {
        let tls = l.tls.as_ref();
        if matches!(
            tls.and_then(|t| t.mode.as_ref()),
            Some(GatewayListenersTlsMode::Passthrough)
        ) {
            accepted = Some(Problem::new(
                reason::UNSUPPORTED_VALUE,
                "TLS mode Passthrough is not valid on an HTTPS listener",
            ));
        } else {
            let refs = tls
                .and_then(|t| t.certificate_refs.as_deref())
                .unwrap_or(&[]);
            if refs.is_empty() {
                resolved_refs.get_or_insert(Problem::new(
                    reason::INVALID_CERTIFICATE_REF,
                    "an HTTPS listener needs at least one certificateRef",
                ));
            }
            for r in refs {
                match resolve_certificate(
                    set,
                    gw_key,
                    r.group.as_deref(),
                    r.kind.as_deref(),
                    r.namespace.as_deref(),
                    &r.name,
                ) {
                    Ok(pair) => certificates.push(pair),
                    Err(p) => {
                        resolved_refs.get_or_insert(p);
                    }
                }
            }
        }
    }

    ListenerIr {
        name: l.name.clone(),
        port: l.port,
        protocol,
        hostname: l.hostname.clone().filter(|h| !h.is_empty()),
        allowed,
        supported_kinds,
        accepted,
        resolved_refs,
        conflicted: None,
        certificates,
        attached_routes: AttachedRoutes::default(),
    }
}

/// Resolve a listener's certificateRef to a usable PEM pair.
fn resolve_certificate(
    set: &ResourceSet,
    gw_key: &ObjectKey,
    group: Option<&str>,
    kind: Option<&str>,
    namespace: Option<&str>,
    name: &str,
) -> Result<CertPair, Problem> {
    let group = group.unwrap_or("");
    let kind = kind.unwrap_or("Secret");
    if !group.is_empty() || kind != "Secret" {
        return Err(Problem::new(
            reason::INVALID_CERTIFICATE_REF,
            format!("certificateRef {group}/{kind} {name}: only core Secrets are supported"),
        ));
    }
    let ns = namespace.unwrap_or(&gw_key.namespace);
    let from = RefFrom {
        group: GATEWAY_GROUP,
        kind: "Gateway",
        namespace: &gw_key.namespace,
    };
    let to = RefTo {
        group: "",
        kind: "Secret",
        namespace: ns,
        name,
    };
    if !refs::permitted(set, from, to) {
        return Err(Problem::new(
            reason::REF_NOT_PERMITTED,
            format!("Secret {ns}/{name} is in another namespace and no ReferenceGrant allows it"),
        ));
    }
    let secret = set.secrets.get(&ObjectKey::new(ns, name)).ok_or_else(|| {
        Problem::new(
            reason::INVALID_CERTIFICATE_REF,
            format!("Secret {ns}/{name} does not exist"),
        )
    })?;
    let field = |k: &str| super::tls::secret_value(secret, k);
    let invalid = |what: &str| {
        Problem::new(
            reason::INVALID_CERTIFICATE_REF,
            format!("Secret {ns}/{name}: {what}"),
        )
    };
    let cert_pem = field("tls.crt").ok_or_else(|| invalid("has no tls.crt"))?;
    let key_pem = field("tls.key").ok_or_else(|| invalid("has no tls.key"))?;
    super::tls::check_pair(&cert_pem, &key_pem).map_err(|e| invalid(&e))?;
    Ok(CertPair { cert_pem, key_pem })
}

/// Listeners on one port must share a protocol, and those sharing a protocol need distinct
/// hostnames. Every listener involved in a conflict is marked, and none of them is served.
fn mark_conflicts(listeners: &mut [ListenerIr]) {
    let mut by_port: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, l) in listeners.iter().enumerate() {
        if l.protocol.is_some() && l.accepted.is_none() {
            by_port.entry(l.port).or_default().push(i);
        }
    }
    for idx in by_port.values() {
        let protocols: BTreeSet<_> = idx.iter().map(|&i| listeners[i].protocol).collect();
        if protocols.len() > 1 {
            for &i in idx {
                let msg = format!(
                    "port {} is used by listeners of different protocols",
                    listeners[i].port
                );
                listeners[i].conflicted = Some(Problem::new(reason::PROTOCOL_CONFLICT, msg));
            }
            continue;
        }
        let mut seen: BTreeMap<Option<&str>, usize> = BTreeMap::new();
        let mut clash = BTreeSet::new();
        for &i in idx {
            if let Some(&j) = seen.get(&listeners[i].hostname.as_deref()) {
                clash.insert(i);
                clash.insert(j);
            } else {
                seen.insert(listeners[i].hostname.as_deref(), i);
            }
        }
        for i in clash {
            let msg = format!(
                "another listener on port {} has the same hostname {}",
                listeners[i].port,
                listeners[i].hostname.as_deref().unwrap_or("(none)")
            );
            listeners[i].conflicted = Some(Problem::new(reason::HOSTNAME_CONFLICT, msg));
        }
    }
}

/// The Gateway's status.
pub(crate) fn status(gw: &GatewayIr, out: &mut Vec<StatusUpdate>) {
    let generation = gw.generation;
    let listeners: Vec<Value> = gw
        .listeners
        .iter()
        .map(|l| {
            let programmed = l.programmed().or_else(|| gw.data_plane.clone());
            let conditions = vec![
                condition(
                    kind::ACCEPTED,
                    match l.accepted.as_ref().or(l.conflicted.as_ref()) {
                        None => Ok(reason::ACCEPTED),
                        Some(p) => Err(p),
                    },
                    "Listener is accepted",
                    generation,
                ),
                condition(
                    kind::RESOLVED_REFS,
                    l.resolved_refs
                        .as_ref()
                        .map_or(Ok(reason::RESOLVED_REFS), Err),
                    "All references are resolved",
                    generation,
                ),
                condition(
                    kind::PROGRAMMED,
                    programmed.as_ref().map_or(Ok(reason::PROGRAMMED), Err),
                    "Listener is programmed",
                    generation,
                ),
                negative_condition(
                    kind::CONFLICTED,
                    l.conflicted.as_ref(),
                    reason::NO_CONFLICTS,
                    generation,
                ),
            ];
            let kinds: Vec<Value> = l
                .supported_kinds
                .iter()
                .map(|(g, k)| json!({"group": g, "kind": k}))
                .collect();
            json!({
                "name": l.name,
                "supportedKinds": kinds,
                "attachedRoutes": l.attached_routes.len(),
                "conditions": conditions,
            })
        })
        .collect();

    let programmed: Result<&'static str, Problem> = match (&gw.accepted, &gw.address) {
        (Err(p), _) => Err(Problem::new(reason::INVALID, p.message.clone())),
        (Ok(_), None) => Err(Problem::new(
            reason::ADDRESS_NOT_ASSIGNED,
            "no address has been assigned to this Gateway",
        )),
        (Ok(_), Some(_)) => match &gw.data_plane {
            None => Ok(reason::PROGRAMMED),
            Some(p) => Err(p.clone()),
        },
    };
    let conditions = vec![
        condition(
            kind::ACCEPTED,
            gw.accepted.as_ref().map(|r| *r),
            if gw.accepted == Ok(reason::LISTENERS_NOT_VALID) {
                "Gateway is accepted, but some listeners are not valid"
            } else {
                "Gateway is accepted"
            },
            generation,
        ),
        condition(
            kind::PROGRAMMED,
            programmed.as_ref().map(|r| *r),
            "Gateway is programmed",
            generation,
        ),
    ];
    let addresses: Vec<Value> = match (&gw.accepted, &gw.address) {
        (Ok(_), Some(a)) => {
            // A load balancer may publish a name rather than an address.
            let kind = match a.parse::<std::net::IpAddr>() {
                Ok(_) => "IPAddress",
                Err(_) => "Hostname",
            };
            vec![json!({"type": kind, "value": a})]
        }
        _ => Vec::new(),
    };
    out.push(StatusUpdate {
        target: ObjectRef {
            api_version: format!("{GATEWAY_GROUP}/v1"),
            kind: "Gateway".into(),
            namespace: Some(gw.key.namespace.clone()),
            name: gw.key.name.clone(),
        },
        patch: StatusPatch::Whole(json!({
            "addresses": addresses,
            "conditions": conditions,
            "listeners": listeners,
        })),
    });
}
