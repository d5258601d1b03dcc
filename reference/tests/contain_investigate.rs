//! `investigate` with a real Envoy: the routes behind a rejected configuration are found, a
//! Gateway's own fault is told apart, and the time a bisection takes is printed for 10, 100
//! and 1,000 routes (a figure to read, not to assert).

mod contain_support;
mod e2e_support;
mod infra_support;

use std::time::Instant;

use contain_support::{bad_header_route, bad_regex_route, gateway, good_route, set_of};
use e2e_support::{HTTP_GATEWAY, service_yaml};
use gatesim_reference::controller::contain::{Outcome, investigate};
use gatesim_reference::model::ResourceSet;
use infra_support::envoy_or_skip;

/// Makes a route Envoy rejects, by name.
type BadRoute = fn(&str) -> String;

/// `n` routes, the ones at `bad` positions made bad.
fn routes(n: usize, bad: &[(usize, BadRoute)]) -> ResourceSet {
    let docs: Vec<String> = (0..n)
        .map(|i| {
            let name = format!("r{i:04}");
            match bad.iter().find(|(at, _)| *at == i) {
                Some((_, make)) => make(&name),
                None => good_route(&name),
            }
        })
        .collect();
    set_of(&format!(
        "{HTTP_GATEWAY}---\n{}---\n{}",
        service_yaml("echo", 8000, &["127.0.0.1".into()]),
        docs.join("---\n")
    ))
}

/// The names of the quarantined routes, with Envoy's message for each.
fn quarantined(outcome: &Outcome) -> Vec<(String, String)> {
    match outcome {
        Outcome::Quarantine(entries) => entries
            .iter()
            .map(|(id, q)| (id.key.name.clone(), q.message.clone()))
            .collect(),
        other => panic!("expected offenders, got {other:?}"),
    }
}

/// Two checks up front, then per offender a binary search and a check of what remains.
fn bound(n: usize, offenders: usize) -> usize {
    2 + offenders * (n.next_power_of_two().trailing_zeros() as usize + 1)
}

#[test]
fn one_bad_route_is_found_among_10_100_and_1000() {
    let Some(envoy) = envoy_or_skip("one_bad_route_is_found_among_10_100_and_1000") else {
        return;
    };
    for n in [10, 100, 1000] {
        let at = n * 2 / 3;
        let set = routes(n, &[(at, bad_regex_route)]);
        let started = Instant::now();
        let found = investigate(&envoy, &set, &gateway());
        let took = started.elapsed();
        let q = quarantined(&found.outcome);
        assert_eq!(q.len(), 1, "{q:?}");
        assert_eq!(q[0].0, format!("r{at:04}"));
        assert!(
            q[0].1.contains(&format!("missing ): /r{at:04}/(")),
            "Envoy's own words: {}",
            q[0].1
        );
        assert!(
            !q[0].1.contains(".pb"),
            "no temporary file name: {}",
            q[0].1
        );
        assert_eq!(found.candidates, n);
        assert!(
            found.checks <= bound(n, 1),
            "{} checks for {n} routes",
            found.checks
        );
        eprintln!(
            "bisection: 1 bad route among {n}: {} checks, {:.3} s ({:.1} ms per check)",
            found.checks,
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / found.checks as f64
        );
    }
}

#[test]
fn two_bad_routes_are_both_found() {
    let Some(envoy) = envoy_or_skip("two_bad_routes_are_both_found") else {
        return;
    };
    let n = 20;
    let set = routes(n, &[(4, bad_header_route), (13, bad_regex_route)]);
    let found = investigate(&envoy, &set, &gateway());
    let q = quarantined(&found.outcome);
    let names: Vec<&str> = q.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["r0004", "r0013"]);
    assert!(
        q[0].1
            .contains(":-prefixed or host headers may not be modified"),
        "{}",
        q[0].1
    );
    assert!(q[1].1.contains("missing ): /r0013/("), "{}", q[1].1);
    assert!(found.checks <= bound(n, 2), "{} checks", found.checks);
}

#[test]
fn a_fault_of_the_gateway_itself_quarantines_nothing() {
    let Some(envoy) = envoy_or_skip("a_fault_of_the_gateway_itself_quarantines_nothing") else {
        return;
    };
    let mut set = routes(5, &[]);
    // The listener's address is the Gateway's own, and Envoy cannot parse this one.
    set.gateway_addresses
        .insert(gateway(), "not-an-address".into());
    let found = investigate(&envoy, &set, &gateway());
    match &found.outcome {
        Outcome::OwnFault(message) => assert!(message.contains("not-an-address"), "{message}"),
        other => panic!("expected the Gateway's own fault, got {other:?}"),
    }
    assert_eq!(
        found.checks, 2,
        "the configuration, then without every route"
    );
}

#[test]
fn an_accepted_configuration_is_not_reproduced() {
    let Some(envoy) = envoy_or_skip("an_accepted_configuration_is_not_reproduced") else {
        return;
    };
    let found = investigate(&envoy, &routes(3, &[]), &gateway());
    assert_eq!(found.outcome, Outcome::NotReproduced);
    assert_eq!(found.checks, 1);
}

#[test]
fn an_envoy_that_cannot_run_fails_the_investigation() {
    let set = routes(3, &[(1, bad_regex_route)]);
    let found = investigate(std::path::Path::new("/nonexistent/envoy"), &set, &gateway());
    match &found.outcome {
        Outcome::Failed(e) => assert!(e.contains("/nonexistent/envoy"), "{e}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}
