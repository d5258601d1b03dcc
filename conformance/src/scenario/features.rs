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
    k8sgw("K8sGatewayHTTPListenerOption"),
    k8sgw("K8sGatewayDirectResponse"),
    k8sgw("K8sGatewayUpstream"),
    k8sgw("K8sGatewayGatewayParameters"),
    k8sgw("K8sGatewaySettings"),
];

/// Looks a feature up by its exact (case-sensitive) name.
pub fn feature(name: &str) -> Option<&'static Feature> {
    FEATURES.iter().find(|f| f.name == name)
}

/// The known feature closest to a misspelt name, when one is close enough to be a likely typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    gatesim_reference::yaml::closest(name, FEATURES.iter().map(|f| f.name), 3)
}

/// An upstream conformance profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    GatewayHttp,
    GatewayGrpc,
    GatewayTls,
    GatewayTcp,
    GatewayUdp,
    MeshHttp,
    MeshGrpc,
}

/// How a profile counts a scenario that it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Core,
    Extended,
}

impl Profile {
    pub const ALL: [Profile; 7] = [
        Profile::GatewayHttp,
        Profile::GatewayGrpc,
        Profile::GatewayTls,
        Profile::GatewayTcp,
        Profile::GatewayUdp,
        Profile::MeshHttp,
        Profile::MeshGrpc,
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
        }
    }

    /// How many tests upstream's suite counts for this profile at this level (Gateway API
    /// v1.6.1, `conformance/tests` as `profiles.go` and `isTestExtended` count them), to set
    /// our own count against.
    pub fn upstream_tests(self, level: Level) -> usize {
        let (core, extended) = match self {
            Profile::GatewayHttp => (37, 57),
            Profile::GatewayGrpc => (15, 10),
            Profile::GatewayTls => (20, 15),
            Profile::GatewayTcp => (19, 10),
            Profile::GatewayUdp => (20, 10),
            Profile::MeshHttp => (7, 7),
            Profile::MeshGrpc => (2, 0),
        };
        match level {
            Level::Core => core,
            Level::Extended => extended,
        }
    }

    /// The feature that makes this profile what it is: its route kind, or `Mesh`. A profile
    /// whose counted scenarios never use it has only shared Gateway tests behind it, which
    /// says nothing about its route kind.
    pub fn own_feature(self) -> &'static str {
        match self {
            Profile::GatewayHttp => "HTTPRoute",
            Profile::GatewayGrpc => "GRPCRoute",
            Profile::GatewayTls => "TLSRoute",
            Profile::GatewayTcp => "TCPRoute",
            Profile::GatewayUdp => "UDPRoute",
            Profile::MeshHttp | Profile::MeshGrpc => "Mesh",
        }
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
    pub fn level<S: AsRef<str>>(self, features: &[S]) -> Option<Level> {
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
    "unknown conformance profile `{0}`, expected one of GATEWAY-HTTP, GATEWAY-GRPC, GATEWAY-TLS, GATEWAY-TCP, GATEWAY-UDP, MESH-HTTP, MESH-GRPC"
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
        assert_eq!(FEATURES.len(), 66);
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
