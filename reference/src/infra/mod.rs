//! Proxies: finding Envoy, and running one per Gateway.

pub mod envoy;
