//! What translation does with quarantined objects (see `model::Quarantine`), and which objects
//! may be quarantined for a Gateway.

use super::conditions::{Problem, reason};
use super::policy::OptionKind;
use super::routes::{RouteInfo, http};
use crate::api::{
    GATEWAY_GROUP, HttpListenerOption, HttpRoute, ListenerOption, RouteOption, VirtualHostOption,
};
use crate::model::{ObjectId, ObjectKey, Quarantined, ResourceSet};

/// Why a quarantined route is not accepted: it attaches nowhere, on every parent.
pub(crate) fn problem(entry: &Quarantined) -> Problem {
    Problem::new(
        reason::UNSUPPORTED_VALUE,
        format!(
            "Envoy rejected the configuration of Gateway {} with this object in it, so it is left \
             out of every Gateway until it changes. Envoy said: {}",
            entry.gateway, entry.message
        ),
    )
}

/// The objects whose leaving out can change the configuration of `gateway`'s proxy, in a
/// stable order: every route with a parentRef naming it, then the RouteOptions those routes
/// use (by targetRef or ExtensionRef filter), then the Gateway-level policies targeting it.
/// Objects already quarantined are not among them; they are left out anyway.
pub fn candidates(set: &ResourceSet, gateway: &ObjectKey) -> Vec<ObjectId> {
    let routes: Vec<(&ObjectKey, &HttpRoute)> = set
        .http_routes
        .iter()
        .filter(|(key, route)| names_gateway(&http::route_info(key, route), gateway))
        .map(|(k, r)| (k, r.as_ref()))
        .collect();
    let mut out: Vec<ObjectId> = routes
        .iter()
        .filter(|(key, _)| set.quarantined::<HttpRoute>(key).is_none())
        .map(|(key, _)| ObjectId::of::<HttpRoute>(key))
        .collect();
    let used_by_routes = |key: &ObjectKey, ro: &RouteOption| {
        routes.iter().any(|(rk, route)| {
            rk.namespace == key.namespace
                && (ro
                    .targets()
                    .iter()
                    .any(|t| t.names_kind::<RouteOption>() && t.name == rk.name)
                    || extension_refs(route).any(|name| name == key.name))
        })
    };
    out.extend(
        set.route_options
            .iter()
            .filter(|(key, ro)| {
                used_by_routes(key, ro) && set.quarantined::<RouteOption>(key).is_none()
            })
            .map(|(key, _)| ObjectId::of::<RouteOption>(key)),
    );
    gateway_policies::<VirtualHostOption>(set, gateway, &mut out);
    gateway_policies::<ListenerOption>(set, gateway, &mut out);
    gateway_policies::<HttpListenerOption>(set, gateway, &mut out);
    out
}

/// Names of the RouteOptions a route's rules name in ExtensionRef filters.
fn extension_refs(route: &HttpRoute) -> impl Iterator<Item = &str> {
    route
        .spec
        .rules
        .iter()
        .flatten()
        .flat_map(|r| r.filters.iter().flatten())
        .filter_map(|f| f.extension_ref.as_ref())
        .filter(|e| e.group == "gateway.solo.io" && e.kind == "RouteOption")
        .map(|e| e.name.as_str())
}

fn gateway_policies<K: OptionKind>(
    set: &ResourceSet,
    gateway: &ObjectKey,
    out: &mut Vec<ObjectId>,
) {
    out.extend(
        K::store(set)
            .iter()
            .filter(|(key, obj)| {
                key.namespace == gateway.namespace
                    && obj
                        .targets()
                        .iter()
                        .any(|t| t.names_kind::<K>() && t.name == gateway.name)
                    && set.quarantined::<K>(key).is_none()
            })
            .map(|(key, _)| ObjectId::of::<K>(key)),
    );
}

fn names_gateway(route: &RouteInfo, gateway: &ObjectKey) -> bool {
    route.parent_refs.iter().any(|p| {
        p.group() == GATEWAY_GROUP
            && p.kind() == "Gateway"
            && p.name == gateway.name
            && p.namespace.as_deref().unwrap_or(&route.key.namespace) == gateway.namespace
    })
}
