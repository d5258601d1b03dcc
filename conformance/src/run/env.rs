//! A started target with what every scenario of a run shares: generated certificates, the
//! base fixtures (applied once), the claims of running scenarios and the run's settings.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::exec::Execution;
use super::schedule::{self, LockTable};
use super::select;
use crate::outcome::{Failure, Outcome, ScenarioResult};
use crate::scenario::{Fixture, Object, ObjectRef, Scenario};
use crate::target::{CertStore, Target, TargetError};

/// Settings of a run that shape every scenario.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Overrides the default consecutive successes (a step's own value still wins).
    pub consecutive: Option<u32>,
    /// Overrides the default convergence bound (a step's own value still wins).
    pub within: Option<Duration>,
    /// Pause after a failed probe attempt.
    pub poll_interval: Duration,
    /// Bound on one HTTP exchange (upstream `RequestTimeout`).
    pub request_timeout: Duration,
    /// How long a deleted object may take to disappear.
    pub cleanup_timeout: Duration,
    /// Where a scenario applying many objects says how far it got (the CLI prints it).
    pub progress: Option<Progress>,
}

/// A line of progress from inside a long scenario.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            consecutive: None,
            within: None,
            poll_interval: Duration::from_millis(100),
            request_timeout: Duration::from_secs(10),
            cleanup_timeout: Duration::from_secs(60),
            progress: None,
        }
    }
}

/// What applying a base fixture left behind.
#[derive(Clone, Debug)]
struct BaseState {
    result: Result<u64, String>,
    took: Duration,
    objects: Vec<Object>,
}

pub struct Environment {
    target: Target,
    certs: CertStore,
    settings: Settings,
    locks: Arc<LockTable>,
    bases: Mutex<HashMap<PathBuf, BaseState>>,
}

impl Environment {
    pub fn new(target: Target, settings: Settings) -> Environment {
        Environment {
            target,
            certs: CertStore::default(),
            settings,
            locks: Arc::new(LockTable::default()),
            bases: Mutex::new(HashMap::new()),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn certs(&self) -> &CertStore {
        &self.certs
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn locks(&self) -> &Arc<LockTable> {
        &self.locks
    }

    /// Applies a base fixture unless it already is, and returns the revision its writes
    /// reached (what the ACK barrier waits for at least) and how long applying it took.
    pub async fn ensure_base(&self, fixture: &Fixture) -> Result<(u64, Duration), String> {
        let mut bases = self.bases.lock().await;
        if let Some(state) = bases.get(&fixture.path) {
            return state.result.clone().map(|r| (r, state.took));
        }
        let started = Instant::now();
        let result = self.apply_fixture(fixture).await.map_err(|e| {
            format!(
                "applying base fixture {} ({}): {e}",
                fixture.name,
                fixture.path.display()
            )
        });
        let state = BaseState {
            result,
            took: started.elapsed(),
            objects: fixture.objects.clone(),
        };
        bases.insert(fixture.path.clone(), state.clone());
        state.result.map(|r| (r, state.took))
    }

    async fn apply_fixture(&self, fixture: &Fixture) -> Result<u64, TargetError> {
        let mut revision = 0;
        for object in super::apply_order(&fixture.objects) {
            for w in self.target.apply(object, &self.certs).await? {
                if self.target.counts_for_barrier(&w)
                    && let Some(rv) = w.resource_version
                {
                    revision = revision.max(rv);
                }
            }
        }
        self.target.await_ready(&fixture.objects).await?;
        Ok(revision)
    }

    /// Runs one scenario without taking its claims (the caller holds them).
    pub async fn run_unlocked(&self, scenario: &Scenario) -> ScenarioResult {
        if scenario.uses_scenario_dir() && self.target.scenario_dir(&scenario.name).is_none() {
            return super::result_without_run(
                scenario,
                Outcome::Skipped {
                    reason: format!(
                        "it reads files the proxies write (${{SCENARIO_DIR}}), and the {} \
                         target's proxies do not run on this host",
                        self.target.name()
                    ),
                },
            );
        }
        let base_revision = match &scenario.base {
            None => Ok(0),
            Some(fixture) => self.ensure_base(fixture).await.map(|(r, _)| r),
        };
        match base_revision {
            Ok(revision) => Execution::new(self, scenario, revision).run().await,
            Err(message) => failed_before_start(scenario, message),
        }
    }

    /// Runs one scenario once nothing that clashes with it is running.
    pub async fn run(&self, scenario: &Scenario) -> ScenarioResult {
        let claims = schedule::claims(scenario);
        let _guard = self.locks.acquire(&claims).await;
        self.run_unlocked(scenario).await
    }

    /// The features the run GatewayClass reports, once it is Accepted (upstream waits for
    /// that too, 180 s at most).
    pub async fn class_features(&self, timeout: Duration) -> Result<Vec<String>, TargetError> {
        let class = &self.target.class().gateway_class;
        let target = ObjectRef {
            api_version: Some("gateway.networking.k8s.io/v1".to_owned()),
            kind: "GatewayClass".to_owned(),
            namespace: None,
            name: class.clone(),
        };
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(object) = self.target.driver().get(&target).await?
                && is_accepted(&object)
            {
                return Ok(select::class_features(&object));
            }
            if Instant::now() >= deadline {
                return Err(TargetError::Timeout {
                    what: format!("GatewayClass {class} to be Accepted"),
                    after: timeout,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    pub async fn shutdown(self) {
        if self.target.outlives_run() {
            self.remove_bases().await;
        }
        self.target.shutdown().await;
    }

    /// Deletes the base fixtures' objects (namespaces last to go, so first in reverse apply
    /// order is everything inside them) and waits until they are gone, as upstream's suite
    /// cleans its base resources: the next run on the same cluster starts from nothing.
    async fn remove_bases(&self) {
        let bases = self.bases.lock().await;
        let timeout = self.settings.cleanup_timeout;
        for state in bases.values() {
            let mut deleted = Vec::new();
            for object in super::apply_order(&state.objects).into_iter().rev() {
                let r = object.object_ref();
                match self.target.delete(&r, &self.certs).await {
                    Ok(_) => deleted.push(r),
                    Err(e) => tracing::warn!(error = %e, "removing base object {r}"),
                }
            }
            for r in deleted.iter().filter(|r| !super::is_harness_ref(r)) {
                if let Err(e) = self.target.driver().wait_gone(r, timeout).await {
                    tracing::warn!(error = %e, "waiting for base object {r} to go");
                }
            }
        }
    }
}

fn is_accepted(class: &Value) -> bool {
    class
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Accepted")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn failed_before_start(scenario: &Scenario, message: String) -> ScenarioResult {
    super::result_without_run(
        scenario,
        Outcome::Failed(Failure {
            step: None,
            case: None,
            message,
            related_status: None,
        }),
    )
}
