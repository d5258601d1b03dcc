//! Requests aimed at a world: every port a Gateway listens on, every host its listeners and
//! routes name (wildcards instantiated), and paths on and around every match boundary
//! (`/a`, `/a/`, `/ax`, `/a/x`), with the headers, query parameters and methods the matches
//! test for.
//!
//! A [`RequestSeed`] is a handful of indices into those candidate lists, so a generated case
//! keeps selecting sensible requests while proptest shrinks its world.

use std::collections::BTreeSet;

use crate::model::{PathMatch, Protocol, World};
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

/// Every (gateway, port, scheme) a world's listeners open. The scheme is that of the first
/// listener on the port (listeners of two protocols on one port are in conflict and serve
/// nothing anyway).
pub fn targets(world: &World) -> Vec<(usize, u16, Scheme)> {
    let mut out: Vec<(usize, u16, Scheme)> = Vec::new();
    for (g, gw) in world.gateways.iter().enumerate() {
        for l in &gw.listeners {
            if out.iter().any(|&(og, op, _)| og == g && op == l.port) {
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

/// Hosts worth sending: every exact hostname named anywhere, a name under each wildcard, and
/// the universe's extra hosts.
pub fn hosts(world: &World) -> Vec<String> {
    let named = world
        .gateways
        .iter()
        .flat_map(|g| g.listeners.iter().filter_map(|l| l.hostname.clone()))
        .chain(
            world
                .routes
                .iter()
                .flat_map(|r| r.hostnames.iter().cloned()),
        )
        .chain(universe::HOSTNAMES.iter().map(|h| (*h).to_owned()));
    let mut out = BTreeSet::new();
    for h in named {
        match h.strip_prefix("*.") {
            Some(suffix) => {
                out.insert(format!("z.{suffix}"));
            }
            None => {
                out.insert(h);
            }
        }
    }
    out.extend(universe::EXTRA_HOSTS.iter().map(|h| (*h).to_owned()));
    out.into_iter().collect()
}

/// Paths on and around every path match of the world.
pub fn paths(world: &World) -> Vec<String> {
    let mut out: BTreeSet<String> = ["/", "/a", "/a/b", "/c"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let matches = world
        .routes
        .iter()
        .flat_map(|r| &r.rules)
        .flat_map(|rule| &rule.matches);
    for m in matches {
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

/// The requests `seeds` select in `world`; none when the world opens no port.
pub fn resolve(world: &World, seeds: &[RequestSeed]) -> Vec<Request> {
    let targets = targets(world);
    if targets.is_empty() {
        return Vec::new();
    }
    let hosts = hosts(world);
    let paths = paths(world);
    let mut out: Vec<Request> = seeds
        .iter()
        .map(|s| {
            let (gateway, port, scheme) = *nth(&targets, s.target);
            let extras = s.extras as usize % (HEADER_SETS.len() * QUERIES.len());
            let headers = HEADER_SETS[extras % HEADER_SETS.len()]
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            let query = QUERIES[extras / HEADER_SETS.len()];
            Request {
                gateway,
                port,
                scheme,
                host: nth(&hosts, s.host).clone(),
                path: format!("{}{query}", nth(&paths, s.path)),
                method: (*nth(&METHODS, s.method)).to_owned(),
                headers,
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
