//! Generated Gateway API resource sets, and requests aimed at them.
//!
//! This crate knows nothing of the harness or the controller: it describes a small world
//! (namespaces, Gateways and listeners, HTTPRoutes, ReferenceGrants over a fixed universe of
//! echo backends), generates such worlds with proptest, renders them as Kubernetes objects, and
//! derives requests that probe every match boundary of the generated routes, and corrupts one
//! field of a world with a value the API or Envoy forbids ([`corrupt`]). The oracle
//! (`gatesim_conformance::oracle`), the `gatesim fuzz` command, the property tests and the
//! cargo-fuzz targets all share it, so it sits below all of them in the dependency graph.
//!
//! Adding a kind (the K8sGateway policies, say) means a field in [`World`], a strategy in
//! [`strategy`], its rendering in [`render`] and its rule in the oracle; nothing here assumes
//! the set of kinds is closed.
#![forbid(unsafe_code)]

pub mod corrupt;
pub mod model;
pub mod render;
pub mod request;
pub mod strategy;
pub mod universe;

pub use corrupt::{Corruption, CorruptionSeed};
pub use model::*;
pub use request::{Request, RequestSeed, Scheme};
pub use strategy::{Case, GenConfig};

/// Bumped whenever the same seed would generate a different case, so that a regression
/// scenario records which generator produced it.
pub const GENERATOR_VERSION: u32 = 2;
