//! Shared by the report tests: hand-built results, upstream's GATEWAY-HTTP core tests, fixed
//! dates, and a small XML reader strict enough to reject what consumers reject.
#![allow(dead_code)]

pub mod xml;

use std::path::PathBuf;
use std::time::Duration;

use gatesim_conformance::outcome::{Failure, Outcome, ScenarioResult};
use gatesim_conformance::report::{Implementation, ReportOptions};
use gatesim_conformance::scenario::Profile;

/// A result under construction: `scenario("X", "httproute", &["HTTPRoute"]).passed()`.
pub struct Builder(ScenarioResult);

/// Every Gateway-side test needs `Gateway`, so it is added here as upstream's tests list it.
pub fn scenario(name: &str, dir: &str, features: &[&str]) -> Builder {
    let mut all = vec!["Gateway".to_owned()];
    all.extend(features.iter().map(|f| (*f).to_owned()));
    Builder(ScenarioResult {
        name: name.to_owned(),
        description: format!("{name} description"),
        path: PathBuf::from(format!("scenarios/{dir}/{name}.yaml")),
        features: all,
        provisional: false,
        outcome: Outcome::Passed,
        duration: Duration::from_millis(500),
    })
}

impl Builder {
    pub fn provisional(mut self) -> Builder {
        self.0.provisional = true;
        self
    }

    pub fn took(mut self, millis: u64) -> Builder {
        self.0.duration = Duration::from_millis(millis);
        self
    }

    pub fn passed(self) -> ScenarioResult {
        self.0
    }

    pub fn failed(mut self, failure: Failure) -> ScenarioResult {
        self.0.outcome = Outcome::Failed(failure);
        self.0
    }

    pub fn skipped(mut self, reason: &str) -> ScenarioResult {
        self.0.outcome = Outcome::Skipped {
            reason: reason.to_owned(),
        };
        self.0.duration = Duration::ZERO;
        self.0
    }

    /// Not run because these features are not supported.
    pub fn unsupported(mut self, missing: &[&str]) -> ScenarioResult {
        self.0.outcome = Outcome::Unsupported {
            missing: missing.iter().map(|m| (*m).to_owned()).collect(),
        };
        self.0.duration = Duration::ZERO;
        self.0
    }
}

pub fn failure(step: usize, key: &str, case: Option<&str>, message: &str) -> Failure {
    Failure {
        step: Some((step, key.to_owned())),
        case: case.map(str::to_owned),
        message: message.to_owned(),
        related_status: None,
    }
}

/// The 37 tests of Gateway API v1.6.1 that GATEWAY-HTTP counts as core, with their features
/// besides `Gateway` and the directory our suite keeps them in.
pub const GATEWAY_HTTP_CORE: [(&str, &str, &[&str]); 37] = [
    ("GatewayClassObservedGenerationBump", "gateway", &[]),
    ("GatewayInvalidParametersRef", "gateway", &[]),
    ("GatewayInvalidRouteKind", "gateway", &[]),
    ("GatewayInvalidTLSConfiguration", "gateway", &[]),
    ("GatewayListenerUnsupportedProtocol", "gateway", &[]),
    ("GatewayModifyListeners", "gateway", &[]),
    ("GatewayObservedGenerationBump", "gateway", &[]),
    ("GatewayWithAttachedRoutes", "gateway", &["HTTPRoute"]),
    (
        "GatewaySecretInvalidReferenceGrant",
        "referencegrant",
        &["ReferenceGrant"],
    ),
    (
        "GatewaySecretMissingReferenceGrant",
        "referencegrant",
        &["ReferenceGrant"],
    ),
    (
        "GatewaySecretReferenceGrantAllInNamespace",
        "referencegrant",
        &["ReferenceGrant"],
    ),
    (
        "GatewaySecretReferenceGrantSpecific",
        "referencegrant",
        &["ReferenceGrant"],
    ),
    ("HTTPRouteCrossNamespace", "httproute", &["HTTPRoute"]),
    ("HTTPRouteExactPathMatching", "httproute", &["HTTPRoute"]),
    ("HTTPRouteHTTPSListener", "httproute", &["HTTPRoute"]),
    ("HTTPRouteHeaderMatching", "httproute", &["HTTPRoute"]),
    ("HTTPRouteHostnameIntersection", "httproute", &["HTTPRoute"]),
    (
        "HTTPRouteInvalidBackendRefUnknownKind",
        "httproute",
        &["HTTPRoute"],
    ),
    (
        "HTTPRouteInvalidCrossNamespaceParentRef",
        "httproute",
        &["HTTPRoute"],
    ),
    (
        "HTTPRouteInvalidNonExistentBackendRef",
        "httproute",
        &["HTTPRoute"],
    ),
    (
        "HTTPRouteInvalidParentRefNotMatchingSectionName",
        "httproute",
        &["HTTPRoute"],
    ),
    (
        "HTTPRouteListenerHostnameMatching",
        "httproute",
        &["HTTPRoute"],
    ),
    ("HTTPRouteMatching", "httproute", &["HTTPRoute"]),
    ("HTTPRouteMatchingAcrossRoutes", "httproute", &["HTTPRoute"]),
    ("HTTPRouteMultipleGateways", "httproute", &["HTTPRoute"]),
    ("HTTPRouteNoBackendRefs", "httproute", &["HTTPRoute"]),
    (
        "HTTPRouteObservedGenerationBump",
        "httproute",
        &["HTTPRoute"],
    ),
    ("HTTPRoutePathMatchOrder", "httproute", &["HTTPRoute"]),
    (
        "HTTPRouteRedirectHostAndStatus",
        "httproute",
        &["HTTPRoute"],
    ),
    (
        "HTTPRouteRequestHeaderModifier",
        "httproute",
        &["HTTPRoute"],
    ),
    ("HTTPRouteServiceTypes", "httproute", &["HTTPRoute"]),
    ("HTTPRouteSimpleSameNamespace", "httproute", &["HTTPRoute"]),
    ("HTTPRouteWeight", "httproute", &["HTTPRoute"]),
    (
        "HTTPRouteInvalidCrossNamespaceBackendRef",
        "referencegrant",
        &["HTTPRoute", "ReferenceGrant"],
    ),
    (
        "HTTPRouteInvalidReferenceGrant",
        "referencegrant",
        &["HTTPRoute", "ReferenceGrant"],
    ),
    (
        "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant",
        "referencegrant",
        &["HTTPRoute", "ReferenceGrant"],
    ),
    (
        "HTTPRouteReferenceGrant",
        "referencegrant",
        &["HTTPRoute", "ReferenceGrant"],
    ),
];

/// All 37 core tests passing, in the order given.
pub fn core_all_passed() -> Vec<ScenarioResult> {
    GATEWAY_HTTP_CORE
        .iter()
        .map(|(name, dir, features)| scenario(name, dir, features).passed())
        .collect()
}

/// 2026-07-20T20:02:46 at the given offset from UTC (in hours).
pub fn date(offset_hours: i8) -> jiff::Zoned {
    let utc: jiff::Timestamp = "2026-07-20T20:02:46Z".parse().expect("a valid timestamp");
    utc.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(offset_hours)))
}

pub fn implementation() -> Implementation {
    Implementation {
        organization: "gatesim".to_owned(),
        project: "gatesim-reference".to_owned(),
        url: "github.com/gatesim/gatesim".to_owned(),
        version: "v0.1.0".to_owned(),
        contact: vec!["@gatesim/maintainers".to_owned()],
    }
}

pub fn options(profiles: &[Profile], supported: &[&str]) -> ReportOptions {
    let mut opts = ReportOptions::new(implementation(), date(0));
    opts.profiles = profiles.to_vec();
    opts.features.supported = supported.iter().map(|s| (*s).to_owned()).collect();
    opts
}
