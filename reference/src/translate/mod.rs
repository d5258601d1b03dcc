//! Translation: `ResourceSet` in, per-Gateway xDS resources and status updates out.
//!
//! A pure function: no I/O, no clock, no randomness. Output order and names are stable, so the
//! same input always yields byte-identical xDS (golden tests and the xDS cache's content
//! versions depend on it).
//!
//! The pipeline: GatewayClasses → Gateways and their listeners (`gateways`) → routes, each
//! described kind-independently (`routes::RouteInfo`) and attached by one generic step
//! (`routes::attach`), quarantined ones attaching nowhere (`quarantine`) → per Gateway, route configurations with listener isolation (`vhosts`),
//! listeners, clusters and endpoints (`proxy`) → status for every object involved. K8sGateway
//! policies are resolved to the rules and listeners they apply to (`policy`) between
//! translating routes and attaching them, so the Envoy builders see one effective policy each.
//! HTTPRoute delegation (`routes::delegation`) then expands the attached routes' delegating
//! rules into views of their delegatees, served where the delegating route is attached.

mod backends;
mod classes;
mod conditions;
mod envoy;
pub mod features;
mod gateways;
mod hostnames;
mod invalid;
mod lambda;
pub mod names;
mod output;
pub mod parameters;
mod policy;
mod proxy;
mod quarantine;
mod refs;
mod reuse;
mod route_table;
mod routes;
pub mod settings;
mod tls;
mod upstreams;
mod vhosts;

pub use output::{ObjectRef, ProxyConfig, StatusPatch, StatusUpdate, Translation};
pub use quarantine::candidates;
pub use reuse::Reused;
pub use route_table::RouteTable;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::HttpRoute;
use crate::model::{ObjectKey, ResourceSet};

/// The xDS node id of a Gateway's proxy. Each Gateway has its own Envoy, identified by this.
pub fn node_id(gateway: &ObjectKey) -> String {
    format!("{}/{}", gateway.namespace, gateway.name)
}

/// Gateways whose class belongs to this controller: the ones that need an address (and, once
/// accepted, a proxy). Infrastructure providers call this before `translate` to assign
/// addresses.
pub fn managed_gateways(set: &ResourceSet) -> Vec<ObjectKey> {
    let classes = classes::evaluate(set);
    set.gateways
        .iter()
        .filter(|(_, gw)| classes.contains_key(&gw.spec.gateway_class_name))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Translation that keeps its previous output, so that the next input, usually a small change
/// of the last one, costs less than a translation from nothing: what an unchanged route
/// contributes is taken over (`reuse`). Its output is always `translate`'s for the same
/// input.
#[derive(Debug, Default)]
pub struct Translator {
    reuse: reuse::Reuse,
    last: Reused,
}

impl Translator {
    pub fn translate(&mut self, set: &ResourceSet) -> Arc<Translation> {
        let mut pass = self.reuse.begin(set);
        let out = Arc::new(run(set, Some(&mut pass)));
        let recorded = pass.into_recorded();
        self.last = self.reuse.finish(recorded, Arc::clone(&out));
        out
    }

    /// What the last translation took over from the one before.
    pub fn reused(&self) -> Reused {
        self.last
    }
}

/// Translate every input into proxy configurations and status.
pub fn translate(set: &ResourceSet) -> Translation {
    run(set, None)
}

/// The one translation pipeline; `reuse` takes over the parts of the previous output that
/// cannot have changed.
fn run(set: &ResourceSet, mut reuse: Option<&mut reuse::Pass<'_>>) -> Translation {
    let settings = settings::effective(set);
    let mut out = Translation::default();
    // A status per route and per policy object, at least.
    out.statuses
        .reserve(set.http_routes.len() + set.route_options.len() + set.gateways.len());
    settings::status(set, &mut out.statuses);
    let set = &*settings::scope(set, &settings);
    let set = &*invalid::without_invalid_grants(set);
    let classes = classes::evaluate(set);
    let mut gateways = gateways::evaluate(set, &classes);
    let index: BTreeMap<ObjectKey, usize> = gateways
        .iter()
        .enumerate()
        .map(|(i, g)| (g.key.clone(), i))
        .collect();

    let mut report = policy::status::Report::default();
    // Routes that name a Gateway of ours: the roots of delegation and, with the routes that
    // serve through them, the ancestors policies report. Found once per translation.
    let roots: Vec<_> = set
        .http_routes
        .iter()
        .filter(|(k, r)| policy::names_our_gateway(k, r, &index))
        .collect();
    let mut ours = routes::delegation::delegatees(set, &roots);
    ours.extend(roots.iter().map(|(k, _)| *k));
    let route_policies = policy::RoutePolicies::new(set, ours, &mut report);
    let gateway_policies = policy::gateway::resolve(set, &gateways, &index, &mut report);

    let mut http = Vec::with_capacity(set.http_routes.len());
    for (position, (key, route)) in set.http_routes.iter().enumerate() {
        // An unchanged route no policy applies to translates and attaches as last time.
        let kept = reuse.as_deref_mut().and_then(|pass| {
            pass.take_route(position, |ir| route_policies.applies_to_none(key, ir))
        });
        if let Some((ir, outcomes)) = kept {
            routes::attach::replay(position, &outcomes, &mut gateways);
            http.push((ir, outcomes));
            continue;
        }
        let mut ir = routes::http::translate(set, key, route);
        route_policies.apply(key, route, &mut ir, &mut report);
        if let Some(entry) = set.quarantined::<HttpRoute>(key) {
            ir.problem = Some(quarantine::problem(entry));
        } else if let Some(response) = &settings.invalid_route {
            routes::replace::replace_if_invalid(route, &mut ir, response);
        }
        let outcomes = routes::attach::attach(
            set,
            position,
            &ir.info,
            ir.problem.as_ref(),
            &mut gateways,
            &index,
        );
        http.push((ir, outcomes));
    }
    let delegation = routes::delegation::expand(set, &http, &route_policies, &mut report);
    // Delegation makes routes depend on each other, which reuse does not follow.
    let delegating = http
        .iter()
        .any(|(ir, _)| ir.rules.iter().any(|r| !r.delegations.is_empty()));
    if let Some(pass) = reuse.as_deref_mut()
        && (delegating || !delegation.entries.is_empty() || !delegation.views.is_empty())
    {
        pass.disable();
    }
    for (ir, _) in &mut http {
        // A rule that only delegates serves nothing itself: its delegatees' views do.
        ir.rules.retain(|r| !r.delegates_only());
        if let Some(p) = delegation.unresolved.get(&ir.info.key) {
            ir.resolved_refs.get_or_insert_with(|| p.clone());
        }
    }

    let endpoints = backends::EndpointIndex::new(set);
    for (i, gw) in gateways.iter().enumerate() {
        if gw.is_accepted() {
            // The routes a Gateway's configuration is built from: all that name it.
            let from = reuse.as_deref().map(|pass| {
                http.iter()
                    .enumerate()
                    .filter(|(_, (_, outcomes))| outcomes.iter().any(|o| o.gateway == i))
                    .map(|(position, _)| pass.revision_at(position))
                    .collect::<Vec<u64>>()
            });
            let kept = reuse
                .as_deref_mut()
                .zip(from.as_ref())
                .and_then(|(pass, from)| pass.proxy(&gw.key, from));
            let reused = kept.is_some();
            let proxy = match kept {
                Some(kept) => kept,
                None => Arc::new(proxy::build(
                    set,
                    &endpoints,
                    i,
                    gw,
                    &gateway_policies[i],
                    http.iter().chain(&delegation.views),
                    reuse.as_deref_mut(),
                )),
            };
            if let (Some(pass), Some(from)) = (reuse.as_deref_mut(), from) {
                pass.record_proxy(&gw.key, from, reused);
            }
            out.proxies.insert(gw.key.clone(), proxy);
        }
    }

    classes::statuses(set, &classes, &mut out.statuses);
    for gw in &gateways {
        gateways::status(gw, &mut out.statuses);
    }
    // `http` holds the input's routes in its order: an index in it is a position.
    for (position, (ir, outcomes)) in http.iter().enumerate() {
        let key = &ir.info.key;
        let kept = reuse.as_deref().and_then(|p| p.route_status(position));
        let reused = kept.is_some();
        let status = kept.unwrap_or_else(|| {
            routes::status::route_status(
                &ir.info,
                outcomes,
                delegation.entries.get(key),
                ir.resolved_refs.as_ref(),
                ir.rules_problem.as_ref(),
                &set.config.controller_name,
            )
        });
        if let Some(pass) = reuse.as_deref_mut() {
            pass.record_route_status(position, out.statuses.len(), reused);
        }
        out.statuses.push(status);
    }
    report.statuses(&set.config.controller_name, &mut out.statuses);
    upstreams::statuses(set, &mut out.statuses);
    if let Some(pass) = reuse {
        pass.record_routes(http);
    }
    out
}
