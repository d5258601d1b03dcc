//! Virtual hosts: which routes answer which Host, with listener isolation and precedence.
//!
//! Every listener sharing a route configuration contributes virtual hosts for the hostnames its
//! routes serve, plus one for its own hostname (so that a request for a more specific listener
//! never falls through to a less specific one: a listener without routes answers 404). Each
//! virtual host belongs to the most specific listener covering its domain, and holds only that
//! listener's routes, ordered by the Gateway API precedence rules. Envoy selects the most
//! specific domain, which is exactly the most specific listener, so a request is answered only
//! by routes of the listener it belongs to.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::route::v3::VirtualHost;

use super::envoy::options;
use super::envoy::route::{ListenerCtx, routes};
use super::hostnames;
use super::names;
use super::reuse::Pass;
use super::route_table::RouteTable;
use super::routes::http::{HttpMatchIr, HttpRouteIr, PathMatch};
use crate::api::k8sgateway::VirtualHostOptions;

/// One (route rule match) served on a listener under an effective hostname.
pub(crate) struct Entry<'a> {
    pub listener: usize,
    pub hostname: &'a str,
    pub route: &'a HttpRouteIr,
}

/// A listener that shares the route configuration: its index, hostname, context and the
/// VirtualHostOption options of its virtual hosts.
pub(crate) struct Scope<'a> {
    pub listener: usize,
    pub hostname: Option<&'a str>,
    pub ctx: ListenerCtx,
    pub virtual_host: Option<&'a VirtualHostOptions>,
}

/// `reuse`: virtual hosts of the previous output, taken over when built from the same routes
/// (by revision) under the same effective hostnames.
pub(crate) fn route_configuration(
    name: &str,
    scopes: &[Scope<'_>],
    entries: &[Entry<'_>],
    mut reuse: Option<&mut Pass<'_>>,
) -> RouteTable {
    // In order, each once: sorted as a vector, which is cheaper than a tree of ten thousand.
    let mut domains: Vec<&str> = entries.iter().map(|e| e.hostname).collect();
    domains.extend(scopes.iter().map(|s| s.hostname.unwrap_or("*")));
    domains.sort_unstable();
    domains.dedup();
    // Entries by (listener, effective hostname): a domain then looks up only the few hostnames
    // that can cover it, instead of scanning every entry (which is quadratic in routes).
    let mut by_host: foldhash::HashMap<(usize, hostnames::HostKey<'_>), Vec<&Entry<'_>>> =
        foldhash::HashMap::default();
    for e in entries {
        by_host
            .entry((e.listener, hostnames::host_key(e.hostname)))
            .or_default()
            .push(e);
    }

    // Sized up front: ten thousand virtual hosts are common for one Gateway.
    let mut virtual_hosts = Vec::with_capacity(domains.len());
    let mut vhost_headers = false;
    let mut owned: Vec<&Entry<'_>> = Vec::new();
    if let Some(pass) = reuse.as_deref_mut() {
        pass.open_table(name);
    }
    for domain in domains {
        let Some(owner) = scopes
            .iter()
            .filter(|s| hostnames::listener_covers(s.hostname, domain))
            .min_by(|a, b| hostnames::cmp_listener_specificity(a.hostname, b.hostname))
        else {
            continue;
        };
        owned.clear();
        owned.extend(
            hostnames::covering(domain)
                .filter_map(|h| by_host.get(&(owner.listener, h)))
                .flatten()
                .copied(),
        );
        let index = virtual_hosts.len();
        let sources = || owned.iter().map(|e| (&e.route.info.key, e.hostname));
        let kept = reuse
            .as_deref_mut()
            .and_then(|pass| pass.take_virtual_host(domain, sources(), index));
        let (vh, headers) = match kept {
            Some(kept) => kept,
            None => {
                let (vh, headers) = virtual_host(name, domain, owner, &owned);
                if let Some(pass) = reuse.as_deref_mut() {
                    pass.record_virtual_host(domain, sources(), headers, index);
                }
                (Arc::new(vh), headers)
            }
        };
        vhost_headers |= headers;
        virtual_hosts.push(vh);
    }
    if let Some(pass) = reuse {
        pass.close_table();
    }
    RouteTable {
        name: name.to_string(),
        virtual_hosts,
        // The Gateway API ignores any port in the Host header when matching hostnames; this
        // keeps the header itself untouched on its way to the backend.
        ignore_port_in_host_matching: true,
        // A route's own header values (its filters, its RouteOption) win over its virtual
        // host's (a VirtualHostOption): Envoy applies the most specific level last.
        most_specific_header_mutations_wins: vhost_headers,
    }
}

/// The virtual host of `domain`, owned by listener `owner`, from the entries it owns there;
/// with whether it sets header mutations.
fn virtual_host(
    rc_name: &str,
    domain: &str,
    owner: &Scope<'_>,
    owned: &[&Entry<'_>],
) -> (VirtualHost, bool) {
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for e in owned {
        debug_assert!(hostnames::domain_covers(e.hostname, domain));
        for rule in &e.route.rules {
            for (mi, m) in rule.matches.iter().enumerate() {
                candidates.push(Candidate {
                    hostname: e.hostname,
                    route: e.route,
                    rule: rule.index,
                    matcher: mi,
                    m,
                });
            }
        }
    }
    candidates.sort_by(precedence);
    let mut vh_routes = Vec::with_capacity(candidates.len());
    for c in &candidates {
        let rule = &c
            .route
            .rules
            .iter()
            .find(|r| r.index == c.rule)
            .expect("rule index");
        let name = names::route(c.route.info.kind, &c.route.info.key, c.rule, c.matcher);
        routes(&mut vh_routes, &name, rule, c.m, owner.ctx);
    }
    let mut vh = VirtualHost {
        name: names::virtual_host(rc_name, domain),
        domains: vec![domain.to_string()],
        routes: vh_routes,
        ..Default::default()
    };
    let headers = match owner.virtual_host {
        Some(o) => options::apply_virtual_host(&mut vh, o),
        None => false,
    };
    (vh, headers)
}

struct Candidate<'a> {
    hostname: &'a str,
    route: &'a HttpRouteIr,
    rule: usize,
    matcher: usize,
    m: &'a HttpMatchIr,
}

/// The Gateway API order: the more specific hostname; then exact path before regular
/// expression before prefix, longer before shorter; a method match; more header matches; more
/// query matches; the older route; the route first by namespace/name; rule and match order.
fn precedence(a: &Candidate<'_>, b: &Candidate<'_>) -> Ordering {
    hostnames::specificity(b.hostname)
        .cmp(&hostnames::specificity(a.hostname))
        .then_with(|| path_rank(&a.m.path).cmp(&path_rank(&b.m.path)))
        .then_with(|| b.m.method.is_some().cmp(&a.m.method.is_some()))
        .then_with(|| b.m.headers.len().cmp(&a.m.headers.len()))
        .then_with(|| b.m.query.len().cmp(&a.m.query.len()))
        .then_with(|| cmp_created(a.route.info.created, b.route.info.created))
        .then_with(|| a.route.info.key.cmp(&b.route.info.key))
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.matcher.cmp(&b.matcher))
}

/// Smaller ranks first.
fn path_rank(p: &PathMatch) -> (u8, std::cmp::Reverse<usize>) {
    match p {
        PathMatch::Exact(s) => (0, std::cmp::Reverse(s.len())),
        PathMatch::Regex(s) => (1, std::cmp::Reverse(s.len())),
        PathMatch::Prefix(s) => (2, std::cmp::Reverse(s.len())),
    }
}

/// Older first; a route without a creation time (the file provider's) sorts after those with
/// one, and then by name.
fn cmp_created(a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Group attached entries by listener index.
pub(crate) fn by_listener<'a>(entries: Vec<Entry<'a>>) -> BTreeMap<usize, Vec<Entry<'a>>> {
    let mut m: BTreeMap<usize, Vec<Entry<'a>>> = BTreeMap::new();
    for e in entries {
        m.entry(e.listener).or_default().push(e);
    }
    m
}
