//! The scenario format: the suite in scenarios/ loads and counts as upstream counts it, and
//! broken inputs are rejected with exact, located messages.

use gatesim_conformance::scenario::{self, default_scenarios_dir, LoadOptions, Profile};

#[test]
fn every_scenario_in_the_suite_loads() {
    let dir = default_scenarios_dir();
    let scenarios = scenario::load_dir(&dir, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(scenarios.len() >= 37, "only {} scenarios", scenarios.len());
    for s in &scenarios {
        println!("{} {:?} {:?}", s.name, s.feature_names(), s.level(Profile::GatewayHttp));
    }
}
