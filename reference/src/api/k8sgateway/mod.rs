//! The K8sGateway custom resources (Gloo Gateway's Gateway API mode): their Rust types and,
//! derived from them, their CRDs.
//!
//! Field names, JSON spellings, nesting and types follow K8sGateway (gloo v1.22: the protos of
//! `projects/gloo/api/v1` and `projects/gateway/api/v1`, and `projects/gateway2/api/v1alpha1`
//! for GatewayParameters and DirectResponse), so that users' YAML decodes unchanged.
//! Protobuf-defined kinds read as gloo reads them (golang/protobuf's `jsonpb`): every field
//! optional, enums by name or number, durations in Go's syntax (`"10s"`, `"0.5s"`,
//! `"1m30s"`), 64-bit integers as numbers or strings.
//!
//! Fields gatesim does not model (Enterprise features such as `extauth` or `waf`, and exotic
//! ones) are kept as written, so that they decode and translation can report them as
//! unsupported by name rather than drop them silently.

#[macro_use]
mod macros;

pub mod access_log;
pub mod connection;
pub mod cors;
pub mod crd;
pub mod direct_response;
pub mod gateway_parameters;
pub mod hcm;
pub mod headers;
pub mod health_check;
pub mod http_listener_option;
pub mod listener_option;
pub mod matchers;
pub mod retries;
pub mod route_option;
pub mod schema;
pub mod settings;
pub mod status;
pub mod target;
pub mod tls;
pub mod transformation;
pub mod upstream;
pub mod virtual_host_option;

pub use direct_response::{DirectResponse, DirectResponseSpec};
pub use gateway_parameters::{GatewayParameters, GatewayParametersSpec};
pub use http_listener_option::{HttpListenerOption, HttpListenerOptionSpec, HttpListenerOptions};
pub use listener_option::{ListenerOption, ListenerOptionSpec, ListenerOptions};
pub use route_option::{RouteOption, RouteOptionSpec, RouteOptions};
pub use settings::{Settings, SettingsSpec};
pub use status::{ParentReference, PolicyAncestorStatus, PolicyStatus, ResourceStatus};
pub use target::{PolicyTargetReference, PolicyTargetReferenceWithSectionName};
pub use upstream::{Upstream, UpstreamSpec};
pub use virtual_host_option::{VirtualHostOption, VirtualHostOptionSpec, VirtualHostOptions};
