//! gatesim reference controller: Gateway API (and K8sGateway) resources in, Envoy xDS out.
#![forbid(unsafe_code)]

pub mod api;
pub mod model;
pub mod infra;
pub mod translate;
