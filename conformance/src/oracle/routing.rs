//! Which listener, route, rule and backend answer one request.
//!
//! From the specification: the request's port and host pick the listener (the most specific
//! hostname wins, and routes only answer on listeners they are attached to); among the
//! matches of every route attached there whose hostnames match the host, precedence goes to
//! the most specific route hostname, then an exact path, the longest prefix, a method match,
//! more header matches, more query matches, the oldest route, the first by
//! `namespace/name`, and within a route the first rule.
//!
//! Where the specification leaves the order to the implementation (regular-expression paths;
//! whether a route without hostnames counts as naming the listener's), every admissible order
//! is tried, and a request whose winner depends on the choice is not predicted.

use std::cmp::Ordering;

use gatesim_generate::{Filter, HeaderMods, Match, PathMatch, PathModifier, Request, Rule, Scheme};
use regex::Regex;

use super::attach::ParentOutcome;
use super::hostnames;
use super::{Expected, Forward, Model, SeenRequest, refs};

/// A match of a rule that the request satisfies, with what precedence needs.
struct Candidate<'a> {
    route: usize,
    rule: usize,
    m: Option<&'a Match>,
    /// Specificity of the most specific of the route's hostnames (as intersected with the
    /// listener's) that matches the host.
    effective_host: (u8, usize),
    /// The same from the route's own hostnames (none: the route names no hostname).
    own_host: (u8, usize),
}

/// One admissible reading of the specification's order.
#[derive(Clone, Copy)]
struct Reading {
    regex_before_prefix: bool,
    regex_by_length: bool,
    own_hostnames: bool,
}

fn full_match(pattern: &str, value: &str) -> bool {
    Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(value))
}

fn value_matches(regex: bool, expected: &str, actual: Option<&str>) -> bool {
    match actual {
        None => false,
        Some(a) if regex => full_match(expected, a),
        Some(a) => a == expected,
    }
}

/// A prefix without its trailing slash (the specification ignores it); `""` for `/`.
fn trimmed_prefix(p: &str) -> &str {
    p.trim_end_matches('/')
}

fn path_matches(m: Option<&PathMatch>, path: &str) -> bool {
    match m {
        None => true,
        Some(PathMatch::Exact(v)) => path == v,
        Some(PathMatch::Prefix(v)) => {
            let p = trimmed_prefix(v);
            p.is_empty()
                || path == p
                || path
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        Some(PathMatch::Regex(v)) => full_match(v, path),
    }
}

fn request_matches(m: &Match, req: &Request) -> bool {
    let query = req.query();
    path_matches(m.path.as_ref(), req.path_only())
        && m.method.as_ref().is_none_or(|method| *method == req.method)
        && m.headers
            .iter()
            .all(|h| value_matches(h.regex, &h.value, req.header(&h.name)))
        && m.query.iter().all(|q| {
            let value = query.iter().find(|(n, _)| *n == q.name).map(|(_, v)| *v);
            value_matches(q.regex, &q.value, value)
        })
}

/// (kind rank, characters): smaller sorts first. Exact 0, prefix 2; regex 1 or 3.
fn path_rank(m: Option<&Match>, reading: Reading) -> (u8, std::cmp::Reverse<usize>) {
    use std::cmp::Reverse;
    match m.and_then(|m| m.path.as_ref()) {
        Some(PathMatch::Exact(v)) => (0, Reverse(v.len())),
        Some(PathMatch::Prefix(v)) => (2, Reverse(trimmed_prefix(v).len().max(1))),
        None => (2, Reverse(1)),
        Some(PathMatch::Regex(v)) => (
            if reading.regex_before_prefix { 1 } else { 3 },
            Reverse(if reading.regex_by_length { v.len() } else { 0 }),
        ),
    }
}

fn precedence(
    model: &Model<'_>,
    reading: Reading,
    a: &Candidate<'_>,
    b: &Candidate<'_>,
) -> Ordering {
    let host = |c: &Candidate<'_>| {
        if reading.own_hostnames {
            c.own_host
        } else {
            c.effective_host
        }
    };
    let method = |c: &Candidate<'_>| c.m.is_some_and(|m| m.method.is_some());
    let headers = |c: &Candidate<'_>| c.m.map_or(0, |m| m.headers.len());
    let query = |c: &Candidate<'_>| c.m.map_or(0, |m| m.query.len());
    let key = |c: &Candidate<'_>| {
        let r = &model.world.routes[c.route];
        (r.namespace.clone(), r.name.clone())
    };
    host(b)
        .cmp(&host(a))
        .then_with(|| path_rank(a.m, reading).cmp(&path_rank(b.m, reading)))
        .then_with(|| method(b).cmp(&method(a)))
        .then_with(|| headers(b).cmp(&headers(a)))
        .then_with(|| query(b).cmp(&query(a)))
        .then_with(|| key(a).cmp(&key(b)))
        .then_with(|| a.rule.cmp(&b.rule))
}

/// The listener of `gateway` that a request on `port` for `host` belongs to: the most specific
/// hostname among the served listeners of that port. `Err` when no such port is served.
fn listener_for(model: &Model<'_>, req: &Request) -> Result<Option<usize>, String> {
    let gw = &model.world.gateways[req.gateway];
    let evals = &model.listeners[req.gateway];
    let served: Vec<usize> = (0..gw.listeners.len())
        .filter(|&i| gw.listeners[i].port == req.port && evals[i].serves())
        .collect();
    if served.is_empty() {
        return Err(format!("nothing serves port {}", req.port));
    }
    let https = gw.listeners[served[0]].protocol == gatesim_generate::Protocol::Https;
    if https != (req.scheme == Scheme::Https) {
        return Err(format!("port {} speaks the other scheme", req.port));
    }
    Ok(served
        .into_iter()
        .filter(|&i| {
            gw.listeners[i]
                .hostname
                .as_deref()
                .is_none_or(|h| hostnames::matches(h, &req.host))
        })
        .max_by_key(|&i| hostnames::specificity(gw.listeners[i].hostname.as_deref())))
}

pub fn predict(model: &Model<'_>, req: &Request) -> Expected {
    if !model.gateway_accepted(req.gateway) {
        return Expected::Unpredicted("the Gateway is not accepted".to_owned());
    }
    let listener = match listener_for(model, req) {
        Err(why) => return Expected::Unpredicted(why),
        Ok(None) if req.scheme == Scheme::Https => {
            return Expected::Unpredicted("no certificate is served for this name".to_owned());
        }
        Ok(None) => return Expected::Status(404),
        Ok(Some(l)) => l,
    };
    let gw = &model.world.gateways[req.gateway];
    let lhost = gw.listeners[listener].hostname.as_deref();

    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for (r, route) in model.world.routes.iter().enumerate() {
        let attached = model.parents[r]
            .iter()
            .any(|p: &ParentOutcome| p.gateway == req.gateway && p.attached.contains(&listener));
        if !attached {
            continue;
        }
        let effective = hostnames::intersection(lhost, &route.hostnames);
        let Some(effective_host) =
            hostnames::best_match(&effective, &req.host).map(hostnames::specificity)
        else {
            continue;
        };
        let own: Vec<Option<String>> = if route.hostnames.is_empty() {
            vec![None]
        } else {
            route.hostnames.iter().cloned().map(Some).collect()
        };
        let own_host = hostnames::specificity(hostnames::best_match(&own, &req.host).flatten());
        for (k, rule) in route.rules.iter().enumerate() {
            let ms: Vec<Option<&Match>> = if rule.matches.is_empty() {
                vec![None]
            } else {
                rule.matches.iter().map(Some).collect()
            };
            for m in ms {
                if m.is_none_or(|m| request_matches(m, req)) {
                    candidates.push(Candidate {
                        route: r,
                        rule: k,
                        m,
                        effective_host,
                        own_host,
                    });
                }
            }
        }
    }
    if candidates.is_empty() {
        return Expected::Status(404);
    }
    let mut winners: Vec<(usize, usize, Option<&Match>)> = Vec::new();
    for bits in 0..8u8 {
        let reading = Reading {
            regex_before_prefix: bits & 1 != 0,
            regex_by_length: bits & 2 != 0,
            own_hostnames: bits & 4 != 0,
        };
        let best = candidates
            .iter()
            .min_by(|a, b| precedence(model, reading, a, b))
            .map(|c| (c.route, c.rule, c.m));
        if let Some(w) = best
            && !winners.contains(&w)
        {
            winners.push(w);
        }
    }
    let outcomes: Vec<Expected> = winners
        .iter()
        .map(|&(r, k, m)| {
            outcome(
                model,
                req,
                r,
                &model.world.routes[r].rules[k],
                m,
                gw.listeners[listener].port,
            )
        })
        .collect();
    if outcomes.windows(2).any(|w| w[0] != w[1]) {
        return Expected::Unpredicted(
            "the specification leaves the precedence of these matches to the implementation"
                .to_owned(),
        );
    }
    outcomes.into_iter().next().unwrap_or(Expected::Status(404))
}

/// Path after a `ReplacePrefixMatch` of `prefix` by `replacement` (query kept apart).
fn replace_prefix(path: &str, prefix: &str, replacement: &str) -> String {
    let rest = path.strip_prefix(trimmed_prefix(prefix)).unwrap_or(path);
    let joined = format!("{}{rest}", trimmed_prefix(replacement));
    if joined.is_empty() {
        "/".to_owned()
    } else if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

fn modified_path(modifier: &PathModifier, m: Option<&Match>, path: &str) -> String {
    match modifier {
        PathModifier::Full(v) => v.clone(),
        PathModifier::Prefix(v) => {
            let prefix = match m.and_then(|m| m.path.as_ref()) {
                Some(PathMatch::Prefix(p)) => p.as_str(),
                _ => "/",
            };
            replace_prefix(path, prefix, v)
        }
    }
}

fn apply_headers(seen: &mut SeenRequest, mods: &HeaderMods) {
    for (n, v) in mods.set.iter().chain(&mods.add) {
        seen.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(n));
        seen.headers.push((n.clone(), v.clone()));
    }
    for n in &mods.remove {
        seen.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(n));
        seen.absent.push(n.clone());
    }
}

fn outcome(
    model: &Model<'_>,
    req: &Request,
    route: usize,
    rule: &Rule,
    m: Option<&Match>,
    listener_port: u16,
) -> Expected {
    let route_ns = &model.world.routes[route].namespace;
    let query = req.path.split_once('?').map(|(_, q)| format!("?{q}"));
    let mut seen = SeenRequest {
        host: None,
        path: req.path.clone(),
        headers: req.headers.clone(),
        absent: Vec::new(),
    };
    let mut response = HeaderMods::default();
    for f in &rule.filters {
        match f {
            Filter::Redirect(r) => {
                let scheme = r
                    .scheme
                    .clone()
                    .unwrap_or_else(|| req.scheme.as_str().to_owned());
                let port = match (r.port, r.scheme.as_deref()) {
                    (Some(p), _) => p,
                    (None, Some("https")) => 443,
                    (None, Some(_)) => 80,
                    (None, None) => listener_port,
                };
                let default_port = matches!((scheme.as_str(), port), ("http", 80) | ("https", 443));
                let path = match &r.path {
                    None => req.path_only().to_owned(),
                    Some(p) => modified_path(p, m, req.path_only()),
                };
                return Expected::Redirect {
                    status: r.status.unwrap_or(302),
                    scheme,
                    host: r.hostname.clone().unwrap_or_else(|| req.host.clone()),
                    port: (!default_port).then_some(port),
                    path,
                };
            }
            Filter::Rewrite(r) => {
                if let Some(h) = &r.hostname {
                    seen.host = Some(h.clone());
                }
                if let Some(p) = &r.path {
                    seen.path = format!(
                        "{}{}",
                        modified_path(p, m, req.path_only()),
                        query.clone().unwrap_or_default()
                    );
                }
            }
            Filter::RequestHeaders(mods) => apply_headers(&mut seen, mods),
            Filter::ResponseHeaders(mods) => response = mods.clone(),
        }
    }
    let mut backends = Vec::new();
    let mut invalid_weight = 0u32;
    for b in &rule.backends {
        match refs::backend(model.world, route_ns, b) {
            Ok(r) if r.weight > 0 => backends.push(r),
            Ok(_) => {}
            Err(_) => invalid_weight += b.weight.unwrap_or(1),
        }
    }
    if backends.is_empty() {
        return Expected::Status(500);
    }
    if let [only] = backends.as_slice() {
        apply_headers(&mut seen, &only.headers);
    }
    Expected::Forward(Forward {
        backends,
        invalid_weight,
        request: seen,
        response_headers: response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_replacement_follows_the_specification_table() {
        let cases = [
            ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
            ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
            ("/foo", "/foo", "/xyz", "/xyz"),
            ("/foo/", "/foo", "/xyz", "/xyz/"),
            ("/foo/bar", "/foo", "", "/bar"),
            ("/foo/", "/foo", "", "/"),
            ("/foo", "/foo", "", "/"),
            ("/foo/", "/foo", "/", "/"),
            ("/foo", "/foo", "/", "/"),
        ];
        for (path, prefix, replacement, want) in cases {
            assert_eq!(
                replace_prefix(path, prefix, replacement),
                want,
                "{path} {prefix} {replacement}"
            );
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let p = |v: &str| PathMatch::Prefix(v.to_owned());
        assert!(path_matches(Some(&p("/a")), "/a"));
        assert!(path_matches(Some(&p("/a")), "/a/b"));
        assert!(!path_matches(Some(&p("/a")), "/ab"));
        assert!(path_matches(Some(&p("/a/")), "/a"));
        assert!(path_matches(Some(&p("/")), "/anything"));
    }
}
