//! Planted bugs: the real translator wrapped so that it breaks one semantic rule, without
//! touching product code. The properties must find each bug and shrink it to a scenario of a
//! few objects, written where `gatesim run` can replay it.

mod fuzz_support;

use gatesim_conformance::fuzz::{Counterexample, Property, runner};
use gatesim_conformance::scenario::Scenario;
use gatesim_generate::universe;
use gatesim_reference::model::{AnyObject, ResourceSet};
use gatesim_reference::translate::{Translation, translate};
use serde_json::json;

use fuzz_support::{SEED, options};

/// Finds the planted bug with `property` and checks the shrunk scenario file.
fn found(
    property: Property,
    wrapper: &(dyn Fn(&ResourceSet) -> Translation + Sync),
) -> Counterexample {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut opts = options(property, 256);
    opts.out = Some(dir.path().to_path_buf());
    let summary = runner::run(&opts, wrapper, None, None, &|_| {});
    let c = summary.failure.unwrap_or_else(|| {
        panic!(
            "{} did not find the planted bug in 256 cases",
            property.name()
        )
    });
    assert_eq!(c.property, property, "{}", c.message);
    let path = c.path.clone().expect("the counterexample is written out");
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some(format!("{}-{}.yaml", property.name(), c.seed).as_str())
    );
    let scenario = Scenario::load(&path).expect("the written scenario loads");
    let generated = scenario.generated.expect("generated: is set");
    assert_eq!(generated.property, property.name());
    assert_eq!(generated.seed, c.seed);
    assert_eq!(
        generated.generator_version,
        Some(gatesim_generate::GENERATOR_VERSION)
    );
    assert_eq!(
        scenario.base.as_ref().map(|b| b.name.as_str()),
        Some("fuzz")
    );
    eprintln!(
        "{}: shrunk to {} objects ({} routes, {} grants, {} Gateways), {} requests",
        property.name(),
        c.world.object_count(),
        c.world.routes.len(),
        c.world.grants.len(),
        c.world.gateways.len(),
        c.requests.len()
    );
    c
}

/// A grant in every namespace that lets every route refer to every Service.
fn grant_everything(set: &ResourceSet) -> Translation {
    let mut widened = set.clone();
    for ns in universe::NAMESPACES {
        let grant = json!({
            "apiVersion": "gateway.networking.k8s.io/v1beta1",
            "kind": "ReferenceGrant",
            "metadata": {"name": "planted-grant-everything", "namespace": ns},
            "spec": {
                "from": universe::NAMESPACES.iter().map(|from| json!({
                    "group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": from,
                })).collect::<Vec<_>>(),
                "to": [{"group": "", "kind": "Service"}],
            },
        });
        widened.insert_any(AnyObject::from_value(grant).expect("a valid grant"));
    }
    translate(&widened)
}

#[test]
fn a_grant_for_everything_is_found_and_shrunk() {
    let c = found(Property::StatusMatchesOracle, &grant_everything);
    assert!(c.message.contains("ResolvedRefs"), "{}", c.message);
    // The smallest world that shows it: one route with one cross-namespace backend.
    assert_eq!(c.world.routes.len(), 1, "{}", c.scenario);
    assert!(c.world.grants.is_empty(), "{}", c.scenario);
    let rules = &c.world.routes[0].rules;
    assert_eq!(rules.len(), 1, "{}", c.scenario);
    assert_eq!(rules[0].backends.len(), 1, "{}", c.scenario);
    assert!(c.world.object_count() <= 3, "{}", c.scenario);
}

/// Every route of a route configuration copied into each of its virtual hosts: hostnames
/// that a route does not intersect now reach it.
fn widen_virtual_hosts(set: &ResourceSet) -> Translation {
    let mut t = translate(set);
    for proxy in t.proxies.values_mut() {
        for rc in &mut std::sync::Arc::make_mut(proxy).routes {
            let all: Vec<_> = rc
                .virtual_hosts
                .iter()
                .flat_map(|vh| vh.routes.clone())
                .collect();
            for vh in &mut rc.virtual_hosts {
                let vh = std::sync::Arc::make_mut(vh);
                for r in &all {
                    if !vh.routes.iter().any(|own| own.name == r.name) {
                        vh.routes.push(r.clone());
                    }
                }
            }
        }
    }
    t
}

#[test]
fn widened_virtual_hosts_are_found_and_shrunk() {
    let c = found(Property::ListenerIsolation, &widen_virtual_hosts);
    assert!(c.world.routes.len() <= 2, "{}", c.scenario);
    assert!(c.world.grants.is_empty(), "{}", c.scenario);
    assert!(c.world.object_count() <= 4, "{}", c.scenario);
}

/// Routes validation refuses left out without a word, as a controller that drops what it
/// cannot serve instead of saying why.
fn drop_invalid_routes(set: &ResourceSet) -> Translation {
    let mut quiet = set.clone();
    quiet.http_routes = gatesim_reference::model::filtered(&set.http_routes, |_, r| {
        gatesim_reference::validate::object(r).is_empty()
    });
    translate(&quiet)
}

#[test]
fn silently_dropped_invalid_routes_are_found_and_shrunk() {
    let c = found(Property::InvalidValueContained, &drop_invalid_routes);
    assert!(c.message.contains("got no status"), "{}", c.message);
    assert_eq!(c.world.routes.len(), 1, "{}", c.scenario);
}

#[test]
fn the_real_translator_passes_where_the_planted_bugs_fail() {
    let summary = runner::run(
        &gatesim_conformance::fuzz::FuzzOptions {
            properties: vec![Property::StatusMatchesOracle, Property::ListenerIsolation],
            ..options(Property::NoPanic, 64)
        },
        &translate,
        None,
        None,
        &|_| {},
    );
    assert!(
        summary.failure.is_none(),
        "{:?}",
        summary.failure.map(|c| c.scenario)
    );
    let _ = SEED;
}
