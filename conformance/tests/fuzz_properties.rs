//! The in-process properties of the reference translator, each its own test, on generated
//! cases with a fixed seed. A failure prints the shrunk counterexample as a scenario.

mod fuzz_support;

use gatesim_conformance::fuzz::{Property, runner};
use gatesim_reference::translate::translate;

use fuzz_support::{assert_holds, cases, options};

fn holds(property: Property, default_cases: u32) {
    let cases = cases(default_cases);
    let summary = runner::run(&options(property, cases), &translate, None, None, &|_| {});
    assert_holds(&summary, cases);
}

#[test]
fn translation_never_panics() {
    holds(Property::NoPanic, 256);
}

#[test]
fn translation_is_deterministic() {
    holds(Property::Deterministic, 128);
}

#[test]
fn translation_is_independent_of_input_order() {
    holds(Property::OrderIndependent, 128);
}

#[test]
fn status_matches_the_oracle() {
    holds(Property::StatusMatchesOracle, 256);
}

#[test]
fn no_route_reaches_another_namespace_without_a_grant() {
    holds(Property::NoCrossNamespaceWithoutGrant, 256);
}

#[test]
fn virtual_hosts_hold_only_routes_of_their_listener() {
    holds(Property::ListenerIsolation, 256);
}

/// `property` over `default_cases` cases with Envoy validating (`envoy --mode validate`).
fn holds_with_envoy(test: &str, property: Property, default_cases: u32) {
    let Some(envoy) = gatesim_reference::infra::envoy::locate_or_skip(test)
        .expect("Envoy is required (GATESIM_REQUIRE_ALL=1)")
    else {
        return;
    };
    let cases = cases(default_cases);
    let summary = runner::run(
        &options(property, cases),
        &translate,
        Some(&envoy),
        None,
        &|_| {},
    );
    assert_holds(&summary, cases);
}

#[test]
fn envoy_accepts_every_configuration() {
    holds_with_envoy(
        "envoy_accepts_every_configuration",
        Property::EnvoyAccepts,
        12,
    );
}

#[test]
fn invalid_values_are_refused_by_field_and_contained() {
    holds(Property::InvalidValueContained, 128);
}

/// What the corrupted worlds leave is a configuration Envoy accepts (zero NACKs).
#[test]
fn envoy_accepts_what_invalid_values_leave() {
    holds_with_envoy(
        "envoy_accepts_what_invalid_values_leave",
        Property::InvalidValueContained,
        8,
    );
}

/// Every class of invalid value is generated, on routes and on K8sGateway policies alike.
#[test]
fn the_mutator_reaches_every_class() {
    use gatesim_generate::corrupt::Class;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = gatesim_generate::strategy::case(gatesim_generate::GenConfig::default());
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..2000 {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        if let Some(c) = gatesim_generate::corrupt::resolve(&case.world, case.corruption) {
            seen.insert(format!("{:?}", c.class));
        }
    }
    let missing: Vec<_> = Class::ALL
        .iter()
        .map(|c| format!("{c:?}"))
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}

/// `scenarios/base/fuzz.yaml` is the generator's universe, object for object. Run with
/// `GATESIM_UPDATE_GOLDEN=1` to rewrite it after the universe changes.
#[test]
fn the_fuzz_base_fixture_is_the_generators_universe() {
    let path = gatesim_conformance::scenario::default_scenarios_dir().join("base/fuzz.yaml");
    let objects = gatesim_generate::render::base_objects();
    if std::env::var_os("GATESIM_UPDATE_GOLDEN").is_some() {
        let yaml = serde_yaml::to_string(&objects).expect("objects render as YAML");
        let text = format!(
            "# The universe of `gatesim fuzz` (conformance/generate/src/universe.rs): namespaces,\n\
             # echo backends, the serving certificate and the Gateways every generated case\n\
             # configures. Written by the fuzz_properties test with GATESIM_UPDATE_GOLDEN=1.\n{yaml}"
        );
        std::fs::write(&path, text).expect("writing the fixture");
    }
    let text = std::fs::read_to_string(&path).expect("scenarios/base/fuzz.yaml exists");
    let on_disk: Vec<serde_json::Value> = serde_yaml::from_str(&text).expect("the fixture parses");
    assert_eq!(
        on_disk,
        objects,
        "{} differs from the universe",
        path.display()
    );
}

/// Generated worlds keep the rules the Gateway API CRDs enforce (OpenAPI and CEL): an API
/// server that validates them (simkube, a real cluster) would refuse the object, and the live
/// properties would report the refusal as a failure of the translator under test.
#[test]
fn generated_worlds_keep_the_crd_rules() {
    use gatesim_generate::model::{Filter, PathMatch, PathModifier, Protocol};
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = gatesim_generate::strategy::world(gatesim_generate::GenConfig::default());
    let mut prefix_rewrites = 0;
    for _ in 0..cases(512) {
        let world = strategy.new_tree(&mut runner).expect("a world").current();
        for gw in &world.gateways {
            let mut seen = std::collections::BTreeSet::new();
            for l in &gw.listeners {
                assert!(
                    seen.insert((l.port, l.protocol, l.hostname.clone())),
                    "{}/{} repeats a (port, protocol, hostname): {world:#?}",
                    gw.namespace,
                    gw.name
                );
                assert!(
                    l.protocol != Protocol::Https || !l.certificates.is_empty(),
                    "an HTTPS listener without certificateRefs: {world:#?}"
                );
            }
        }
        for route in &world.routes {
            for rule in &route.rules {
                let kinds: Vec<_> = rule.filters.iter().map(std::mem::discriminant).collect();
                let distinct: std::collections::HashSet<_> = kinds.iter().collect();
                assert_eq!(distinct.len(), kinds.len(), "a filter repeated: {rule:#?}");
                for filter in &rule.filters {
                    let path = match filter {
                        Filter::Redirect(r) => {
                            assert!(
                                rule.backends.is_empty(),
                                "redirect with backends: {rule:#?}"
                            );
                            &r.path
                        }
                        Filter::Rewrite(r) => &r.path,
                        _ => &None,
                    };
                    if let Some(PathModifier::Prefix(_)) = path {
                        prefix_rewrites += 1;
                        assert!(
                            rule.matches.len() <= 1
                                && rule
                                    .matches
                                    .iter()
                                    .all(|m| matches!(m.path, None | Some(PathMatch::Prefix(_)))),
                            "ReplacePrefixMatch needs exactly one PathPrefix match: {rule:#?}"
                        );
                    }
                }
            }
        }
    }
    assert!(prefix_rewrites > 0, "no ReplacePrefixMatch was generated");
}
