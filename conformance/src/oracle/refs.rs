//! References between objects: ReferenceGrants, backendRefs and certificateRefs.
//!
//! From the specification: a reference within a namespace is always allowed; one that crosses
//! namespaces needs a ReferenceGrant in the target's namespace whose `from` lists the source's
//! group, kind and namespace and whose `to` lists the target's group and kind, and its name
//! unless the grant leaves the name out.

use gatesim_generate::universe::{self, GATEWAY_GROUP};
use gatesim_generate::{BackendRef, Filter, HeaderMods, ObjectRef, World};

use super::Cond;

/// Whether `world` lets an object of `from_kind` in `from_ns` refer to `to_kind` `to_ns/name`.
pub fn granted(
    world: &World,
    from_kind: &str,
    from_ns: &str,
    to_kind: &str,
    to_ns: &str,
    name: &str,
) -> bool {
    from_ns == to_ns
        || world.grants.iter().any(|g| {
            g.namespace == to_ns
                && g.from.iter().any(|f| {
                    f.group == GATEWAY_GROUP && f.kind == from_kind && f.namespace == from_ns
                })
                && g.to.iter().any(|t| {
                    t.group.is_empty()
                        && t.kind == to_kind
                        && t.name.as_deref().is_none_or(|n| n == name)
                })
        })
}

/// A backendRef the data plane can send to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedBackend {
    pub namespace: String,
    pub name: String,
    pub weight: u32,
    /// Header changes of this backend's own filters.
    pub headers: HeaderMods,
}

/// Resolves a backendRef of a route in `route_ns`: the backend, or the reasons a controller may
/// give for `ResolvedRefs=False` (more than one where the specification leaves the choice).
pub fn backend(
    world: &World,
    route_ns: &str,
    b: &BackendRef,
) -> Result<ResolvedBackend, Vec<&'static str>> {
    let group = b.target.group.as_deref().unwrap_or("");
    let kind = b.target.kind.as_deref().unwrap_or("Service");
    if !group.is_empty() || kind != "Service" {
        return Err(vec!["InvalidKind"]);
    }
    let ns = b.target.namespace.as_deref().unwrap_or(route_ns);
    let exists = universe::NAMESPACES.contains(&ns)
        && universe::BACKENDS
            .iter()
            .any(|(name, port)| *name == b.target.name && Some(*port) == b.port);
    if !granted(world, "HTTPRoute", route_ns, "Service", ns, &b.target.name) {
        // Whether the target exists is not the route's business when it may not refer to it;
        // an implementation may check either first.
        return Err(if exists {
            vec!["RefNotPermitted"]
        } else {
            vec!["RefNotPermitted", "BackendNotFound"]
        });
    }
    if !exists {
        return Err(vec!["BackendNotFound"]);
    }
    let mut headers = HeaderMods::default();
    for f in &b.filters {
        if let Filter::RequestHeaders(m) = f {
            headers = m.clone();
        }
    }
    Ok(ResolvedBackend {
        namespace: ns.to_owned(),
        name: b.target.name.clone(),
        weight: b.weight.unwrap_or(1),
        headers,
    })
}

/// `ResolvedRefs` of a route: true when every backendRef resolves, else false with every
/// reason one of its invalid references allows.
pub fn route_resolved_refs(world: &World, route: &gatesim_generate::Route) -> Cond {
    let mut reasons: Vec<&'static str> = Vec::new();
    for b in route.rules.iter().flat_map(|r| &r.backends) {
        if let Err(rs) = backend(world, &route.namespace, b) {
            for r in rs {
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
        }
    }
    if reasons.is_empty() {
        Cond::yes("ResolvedRefs")
    } else {
        Cond::no(reasons)
    }
}

/// Whether a listener certificateRef of a Gateway in `gateway_ns` resolves; the reason when
/// not.
pub fn certificate(world: &World, gateway_ns: &str, r: &ObjectRef) -> Result<(), &'static str> {
    let group = r.group.as_deref().unwrap_or("");
    let kind = r.kind.as_deref().unwrap_or("Secret");
    if !group.is_empty() || kind != "Secret" {
        return Err("InvalidCertificateRef");
    }
    let ns = r.namespace.as_deref().unwrap_or(gateway_ns);
    if !granted(world, "Gateway", gateway_ns, "Secret", ns, &r.name) {
        return Err("RefNotPermitted");
    }
    if universe::NAMESPACES.contains(&ns) && r.name == universe::CERT_NAME {
        Ok(())
    } else {
        Err("InvalidCertificateRef")
    }
}
