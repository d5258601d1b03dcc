//! NACK containment: when a proxy rejects its configuration, find the objects that make it
//! do so, leave them out of every Gateway (quarantine), and push the rest at once.
//!
//! Without this, one bad object on a shared Gateway holds every other change back: Envoy
//! keeps its last accepted configuration and rejects each new one, since each still contains
//! the bad object. Input validation keeps known-invalid values away from Envoy; this is the
//! safety net for what validation misses.
//!
//! - [`bisect`]: the search, over a validator that says which configurations are accepted.
//! - [`investigate`]: the search for one Gateway, with `translate()` building every
//!   configuration and `envoy --mode validate` judging it.
//! - [`Containment`] (here): the quarantine the controller feeds back into translation, with
//!   its bookkeeping: logs, metrics, `/quarantine` and `/errors`.
//!
//! Candidates are the HTTPRoutes naming the Gateway (`translate::candidates`); objects of
//! other kinds join by being listed there and honoured by translation.

pub mod bisect;
mod investigate;

pub use investigate::{Investigation, Outcome, investigate};

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::admin::Metrics;
use crate::infra::envoy;
use crate::model::{ObjectId, ObjectKey, ProxyProgress, Quarantine, Quarantined, ResourceSet};
use crate::xds::SnapshotCache;

/// Investigations kept for `/quarantine`, newest last.
const HISTORY: usize = 20;

/// The Envoy that judges configurations offline: the one given, else the host proxies' own,
/// else one found on this machine (never installed: a controller whose proxies run elsewhere
/// should not fetch software behind its user's back). `Err` says why there is none.
pub fn validator(given: Option<&Path>, host_proxies: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given.or(host_proxies) {
        return if envoy::is_executable(path) {
            Ok(path.to_path_buf())
        } else {
            Err(format!("{} is not an executable file", path.display()))
        };
    }
    match envoy::find() {
        Ok(Some(path)) => Ok(path),
        Ok(None) => Err(
            "no Envoy binary was found ($GATESIM_ENVOY, PATH, the gatesim cache); pass --envoy"
                .to_string(),
        ),
        Err(e) => Err(e.to_string()),
    }
}

/// An object in quarantine, with how it got there.
#[derive(Clone, Debug)]
struct Record {
    entry: Quarantined,
    since: String,
    took: Duration,
    checks: usize,
}

/// The controller's quarantine and what it knows about how it came to be.
pub struct Containment {
    /// The judge, or why there is none (then containment is off).
    envoy: Result<PathBuf, String>,
    records: BTreeMap<ObjectId, Record>,
    /// Per Gateway, the snapshot version last investigated: each rejected configuration is
    /// investigated once.
    examined: BTreeMap<ObjectKey, String>,
    /// Per Gateway whose proxy still rejects its configuration, why containment could not
    /// help.
    unresolved: BTreeMap<ObjectKey, String>,
    history: VecDeque<Value>,
    metrics: Metrics,
}

impl Containment {
    /// Says once, in the log, whether containment is on.
    pub fn new(envoy: Result<PathBuf, String>, metrics: Metrics) -> Self {
        match &envoy {
            Ok(path) => tracing::info!(
                envoy = %path.display(),
                "NACK containment is on: a configuration a proxy rejects is bisected with this Envoy"
            ),
            Err(why) => tracing::warn!(
                "NACK containment is disabled: {why}. A configuration a proxy rejects holds back \
                 every later change of its Gateway until it is fixed"
            ),
        }
        metrics.set_containment_enabled(envoy.is_ok());
        Self {
            envoy,
            records: BTreeMap::new(),
            examined: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            history: VecDeque::new(),
            metrics,
        }
    }

    /// The quarantine as translation reads it.
    pub fn quarantine(&self) -> Quarantine {
        self.records
            .iter()
            .map(|(id, r)| (id.clone(), r.entry.clone()))
            .collect()
    }

    /// Follow the inputs: an object that changed (the user's fix) or is gone leaves
    /// quarantine, and a Gateway whose proxy no longer rejects its configuration has nothing
    /// unresolved.
    pub fn sync(&mut self, set: &ResourceSet) {
        let mut released = 0;
        self.records.retain(|id, record| {
            let why = match set.version_of(id) {
                None => "deleted",
                Some(v) if v != record.entry.version => "changed; it is tried again",
                Some(_) => return true,
            };
            tracing::info!(object = %id, "released from quarantine: {why}");
            released += 1;
            false
        });
        self.metrics
            .record_quarantine(0, released, self.records.len());
        self.unresolved
            .retain(|gw, _| matches!(set.proxy_progress.get(gw), Some(ProxyProgress::Rejected(_))));
        self.examined.retain(|gw, _| set.gateways.contains_key(gw));
    }

    /// The Envoy to investigate with, when containment is on.
    pub fn envoy(&self) -> Option<&Path> {
        self.envoy.as_deref().ok()
    }

    /// Gateways whose proxy rejects its current configuration, not yet investigated, each with
    /// the snapshot version rejected.
    pub fn pending(&self, cache: &SnapshotCache) -> Vec<(ObjectKey, String)> {
        if self.envoy.is_err() {
            return Vec::new();
        }
        cache
            .nodes()
            .into_iter()
            .filter_map(|n| {
                let version = n.rejected?.snapshot_version;
                let (ns, name) = n.node_id.split_once('/')?;
                let gw = ObjectKey::new(ns, name);
                (self.examined.get(&gw) != Some(&version)).then_some((gw, version))
            })
            .collect()
    }

    /// Take in what an investigation of the configuration `version` found; returns whether
    /// the quarantine grew (so the configuration without the offenders is to be pushed).
    pub fn record(&mut self, version: String, found: Investigation) -> bool {
        let gw = found.gateway.clone();
        self.examined.insert(gw.clone(), version);
        self.metrics
            .record_containment(found.took, found.checks, found.outcome.label());
        let summary = format!(
            "{} checks of {} candidates in {:.3} s",
            found.checks,
            found.candidates,
            found.took.as_secs_f64()
        );
        let now = jiff::Timestamp::now().to_string();
        let detail = match &found.outcome {
            Outcome::Quarantine(entries) => {
                for (id, entry) in entries {
                    tracing::warn!(
                        object = %id,
                        gateway = %gw,
                        message = %entry.message,
                        "quarantined: Envoy rejects configuration with this object, so it is left \
                         out of every Gateway until it changes ({summary})"
                    );
                    self.records.insert(
                        id.clone(),
                        Record {
                            entry: entry.clone(),
                            since: now.clone(),
                            took: found.took,
                            checks: found.checks,
                        },
                    );
                }
                self.unresolved.remove(&gw);
                let names: Vec<String> = entries.iter().map(|(id, _)| id.to_string()).collect();
                json!(names)
            }
            Outcome::OwnFault(message) => {
                let why = format!(
                    "Envoy rejects the configuration even with all {} of its candidate objects \
                     left out, so the fault is the Gateway's own (listeners, certificates): \
                     {message}",
                    found.candidates
                );
                tracing::warn!(gateway = %gw, "NACK not contained: {why} ({summary})");
                self.unresolved.insert(gw.clone(), why);
                json!(message)
            }
            Outcome::NotReproduced => {
                let why = "the proxy rejected its configuration, but Envoy accepts it offline \
                           (envoy --mode validate), so the objects behind it cannot be found"
                    .to_string();
                tracing::warn!(gateway = %gw, "NACK not contained: {why} ({summary})");
                self.unresolved.insert(gw.clone(), why);
                Value::Null
            }
            Outcome::Failed(e) => {
                let why = format!("Envoy could not be asked: {e}");
                tracing::error!(gateway = %gw, "NACK not contained: {why}");
                self.unresolved.insert(gw.clone(), why);
                json!(e)
            }
        };
        let added = match &found.outcome {
            Outcome::Quarantine(entries) => entries.len(),
            _ => 0,
        };
        self.metrics.record_quarantine(added, 0, self.records.len());
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(json!({
            "gateway": gw.to_string(),
            "at": now,
            "outcome": found.outcome.label(),
            "detail": detail,
            "candidates": found.candidates,
            "checks": found.checks,
            "seconds": found.took.as_secs_f64(),
        }));
        matches!(&found.outcome, Outcome::Quarantine(e) if !e.is_empty())
    }

    /// The body of `GET /quarantine`.
    pub fn view(&self) -> Value {
        let quarantined: Vec<Value> = self
            .records
            .iter()
            .map(|(id, r)| {
                json!({
                    "object": id,
                    "gateway": r.entry.gateway.to_string(),
                    "message": r.entry.message,
                    "generation": r.entry.version.generation,
                    "since": r.since,
                    "bisection": {"checks": r.checks, "seconds": r.took.as_secs_f64()},
                })
            })
            .collect();
        let mut view = json!({
            "enabled": self.envoy.is_ok(),
            "quarantined": quarantined,
            "unresolved": self.unresolved.iter().map(|(gw, why)| (gw.to_string(), why)).collect::<BTreeMap<_, _>>(),
            "investigations": self.history,
        });
        match &self.envoy {
            Ok(path) => view["envoy"] = json!(path),
            Err(why) => view["disabledBecause"] = json!(why),
        }
        view
    }

    /// Lines for `/errors`: every object in quarantine and every rejection left unresolved.
    pub fn errors(&self) -> Vec<String> {
        let objects = self.records.iter().map(|(id, r)| {
            format!(
                "{id}: quarantined, left out of every Gateway until it changes: Envoy rejected \
                 the configuration of Gateway {} with it: {} (found with {} checks in {:.3} s)",
                r.entry.gateway,
                r.entry.message,
                r.checks,
                r.took.as_secs_f64()
            )
        });
        let gateways = self
            .unresolved
            .iter()
            .map(|(gw, why)| format!("Gateway {gw}: NACK not contained: {why}"));
        objects.chain(gateways).collect()
    }
}
