//! `kube.stats`: Envoy's statistics for Prometheus. The admin endpoint stays on the pod's
//! loopback; a static listener on [`PORT`] passes `GET /metrics` (and `/stats` when asked) to
//! it with the path rewritten, and the pod carries the `prometheus.io` annotations a
//! scraper looks for, as K8sGateway's proxies do.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::k8sgateway::gateway_parameters::StatsConfig;
use crate::infra::bootstrap::READINESS;

/// The port of the statistics listener, and its name on the container.
pub const PORT: u16 = 9091;
pub const PORT_NAME: &str = "http-monitoring";
pub const LISTENER: &str = "prometheus_listener";
/// Where `/metrics` and `/stats` go on the admin endpoint unless the parameters say otherwise.
const METRICS_REWRITE: &str = "/stats/prometheus";
const STATS_REWRITE: &str = "/stats";

/// The statistics settings when `stats.enabled` is true.
pub fn enabled(stats: Option<&StatsConfig>) -> Option<&StatsConfig> {
    stats.filter(|s| s.enabled == Some(true))
}

/// The annotations that tell a Prometheus scraper where the metrics are.
pub fn annotations() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/path".to_string(), "/metrics".to_string()),
        ("prometheus.io/port".to_string(), PORT.to_string()),
        ("prometheus.io/scrape".to_string(), "true".to_string()),
    ])
}

/// Envoy's container port for the listener.
pub fn container_port() -> Value {
    json!({ "name": PORT_NAME, "containerPort": PORT, "protocol": "TCP" })
}

/// Adds the statistics listener to a bootstrap that has a readiness listener (whose cluster
/// leads to the admin endpoint).
pub fn add_listener(bootstrap: &mut Value, stats: &StatsConfig) {
    let get = |prefix: &str, rewrite: &str| {
        json!({
            "match": {
                "prefix": prefix,
                "headers": [{ "name": ":method", "string_match": { "exact": "GET" } }],
            },
            "route": { "cluster": READINESS, "prefix_rewrite": rewrite },
        })
    };
    let mut routes = vec![
        json!({
            "match": {
                "path": "/ready",
                "headers": [{ "name": ":method", "string_match": { "exact": "GET" } }],
            },
            "route": { "cluster": READINESS },
        }),
        get(
            "/metrics",
            stats
                .route_prefix_rewrite
                .as_deref()
                .unwrap_or(METRICS_REWRITE),
        ),
    ];
    if stats.enable_stats_route == Some(true) {
        routes.push(get(
            "/stats",
            stats
                .stats_route_prefix_rewrite
                .as_deref()
                .unwrap_or(STATS_REWRITE),
        ));
    }
    let listener = json!({
        "name": LISTENER,
        "address": { "socket_address": { "address": "0.0.0.0", "port_value": PORT } },
        "filter_chains": [{ "filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "prometheus",
                "route_config": { "virtual_hosts": [{
                    "name": "prometheus",
                    "domains": ["*"],
                    "routes": routes,
                }]},
                "http_filters": [{
                    "name": "envoy.filters.http.router",
                    "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                }],
            },
        }]}],
    });
    if let Some(listeners) = bootstrap["static_resources"]["listeners"].as_array_mut() {
        listeners.push(listener);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(stats: &str) -> Vec<(String, String)> {
        let stats: StatsConfig = serde_yaml::from_str(stats).unwrap();
        let mut b = json!({ "static_resources": { "listeners": [] } });
        add_listener(&mut b, &stats);
        b["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
            ["route_config"]["virtual_hosts"][0]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let m = &r["match"];
                let path = m["path"].as_str().or(m["prefix"].as_str()).unwrap();
                let to = r["route"]["prefix_rewrite"].as_str().unwrap_or("-");
                (path.to_string(), to.to_string())
            })
            .collect()
    }

    #[test]
    fn rewrites_default_and_the_stats_route_is_optional() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            routes("enabled: true"),
            pairs(&[("/ready", "-"), ("/metrics", "/stats/prometheus")])
        );
        assert_eq!(
            routes(
                "{enabled: true, routePrefixRewrite: /stats/prometheus?usedonly, enableStatsRoute: true, statsRoutePrefixRewrite: /stats?filter=http}"
            ),
            pairs(&[
                ("/ready", "-"),
                ("/metrics", "/stats/prometheus?usedonly"),
                ("/stats", "/stats?filter=http"),
            ])
        );
    }
}
