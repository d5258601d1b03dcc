//! One Gateway's Envoy configuration: listeners per port, route configurations, clusters and
//! endpoints for every backend its routes use.

use std::collections::BTreeMap;

use super::backends::{self, ClusterSet};
use super::envoy::listener::ManagerOptions;
use super::envoy::options::PolicyFilters;
use super::envoy::{cluster, listener, route::ListenerCtx, upstream};
use super::gateways::{GatewayIr, Protocol};
use super::names;
use super::output::ProxyConfig;
use super::policy::GatewayPolicies;
use super::reuse::Pass;
use super::routes::attach::ParentOutcome;
use super::routes::http::{HttpRouteIr, RuleAction};
use super::vhosts::{self, Entry, Scope};
use crate::model::ResourceSet;

/// `routes`: every route with its attachment outcomes, and the delegatee views
/// (`routes::delegation`) with those of the route they are served through. `reuse` takes over
/// virtual hosts of the previous output built from the same routes.
pub(crate) fn build<'a>(
    set: &ResourceSet,
    endpoints: &backends::EndpointIndex<'_>,
    gw_index: usize,
    gw: &GatewayIr,
    policies: &GatewayPolicies,
    routes: impl IntoIterator<Item = &'a (HttpRouteIr, Vec<ParentOutcome>)>,
    mut reuse: Option<&mut Pass<'_>>,
) -> ProxyConfig {
    // Entries per listener.
    let mut entries = Vec::new();
    for (route, outcomes) in routes {
        for o in outcomes.iter().filter(|o| o.gateway == gw_index) {
            let Ok(attachments) = &o.result else { continue };
            for a in attachments {
                for h in &a.hostnames {
                    entries.push(Entry {
                        listener: a.listener,
                        hostname: h.as_str(),
                        route,
                    });
                }
            }
        }
    }
    let mut by_listener = vhosts::by_listener(entries);

    // Listeners that are served, grouped by port.
    let mut ports: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, l) in gw.listeners.iter().enumerate() {
        if l.programmed().is_none() {
            ports.entry(l.port).or_default().push(i);
        }
    }

    // A proxy in a pod of its own listens on all of the pod's addresses; the Gateway's address
    // is its Service's.
    let any = super::settings::effective(set).any_address();
    let ip = match set.config.bind_any_address {
        true => any,
        false => gw.address.as_deref().unwrap_or(any),
    };
    let offset = i32::from(set.config.port_offset);
    let mut out = ProxyConfig {
        node_id: super::node_id(&gw.key),
        address: gw.address.clone(),
        parameters: gw.parameters.clone(),
        ..Default::default()
    };
    let mut used = ClusterSet::default();
    for (port, idx) in &ports {
        let bind = (port + offset) as u32;
        let lname = names::listener(&gw.key, *port);
        let ctx = |i: usize| ListenerCtx {
            port: *port,
            scheme: gw.listeners[i].protocol.map_or("http", Protocol::scheme),
        };
        let protocol = gw.listeners[idx[0]].protocol;
        if protocol == Some(Protocol::Http) {
            let rc_name = names::http_route_config(&gw.key, *port);
            let scopes: Vec<Scope<'_>> = idx
                .iter()
                .map(|&i| Scope {
                    listener: i,
                    hostname: gw.listeners[i].hostname.as_deref(),
                    ctx: ctx(i),
                    virtual_host: policies.listeners[i].virtual_host.as_ref(),
                })
                .collect();
            let port_entries: Vec<Entry<'_>> = idx
                .iter()
                .flat_map(|i| by_listener.remove(i).unwrap_or_default())
                .collect();
            collect_clusters(&port_entries, &mut used);
            // HTTP listeners on a port share one connection manager, and their listener
            // policies are resolved as one (`policy::gateway`): the first one's stand for all.
            let first = &policies.listeners[idx[0]];
            let options = ManagerOptions {
                filters: policy_filters(&scopes, &port_entries),
                http: first.http_listener.as_ref(),
                listener: first.listener.as_ref(),
            };
            out.routes.push(vhosts::route_configuration(
                &rc_name,
                &scopes,
                &port_entries,
                reuse.as_deref_mut(),
            ));
            out.listeners
                .push(listener::http_listener(&lname, ip, bind, &rc_name, options));
        } else {
            let mut chains = Vec::new();
            for &i in idx {
                let l = &gw.listeners[i];
                let rc_name = names::https_route_config(&gw.key, *port, &l.name);
                let scopes = [Scope {
                    listener: i,
                    hostname: l.hostname.as_deref(),
                    ctx: ctx(i),
                    virtual_host: policies.listeners[i].virtual_host.as_ref(),
                }];
                let own = by_listener.remove(&i).unwrap_or_default();
                collect_clusters(&own, &mut used);
                let options = ManagerOptions {
                    filters: policy_filters(&scopes, &own),
                    http: policies.listeners[i].http_listener.as_ref(),
                    listener: policies.listeners[i].listener.as_ref(),
                };
                out.routes.push(vhosts::route_configuration(
                    &rc_name,
                    &scopes,
                    &own,
                    reuse.as_deref_mut(),
                ));
                chains.push(listener::TlsChain {
                    name: rc_name.clone(),
                    hostname: l.hostname.as_deref(),
                    certificates: &l.certificates,
                    route_config: rc_name,
                    options,
                });
            }
            // Envoy picks the chain by SNI; order them most specific first for readability.
            chains
                .sort_by(|a, b| super::hostnames::cmp_listener_specificity(a.hostname, b.hostname));
            // One ListenerOption per port (`policy::gateway`).
            let port_options = policies.listeners[idx[0]].listener.as_ref();
            out.listeners.push(listener::https_listener(
                &lname,
                ip,
                bind,
                &chains,
                port_options,
            ));
        }
    }
    // By name, so that the output does not depend on the order routes were met in.
    let mut used: Vec<&backends::ClusterTarget> = used.into_values().collect();
    used.sort_unstable_by(|a, b| a.cluster.cmp(&b.cluster));
    for t in used {
        match (&t.upstream, &t.service) {
            (Some(key), _) => {
                // Resolution found it, in this same snapshot.
                let Some(upstream) = set.upstreams.get(key) else {
                    continue;
                };
                let (c, eds) = upstream::build(set, t, upstream, endpoints);
                out.clusters.push(c);
                out.endpoints.extend(eds);
            }
            (None, Some(service)) => {
                out.clusters.push(cluster::cluster(&t.cluster, service));
                out.endpoints.push(cluster::load_assignment(
                    &t.cluster,
                    &endpoints.endpoints(service),
                ));
            }
            (None, None) => {}
        }
    }
    out.listeners.sort_by(|a, b| a.name.cmp(&b.name));
    out.routes.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The HTTP filters the policies of these listeners and routes need.
fn policy_filters(scopes: &[Scope<'_>], entries: &[Entry<'_>]) -> PolicyFilters {
    let mut f = PolicyFilters::default();
    for o in scopes.iter().filter_map(|s| s.virtual_host) {
        f.add_virtual_host(o);
    }
    for e in entries {
        for rule in &e.route.rules {
            if let Some(o) = rule.options.as_deref() {
                f.add_route(o);
            }
            if let RuleAction::Forward { backends, .. } = &rule.action {
                f.lambda |= backends.iter().any(|b| b.lambda.is_some());
            }
        }
    }
    f
}

/// Most backends share a cluster already seen: a hashed lookup of the name, nothing copied.
fn collect_clusters<'a>(entries: &[Entry<'a>], used: &mut ClusterSet<'a>) {
    for e in entries {
        for rule in &e.route.rules {
            if let RuleAction::Forward { backends, .. } = &rule.action {
                for b in backends {
                    used.entry(&b.target.cluster).or_insert(&b.target);
                }
            }
        }
    }
}
