//! The status writer: one task that applies the translator's [`StatusUpdate`]s.
//!
//! Each batch is merged into a [`Queue`] (the latest desired status per object wins), and up
//! to `concurrency` objects are written at once. A write reads the object's current status
//! from a [`StatusSource`] (the provider's snapshot; a GET only for kinds it does not hold),
//! works out the patch with [`plan`], and sends nothing when the status is already right.
//! Patches are JSON merge patches on the `status` subresource through `Api<DynamicObject>`,
//! so every kind, including kinds added later, takes the same path.

mod desired;
mod queue;
mod target;

pub use desired::plan;
pub use queue::{Job, Queue};
pub use target::{Lookup, StatusSource, api, api_resource, lookup_in};

use foldhash::{HashMap, HashMapExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kube::Client;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::translate::{ObjectRef, StatusPatch, StatusUpdate};

/// Who the status fields belong to in `managedFields`: without a name the API server records
/// the writes of every client without one as `unknown`.
pub const FIELD_MANAGER: &str = "gatesim-reference-controller";

#[derive(Clone, Debug)]
pub struct StatusWriterConfig {
    /// Writes in flight at once.
    pub concurrency: usize,
    /// Delay before the first retry of a failed write; doubles per attempt.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for StatusWriterConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            min_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Counters the admin endpoint reads.
#[derive(Debug, Default)]
pub struct StatusMetrics {
    /// Patches the API server accepted.
    pub written: AtomicU64,
    /// Updates that needed no write: the object already had that status.
    pub unchanged: AtomicU64,
    /// Updates for objects that no longer exist.
    pub gone: AtomicU64,
    /// Attempts that failed and were scheduled again (conflicts, server and network errors).
    pub retried: AtomicU64,
    /// Writes given up: the API server refused the patch itself (e.g. 422 Invalid).
    pub failed: AtomicU64,
}

/// A copy of [`StatusMetrics`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub written: u64,
    pub unchanged: u64,
    pub gone: u64,
    pub retried: u64,
    pub failed: u64,
}

impl StatusMetrics {
    pub fn counts(&self) -> StatusCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatusCounts {
            written: get(&self.written),
            unchanged: get(&self.unchanged),
            gone: get(&self.gone),
            retried: get(&self.retried),
            failed: get(&self.failed),
        }
    }
}

/// The running writer. Dropping it stops writing; [`StatusWriter::join`] instead waits until
/// the sender is dropped and every queued status is written.
#[derive(Debug)]
pub struct StatusWriter {
    metrics: Arc<StatusMetrics>,
    task: Option<JoinHandle<()>>,
}

impl StatusWriter {
    pub fn spawn(
        client: Client,
        source: impl StatusSource,
        updates: mpsc::Receiver<Vec<StatusUpdate>>,
        config: StatusWriterConfig,
    ) -> StatusWriter {
        let metrics = Arc::new(StatusMetrics::default());
        let writer = Arc::new(Writer {
            client,
            source: Box::new(source),
            metrics: Arc::clone(&metrics),
            written: Mutex::new(HashMap::new()),
            confirmed: Mutex::new(HashMap::new()),
        });
        let task = tokio::spawn(run(writer, updates, config));
        StatusWriter {
            metrics,
            task: Some(task),
        }
    }

    pub fn metrics(&self) -> Arc<StatusMetrics> {
        Arc::clone(&self.metrics)
    }

    pub async fn join(mut self) {
        if let Some(task) = self.task.take()
            && let Err(err) = task.await
        {
            tracing::error!("status writer failed: {err}");
        }
    }
}

impl Drop for StatusWriter {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn run(
    writer: Arc<Writer>,
    mut updates: mpsc::Receiver<Vec<StatusUpdate>>,
    config: StatusWriterConfig,
) {
    let mut queue = Queue::default();
    let mut flights = FuturesUnordered::new();
    let mut open = true;
    loop {
        let now = Instant::now();
        queue.promote(now);
        while flights.len() < config.concurrency.max(1) {
            let Some(job) = queue.next_job(now) else {
                break;
            };
            flights.push(Arc::clone(&writer).write(job));
        }
        if !open && flights.is_empty() && queue.is_idle() {
            return;
        }
        let wakeup = queue.next_wakeup();
        tokio::select! {
            batch = updates.recv(), if open => match batch {
                Some(batch) => batch.into_iter().for_each(|update| queue.submit(update)),
                None => open = false,
            },
            Some((job, outcome)) = flights.next(), if !flights.is_empty() => {
                let target = job.target.clone();
                let retry = writer.record(&job, outcome).then(|| {
                    let delay = config.min_backoff.saturating_mul(1 << job.attempt.min(16)).min(config.max_backoff);
                    (Job { attempt: job.attempt + 1, ..job }, Instant::now() + delay)
                });
                queue.finish(&target, retry);
            },
            () = sleep_until(wakeup), if wakeup.is_some() => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// How one write attempt ended.
#[derive(Debug)]
enum Outcome {
    Written,
    Unchanged,
    Gone,
    Retry(String),
    Failed(String),
}

struct Writer {
    client: Client,
    source: Box<dyn StatusSource>,
    metrics: Arc<StatusMetrics>,
    /// The status each object got from our last write, and the resourceVersion the write
    /// produced. Until the source has caught up with that version it still shows the old
    /// status, and comparing against it would write the same status again.
    written: Mutex<HashMap<ObjectRef, (Option<Value>, u64)>>,
    /// The patch each object last got (written or found already in place) and the object's
    /// resourceVersion then. Every translation resubmits every status; while an object's
    /// version has not moved past this one, the same patch needs neither its status read nor
    /// a plan, which keeps a large, mostly unchanged set from costing work per object.
    confirmed: Mutex<HashMap<ObjectRef, (StatusPatch, u64)>>,
}

impl Writer {
    async fn write(self: Arc<Self>, job: Job) -> (Job, Outcome) {
        let outcome = self.attempt(&job).await;
        (job, outcome)
    }

    async fn attempt(&self, job: &Job) -> Outcome {
        if job.attempt == 0 && self.still_confirmed(job) {
            return Outcome::Unchanged;
        }
        let api = api(&self.client, &job.target);
        let name = &job.target.name;
        // A retry follows a conflict or an error: the cached view may be what was wrong.
        let lookup = if job.attempt == 0 {
            self.lookup(&job.target)
        } else {
            Lookup::Unknown
        };
        let (status, resource_version) = match lookup {
            Lookup::Found {
                status,
                resource_version,
            } => (status, resource_version),
            Lookup::Missing => return Outcome::Gone,
            Lookup::Unknown => match api.get_opt(name).await {
                Ok(Some(obj)) => (
                    obj.data.get("status").cloned(),
                    obj.metadata.resource_version,
                ),
                Ok(None) => return Outcome::Gone,
                Err(err) => return classify(err),
            },
        };
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let Some(body) = plan(
            &job.patch,
            status.as_ref(),
            resource_version.as_deref(),
            &now,
        ) else {
            self.confirm(job, parse_version(resource_version.as_deref()));
            return Outcome::Unchanged;
        };
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match api.patch_status(name, &params, &Patch::Merge(&body)).await {
            Ok(obj) => {
                self.remember(&job.target, &obj);
                self.confirm(job, parse_version(obj.metadata.resource_version.as_deref()));
                Outcome::Written
            }
            Err(err) => classify(err),
        }
    }

    /// Whether `job` repeats the patch last confirmed for its object and the object has not
    /// changed since (the source may still show an older version than our own write).
    fn still_confirmed(&self, job: &Job) -> bool {
        let confirmed = self
            .confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some((patch, version)) = confirmed.get(&job.target) else {
            return false;
        };
        if *patch != job.patch || *version == 0 {
            return false;
        }
        match parse_version(self.source.resource_version(&job.target).as_deref()) {
            0 => false,
            current => current <= *version,
        }
    }

    fn confirm(&self, job: &Job, version: u64) {
        let mut confirmed = self
            .confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        confirmed.insert(job.target.clone(), (job.patch.clone(), version));
    }

    fn lookup(&self, target: &ObjectRef) -> Lookup {
        let lookup = self.source.lookup(target);
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some((status, version)) = written.get(target) else {
            return lookup;
        };
        match &lookup {
            Lookup::Found {
                resource_version, ..
            } if parse_version(resource_version.as_deref()) < *version => Lookup::Found {
                status: status.clone(),
                resource_version: Some(version.to_string()),
            },
            _ => {
                written.remove(target);
                lookup
            }
        }
    }

    fn remember(&self, target: &ObjectRef, obj: &DynamicObject) {
        let version = parse_version(obj.metadata.resource_version.as_deref());
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        written.insert(target.clone(), (obj.data.get("status").cloned(), version));
    }

    /// Count the outcome; returns whether to try again.
    fn record(&self, job: &Job, outcome: Outcome) -> bool {
        let counter = match &outcome {
            Outcome::Written => &self.metrics.written,
            Outcome::Unchanged => &self.metrics.unchanged,
            Outcome::Gone => &self.metrics.gone,
            Outcome::Retry(_) => &self.metrics.retried,
            Outcome::Failed(_) => &self.metrics.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let retry = matches!(outcome, Outcome::Retry(_));
        let target = &job.target;
        match outcome {
            Outcome::Written => tracing::debug!(?target, "status written"),
            Outcome::Unchanged => {}
            Outcome::Gone => {
                tracing::debug!(?target, "status target no longer exists");
                self.written
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(target);
                self.confirmed
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(target);
            }
            Outcome::Retry(err) => tracing::warn!(
                ?target,
                attempt = job.attempt,
                "status write failed, retrying: {err}"
            ),
            Outcome::Failed(err) => tracing::error!(?target, "status write rejected: {err}"),
        }
        retry
    }
}

/// Conflicts, throttling, server and transport errors are worth another try; the server
/// refusing the patch itself is not.
fn classify(err: kube::Error) -> Outcome {
    match &err {
        kube::Error::Api(status) if status.is_not_found() => Outcome::Gone,
        kube::Error::Api(status)
            if status.is_conflict() || status.code == 429 || status.code >= 500 =>
        {
            Outcome::Retry(err.to_string())
        }
        kube::Error::Api(_) | kube::Error::SerdeError(_) | kube::Error::BuildRequest(_) => {
            Outcome::Failed(err.to_string())
        }
        _ => Outcome::Retry(err.to_string()),
    }
}

/// Numeric value of a resourceVersion; 0 when absent or not a number (then nothing is newer).
fn parse_version(resource_version: Option<&str>) -> u64 {
    resource_version.and_then(|rv| rv.parse().ok()).unwrap_or(0)
}
