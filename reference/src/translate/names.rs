//! Stable, readable names for the xDS resources this controller generates.
//!
//! Names appear in Envoy's `/config_dump`, its stats and its logs, so they say where a resource
//! came from. They depend only on the input objects, never on ordering or counters, so an
//! unrelated change never renames (and so never re-sends) a resource. See docs/xds-names.md.

use crate::model::ObjectKey;

/// The Envoy listener serving one port of a Gateway: `<namespace>/<gateway>/<port>`.
pub fn listener(gw: &ObjectKey, port: i32) -> String {
    format!("{}/{}/{port}", gw.namespace, gw.name)
}

/// The route configuration of an HTTP port (all HTTP listeners on it share one):
/// `<namespace>/<gateway>/<port>`.
pub fn http_route_config(gw: &ObjectKey, port: i32) -> String {
    listener(gw, port)
}

/// The route configuration of one HTTPS listener (each has its own filter chain):
/// `<namespace>/<gateway>/<port>/<listener>`.
pub fn https_route_config(gw: &ObjectKey, port: i32, listener_name: &str) -> String {
    format!("{}/{}/{port}/{listener_name}", gw.namespace, gw.name)
}

/// A virtual host: `<route config>/<domain>`.
pub fn virtual_host(route_config: &str, domain: &str) -> String {
    format!("{route_config}/{domain}")
}

/// A route entry: `<kind>/<namespace>/<name>/rule/<i>/match/<j>`.
pub fn route(kind: &str, route: &ObjectKey, rule: usize, matcher: usize) -> String {
    format!(
        "{}/{}/{}/rule/{rule}/match/{matcher}",
        kind.to_ascii_lowercase(),
        route.namespace,
        route.name
    )
}

/// The cluster (and its endpoint assignment) for one Service port:
/// `kube/<namespace>/<service>/<port>`.
pub fn service_cluster(svc: &ObjectKey, port: i32) -> String {
    format!("kube/{}/{}/{port}", svc.namespace, svc.name)
}

/// The cluster (and its endpoint assignment) for an Upstream: `<name>_<namespace>`, as
/// K8sGateway names it, so that dashboards built on its cluster statistics keep working.
pub fn upstream_cluster(upstream: &ObjectKey) -> String {
    format!("{}_{}", upstream.name, upstream.namespace)
}
