//! What translation does with quarantined objects (see `model::Quarantine`), and which objects
//! may be quarantined for a Gateway.

use super::conditions::{Problem, reason};
use super::routes::{RouteInfo, http};
use crate::api::{GATEWAY_GROUP, HttpRoute};
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
/// stable order: every route with a parentRef naming it. Objects already quarantined are not
/// among them; they are left out anyway.
pub fn candidates(set: &ResourceSet, gateway: &ObjectKey) -> Vec<ObjectId> {
    set.http_routes
        .iter()
        .filter(|(key, route)| {
            names_gateway(&http::route_info(key, route), gateway)
                && set.quarantined::<HttpRoute>(key).is_none()
        })
        .map(|(key, _)| ObjectId::of::<HttpRoute>(key))
        .collect()
}

fn names_gateway(route: &RouteInfo, gateway: &ObjectKey) -> bool {
    route.parent_refs.iter().any(|p| {
        p.group() == GATEWAY_GROUP
            && p.kind() == "Gateway"
            && p.name == gateway.name
            && p.namespace.as_deref().unwrap_or(&route.key.namespace) == gateway.namespace
    })
}
