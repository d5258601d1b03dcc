//! The fault suite: what the controller, Envoy and the API server do to each other on a bad
//! day, each fault injected for real while a probe sends 200 requests a second to a stable
//! route through the real Envoy. For every fault a test checks that the stable route never
//! failed (not one non-2xx, every answer from its own echo backend), that a change made
//! during the fault is served and its status written (the time to get there is printed,
//! `-- --nocapture` shows it), and that the fault really happened (a killed process's exit
//! signal, a new pid, simkube's fault counters, Envoy's own stats), so a test whose
//! injection does nothing fails.

#[path = "../cluster_support/mod.rs"]
mod cluster_support;
#[path = "../contain_support/mod.rs"]
mod contain_support;
#[path = "../e2e_support/mod.rs"]
mod e2e_support;

mod probe;
mod relay;
mod rig;

mod api_server;
mod controller;
mod nack;
mod proxy;
