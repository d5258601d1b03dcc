//! Fault injection and request counters.
//!
//! Faults are what a real API server does to a client on a bad day: dropped watch
//! streams, compacted history (`410 Gone` on resume), conflicts, internal errors and
//! slowness. Tests and the harness trigger them through [`Faults`] or over HTTP under
//! `/simkube/v1/`, and read [`Stats`] to check what the client did about them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::{ApiError, reason_for_code};
use crate::server::Core;

/// A Kubernetes API verb, as RBAC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// GET one object.
    Get,
    /// GET a collection.
    List,
    /// GET a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH (including server-side apply).
    Patch,
    /// DELETE one object.
    Delete,
    /// DELETE a collection.
    Deletecollection,
}

/// Which requests a fault applies to. `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    /// Only this verb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<Verb>,
    /// Only this resource: a plural (`gateways`, matching the main resource and its
    /// subresources) or `plural/subresource` (`gateways/status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Matcher {
    /// Every request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Requests with `verb`, on any resource.
    pub fn verb(verb: Verb) -> Self {
        Self {
            verb: Some(verb),
            resource: None,
        }
    }

    /// Restricts to `resource`.
    pub fn on(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    fn matches(&self, verb: Verb, resource: &str) -> bool {
        self.verb.is_none_or(|v| v == verb)
            && self
                .resource
                .as_deref()
                .is_none_or(|r| r == resource || resource.split('/').next() == Some(r))
    }
}

/// Answer the next `count` matching requests with `code` (409, 410, 500, ...) instead of
/// serving them. A `410` on a watch is sent as an `ERROR` event in the stream, as real
/// servers report an expired resource version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFault {
    /// Which requests.
    #[serde(flatten)]
    pub matcher: Matcher,
    /// HTTP status code of the answer.
    pub code: u16,
    /// How many requests to fail.
    pub count: u32,
}

/// Delay matching requests before serving them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyFault {
    /// Which requests.
    #[serde(flatten)]
    pub matcher: Matcher,
    /// Added delay in milliseconds.
    pub millis: u64,
}

/// Requests served for one verb and resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    /// The verb.
    pub verb: Verb,
    /// Plural, or `plural/subresource`.
    pub resource: String,
    /// Number of requests (including ones answered by an injected fault).
    pub count: u64,
}

/// Counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Requests per verb and resource.
    pub requests: Vec<RequestCount>,
    /// Stored changes (creates, updates, deletions).
    pub writes: u64,
    /// Objects currently stored.
    pub objects: u64,
    /// Current global resource version.
    pub resource_version: u64,
    /// Watch streams opened.
    pub watches_started: u64,
    /// Watch streams open now.
    pub open_watches: u64,
    /// Watch streams ended by [`Faults::drop_watches`].
    pub watches_dropped: u64,
    /// Events sent on watch streams (bookmarks included).
    pub watch_events: u64,
    /// Requests answered by an injected error.
    pub injected_errors: u64,
    /// The same, per status code: a test of a `410` storm or of `409`s on status writes
    /// checks that its own code was served, not just some error.
    #[serde(default)]
    pub injected_by_code: BTreeMap<u16, u64>,
    /// Requests held back by a latency rule.
    #[serde(default)]
    pub delayed_requests: u64,
}

impl Stats {
    /// Injected errors answered with `code`.
    pub fn injected(&self, code: u16) -> u64 {
        self.injected_by_code.get(&code).copied().unwrap_or(0)
    }

    /// Requests counted for `verb` on `resource` (exact resource string).
    pub fn requests(&self, verb: Verb, resource: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.verb == verb && r.resource == resource)
            .map(|r| r.count)
            .sum()
    }
}

/// Everything currently injected, as shown by `GET /simkube/v1/faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFaults {
    /// Pending error injections (with their remaining counts).
    pub errors: Vec<ErrorFault>,
    /// Active latency rules.
    pub latency: Vec<LatencyFault>,
}

#[derive(Default)]
struct Counters {
    requests: BTreeMap<(Verb, String), u64>,
    watches_started: u64,
    open_watches: u64,
    watches_dropped: u64,
    watch_events: u64,
    injected_errors: u64,
    injected_by_code: BTreeMap<u16, u64>,
    delayed_requests: u64,
}

/// The server-side fault and counter state.
pub(crate) struct FaultState {
    active: Mutex<ActiveFaults>,
    counters: Mutex<Counters>,
    /// Bumped to end every open watch stream.
    epoch: watch::Sender<u64>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultState {
    pub(crate) fn new() -> Self {
        Self {
            active: Mutex::new(ActiveFaults::default()),
            counters: Mutex::new(Counters::default()),
            epoch: watch::channel(0).0,
        }
    }

    /// Counts a request, then returns the delay to add and the error to answer with.
    pub(crate) fn on_request(&self, verb: Verb, resource: &str) -> (Duration, Option<ApiError>) {
        *locked(&self.counters)
            .requests
            .entry((verb, resource.to_string()))
            .or_default() += 1;
        let mut active = locked(&self.active);
        let delay: Duration = active
            .latency
            .iter()
            .filter(|l| l.matcher.matches(verb, resource))
            .map(|l| Duration::from_millis(l.millis))
            .sum();
        let mut error = None;
        let mut counters = locked(&self.counters);
        if !delay.is_zero() {
            counters.delayed_requests += 1;
        }
        if let Some(pos) = active
            .errors
            .iter()
            .position(|e| e.matcher.matches(verb, resource))
        {
            let fault = &mut active.errors[pos];
            error = ApiError::injected(fault.code);
            counters.injected_errors += 1;
            *counters.injected_by_code.entry(fault.code).or_default() += 1;
            fault.count = fault.count.saturating_sub(1);
            if fault.count == 0 {
                active.errors.remove(pos);
            }
        }
        (delay, error)
    }

    /// A receiver that changes when watches are dropped.
    pub(crate) fn epoch(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    /// Registers an open watch; the guard unregisters it.
    pub(crate) fn watch_opened(self: &Arc<Self>) -> WatchGuard {
        let mut c = locked(&self.counters);
        c.watches_started += 1;
        c.open_watches += 1;
        WatchGuard {
            state: self.clone(),
        }
    }

    pub(crate) fn watch_events_sent(&self, n: u64) {
        locked(&self.counters).watch_events += n;
    }

    pub(crate) fn watch_dropped(&self) {
        locked(&self.counters).watches_dropped += 1;
    }

    fn drop_watches(&self) -> u64 {
        let open = locked(&self.counters).open_watches;
        self.epoch.send_modify(|e| *e += 1);
        open
    }

    fn add_error(&self, fault: ErrorFault) -> Result<(), ApiError> {
        if reason_for_code(fault.code).is_none() || fault.code < 400 {
            return Err(ApiError::bad_request(format!(
                "simkube cannot inject status code {}",
                fault.code
            )));
        }
        if fault.count > 0 {
            locked(&self.active).errors.push(fault);
        }
        Ok(())
    }

    fn add_latency(&self, fault: LatencyFault) {
        locked(&self.active).latency.push(fault);
    }

    fn clear(&self) {
        *locked(&self.active) = ActiveFaults::default();
    }

    fn active(&self) -> ActiveFaults {
        locked(&self.active).clone()
    }

    fn fill_stats(&self, stats: &mut Stats) {
        let c = locked(&self.counters);
        stats.requests = c
            .requests
            .iter()
            .map(|((verb, resource), count)| RequestCount {
                verb: *verb,
                resource: resource.clone(),
                count: *count,
            })
            .collect();
        stats.watches_started = c.watches_started;
        stats.open_watches = c.open_watches;
        stats.watches_dropped = c.watches_dropped;
        stats.watch_events = c.watch_events;
        stats.injected_errors = c.injected_errors;
        stats.injected_by_code = c.injected_by_code.clone();
        stats.delayed_requests = c.delayed_requests;
    }
}

/// Keeps the open-watch count right however a watch stream ends.
pub(crate) struct WatchGuard {
    state: Arc<FaultState>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        locked(&self.state.counters).open_watches -= 1;
    }
}

/// Handle to inject faults into a running [`crate::SimKube`] and read its counters.
#[derive(Clone)]
pub struct Faults {
    core: Arc<Core>,
}

impl Faults {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Ends every open watch stream now (cleanly, as a server restart or a load balancer
    /// would). Returns how many were open.
    pub fn drop_watches(&self) -> u64 {
        self.core.faults.drop_watches()
    }

    /// Forgets the retained watch history, so a watch resuming from any version before
    /// now is answered `410 Gone` and its client must relist.
    pub fn compact_history(&self) {
        self.core.store.compact();
    }

    /// Fails the next matching requests with an error status.
    pub fn inject_error(&self, fault: ErrorFault) -> Result<(), ApiError> {
        self.core.faults.add_error(fault)
    }

    /// Delays matching requests until [`Faults::clear`].
    pub fn add_latency(&self, fault: LatencyFault) {
        self.core.faults.add_latency(fault);
    }

    /// Removes every pending error and latency rule.
    pub fn clear(&self) {
        self.core.faults.clear();
    }

    /// The faults currently in force.
    pub fn active(&self) -> ActiveFaults {
        self.core.faults.active()
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        let (objects, writes) = self.core.store.counts();
        let mut stats = Stats {
            objects,
            writes,
            resource_version: self.core.store.current_rv(),
            ..Stats::default()
        };
        self.core.faults.fill_stats(&mut stats);
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_match_subresources_by_plural() {
        let m = Matcher::verb(Verb::Patch).on("gateways");
        assert!(m.matches(Verb::Patch, "gateways/status"));
        assert!(m.matches(Verb::Patch, "gateways"));
        assert!(!m.matches(Verb::Update, "gateways"));
        assert!(
            !Matcher::any()
                .on("gateways/status")
                .matches(Verb::Get, "gateways")
        );
    }

    #[test]
    fn error_faults_count_down() {
        let state = FaultState::new();
        state
            .add_error(ErrorFault {
                matcher: Matcher::verb(Verb::List),
                code: 500,
                count: 2,
            })
            .unwrap();
        assert!(state.on_request(Verb::Get, "pods").1.is_none());
        assert_eq!(state.on_request(Verb::List, "pods").1.unwrap().code, 500);
        assert_eq!(
            state.on_request(Verb::List, "pods").1.unwrap().reason,
            "InternalError"
        );
        assert!(state.on_request(Verb::List, "pods").1.is_none());
        let mut stats = Stats::default();
        state.fill_stats(&mut stats);
        assert_eq!((stats.injected(500), stats.injected(410)), (2, 0));
        assert!(
            state
                .add_error(ErrorFault {
                    matcher: Matcher::any(),
                    code: 299,
                    count: 1
                })
                .is_err()
        );
    }
}
