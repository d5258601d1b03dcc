//! References to other objects: parentRefs, backendRefs, certificateRefs, parametersRefs.
//! They share field formats (group, kind, name, namespace, port), checked here once.

use super::names;
use super::path::Checker;
use crate::api::httproutes::{
    HttpRouteParentRefs, HttpRouteRulesBackendRefs, HttpRouteRulesFiltersExtensionRef,
    HttpRouteRulesFiltersExternalAuthBackendRef, HttpRouteRulesFiltersRequestMirrorBackendRef,
};
use crate::api::{
    GatewayClassParametersRef, GatewayInfrastructureParametersRef,
    GatewayListenersTlsCertificateRefs, GatewayTlsBackendClientCertificateRef,
    GatewayTlsFrontendDefaultValidationCaCertificateRefs,
    GatewayTlsFrontendPerPortTlsValidationCaCertificateRefs,
};

/// The fields of a reference as written; `None` where the kind of reference has no such
/// field or the user left it out.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ref<'a> {
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub port: Option<i32>,
}

/// `Ref::from(&r)` for the API's reference types, which spell their fields alike: `optional`
/// ones default group and kind, `required` ones spell them out.
macro_rules! ref_from {
    (optional, $port:ident: $($t:ty),*) => {$(
        impl<'a> From<&'a $t> for Ref<'a> {
            fn from(r: &'a $t) -> Self {
                Ref {
                    group: r.group.as_deref(),
                    kind: r.kind.as_deref(),
                    name: &r.name,
                    namespace: r.namespace.as_deref(),
                    port: ref_from!(@port $port r),
                }
            }
        }
    )*};
    (required, $namespace:ident: $($t:ty),*) => {$(
        impl<'a> From<&'a $t> for Ref<'a> {
            fn from(r: &'a $t) -> Self {
                Ref {
                    group: Some(&r.group),
                    kind: Some(&r.kind),
                    name: &r.name,
                    namespace: ref_from!(@namespace $namespace r),
                    port: None,
                }
            }
        }
    )*};
    (@port port $r:ident) => { $r.port };
    (@port no_port $r:ident) => { None };
    (@namespace namespace $r:ident) => { $r.namespace.as_deref() };
    (@namespace no_namespace $r:ident) => { None };
}

ref_from!(optional, port: HttpRouteParentRefs, HttpRouteRulesBackendRefs,
    HttpRouteRulesFiltersRequestMirrorBackendRef, HttpRouteRulesFiltersExternalAuthBackendRef);
ref_from!(optional, no_port: GatewayListenersTlsCertificateRefs,
    GatewayTlsBackendClientCertificateRef);
ref_from!(required, namespace: GatewayClassParametersRef,
    GatewayTlsFrontendDefaultValidationCaCertificateRefs,
    GatewayTlsFrontendPerPortTlsValidationCaCertificateRefs);
ref_from!(required, no_namespace: GatewayInfrastructureParametersRef,
    HttpRouteRulesFiltersExtensionRef);

/// Check the fields of a reference at the current path.
pub(crate) fn reference(c: &mut Checker, r: Ref<'_>) {
    if let Some(g) = r.group {
        c.value("group", names::group(g));
    }
    if let Some(k) = r.kind {
        c.value("kind", names::kind(k));
    }
    c.value("name", names::object_name(r.name));
    if let Some(ns) = r.namespace {
        c.value("namespace", names::namespace(ns));
    }
    if let Some(p) = r.port {
        c.field("port", |c| c.range(p.into(), 1, 65535));
    }
}

/// A reference to a backend: also, a Service needs a port.
pub(crate) fn backend(c: &mut Checker, r: Ref<'_>) {
    reference(c, r);
    let service = r.group.unwrap_or("").is_empty() && r.kind.unwrap_or("Service") == "Service";
    if service && r.port.is_none() {
        c.field("port", |c| {
            c.fail("is required for a reference to a Service")
        });
    }
}
