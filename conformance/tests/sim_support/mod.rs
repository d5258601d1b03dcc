//! Shared by the end-to-end tests on the sim target: an environment of its own on a loopback
//! network of its own, so tests run side by side with each other and with the scenario trials.
#![allow(dead_code)]

use std::time::Duration;

use gatesim_conformance::run::{Environment, Settings};
use gatesim_conformance::target::{RunClass, SimOptions, SimTarget, Target};

/// Polls quickly: these tests wait on real conditions, not on the default pace.
pub fn settings() -> Settings {
    Settings {
        poll_interval: Duration::from_millis(20),
        ..Settings::default()
    }
}

/// A sim environment on `127.<network>.x.y`; `None` (after a loud skip line) when Envoy is
/// unavailable and `GATESIM_REQUIRE_ALL` is not set.
pub async fn environment_with(
    purpose: &str,
    network: u8,
    port_offset: Option<u16>,
    settings: Settings,
) -> Option<Environment> {
    let envoy = gatesim_reference::infra::envoy::locate_or_skip(purpose)
        .expect("Envoy is required (GATESIM_REQUIRE_ALL=1)")?;
    let mut options = SimOptions::new(RunClass {
        gateway_class: "gatesim".to_owned(),
        controller_name: "gatesim.dev/reference-controller".to_owned(),
    });
    options.envoy = Some(envoy);
    options.address_network = Some(network);
    options.port_offset = port_offset;
    let target = SimTarget::start(options)
        .await
        .expect("the sim target starts");
    Some(Environment::new(Target::Sim(Box::new(target)), settings))
}
