//! The one place where Kubernetes and Gateway API types enter the crate.
//!
//! Everything else imports from here, so moving to newer Gateway API types (or from the
//! experimental to the standard channel) is a change to this file only. The experimental
//! channel is used because its types are a superset of the standard ones: fields such as
//! `retry` or `sessionPersistence` would otherwise be dropped silently on deserialization.
//! The K8sGateway kinds are defined here, in [`k8sgateway`].

pub mod k8sgateway;

pub use k8sgateway::{
    DirectResponse, GatewayParameters, HttpListenerOption, ListenerOption, RouteOption, Settings,
    Upstream, VirtualHostOption,
};

pub use gateway_api::experimental::gatewayclasses::{
    GatewayClass, GatewayClassParametersRef, GatewayClassSpec, GatewayClassStatus,
    GatewayClassStatusSupportedFeatures,
};
pub use gateway_api::experimental::gateways::{
    Gateway, GatewayInfrastructureParametersRef, GatewayListeners, GatewayListenersAllowedRoutes,
    GatewayListenersAllowedRoutesKinds, GatewayListenersAllowedRoutesNamespaces,
    GatewayListenersAllowedRoutesNamespacesFrom, GatewayListenersAllowedRoutesNamespacesSelector,
    GatewayListenersTls, GatewayListenersTlsCertificateRefs, GatewayListenersTlsMode, GatewaySpec,
    GatewayStatus, GatewayStatusAddresses, GatewayStatusListeners,
    GatewayStatusListenersSupportedKinds, GatewayTls, GatewayTlsBackendClientCertificateRef,
    GatewayTlsFrontendDefaultValidationCaCertificateRefs,
    GatewayTlsFrontendPerPortTlsValidationCaCertificateRefs,
};
pub use gateway_api::experimental::httproutes::{self as httproutes, HttpRoute, HttpRouteSpec};
pub use gateway_api::experimental::referencegrants::{
    ReferenceGrant, ReferenceGrantFrom, ReferenceGrantSpec, ReferenceGrantTo,
};

pub use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service, ServicePort};
pub use k8s_openapi::api::discovery::v1::EndpointSlice;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    Condition, LabelSelector, LabelSelectorRequirement, ObjectMeta, Time,
};

/// The API group of every Gateway API kind.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// The controller name this implementation answers to unless configured otherwise.
pub const DEFAULT_CONTROLLER_NAME: &str = "gatesim.dev/reference-controller";
