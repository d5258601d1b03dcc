//! The RE2 program size estimate against Envoy itself.
//!
//! - For a corpus of regexes of every construct, the estimate is never below the size Envoy's
//!   RE2 reports (read from its refusal at an error level of 1).
//! - Regexes of several shapes, each grown until its estimate is just under the configured
//!   limit, are accepted by validation, translated, and accepted by `envoy --mode validate`
//!   with the runtime the bootstraps carry.

use gatesim_reference::infra::{envoy, validate as envoy_validate};
use gatesim_reference::model::{AnyObject, ResourceSet};
use gatesim_reference::translate::{self, ProxyConfig};
use gatesim_reference::validate::regex::{MAX_PROGRAM_SIZE, check, program_size};
use serde_json::json;

/// One Gateway with one route whose rule matches every regex (as path, header and query
/// regexes in turn).
fn proxy_for(regexes: &[&str]) -> ProxyConfig {
    let mut set = ResourceSet::default();
    let mut add = |v| set.insert_any(AnyObject::from_value(v).expect("object"));
    add(
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
               "metadata": {"name": "gatesim"},
               "spec": {"controllerName": "gatesim.dev/reference-controller"}}),
    );
    add(
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "default"},
               "spec": {"gatewayClassName": "gatesim",
                        "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}),
    );
    let matches: Vec<_> = regexes
        .iter()
        .enumerate()
        .map(|(i, r)| match i % 3 {
            0 => json!({"path": {"type": "RegularExpression", "value": r}}),
            1 => json!({"headers": [{"name": "x-r", "type": "RegularExpression", "value": r}]}),
            _ => json!({"queryParams": [{"name": "r", "type": "RegularExpression", "value": r}]}),
        })
        .collect();
    add(
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
               "metadata": {"name": "r", "namespace": "default"},
               "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"matches": matches}]}}),
    );
    let t = translate::translate(&set);
    let proxy = t.proxies.into_values().next().expect("a proxy");
    let routes: usize = proxy
        .routes
        .iter()
        .flat_map(|rc| &rc.virtual_hosts)
        .map(|vh| vh.routes.len())
        .sum();
    assert_eq!(routes, regexes.len(), "every regex is served");
    std::sync::Arc::unwrap_or_clone(proxy)
}

/// The size Envoy's RE2 reports for `regex`.
fn envoy_size(envoy: &std::path::Path, regex: &str) -> u64 {
    let mut bootstrap = envoy_validate::static_bootstrap(&proxy_for(&[regex])).expect("bootstrap");
    bootstrap.layered_runtime = Some(envoy_validate::runtime(&[(
        "re2.max_program_size.error_level",
        1,
    )]));
    let err = envoy_validate::validate_bootstrap(envoy, &bootstrap)
        .expect_err("a program size of at least 2 is over the error level of 1");
    let text = err.to_string();
    let after = text
        .split("program size of ")
        .nth(1)
        .unwrap_or_else(|| panic!("{regex}: no program size in Envoy's message: {text}"));
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{regex}: unreadable size in {text}"))
}

#[test]
fn the_estimate_is_never_below_re2s_size() {
    let Some(envoy) = envoy::locate_or_skip("RE2 program sizes through Envoy")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    let corpus = [
        "a",
        "/api/v1/users",
        "(?i)/API/Users/k",
        "caf%C3%A9",
        "(?i)[a-z]+-[^a-z]+",
        ".",
        "(?s).",
        ".*",
        "^/a$",
        "\\A/a\\z",
        "\\bword\\B",
        "[a-z]",
        "[^a-z]",
        "[a-zA-Z0-9_-]{1,64}",
        "[\\x00-\\x1f\\x7f]+",
        "[^\\x00-\\x7f]",
        "\\d{3}-\\d{4}",
        "\\w+@\\w+\\.com",
        "\\s*\\S+",
        "[[:alpha:]][[:^space:]]",
        "[^/]+/[^/]*",
        "(?s).{3}.",
        "(?i)[a-f]{8}",
        "(a|b|c|d)",
        "(?:foo|bar|baz)+",
        "(a*)*",
        "(a?)+b??",
        "((a|)|b)*",
        "(?P<id>[0-9]+)/(?<name>[a-z]+)",
        "a{0}b{0,0}c{1}d{2,}e{3,7}",
        "(a{10}){100}",
        "([a-z]{3}\\d?){50}",
        "/api/v[0-9]+/(users|groups)/[a-zA-Z0-9_-]{1,64}",
        "^/static/.*\\.(css|js|png|svg)$",
        "(?m)^a$",
        "(?U)a+",
    ];
    let mut below = Vec::new();
    for regex in corpus {
        let estimate = program_size(regex).unwrap_or_else(|e| panic!("{regex}: {e}"));
        let actual = envoy_size(&envoy, regex);
        println!("{regex:?}: estimate {estimate}, RE2 {actual}");
        if estimate < actual {
            below.push(format!("{regex:?}: estimate {estimate} < RE2's {actual}"));
        }
    }
    assert!(below.is_empty(), "{}", below.join("\n"));
}

/// `n` copies of `unit`, written as counted repetitions of at most 1000 (RE2's limit).
fn counted(unit: &str, n: usize) -> String {
    let mut out = format!("{unit}{{1000}}").repeat(n / 1000);
    if !n.is_multiple_of(1000) {
        out.push_str(&format!("{unit}{{{}}}", n % 1000));
    }
    out
}

/// The largest `n` for which the estimate of `make(n)` fits the limit.
fn grow(make: &dyn Fn(usize) -> String) -> usize {
    let fits = |n| program_size(&make(n)).expect("valid") <= MAX_PROGRAM_SIZE;
    let (mut lo, mut hi) = (1usize, 2usize);
    while fits(hi) {
        lo = hi;
        hi *= 2;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if fits(mid) { lo = mid } else { hi = mid }
    }
    lo
}

#[test]
fn regexes_just_under_the_limit_are_accepted_by_envoy() {
    let Some(envoy) = envoy::locate_or_skip("regexes near the RE2 program size limit")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    // In route order: path, header and query regexes.
    type Shape = (&'static str, Box<dyn Fn(usize) -> String>);
    let shapes: [Shape; 6] = [
        (
            "case-insensitive words",
            Box::new(|n| counted("(?i)(?:kelvin|strasse)", n)),
        ),
        ("class segments", Box::new(|n| counted("/[a-z]", n))),
        ("POSIX classes", Box::new(|n| counted("[[:alnum:]_.~-]", n))),
        (
            "alternations",
            Box::new(|n| counted("(?:get|put|post|patch|delete)", n)),
        ),
        (
            "dots and optional captures",
            Box::new(|n| counted("(.(x)?)", n)),
        ),
        ("negated classes", Box::new(|n| counted("[^/]", n))),
    ];
    let mut regexes = Vec::new();
    for (name, make) in &shapes {
        let n = grow(make.as_ref());
        let regex = make(n);
        let size = program_size(&regex).expect("valid");
        assert!(
            size * 10 >= MAX_PROGRAM_SIZE * 9,
            "{name}: estimate {size} is not within 10% under the limit {MAX_PROGRAM_SIZE}"
        );
        assert!(regex.len() <= 1024, "{name}: {} characters", regex.len());
        assert_eq!(check(&regex), Ok(()), "{name}");
        assert!(check(&make(n + 1)).is_err(), "{name}: one more is refused");
        println!(
            "{name}: {n} units, {} characters, estimate {size}",
            regex.len()
        );
        regexes.push(regex);
    }
    let refs: Vec<&str> = regexes.iter().map(String::as_str).collect();
    let proxy = proxy_for(&refs);
    envoy_validate::validate_proxy(&envoy, &proxy)
        .unwrap_or_else(|e| panic!("Envoy refuses regexes validation accepted: {e}"));
}
