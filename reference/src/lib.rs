//! gatesim reference controller: Gateway API (and K8sGateway) resources in, Envoy xDS out.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod controller;
pub mod descriptors;
pub mod infra;
pub mod model;
pub mod provider;
pub mod render;
pub mod terminal;
pub mod timing;
pub mod translate;
pub mod validate;
pub mod xds;
pub mod yaml;
