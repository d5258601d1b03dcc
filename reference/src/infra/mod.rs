//! Proxies: finding Envoy, rendering its bootstrap, running one per Gateway on this host (as a
//! process or a Docker container) or as Kubernetes workloads, and
//! asking Envoy to validate translated resources.

pub mod addresses;
pub mod admin;
pub mod bootstrap;
pub mod docker;
pub mod envoy;
pub mod host;
pub mod kubernetes;
pub mod ports;
pub mod validate;

pub use addresses::{AddressAllocator, AddressError};
pub use host::{
    HostConfig, HostError, HostInfra, ProxyInfo, ProxySpec, ProxyState, ReconcileReport,
    desired_proxies,
};
pub use validate::validate_proxy;
