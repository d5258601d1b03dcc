//! One scenario, start to end: its resources, each step in order, and the removal of what it
//! created. Every write's resource version feeds the ACK barrier; every write's generation
//! before and after feeds `generationChanged`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::env::{Environment, Progress};
use super::status::{self, StatusContext};
use crate::outcome::{Failure, Outcome, ScenarioResult};
use crate::scenario::{
    GatewayRef, Object, ObjectRef, PatchEntry, SCENARIO_DIR, Scenario, StatusExpectation, Step,
    backend_addresses, replace_text,
};
use crate::target::{TargetError, Written};

/// A failed step, before it is placed in the scenario.
#[derive(Debug)]
pub(super) struct StepFailure {
    pub case: Option<String>,
    pub message: String,
    pub related: Option<String>,
}

impl From<TargetError> for StepFailure {
    fn from(e: TargetError) -> Self {
        StepFailure {
            case: None,
            message: e.to_string(),
            related: None,
        }
    }
}

/// The state of one running scenario.
pub(super) struct Execution<'a> {
    pub env: &'a Environment,
    pub scenario: &'a Scenario,
    /// The highest resource version the controller must have seen before probing.
    pub revision: u64,
    /// Generation before the latest write, by (kind, namespace, name).
    generations: HashMap<(String, String, String), Option<i64>>,
    /// What `${SCENARIO_DIR}` stands for, when the scenario uses it.
    pub scenario_dir: Option<PathBuf>,
}

fn generation_key(kind: &str, namespace: Option<&str>, name: &str) -> (String, String, String) {
    (
        kind.to_owned(),
        namespace.unwrap_or_default().to_owned(),
        name.to_owned(),
    )
}

/// The collection an object is listed in: apiVersion (when given), kind, namespace.
type ListKey = (Option<String>, String, Option<String>);

fn list_key(target: &ObjectRef) -> ListKey {
    (
        target.api_version.clone(),
        target.kind.clone(),
        target.namespace.clone(),
    )
}

/// The status part of an object, for failure reports.
pub(super) fn status_yaml(object: &Value) -> String {
    let view = json!({
        "generation": object.pointer("/metadata/generation"),
        "status": object.get("status"),
    });
    serde_yaml::to_string(&view).unwrap_or_else(|e| format!("(unprintable status: {e})"))
}

impl<'a> Execution<'a> {
    pub fn new(env: &'a Environment, scenario: &'a Scenario, base_revision: u64) -> Self {
        Execution {
            env,
            scenario,
            revision: base_revision,
            generations: HashMap::new(),
            scenario_dir: None,
        }
    }

    /// The object as the target gets it: `${SCENARIO_DIR}` and `${BACKEND_ADDRESS:ns/name}`
    /// replaced (the latter by the address of a running EchoBackend's first replica).
    async fn resolve(&self, object: &Object) -> Result<Object, StepFailure> {
        let mut resolved = match &self.scenario_dir {
            Some(dir) => object.with_text_replaced(SCENARIO_DIR, &dir.display().to_string()),
            None => object.clone(),
        };
        let fail = |message: String| StepFailure {
            case: Some(object.to_string()),
            message: format!("{object} ({}): {message}", object.source()),
            related: None,
        };
        for (placeholder, namespace, name) in backend_addresses(resolved.value()).map_err(fail)? {
            let endpoints = self
                .env
                .target()
                .backend_endpoints(&namespace, &name)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let first = endpoints.first().ok_or_else(|| {
                fail(format!(
                    "{placeholder}: EchoBackend {namespace}/{name} has no running replica (declare \
                     it in the scenario or its base)"
                ))
            })?;
            resolved = resolved.with_text_replaced(&placeholder, &first.ip);
        }
        Ok(resolved)
    }

    /// Empties (or creates) the scenario's directory before its first step.
    fn prepare_scenario_dir(&mut self) -> Result<(), Failure> {
        if !self.scenario.uses_scenario_dir() {
            return Ok(());
        }
        let dir = self
            .env
            .target()
            .scenario_dir(&self.scenario.name)
            .ok_or_else(|| Failure {
                step: None,
                case: None,
                message: "this target has no scenario directory".to_owned(),
                related_status: None,
            })?;
        let made = match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => std::fs::create_dir_all(&dir),
        };
        made.map_err(|e| Failure {
            step: None,
            case: None,
            message: format!("preparing the scenario directory {}: {e}", dir.display()),
            related_status: None,
        })?;
        self.scenario_dir = Some(dir);
        Ok(())
    }

    fn record(&mut self, written: Vec<Written>) {
        for w in written {
            if self.env.target().counts_for_barrier(&w)
                && let Some(rv) = w.resource_version
            {
                self.revision = self.revision.max(rv);
            }
            if !w.deleted {
                self.generations.insert(
                    generation_key(&w.kind, w.namespace.as_deref(), &w.name),
                    w.generation_before,
                );
            }
        }
    }

    /// Applies objects in dependency order, one after the other (their order is the
    /// author's: creation order decides precedence between routes and policies). Batches
    /// large enough to take a while say how far they got, about once a second.
    async fn apply_all(&mut self, objects: &[Object]) -> Result<(), StepFailure> {
        const LARGE: usize = 200;
        let progress = self
            .env
            .settings()
            .progress
            .clone()
            .filter(|_| objects.len() >= LARGE);
        let started = Instant::now();
        let mut said = started;
        for (done, object) in super::apply_order(objects).into_iter().enumerate() {
            self.apply(object).await?;
            if let Some(Progress(say)) = &progress
                && said.elapsed() >= Duration::from_secs(1)
            {
                said = Instant::now();
                say(&format!(
                    "{}: applied {} of {} objects in {:.1}s",
                    self.scenario.name,
                    done + 1,
                    objects.len(),
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        if let Some(Progress(say)) = &progress {
            say(&format!(
                "{}: applied all {} objects in {:.1}s",
                self.scenario.name,
                objects.len(),
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    }

    async fn apply(&mut self, object: &Object) -> Result<(), StepFailure> {
        let resolved = self.resolve(object).await?;
        let written = self
            .env
            .target()
            .apply(&resolved, self.env.certs())
            .await
            .map_err(|e| StepFailure {
                case: Some(object.to_string()),
                message: format!("applying {object} ({}): {e}", object.source()),
                related: None,
            })?;
        self.record(written);
        Ok(())
    }

    /// Runs the scenario and removes its objects; the result's duration excludes removal.
    pub async fn run(mut self) -> ScenarioResult {
        let started = Instant::now();
        let outcome = match self.run_steps().await {
            Ok(()) => Outcome::Passed,
            Err(failure) => Outcome::Failed(failure),
        };
        let duration = started.elapsed();
        let cleanup = self.cleanup().await;
        let outcome = match (outcome, cleanup) {
            (Outcome::Passed, Err(message)) => Outcome::Failed(Failure {
                step: None,
                case: None,
                message: format!("removing the scenario's objects: {message}"),
                related_status: None,
            }),
            (outcome, _) => outcome,
        };
        ScenarioResult {
            name: self.scenario.name.clone(),
            description: self.scenario.description.clone(),
            path: self.scenario.path.clone(),
            features: self
                .scenario
                .feature_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            provisional: self.scenario.provisional,
            outcome,
            duration,
        }
    }

    async fn run_steps(&mut self) -> Result<(), Failure> {
        let scenario = self.scenario;
        self.prepare_scenario_dir()?;
        self.apply_all(&scenario.resources)
            .await
            .map_err(|f| Failure {
                step: None,
                case: f.case,
                message: f.message,
                related_status: f.related,
            })?;
        for (index, step) in scenario.steps.iter().enumerate() {
            let began = Instant::now();
            let result = self.step(&step.value).await;
            tracing::debug!(
                scenario = %scenario.name,
                step = index,
                key = step.value.key(),
                revision = self.revision,
                took = ?began.elapsed(),
                ok = result.is_ok(),
                "step done"
            );
            if let Err(f) = result {
                return Err(Failure {
                    step: Some((index, step.value.key().to_owned())),
                    case: f.case,
                    message: format!(
                        "{}\n(step written at {})",
                        f.message.trim_end(),
                        step.source
                    ),
                    related_status: f.related,
                });
            }
        }
        Ok(())
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepFailure> {
        let target = self.env.target();
        match step {
            Step::Apply(objects) => {
                self.apply_all(objects).await?;
            }
            Step::Patch(entries) => {
                for entry in entries {
                    let entry = match &self.scenario_dir {
                        Some(dir) => {
                            let mut patch = entry.patch.clone();
                            replace_text(&mut patch, SCENARIO_DIR, &dir.display().to_string());
                            PatchEntry {
                                patch,
                                ..entry.clone()
                            }
                        }
                        None => entry.clone(),
                    };
                    let written = target.patch(&entry).await.map_err(|e| StepFailure {
                        case: Some(entry.target().to_string()),
                        message: e.to_string(),
                        related: None,
                    })?;
                    self.record(written);
                }
            }
            Step::Delete(refs) => {
                for r in refs {
                    let written =
                        target
                            .delete(r, self.env.certs())
                            .await
                            .map_err(|e| StepFailure {
                                case: Some(r.to_string()),
                                message: e.to_string(),
                                related: None,
                            })?;
                    self.record(written);
                }
            }
            Step::FillEndpoints(fill) => {
                let written = target.fill_endpoints(fill).await?;
                self.record(written);
            }
            Step::ExpectStatus(entries) => self.expect_status(entries).await?,
            Step::ExpectHttp(http) => self.expect_http(http).await?,
            Step::ExpectWeights(weights) => self.expect_weights(weights).await?,
            Step::ExpectAccessLog(log) => self.expect_access_log(log).await?,
        }
        Ok(())
    }

    /// Polls every entry until all match; an entry that does not match by its own timeout
    /// fails the step with what is wrong and the status as read.
    async fn expect_status(&self, entries: &[StatusExpectation]) -> Result<(), StepFailure> {
        let started = Instant::now();
        let mut pending: Vec<&StatusExpectation> = entries.iter().collect();
        let mut pause = Duration::from_millis(2);
        let controller = &self.env.target().class().controller_name;
        loop {
            let mut still = Vec::new();
            let listed = self.list_crowded(&pending).await;
            for entry in pending {
                let target = entry.target();
                let read = match listed.get(&list_key(&target)) {
                    Some(objects) => Ok(objects.get(&target.name).cloned()),
                    None => self.env.target().driver().get(&target).await,
                };
                let (problems, object) = match read {
                    Ok(Some(object)) => {
                        let key =
                            generation_key(&entry.kind, entry.namespace.as_deref(), &entry.name);
                        let ctx = StatusContext {
                            controller_name: controller,
                            generation_before: self.generations.get(&key).copied(),
                        };
                        (status::check(entry, &object, ctx), Some(object))
                    }
                    Ok(None) => (vec!["the object does not exist".to_owned()], None),
                    Err(e) => (vec![format!("reading it failed: {e}")], None),
                };
                if problems.is_empty() {
                    continue;
                }
                if started.elapsed() >= entry.timeout() {
                    let mut message = format!(
                        "{target} did not reach the expected status within {:?}:",
                        entry.timeout()
                    );
                    for p in &problems {
                        message.push_str(&format!("\n  - {p}"));
                    }
                    return Err(StepFailure {
                        case: Some(target.to_string()),
                        message,
                        related: object.as_ref().map(status_yaml),
                    });
                }
                still.push(entry);
            }
            if still.is_empty() {
                return Ok(());
            }
            pending = still;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// One LIST per kind and namespace that many pending entries share, instead of a GET for
    /// each: a step expecting the status of thousands of routes would otherwise cost thousands
    /// of requests per poll. A failed LIST leaves its entries to their own GETs.
    async fn list_crowded(
        &self,
        pending: &[&StatusExpectation],
    ) -> HashMap<ListKey, HashMap<String, Value>> {
        const CROWD: usize = 8;
        let mut crowds: HashMap<ListKey, usize> = HashMap::new();
        for entry in pending {
            *crowds.entry(list_key(&entry.target())).or_default() += 1;
        }
        let mut listed = HashMap::new();
        for (key, count) in crowds {
            if count < CROWD {
                continue;
            }
            let (api_version, kind, namespace) = &key;
            let Ok(objects) = self
                .env
                .target()
                .driver()
                .list_kind(api_version.as_deref(), kind, namespace.as_deref(), None)
                .await
            else {
                continue;
            };
            let by_name = objects
                .into_iter()
                .filter_map(|o| {
                    let name = o.pointer("/metadata/name")?.as_str()?.to_owned();
                    Some((name, o))
                })
                .collect();
            listed.insert(key, by_name);
        }
        listed
    }

    /// The status of a Gateway and of the scenario's routes, for failures about traffic.
    pub(super) async fn related_status(&self, gateway: Option<&GatewayRef>) -> Option<String> {
        let mut refs = Vec::new();
        if let Some(gw) = gateway {
            refs.push(ObjectRef {
                api_version: Some("gateway.networking.k8s.io/v1".to_owned()),
                kind: "Gateway".to_owned(),
                namespace: Some(gw.namespace.clone()),
                name: gw.name.clone(),
            });
        }
        for object in self.scenario.own_objects() {
            if object.kind().ends_with("Route") && !refs.contains(&object.object_ref()) {
                refs.push(object.object_ref());
            }
        }
        let mut shown = BTreeMap::new();
        for r in refs {
            if let Ok(Some(object)) = self.env.target().driver().get(&r).await {
                let view = json!({
                    "generation": object.pointer("/metadata/generation"),
                    "status": object.get("status"),
                });
                shown.insert(r.to_string(), view);
            }
        }
        if shown.is_empty() {
            return None;
        }
        serde_yaml::to_string(&shown).ok()
    }

    /// Deletes what the scenario created, newest first, and waits until it is gone; objects
    /// of the base that the scenario changed get their base version back instead.
    async fn cleanup(&mut self) -> Result<(), String> {
        let scenario = self.scenario;
        let base: HashMap<ObjectRef, &Object> = scenario
            .base
            .iter()
            .flat_map(|b| b.objects.iter())
            .map(|o| (plain_ref(&o.object_ref()), o))
            .collect();
        let mut own: Vec<ObjectRef> = Vec::new();
        let mut restore: Vec<&Object> = Vec::new();
        let touched =
            scenario
                .own_objects()
                .map(Object::object_ref)
                .chain(scenario.steps.iter().flat_map(|s| match &s.value {
                    Step::Patch(entries) => entries.iter().map(|e| e.target()).collect(),
                    _ => Vec::new(),
                }));
        for r in touched {
            let key = plain_ref(&r);
            if let Some(original) = base.get(&key) {
                if !restore
                    .iter()
                    .any(|o| o.object_ref() == original.object_ref())
                {
                    restore.push(original);
                }
            } else if !own.iter().any(|o| plain_ref(o) == key) {
                own.push(r);
            }
        }
        let mut errors = Vec::new();
        let target = self.env.target();
        let mut deleted = Vec::new();
        for r in own.iter().rev() {
            match target.delete(r, self.env.certs()).await {
                Ok(written) => {
                    self.record(written);
                    deleted.push(r);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        for original in restore {
            match target.apply(original, self.env.certs()).await {
                Ok(written) => self.record(written),
                Err(e) => errors.push(format!("restoring {original}: {e}")),
            }
        }
        let timeout = self.env.settings().cleanup_timeout;
        for r in deleted {
            if super::is_harness_ref(r) {
                continue;
            }
            if let Err(e) = target.driver().wait_gone(r, timeout).await {
                errors.push(e.to_string());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// A reference without its apiVersion, for comparing objects however they were named.
fn plain_ref(r: &ObjectRef) -> ObjectRef {
    ObjectRef {
        api_version: None,
        ..r.clone()
    }
}
