//! Watching the directory and publishing a snapshot per change.
//!
//! Any filesystem event under the directory (other than reads) triggers a reload of the whole
//! tree. That handles every way an editor saves (in place, or to a temporary file renamed over
//! the original), files and directories added or removed, and ConfigMap volume swaps, without
//! interpreting event kinds; the [`Loader`] re-decodes only files whose content changed and
//! reports whether anything did, so spurious events cost a directory read and nothing else.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Diagnostic, LoadOutcome, Loader};
use crate::model::{ControllerConfig, ResourceSet};
use crate::provider::Snapshots;

/// How long to wait after the first event of a burst before reloading. An editor's save is a
/// handful of events within a millisecond or so; waiting this long usually catches all of
/// them in one reload while keeping the change-to-Envoy path within a few milliseconds. A
/// reload that still lands mid-save is followed by another once the save's last event
/// arrives, so the only cost of a miss is a transient error.
const DEBOUNCE: Duration = Duration::from_millis(2);

#[derive(Debug, thiserror::Error)]
pub enum FileProviderError {
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
}

/// A running file provider. Dropping it stops watching.
#[derive(Debug)]
pub struct FileProvider {
    errors: watch::Receiver<Vec<Diagnostic>>,
    warnings: watch::Receiver<Vec<Diagnostic>>,
    task: JoinHandle<()>,
}

impl FileProvider {
    /// Load `path` (a directory, recursively, or one file) and keep reloading it on change.
    ///
    /// The returned receiver holds the initial snapshot (revision 1) at once. While the files
    /// have errors the last good snapshot keeps serving and [`FileProvider::errors`] lists
    /// them; if the very first load fails, the receiver holds an empty snapshot (revision 0)
    /// until the errors are fixed. Must be called within a Tokio runtime.
    pub fn start(path: impl Into<PathBuf>, config: ControllerConfig) -> Result<(Snapshots, FileProvider), FileProviderError> {
        let root = path.into();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let watcher = watch_tree(&root, event_tx)?;

        let mut loader = Loader::new(root);
        let outcome = loader.load(&config);
        let mut state = Publisher {
            snapshots: watch::Sender::new(Arc::new(ResourceSet { config: config.clone(), ..ResourceSet::default() })),
            errors: watch::Sender::new(Vec::new()),
            warnings: watch::Sender::new(Vec::new()),
            revision: 0,
        };
        state.publish(outcome);
        let snapshots = state.snapshots.subscribe();
        let provider = FileProvider {
            errors: state.errors.subscribe(),
            warnings: state.warnings.subscribe(),
            task: tokio::spawn(run(loader, config, event_rx, state, watcher)),
        };
        Ok((snapshots, provider))
    }

    /// The errors of the latest load; empty when the latest snapshot reflects the files.
    pub fn errors(&self) -> watch::Receiver<Vec<Diagnostic>> {
        self.errors.clone()
    }

    /// Documents the latest load skipped (kinds the controller does not read).
    pub fn warnings(&self) -> watch::Receiver<Vec<Diagnostic>> {
        self.warnings.clone()
    }
}

impl Drop for FileProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn watch_tree(root: &Path, events: mpsc::UnboundedSender<notify::Result<notify::Event>>) -> Result<notify::RecommendedWatcher, FileProviderError> {
    let error = |source| FileProviderError::Watch { path: root.to_path_buf(), source };
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiver is gone only when the provider stopped.
        let _ = events.send(event);
    })
    .map_err(error)?;
    // A single file is watched through its directory: editors that save by renaming a new
    // file over the old one would leave a watch on the file itself watching nothing.
    let (target, mode) = match root.is_file() {
        true => (root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")), RecursiveMode::NonRecursive),
        false => (root, RecursiveMode::Recursive),
    };
    watcher.watch(target, mode).map_err(error)?;
    Ok(watcher)
}

async fn run(
    mut loader: Loader,
    config: ControllerConfig,
    mut events: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    mut state: Publisher,
    // Owned here so that watching lasts exactly as long as this task.
    _watcher: notify::RecommendedWatcher,
) {
    while let Some(event) = events.recv().await {
        match &event {
            // Our own reads show up as access events.
            Ok(event) if matches!(event.kind, EventKind::Access(_)) => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(root = %loader.root().display(), "file watch error, reloading: {err}"),
        }
        tokio::time::sleep(DEBOUNCE).await;
        while events.try_recv().is_ok() {}
        let config = config.clone();
        let reload = tokio::task::spawn_blocking(move || {
            let outcome = loader.load(&config);
            (loader, outcome)
        });
        let outcome;
        (loader, outcome) = match reload.await {
            Ok(done) => done,
            Err(err) => {
                tracing::error!("file provider reload failed: {err}");
                return;
            }
        };
        state.publish(outcome);
    }
}

struct Publisher {
    snapshots: watch::Sender<Arc<ResourceSet>>,
    errors: watch::Sender<Vec<Diagnostic>>,
    warnings: watch::Sender<Vec<Diagnostic>>,
    revision: u64,
}

impl Publisher {
    fn publish(&mut self, outcome: LoadOutcome) {
        self.warnings.send_if_modified(|current| {
            if *current == outcome.warnings {
                return false;
            }
            for warning in outcome.warnings.iter().filter(|w| !current.contains(w)) {
                tracing::warn!("{warning}");
            }
            *current = outcome.warnings;
            true
        });
        match outcome.result {
            Ok(mut set) => {
                let recovered = self.errors.send_if_modified(|errors| !std::mem::take(errors).is_empty());
                if outcome.changed || recovered || self.revision == 0 {
                    self.revision += 1;
                    set.revision = self.revision;
                    tracing::info!(objects = set.len(), revision = set.revision, "file provider published a snapshot");
                    self.snapshots.send_replace(Arc::new(set));
                }
            }
            Err(errors) => {
                self.errors.send_if_modified(|current| {
                    if *current == errors.0 {
                        return false;
                    }
                    tracing::error!("input has errors; still serving revision {}:\n{errors}", self.revision);
                    *current = errors.0;
                    true
                });
            }
        }
    }
}
