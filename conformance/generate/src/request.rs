//! Requests aimed at a world: every port a Gateway listens on, every host its listeners and
//! routes name (wildcards instantiated), and paths on and around every match boundary
//! (`/a`, `/a/`, `/ax`, `/a/x`), with the headers, query parameters and methods the matches
//! test for.
//!
//! A [`RequestSeed`] is a handful of indices into those candidate lists, so a generated case
//! keeps selecting sensible requests while proptest shrinks its world.

use std::collections::BTreeSet;

use crate::model::{Match, PathMatch, Protocol, Route, World};
use crate::universe;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One request as the probe sends it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    /// Index into `World::gateways`.
    pub gateway: usize,
    pub port: u16,
    pub scheme: Scheme,
    /// The Host header (and SNI for HTTPS).
    pub host: String,
    /// Path and query, as sent.
    pub path: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The path without its query.
    pub fn path_only(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }

    /// Query parameters in order.
    pub fn query(&self) -> Vec<(&str, &str)> {
        self.path
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Indices that pick one request among a world's candidates.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct RequestSeed {
    /// Which route to aim at (one value in four aims at none: the whole world).
    pub route: u32,
    pub target: u32,
    pub host: u32,
    pub path: u32,
    pub method: u32,
    pub extras: u32,
}

/// The element `seed` selects (`list` is never empty where this is called).
fn nth<T>(list: &[T], seed: u32) -> &T {
    &list[seed as usize % list.len()]
}

/// Header sets a request may carry: what header matches test for, and a header that
/// RequestHeaderModifier removes.
const HEADER_SETS: [&[(&str, &str)]; 6] = [
    &[],
    &[("x-v", "1")],
    &[("x-v", "2")],
    &[("x-w", "1")],
    &[("x-v", "2"), ("x-w", "1")],
    &[("x-v", "1"), ("x-rm", "gone")],
];
const QUERIES: [&str; 4] = ["", "?q=1", "?q=2", "?q=3"];
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];

/// Every (gateway, port, scheme) a world's listeners open, or of those `route`'s parentRefs
/// select. The scheme is that of the first listener on the port (listeners of two protocols
/// on one port are in conflict and serve nothing anyway).
pub fn targets(world: &World, route: Option<&Route>) -> Vec<(usize, u16, Scheme)> {
    let mut out: Vec<(usize, u16, Scheme)> = Vec::new();
    for (g, gw) in world.gateways.iter().enumerate() {
        let parent = route.map(|r| {
            r.parents.iter().find(|p| {
                p.name == gw.name && p.namespace.as_deref().unwrap_or(&r.namespace) == gw.namespace
            })
        });
        if parent == Some(None) {
            continue;
        }
        for l in &gw.listeners {
            let selected = parent.flatten().is_none_or(|p| {
                p.section.as_ref().is_none_or(|s| *s == l.name)
                    && p.port.is_none_or(|port| port == l.port)
            });
            if !selected || out.iter().any(|&(og, op, _)| og == g && op == l.port) {
                continue;
            }
            let scheme = match l.protocol {
                Protocol::Http => Scheme::Http,
                Protocol::Https => Scheme::Https,
            };
            out.push((g, l.port, scheme));
        }
    }
    out
}

/// A host a hostname stands for: itself, or a name under a wildcard.
fn instance(h: &str) -> String {
    match h.strip_prefix("*.") {
        Some(suffix) => format!("z.{suffix}"),
        None => h.to_owned(),
    }
}

/// Hosts worth sending: every hostname named anywhere (wildcards instantiated) and the
/// universe's extra hosts; for a route, its own hostnames, or its listeners' where it names
/// none.
pub fn hosts(world: &World, route: Option<&Route>, gateway: usize) -> Vec<String> {
    let listeners = || {
        world.gateways[gateway]
            .listeners
            .iter()
            .filter_map(|l| l.hostname.clone())
    };
    let mut out: BTreeSet<String> = match route {
        Some(r) if !r.hostnames.is_empty() => r.hostnames.iter().map(|h| instance(h)).collect(),
        Some(_) => listeners().map(|h| instance(&h)).collect(),
        None => world
            .gateways
            .iter()
            .flat_map(|g| g.listeners.iter().filter_map(|l| l.hostname.clone()))
            .chain(
                world
                    .routes
                    .iter()
                    .flat_map(|r| r.hostnames.iter().cloned()),
            )
            .chain(universe::HOSTNAMES.iter().map(|h| (*h).to_owned()))
            .chain(universe::EXTRA_HOSTS.iter().map(|h| (*h).to_owned()))
            .map(|h| instance(&h))
            .collect(),
    };
    if out.is_empty() {
        out.insert(universe::EXTRA_HOSTS[0].to_owned());
    }
    out.into_iter().collect()
}

fn route_matches<'a>(world: &'a World, route: Option<&'a Route>) -> Vec<&'a Match> {
    let routes: Vec<&Route> = match route {
        Some(r) => vec![r],
        None => world.routes.iter().collect(),
    };
    routes
        .into_iter()
        .flat_map(|r| &r.rules)
        .flat_map(|rule| &rule.matches)
        .collect()
}

/// Paths on and around every path match of the world (or of one route).
pub fn paths(world: &World, route: Option<&Route>) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::from(["/".to_owned()]);
    if route.is_none() {
        out.extend(["/a", "/a/b", "/c"].map(str::to_owned));
    }
    for m in route_matches(world, route) {
        match &m.path {
            Some(PathMatch::Exact(v) | PathMatch::Prefix(v)) => {
                let trimmed = v.trim_end_matches('/');
                for p in [
                    v.clone(),
                    format!("{trimmed}/"),
                    format!("{trimmed}x"),
                    format!("{trimmed}/x"),
                ] {
                    // `/` trimmed is empty: `x` is no path.
                    if p.starts_with('/') {
                        out.insert(p);
                    }
                }
            }
            Some(PathMatch::Regex(_)) => {
                for p in ["/a/12", "/a/x", "/bq", "/b"] {
                    out.insert(p.to_owned());
                }
            }
            None => {}
        }
    }
    out.into_iter().collect()
}

/// Headers and query that satisfy the header and query matches of `m` (regular expressions
/// are generated to accept `1` and `2`).
fn satisfying(m: &Match) -> (Vec<(String, String)>, String) {
    let value = |v: &crate::model::ValueMatch| {
        if v.regex {
            "2".to_owned()
        } else {
            v.value.clone()
        }
    };
    let headers = m
        .headers
        .iter()
        .map(|h| (h.name.clone(), value(h)))
        .collect();
    let query = m
        .query
        .iter()
        .map(|q| format!("{}={}", q.name, value(q)))
        .collect::<Vec<_>>()
        .join("&");
    (
        headers,
        if query.is_empty() {
            query
        } else {
            format!("?{query}")
        },
    )
}

fn resolve_one(world: &World, s: &RequestSeed) -> Option<Request> {
    let route = (!world.routes.is_empty() && !s.route.is_multiple_of(4))
        .then(|| nth(&world.routes, s.route));
    let mut targets = targets(world, route);
    if targets.is_empty() {
        targets = self::targets(world, None);
    }
    if targets.is_empty() {
        return None;
    }
    let (gateway, port, scheme) = *nth(&targets, s.target);
    let extras = s.extras as usize;
    let matches = route_matches(world, route);
    // Half of the aimed requests carry what one of the route's matches asks for.
    let (headers, query) = match route {
        Some(_) if extras.is_multiple_of(2) && !matches.is_empty() => {
            satisfying(nth::<&Match>(&matches, s.extras / 2))
        }
        _ => {
            let choice = (extras / 2) % (HEADER_SETS.len() * QUERIES.len());
            let headers = HEADER_SETS[choice % HEADER_SETS.len()]
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            (headers, QUERIES[choice / HEADER_SETS.len()].to_owned())
        }
    };
    let methods: Vec<String> = match route {
        Some(_) if extras.is_multiple_of(4) => matches
            .iter()
            .filter_map(|m| m.method.clone())
            .chain(std::iter::once("GET".to_owned()))
            .collect(),
        _ => METHODS.iter().map(|m| (*m).to_owned()).collect(),
    };
    Some(Request {
        gateway,
        port,
        scheme,
        host: nth(&hosts(world, route, gateway), s.host).clone(),
        path: format!("{}{query}", nth(&paths(world, route), s.path)),
        method: nth(&methods, s.method).clone(),
        headers,
    })
}

/// The requests `seeds` select in `world`; none when the world opens no port.
pub fn resolve(world: &World, seeds: &[RequestSeed]) -> Vec<Request> {
    let mut out: Vec<Request> = seeds.iter().filter_map(|s| resolve_one(world, s)).collect();
    out.sort();
    out.dedup();
    out
}
