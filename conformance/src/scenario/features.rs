//! The feature registry: every feature name a scenario may list, which upstream feature set it
//! belongs to, and how each conformance profile counts a scenario, so that reports match the
//! upstream suite's (`conformance/utils/suite/profiles.go` and `isTestExtended` in `reports.go`,
//! Gateway API v1.6.1) to the test.

use std::fmt;
use std::str::FromStr;

/// The upstream feature set a feature is declared in (`pkg/features/*.go`), or K8sGateway for the
/// extension resources this project implements on top of Gateway API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureSet {
    GatewayCore,
    GatewayExtended,
    HttpRouteCore,
    HttpRouteExtended,
    ReferenceGrantCore,
    TlsRouteCore,
    TlsRouteExtended,
    /// Upstream declares TCPRoute only in `TCPRouteExtendedFeatures`.
    TcpRouteExtended,
    UdpRoute,
    GrpcRouteCore,
    GrpcRouteExtended,
    BackendTlsPolicyCore,
    BackendTlsPolicyExtended,
    MeshCore,
    MeshExtended,
    K8sGateway,
}

/// The release channel upstream assigns to a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Standard,
    Experimental,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Feature {
    pub name: &'static str,
    pub set: FeatureSet,
    /// `None` for K8sGateway features, which are not Gateway API features.
    pub channel: Option<Channel>,
}

impl Feature {
    /// Part of upstream's `AllFeatures` (what `--all-features` enables upstream).
    pub fn is_upstream(&self) -> bool {
        self.set != FeatureSet::K8sGateway
    }
}

const fn stable(name: &'static str, set: FeatureSet) -> Feature {
    Feature {
        name,
        set,
        channel: Some(Channel::Standard),
    }
}

const fn experimental(name: &'static str, set: FeatureSet) -> Feature {
    Feature {
        name,
        set,
        channel: Some(Channel::Experimental),
    }
}

const fn k8sgw(name: &'static str) -> Feature {
    Feature {
        name,
        set: FeatureSet::K8sGateway,
        channel: None,
    }
}

use FeatureSet::*;

/// Every known feature: the 58 of Gateway API v1.6.1, then the K8sGateway ones.
pub static FEATURES: &[Feature] = &[
    // Gateway
    stable("Gateway", GatewayCore),
    stable("GatewayPort8080", GatewayExtended),
    stable("GatewayStaticAddresses", GatewayExtended),
    stable("GatewayHTTPListenerIsolation", GatewayExtended),
    stable(
        "GatewayHTTPSListenerDetectMisdirectedRequests",
        GatewayExtended,
    ),
    stable("GatewayInfrastructurePropagation", GatewayExtended),
    stable("GatewayAddressEmpty", GatewayExtended),
    stable("GatewayBackendClientCertificate", GatewayExtended),
    stable(
        "GatewayFrontendClientCertificateValidation",
        GatewayExtended,
    ),
    stable(
        "GatewayFrontendClientCertificateValidationInsecureFallback",
        GatewayExtended,
    ),
    stable("ListenerSet", GatewayExtended),
    // ReferenceGrant
    stable("ReferenceGrant", ReferenceGrantCore),
    // HTTPRoute
    stable("HTTPRoute", HttpRouteCore),
    experimental("HTTPRouteDestinationPortMatching", HttpRouteExtended),
    stable(
        "HTTPRouteBackendRequestHeaderModification",
        HttpRouteExtended,
    ),
    stable("HTTPRouteQueryParamMatching", HttpRouteExtended),
    stable("HTTPRouteMethodMatching", HttpRouteExtended),
    stable("HTTPRouteResponseHeaderModification", HttpRouteExtended),
    stable("HTTPRoutePortRedirect", HttpRouteExtended),
    stable("HTTPRouteSchemeRedirect", HttpRouteExtended),
    stable("HTTPRoutePathRedirect", HttpRouteExtended),
    stable("HTTPRouteHostRewrite", HttpRouteExtended),
    stable("HTTPRoutePathRewrite", HttpRouteExtended),
    stable("HTTPRouteRequestMirror", HttpRouteExtended),
    stable("HTTPRouteRequestMultipleMirrors", HttpRouteExtended),
    stable("HTTPRouteRequestPercentageMirror", HttpRouteExtended),
    stable("HTTPRouteRequestTimeout", HttpRouteExtended),
    stable("HTTPRouteBackendTimeout", HttpRouteExtended),
    stable("HTTPRouteParentRefPort", HttpRouteExtended),
    stable("HTTPRouteBackendProtocolH2C", HttpRouteExtended),
    stable("HTTPRouteBackendProtocolWebSocket", HttpRouteExtended),
    stable("HTTPRouteNamedRouteRule", HttpRouteExtended),
    stable("HTTPRouteCORS", HttpRouteExtended),
    stable("HTTPRoute303RedirectStatusCode", HttpRouteExtended),
    stable("HTTPRoute307RedirectStatusCode", HttpRouteExtended),
    stable("HTTPRoute308RedirectStatusCode", HttpRouteExtended),
    experimental("HTTPRouteRetry", HttpRouteExtended),
    experimental("HTTPRouteRetryBackendTimeout", HttpRouteExtended),
    experimental("HTTPRouteRetryConnectionError", HttpRouteExtended),
    // TLSRoute
    stable("TLSRoute", TlsRouteCore),
    stable("TLSRouteModeTerminate", TlsRouteExtended),
    experimental("TLSRouteModeMixed", TlsRouteExtended),
    // TCPRoute, UDPRoute
    stable("TCPRoute", TcpRouteExtended),
    stable("UDPRoute", UdpRoute),
    // GRPCRoute
    stable("GRPCRoute", GrpcRouteCore),
    stable("GRPCRouteNamedRouteRule", GrpcRouteExtended),
    // BackendTLSPolicy
    stable("BackendTLSPolicy", BackendTlsPolicyCore),
    stable("BackendTLSPolicySANValidation", BackendTlsPolicyExtended),
    // Mesh
    stable("Mesh", MeshCore),
    stable("MeshClusterIPMatching", MeshExtended),
    stable("MeshConsumerRoute", MeshExtended),
    stable("MeshHTTPRouteRewritePath", MeshExtended),
    stable("MeshHTTPRouteSchemeRedirect", MeshExtended),
    stable("MeshHTTPRouteRedirectPort", MeshExtended),
    stable("MeshHTTPRouteRedirectPath", MeshExtended),
    stable(
        "MeshHTTPRouteBackendRequestHeaderModification",
        MeshExtended,
    ),
    stable("MeshHTTPRouteQueryParamMatching", MeshExtended),
    stable("MeshHTTPRouteNamedRouteRule", MeshExtended),
    // K8sGateway extension resources
    k8sgw("K8sGatewayRouteOption"),
    k8sgw("K8sGatewayVirtualHostOption"),
    k8sgw("K8sGatewayListenerOption"),
    k8sgw("K8sGatewayHttpListenerOption"),
    k8sgw("K8sGatewayDirectResponse"),
    k8sgw("K8sGatewayUpstream"),
    k8sgw("K8sGatewayGatewayParameters"),
    k8sgw("K8sGatewaySettings"),
    k8sgw("K8sGatewayRouteDelegation"),
];

/// The K8sGateway features, in registry order: the rows of the K8SGATEWAY per-kind table.
pub fn k8sgateway_features() -> impl Iterator<Item = &'static str> {
    FEATURES
        .iter()
        .filter(|f| f.set == FeatureSet::K8sGateway)
        .map(|f| f.name)
}

/// Looks a feature up by its exact (case-sensitive) name.
pub fn feature(name: &str) -> Option<&'static Feature> {
    FEATURES.iter().find(|f| f.name == name)
}

/// The known feature closest to a misspelt name, when one is close enough to be a likely typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    gatesim_reference::yaml::closest(name, FEATURES.iter().map(|f| f.name), 3)
}

/// A conformance profile: upstream's seven, and K8SGATEWAY for the extension resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    GatewayHttp,
    GatewayGrpc,
    GatewayTls,
    GatewayTcp,
    GatewayUdp,
    MeshHttp,
    MeshGrpc,
    /// This project's profile, beside upstream's: it counts exactly the scenarios that list a
    /// K8sGateway feature. Its core features are `Gateway`, `HTTPRoute` and every K8sGateway
    /// feature (an implementation of K8sGateway implements all of its kinds); upstream's
    /// Gateway and HTTPRoute extended features and `ReferenceGrant` are its extended ones. So a
    /// K8sGateway scenario that needs nothing else is core, one that also needs, say,
    /// `HTTPRouteRequestMirror` is extended, as upstream's `isTestExtended` would count it.
    K8sGateway,
}

/// The K8SGATEWAY profile's core features.
const K8SGATEWAY_CORE: &[&str] = &[
    "Gateway",
    "HTTPRoute",
    "K8sGatewayRouteOption",
    "K8sGatewayVirtualHostOption",
    "K8sGatewayListenerOption",
    "K8sGatewayHttpListenerOption",
    "K8sGatewayDirectResponse",
    "K8sGatewayUpstream",
    "K8sGatewayGatewayParameters",
    "K8sGatewaySettings",
    "K8sGatewayRouteDelegation",
];

/// How a profile counts a scenario that it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Core,
    Extended,
}

impl Profile {
    pub const ALL: [Profile; 8] = [
        Profile::GatewayHttp,
        Profile::GatewayGrpc,
        Profile::GatewayTls,
        Profile::GatewayTcp,
        Profile::GatewayUdp,
        Profile::MeshHttp,
        Profile::MeshGrpc,
        Profile::K8sGateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::GatewayHttp => "GATEWAY-HTTP",
            Profile::GatewayGrpc => "GATEWAY-GRPC",
            Profile::GatewayTls => "GATEWAY-TLS",
            Profile::GatewayTcp => "GATEWAY-TCP",
            Profile::GatewayUdp => "GATEWAY-UDP",
            Profile::MeshHttp => "MESH-HTTP",
            Profile::MeshGrpc => "MESH-GRPC",
            Profile::K8sGateway => "K8SGATEWAY",
        }
    }

    /// The profile's core features; `--conformance-profiles` marks these supported.
    pub fn core_features(self) -> &'static [&'static str] {
        match self {
            Profile::GatewayHttp => &["Gateway", "ReferenceGrant", "HTTPRoute"],
            Profile::GatewayGrpc => &["Gateway", "ReferenceGrant", "GRPCRoute"],
            Profile::GatewayTls => &["Gateway", "ReferenceGrant", "TLSRoute"],
            Profile::GatewayTcp => &["Gateway", "TCPRoute", "ReferenceGrant"],
            Profile::GatewayUdp => &["Gateway", "UDPRoute", "ReferenceGrant"],
            Profile::MeshHttp => &["Mesh", "HTTPRoute"],
            Profile::MeshGrpc => &["Mesh", "GRPCRoute"],
            Profile::K8sGateway => K8SGATEWAY_CORE,
        }
    }

    /// The upstream feature sets whose members are this profile's extended features.
    fn extended_sets(self) -> &'static [FeatureSet] {
        match self {
            Profile::GatewayHttp => &[
                GatewayExtended,
                HttpRouteExtended,
                BackendTlsPolicyCore,
                BackendTlsPolicyExtended,
            ],
            Profile::GatewayGrpc => &[GatewayExtended],
            Profile::GatewayTls => &[GatewayExtended, TlsRouteExtended],
            Profile::GatewayTcp => &[GatewayExtended, TcpRouteExtended],
            Profile::GatewayUdp => &[GatewayExtended, UdpRoute],
            Profile::MeshHttp | Profile::MeshGrpc => &[MeshExtended],
            Profile::K8sGateway => &[GatewayExtended, HttpRouteExtended, ReferenceGrantCore],
        }
    }

    /// How many tests upstream's suite counts for this profile at this level (Gateway API
    /// v1.6.1, `conformance/tests` as `profiles.go` and `isTestExtended` count them), to set
    /// our own count against; `None` for K8SGATEWAY, which upstream does not have.
    pub fn upstream_tests(self, level: Level) -> Option<usize> {
        let (core, extended) = match self {
            Profile::GatewayHttp => (37, 57),
            Profile::GatewayGrpc => (15, 10),
            Profile::GatewayTls => (20, 15),
            Profile::GatewayTcp => (19, 10),
            Profile::GatewayUdp => (20, 10),
            Profile::MeshHttp => (7, 7),
            Profile::MeshGrpc => (2, 0),
            Profile::K8sGateway => return None,
        };
        Some(match level {
            Level::Core => core,
            Level::Extended => extended,
        })
    }

    /// The feature that makes this profile what it is: its route kind, or `Mesh`. A profile
    /// whose counted scenarios never use it has only shared Gateway tests behind it, which
    /// says nothing about its route kind. `None` for K8SGATEWAY, which counts only scenarios
    /// that list one of its own features.
    pub fn own_feature(self) -> Option<&'static str> {
        Some(match self {
            Profile::GatewayHttp => "HTTPRoute",
            Profile::GatewayGrpc => "GRPCRoute",
            Profile::GatewayTls => "TLSRoute",
            Profile::GatewayTcp => "TCPRoute",
            Profile::GatewayUdp => "UDPRoute",
            Profile::MeshHttp | Profile::MeshGrpc => "Mesh",
            Profile::K8sGateway => return None,
        })
    }

    pub fn is_core_feature(self, name: &str) -> bool {
        self.core_features().contains(&name)
    }

    /// Whether the feature is in the profile's extended set. A core feature can be in it too
    /// (TCPRoute, UDPRoute), exactly as upstream declares them.
    pub fn is_extended_feature(self, name: &str) -> bool {
        feature(name).is_some_and(|f| self.extended_sets().contains(&f.set))
    }

    /// The profile's extended features, in registry order.
    pub fn extended_features(self) -> impl Iterator<Item = &'static str> {
        FEATURES
            .iter()
            .filter(move |f| self.extended_sets().contains(&f.set))
            .map(|f| f.name)
    }

    /// How this profile counts a scenario with these features: `None` when the profile does not
    /// count it at all (some feature is neither core nor extended here), otherwise `Core` when
    /// every feature is core and `Extended` when any is not, as upstream's `isTestExtended`.
    /// K8SGATEWAY counts only scenarios that list at least one K8sGateway feature.
    pub fn level<S: AsRef<str>>(self, features: &[S]) -> Option<Level> {
        if self == Profile::K8sGateway
            && !features
                .iter()
                .any(|f| feature(f.as_ref()).is_some_and(|f| !f.is_upstream()))
        {
            return None;
        }
        let covered = features
            .iter()
            .all(|f| self.is_core_feature(f.as_ref()) || self.is_extended_feature(f.as_ref()));
        if !covered {
            return None;
        }
        if features.iter().all(|f| self.is_core_feature(f.as_ref())) {
            Some(Level::Core)
        } else {
            Some(Level::Extended)
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown conformance profile `{0}`, expected one of GATEWAY-HTTP, GATEWAY-GRPC, GATEWAY-TLS, GATEWAY-TCP, GATEWAY-UDP, MESH-HTTP, MESH-GRPC, K8SGATEWAY"
)]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_has_every_upstream_feature_once() {
        let upstream = FEATURES.iter().filter(|f| f.is_upstream()).count();
        assert_eq!(upstream, 58);
        for (i, f) in FEATURES.iter().enumerate() {
            assert!(
                FEATURES[i + 1..].iter().all(|g| g.name != f.name),
                "{} twice",
                f.name
            );
        }
        assert_eq!(FEATURES.len(), 67);
        assert_eq!(k8sgateway_features().count(), 9);
        for name in k8sgateway_features() {
            assert!(Profile::K8sGateway.is_core_feature(name), "{name}");
        }
    }

    #[test]
    fn levels_follow_upstream_is_test_extended() {
        let http = Profile::GatewayHttp;
        assert_eq!(http.level(&["Gateway"]), Some(Level::Core));
        assert_eq!(
            http.level(&["Gateway", "HTTPRoute", "ReferenceGrant"]),
            Some(Level::Core)
        );
        assert_eq!(
            http.level(&["Gateway", "HTTPRoute", "HTTPRouteCORS"]),
            Some(Level::Extended)
        );
        assert_eq!(
            http.level(&["Gateway", "HTTPRoute", "BackendTLSPolicy"]),
            Some(Level::Extended)
        );
        assert_eq!(http.level(&["Gateway", "HTTPRoute", "TLSRoute"]), None);
        assert_eq!(
            Profile::GatewayGrpc.level(&["Gateway", "GRPCRoute", "GRPCRouteNamedRouteRule"]),
            None
        );
        assert_eq!(
            Profile::GatewayTcp.level(&["Gateway", "TCPRoute"]),
            Some(Level::Core)
        );
        assert_eq!(
            Profile::GatewayTls.level(&["Gateway", "TLSRoute", "TLSRouteModeMixed"]),
            Some(Level::Extended)
        );
        assert_eq!(http.level(&["Gateway", "K8sGatewayRouteOption"]), None);
    }

    #[test]
    fn k8sgateway_counts_only_scenarios_with_a_k8sgateway_feature() {
        let k = Profile::K8sGateway;
        assert_eq!(k.level(&["Gateway", "HTTPRoute"]), None);
        assert_eq!(
            k.level(&["Gateway", "HTTPRoute", "K8sGatewayRouteOption"]),
            Some(Level::Core)
        );
        assert_eq!(
            k.level(&[
                "Gateway",
                "K8sGatewayHttpListenerOption",
                "K8sGatewayRouteDelegation"
            ]),
            Some(Level::Core)
        );
        assert_eq!(
            k.level(&[
                "Gateway",
                "HTTPRoute",
                "HTTPRouteRequestMirror",
                "K8sGatewayRouteOption"
            ]),
            Some(Level::Extended)
        );
        assert_eq!(
            k.level(&["Gateway", "ReferenceGrant", "K8sGatewayUpstream"]),
            Some(Level::Extended)
        );
        assert_eq!(
            k.level(&["Gateway", "GRPCRoute", "K8sGatewayRouteOption"]),
            None
        );
        assert_eq!("K8SGATEWAY".parse::<Profile>().unwrap(), k);
        assert_eq!(
            suggest("K8sGatewayHTTPListenerOption"),
            Some("K8sGatewayHttpListenerOption")
        );
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(
            suggest("HTTPRouteQueryParamMatchin"),
            Some("HTTPRouteQueryParamMatching")
        );
        assert_eq!(suggest("httproute"), Some("HTTPRoute"));
        assert_eq!(suggest("CompletelyDifferent"), None);
    }

    #[test]
    fn profiles_parse_by_upstream_name() {
        assert_eq!(
            "GATEWAY-HTTP".parse::<Profile>().unwrap(),
            Profile::GatewayHttp
        );
        assert!("gateway-http".parse::<Profile>().is_err());
    }
}
