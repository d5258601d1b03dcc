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

    /// Take in what an investigation of the configuration `version` found.
    pub fn record(&mut self, version: String, found: Investigation) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::HttpRoute;
    use crate::model::ObjectVersion;

    fn gw() -> ObjectKey {
        ObjectKey::new("default", "gw")
    }

    fn route(name: &str, path: &str) -> HttpRoute {
        serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"parentRefs": [{"name": "gw"}],
                     "rules": [{"matches": [{"path": {"type": "RegularExpression", "value": path}}]}]},
        }))
        .expect("a route")
    }

    fn containment() -> (Containment, Metrics) {
        let metrics = Metrics::new();
        let c = Containment::new(Ok(PathBuf::from("/usr/bin/envoy")), metrics.clone());
        (c, metrics)
    }

    fn found(outcome: Outcome) -> Investigation {
        Investigation {
            gateway: gw(),
            outcome,
            candidates: 3,
            checks: 4,
            took: Duration::from_millis(120),
        }
    }

    fn quarantine_of(set: &ResourceSet, name: &str) -> Investigation {
        let key = ObjectKey::new("default", name);
        let entry = Quarantined {
            version: ObjectVersion::of(set.http_routes[&key].as_ref()),
            gateway: gw(),
            message: format!("missing ): /{name}/("),
        };
        found(Outcome::Quarantine(vec![(
            ObjectId::of::<HttpRoute>(&key),
            entry,
        )]))
    }

    #[test]
    fn quarantine_lasts_until_the_object_changes_or_goes() {
        let (mut c, metrics) = containment();
        let mut set = ResourceSet::default();
        set.insert(route("bad", "/bad/("));
        set.insert(route("worse", "/worse/("));
        c.record("v1".into(), quarantine_of(&set, "bad"));
        c.record("v2".into(), quarantine_of(&set, "worse"));
        assert_eq!(c.quarantine().len(), 2);
        let errors = c.errors();
        assert!(
            errors[0].starts_with("HTTPRoute default/bad: quarantined")
                && errors[0].contains("Gateway default/gw")
                && errors[0].contains("missing ): /bad/(")
                && errors[0].contains("4 checks in 0.120 s"),
            "{errors:?}"
        );
        let view = c.view();
        assert_eq!(view["quarantined"][0]["object"]["name"], "bad", "{view:#}");
        assert_eq!(view["quarantined"][0]["generation"], 1, "{view:#}");
        assert_eq!(
            view["investigations"][1]["outcome"], "quarantined",
            "{view:#}"
        );
        assert_eq!(
            view["investigations"][1]["detail"],
            json!(["HTTPRoute default/worse"]),
            "{view:#}"
        );

        c.sync(&set);
        assert_eq!(c.quarantine().len(), 2, "nothing changed");

        // The fix of one, the deletion of the other.
        set.insert(route("bad", "/bad/[0-9]+"));
        set.remove::<HttpRoute>(&ObjectKey::new("default", "worse"));
        c.sync(&set);
        assert!(c.quarantine().is_empty());
        assert!(c.errors().is_empty());
        let text = metrics.render(&SnapshotCache::new());
        for line in [
            "gatesim_quarantines_total 2\n",
            "gatesim_quarantine_releases_total 2\n",
            "gatesim_quarantined_objects 0\n",
            "gatesim_containment_runs_total{outcome=\"quarantined\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn what_cannot_be_contained_is_reported_while_the_proxy_rejects() {
        let (mut c, _) = containment();
        let message = "malformed IP address: not-an-address";
        c.record("v1".into(), found(Outcome::OwnFault(message.into())));
        let errors = c.errors();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("Gateway default/gw: NACK not contained")
                && errors[0].contains("all 3 of its candidate objects left out")
                && errors[0].contains("the Gateway's own")
                && errors[0].contains(message),
            "{errors:?}"
        );
        assert!(c.quarantine().is_empty());

        let mut set = ResourceSet::default();
        set.gateways.insert(
            gw(),
            std::sync::Arc::new(crate::api::Gateway {
                metadata: kube::api::ObjectMeta::default(),
                spec: Default::default(),
                status: None,
            }),
        );
        set.proxy_progress
            .insert(gw(), ProxyProgress::Rejected(message.into()));
        c.sync(&set);
        assert_eq!(c.errors().len(), 1, "still rejected");
        set.proxy_progress.insert(gw(), ProxyProgress::Acknowledged);
        c.sync(&set);
        assert!(
            c.errors().is_empty(),
            "the proxy took a configuration again"
        );

        c.record("v2".into(), found(Outcome::NotReproduced));
        assert!(
            c.errors()[0].contains("Envoy accepts it offline"),
            "{:?}",
            c.errors()
        );
        c.record(
            "v3".into(),
            found(Outcome::Failed("envoy: not found".into())),
        );
        assert!(
            c.errors()[0].contains("envoy: not found"),
            "{:?}",
            c.errors()
        );
        assert_eq!(c.view()["investigations"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn without_envoy_containment_is_off_and_says_why() {
        let metrics = Metrics::new();
        let c = Containment::new(Err("no Envoy binary was found".into()), metrics.clone());
        assert!(c.envoy().is_none());
        let view = c.view();
        assert_eq!(view["enabled"], false);
        assert_eq!(view["disabledBecause"], "no Envoy binary was found");
        assert!(
            metrics
                .render(&SnapshotCache::new())
                .contains("gatesim_containment_enabled 0\n")
        );
        assert!(c.pending(&SnapshotCache::new()).is_empty());
    }

    #[test]
    fn the_validator_is_the_given_envoy_else_the_host_proxies() {
        let dir = std::env::temp_dir();
        let missing = dir.join("gatesim-no-such-envoy");
        let e = validator(Some(&missing), None).expect_err("not executable");
        assert!(
            e.contains("gatesim-no-such-envoy is not an executable file"),
            "{e}"
        );
        let e = validator(None, Some(&missing)).expect_err("not executable");
        assert!(e.contains("is not an executable file"), "{e}");
        // Any executable file will do for the choice itself.
        let sh = Path::new("/bin/sh");
        assert_eq!(validator(Some(sh), Some(&missing)), Ok(sh.to_path_buf()));
        assert_eq!(validator(None, Some(sh)), Ok(sh.to_path_buf()));
    }
}
