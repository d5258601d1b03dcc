//! What a step must observe: object status, HTTP exchanges and weighted distributions. Optional
//! settings stay `Option` as written; the accessors resolve them against the format's defaults.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

use super::object::ObjectRef;
use super::values::{ConditionStatus, GatewayRef, StatusCode, TimeSpan};

/// The format's defaults, most of them upstream's (`utils/config/timeout.go`, `utils/weight`).
pub mod defaults {
    use std::time::Duration;

    /// Consecutive successes a case needs (`RequiredConsecutiveSuccesses`).
    pub const CONSECUTIVE: u32 = 3;
    /// Time a case has to reach them (`MaxTimeToConsistency`).
    pub const WITHIN: Duration = Duration::from_secs(30);
    pub const SAMPLES: u32 = 500;
    pub const TOLERANCE: f64 = 0.05;
    /// Whole samplings tried before a weights step fails (`MaxTestRetries`).
    pub const ATTEMPTS: u32 = 10;
    /// Status timeout for GatewayClass and Gateway (`GWCMustBeAccepted`, `GatewayMustHaveCondition`).
    pub const GATEWAY_STATUS_TIMEOUT: Duration = Duration::from_secs(180);
    /// Status timeout for every other kind (`HTTPRouteMustHaveCondition`, `RouteMustHaveParents`).
    pub const STATUS_TIMEOUT: Duration = Duration::from_secs(60);
    pub const STATUS: u16 = 200;
    pub const METHOD: &str = "GET";
    pub const PARENT_GROUP: &str = "gateway.networking.k8s.io";
    pub const PARENT_KIND: &str = "Gateway";
    pub const ROUTE_GROUP: &str = "gateway.networking.k8s.io";
    /// What an upgrade request expects by default: Switching Protocols.
    pub const UPGRADE_STATUS: u16 = 101;
    /// What a burst expects of the replies after the passing ones (rate limiting).
    pub const BURST_THEN: u16 = 429;
    /// Fewest passing replies a burst in the counting form needs.
    pub const BURST_MIN_PASSING: u32 = 1;
    /// Time an `expect-access-log` step has to find its lines: Envoy buffers access-log
    /// writes and flushes them on a timer.
    pub const ACCESS_LOG_WITHIN: Duration = Duration::from_secs(30);
}

/// What one object's status must reach.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatusExpectation {
    #[serde(default)]
    pub api_version: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default)]
    pub timeout: Option<TimeSpan>,
    /// The object's own `status.conditions`.
    #[serde(default)]
    pub conditions: Option<Vec<ConditionExpectation>>,
    /// Route `status.parents`.
    #[serde(default)]
    pub parents: Option<Vec<ParentExpectation>>,
    /// Gateway `status.listeners`.
    #[serde(default)]
    pub listeners: Option<Vec<ListenerExpectation>>,
    /// Policy `status.ancestors`.
    #[serde(default)]
    pub ancestors: Option<Vec<AncestorExpectation>>,
    /// `listeners`, `parents` and `ancestors` must hold exactly the listed entries.
    #[serde(default)]
    pub exact: bool,
    /// `metadata.generation` differs from its value before the latest apply or patch of the object.
    #[serde(default)]
    pub generation_changed: bool,
}

impl StatusExpectation {
    pub fn target(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// The entry's timeout, or upstream's default for its kind.
    pub fn timeout(&self) -> Duration {
        match (self.timeout, self.kind.as_str()) {
            (Some(TimeSpan(t)), _) => t,
            (None, "GatewayClass" | "Gateway") => defaults::GATEWAY_STATUS_TIMEOUT,
            (None, _) => defaults::STATUS_TIMEOUT,
        }
    }
}

/// Matches a condition by `type`; `status` and `reason` are compared when given.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionExpectation {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub status: Option<ConditionStatus>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParentExpectation {
    pub parent_ref: ParentRefExpectation,
    #[serde(default)]
    pub conditions: Vec<ConditionExpectation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AncestorExpectation {
    pub ancestor_ref: ParentRefExpectation,
    #[serde(default)]
    pub conditions: Vec<ConditionExpectation>,
}

/// A parentRef (or policy ancestorRef) as a route wrote it. `sectionName` and `port` document
/// which listener the entry is about but are not compared, as upstream.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParentRefExpectation {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub section_name: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
}

impl ParentRefExpectation {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(defaults::PARENT_GROUP)
    }

    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or(defaults::PARENT_KIND)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListenerExpectation {
    pub name: String,
    #[serde(default)]
    pub attached_routes: Option<i32>,
    /// Contained in the status list; `[]` means the status list must be empty.
    #[serde(default)]
    pub supported_kinds: Option<Vec<RouteGroupKind>>,
    #[serde(default)]
    pub conditions: Vec<ConditionExpectation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteGroupKind {
    #[serde(default)]
    pub group: Option<String>,
    pub kind: String,
}

impl RouteGroupKind {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(defaults::ROUTE_GROUP)
    }
}

/// Requests sent to a Gateway, each of which must converge to its expectation.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectHttp {
    pub gateway: GatewayRef,
    /// The listener (sectionName) whose port to use; the Gateway's first listener when absent.
    #[serde(default)]
    pub listener: Option<String>,
    /// Addition to the format: per-step override of the consecutive successes required.
    #[serde(default)]
    pub consecutive: Option<u32>,
    /// Addition to the format: per-step override of the convergence bound.
    #[serde(default)]
    pub within: Option<TimeSpan>,
    pub cases: Vec<HttpCase>,
}

impl ExpectHttp {
    pub fn consecutive(&self) -> u32 {
        self.consecutive.unwrap_or(defaults::CONSECUTIVE)
    }

    pub fn within(&self) -> Duration {
        self.within.map_or(defaults::WITHIN, |t| t.0)
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpCase {
    #[serde(default)]
    pub name: Option<String>,
    pub request: HttpRequest,
    #[serde(default)]
    pub expected_request: Option<ExpectedRequest>,
    /// Echo backend that must answer: a prefix of the replying pod's name.
    #[serde(default)]
    pub backend: Option<String>,
    /// Namespace the echo reply must report.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub response: ExpectedResponse,
    #[serde(default)]
    pub redirect: Option<Redirect>,
    #[serde(default)]
    pub mirrored_to: Vec<Mirror>,
    /// Addition to the format: send `requests` back to back and judge their statuses together.
    #[serde(default)]
    pub burst: Option<Burst>,
}

/// The `backend` value that says the reply comes from the gateway itself, not a backend.
pub const NO_BACKEND: &str = "none";

/// Requests sent back to back, judged as one sequence (rate limits): either the exact
/// `statuses`, or at most `maxPassing` (at least `minPassing`) replies that meet the case's
/// `response`, all of them first, then only replies with status `then`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Burst {
    pub requests: u32,
    #[serde(default)]
    pub statuses: Option<Vec<u16>>,
    #[serde(default)]
    pub max_passing: Option<u32>,
    #[serde(default)]
    pub min_passing: Option<u32>,
    #[serde(default)]
    pub then: Option<u16>,
    /// Send every request at once, each on its own connection, instead of one after another
    /// (circuit breakers: only requests in flight together can overflow a limit). Replies
    /// then have no order: the counting form counts the passing ones; `statuses` is refused.
    #[serde(default)]
    pub concurrent: bool,
}

static NO_HEADERS: BTreeMap<String, String> = BTreeMap::new();

/// What the backend must have seen, with the format's defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendView<'a> {
    /// Compared only when set.
    pub host: Option<&'a str>,
    pub path: &'a str,
    pub method: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub absent_headers: &'a [String],
    /// Compared only when set.
    pub protocol: Option<&'a str>,
}

impl HttpCase {
    /// Without `expectedRequest` the backend must see the request itself (host when set, method,
    /// path, headers), as upstream. With it, `path` and `method` fall back to the request's, and
    /// `host` and `headers` are checked only when listed there.
    pub fn expected_request(&self) -> BackendView<'_> {
        match &self.expected_request {
            None => BackendView {
                host: self.request.host.as_deref(),
                path: &self.request.path,
                method: self.request.method(),
                headers: &self.request.headers,
                absent_headers: &[],
                protocol: None,
            },
            Some(e) => BackendView {
                host: e.host.as_deref(),
                path: e.path.as_deref().unwrap_or(&self.request.path),
                method: e.method.as_deref().unwrap_or_else(|| self.request.method()),
                headers: e.headers.as_ref().unwrap_or(&NO_HEADERS),
                absent_headers: &e.absent_headers,
                protocol: e.protocol.as_deref(),
            },
        }
    }

    /// `backend: none`: the gateway itself answers (health checks, direct responses), so the
    /// reply must not be an echo reply.
    pub fn expects_no_backend(&self) -> bool {
        self.backend.as_deref() == Some(NO_BACKEND)
    }

    /// The allowed statuses: as `response` says, or 101 for an upgrade, 200 otherwise.
    pub fn statuses(&self) -> Vec<u16> {
        match (&self.response.statuses, self.response.status) {
            (None, None) if self.request.upgrade.is_some() => vec![defaults::UPGRADE_STATUS],
            _ => self.response.statuses(),
        }
    }

    /// A display name: the case's own, or one derived from the request as upstream does.
    pub fn display_name(&self, index: usize) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let host = self.request.host.as_deref().unwrap_or_default();
        let headers = if self.request.headers.is_empty() {
            ""
        } else {
            " with headers"
        };
        match &self.backend {
            Some(backend) => format!(
                "{index} request to '{host}{}'{headers} should go to {backend}",
                self.request.path
            ),
            None => format!(
                "{index} request to '{host}{}'{headers} should receive one of {:?}",
                self.request.path,
                self.statuses()
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
pub enum Protocol {
    #[default]
    #[serde(rename = "http1")]
    Http1,
    #[serde(rename = "h2")]
    H2,
    #[serde(rename = "h2c")]
    H2c,
}

/// A protocol upgrade the request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upgrade {
    /// HTTP/1.1 `Upgrade: websocket`; after the 101, one message must come back as sent.
    Websocket,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRequest {
    /// The Host header; the Gateway's address when absent.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    /// Path and query, exactly as sent.
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub scheme: Scheme,
    /// HTTPS only.
    #[serde(default)]
    pub sni: Option<String>,
    /// HTTPS only: trust just this TestCertificate (`name` or `namespace/name`).
    #[serde(default)]
    pub trust: Option<String>,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default)]
    pub body: Option<String>,
    /// Addition to the format: a generated body of this many bytes (instead of `body`).
    #[serde(default)]
    pub body_size: Option<usize>,
    /// Addition to the format: a protocol upgrade (`websocket`).
    #[serde(default)]
    pub upgrade: Option<Upgrade>,
}

impl HttpRequest {
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or(defaults::METHOD)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedRequest {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    /// Names case-insensitive; several values joined with ",".
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub absent_headers: Vec<String>,
    /// Addition to the format: the HTTP version the backend saw (`HTTP/1.1`, `HTTP/2.0`), as
    /// the echo reply's `proto` says it.
    #[serde(default)]
    pub protocol: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedResponse {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub statuses: Option<Vec<u16>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub absent_headers: Vec<String>,
    /// The whole body must equal this.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Addition to the format: bounds on the time from sending the request to the response
    /// head, as the probe measures it (fault delays, timeouts).
    #[serde(default)]
    pub min_latency: Option<TimeSpan>,
    #[serde(default)]
    pub max_latency: Option<TimeSpan>,
}

impl ExpectedResponse {
    /// The allowed status codes (`status` and `statuses` are exclusive; 200 when neither).
    pub fn statuses(&self) -> Vec<u16> {
        match (&self.statuses, self.status) {
            (Some(list), _) => list.clone(),
            (None, Some(one)) => vec![one],
            (None, None) => vec![defaults::STATUS],
        }
    }
}

/// The expected `Location` of a 3xx; unset scheme and path default to the request's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    pub backend: String,
    pub namespace: String,
}

/// A weighted-distribution check.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectWeights {
    pub gateway: GatewayRef,
    #[serde(default)]
    pub listener: Option<String>,
    pub request: HttpRequest,
    #[serde(default)]
    pub samples: Option<u32>,
    /// Backend name to expected share of the replies from a backend. Empty when not given.
    #[serde(default)]
    pub distribution: BTreeMap<String, f64>,
    /// Addition to the format: status code to expected share of all replies (statistical
    /// faults). Empty when not given; at least one of the two is.
    #[serde(default)]
    pub statuses: BTreeMap<StatusCode, f64>,
    #[serde(default)]
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub attempts: Option<u32>,
}

impl ExpectWeights {
    pub fn samples(&self) -> u32 {
        self.samples.unwrap_or(defaults::SAMPLES)
    }

    pub fn tolerance(&self) -> f64 {
        self.tolerance.unwrap_or(defaults::TOLERANCE)
    }

    pub fn attempts(&self) -> u32 {
        self.attempts.unwrap_or(defaults::ATTEMPTS)
    }
}
