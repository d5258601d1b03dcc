//! The Gateway API features this controller implements (and the K8sGateway ones, by the
//! names of the harness's feature registry), published in
//! `GatewayClass.status.supportedFeatures`. A harness that is given no feature flags runs
//! exactly the tests these names enable, so the list must never claim more than is served.

/// Sorted, as upstream lists them.
pub const SUPPORTED: &[&str] = &[
    "Gateway",
    "GatewayHTTPListenerIsolation",
    "GatewayPort8080",
    "HTTPRoute",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
    "K8sGatewayDirectResponse",
    "K8sGatewayGatewayParameters",
    "K8sGatewayHttpListenerOption",
    "K8sGatewayListenerOption",
    "K8sGatewayRouteDelegation",
    "K8sGatewayRouteOption",
    "K8sGatewaySettings",
    "K8sGatewayUpstream",
    "K8sGatewayVirtualHostOption",
    "ReferenceGrant",
];

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_and_unique() {
        let mut v = super::SUPPORTED.to_vec();
        v.sort();
        v.dedup();
        assert_eq!(v, super::SUPPORTED);
    }
}
