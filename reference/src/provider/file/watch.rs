//! Watching the directory and publishing a snapshot per change.
//!
//! Filesystem events only say *when* to reload; a reload reads the whole tree as it is. That
//! handles every way an editor saves (in place, or a new file renamed over the old one), files
//! and directories added, removed or renamed, and ConfigMap volume swaps, without interpreting
//! event sequences. The [`Loader`] re-decodes only files whose content changed and reports
//! whether anything did, so a spurious reload costs a directory read and publishes nothing.
//!
//! The one thing events are needed for is not reading a file halfway through a write: an
//! in-place save truncates the file first, and a truncated file is valid, empty YAML, so a
//! reload at that moment would publish a snapshot missing that file's objects. A burst of
//! events therefore ends only once every YAML file written to has been closed (or
//! [`MAX_WAIT`] has passed) and the tree has been quiet for [`QUIET`].
//!
//! The watcher runs on its own thread: the wait is sub-millisecond, finer than Tokio's timer,
//! and reading files is blocking work anyway.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::watch;

use super::{Diagnostic, LoadOutcome, Loader};
use crate::model::{ControllerConfig, ResourceSet};
use crate::provider::Snapshots;

/// How long the tree must be quiet before a reload. Short enough to keep the path from a
/// save to Envoy within a few milliseconds; long enough that a multi-file change (a `git
/// checkout`, a script writing several files) is usually seen whole.
const QUIET: Duration = Duration::from_millis(1);

/// Longest wait for a file being written to be closed (a writer that keeps its file open).
const MAX_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum FileProviderError {
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot start the file watcher thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A running file provider. Dropping it stops watching.
#[derive(Debug)]
pub struct FileProvider {
    errors: watch::Receiver<Vec<Diagnostic>>,
    warnings: watch::Receiver<Vec<Diagnostic>>,
    invalid: watch::Receiver<Vec<Diagnostic>>,
    /// Owns the event callback: dropping it ends the reload thread.
    _watcher: notify::RecommendedWatcher,
}

impl FileProvider {
    /// Load `path` (a directory, recursively, or one file) and keep reloading it on change.
    ///
    /// The returned receiver holds the initial snapshot (revision 1) at once. Objects with
    /// errors are left out, and a file edited into errors keeps serving its previous version
    /// (see [`Loader`]); [`FileProvider::errors`] lists the errors meanwhile.
    pub fn start(
        path: impl Into<PathBuf>,
        config: ControllerConfig,
    ) -> Result<(Snapshots, FileProvider), FileProviderError> {
        let root = path.into();
        let (event_tx, event_rx) = mpsc::channel();
        // Watch before the first load, so that no change falls between the two.
        let watcher = watch_tree(&root, event_tx)?;

        let single_file = root
            .is_file()
            .then(|| root.file_name().map(PathBuf::from))
            .flatten();
        let mut loader = Loader::new(root);
        let outcome = loader.load(&config);
        let mut publisher = Publisher {
            snapshots: watch::Sender::new(Arc::new(ResourceSet {
                config: config.clone(),
                ..ResourceSet::default()
            })),
            errors: watch::Sender::new(Vec::new()),
            warnings: watch::Sender::new(Vec::new()),
            invalid: watch::Sender::new(Vec::new()),
            revision: 0,
        };
        publisher.publish(outcome, None);
        let snapshots = publisher.snapshots.subscribe();
        let errors = publisher.errors.subscribe();
        let warnings = publisher.warnings.subscribe();
        let invalid = publisher.invalid.subscribe();
        let reloader = Reloader {
            loader,
            config,
            events: event_rx,
            publisher,
            single_file,
        };
        std::thread::Builder::new()
            .name("file-provider".into())
            .spawn(move || reloader.run())
            .map_err(FileProviderError::Thread)?;
        Ok((
            snapshots,
            FileProvider {
                errors,
                warnings,
                invalid,
                _watcher: watcher,
            },
        ))
    }

    /// The errors of the latest load; empty when the latest snapshot reflects the files.
    pub fn errors(&self) -> watch::Receiver<Vec<Diagnostic>> {
        self.errors.clone()
    }

    /// Documents the latest load skipped (kinds the controller does not read).
    pub fn warnings(&self) -> watch::Receiver<Vec<Diagnostic>> {
        self.warnings.clone()
    }

    /// The objects of the latest published snapshot that fail validation, `file:line:col:
    /// field.path: why`: they are in the snapshot, and their status says why nothing of them
    /// is served.
    pub fn invalid(&self) -> watch::Receiver<Vec<Diagnostic>> {
        self.invalid.clone()
    }
}

type Event = notify::Result<notify::Event>;

fn watch_tree(
    root: &Path,
    events: mpsc::Sender<Event>,
) -> Result<notify::RecommendedWatcher, FileProviderError> {
    let error = |source| FileProviderError::Watch {
        path: root.to_path_buf(),
        source,
    };
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiver is gone only when the reload thread has stopped.
        let _ = events.send(event);
    })
    .map_err(error)?;
    // A single file is watched through its directory: editors that save by renaming a new
    // file over the old one would leave a watch on the file itself watching nothing.
    let (target, mode) = match root.is_file() {
        true => (
            root.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
            RecursiveMode::NonRecursive,
        ),
        false => (root, RecursiveMode::Recursive),
    };
    watcher.watch(target, mode).map_err(error)?;
    Ok(watcher)
}

struct Reloader {
    loader: Loader,
    config: ControllerConfig,
    events: mpsc::Receiver<Event>,
    publisher: Publisher,
    /// In single-file mode, the file's name: other files in its directory are not read.
    single_file: Option<PathBuf>,
}

impl Reloader {
    fn run(mut self) {
        while let Ok(event) = self.events.recv() {
            let mut burst = Burst {
                started: Instant::now(),
                writing: HashSet::new(),
                written: HashSet::new(),
                only_writes: true,
                reload: false,
            };
            burst.note(&event, self.single_file.as_deref());
            if !burst.reload && burst.writing.is_empty() {
                continue;
            }
            loop {
                let wait = match burst.writing.is_empty() {
                    true => QUIET,
                    false => MAX_WAIT.saturating_sub(burst.started.elapsed()),
                };
                match self.events.recv_timeout(wait) {
                    Ok(event) => burst.note(&event, self.single_file.as_deref()),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if burst.started.elapsed() >= MAX_WAIT {
                    break;
                }
            }
            let outcome = match burst.only_writes && burst.writing.is_empty() {
                true => self.loader.load_written(&self.config, &burst.written),
                false => self.loader.load(&self.config),
            };
            self.publisher.publish(outcome, Some(burst.started));
        }
    }
}

/// The events between two reloads.
struct Burst {
    started: Instant,
    /// Files written to and not closed yet.
    writing: HashSet<PathBuf>,
    /// Files closed after a write.
    written: HashSet<PathBuf>,
    /// Whether the burst was nothing but writes to files (then only those are read again).
    only_writes: bool,
    /// Whether anything happened that may change what a reload reads.
    reload: bool,
}

impl Burst {
    fn note(&mut self, event: &Event, single_file: Option<&Path>) {
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!("file watch error, reloading: {err}");
                self.reload = true;
                self.only_writes = false;
                return;
            }
        };
        let read = |path: &&PathBuf| is_read(path, single_file);
        match event.kind {
            EventKind::Modify(ModifyKind::Data(_)) => self
                .writing
                .extend(event.paths.iter().filter(read).cloned()),
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for path in event.paths.iter().filter(read) {
                    self.writing.remove(path);
                    self.written.insert(path.clone());
                    self.reload = true;
                }
            }
            // Including our own reads.
            EventKind::Access(_) => {}
            EventKind::Modify(ModifyKind::Metadata(_)) => {
                if event.paths.iter().any(|p| read(&p)) {
                    self.reload = true;
                    self.only_writes = false;
                }
            }
            // Created, removed, renamed, or the watcher lost track (`Other` with a rescan
            // flag): any of these may be a directory or the symlink swap of a ConfigMap volume,
            // so they count whatever the name.
            _ => {
                for path in &event.paths {
                    self.writing.remove(path);
                }
                self.reload = true;
                self.only_writes = false;
            }
        }
    }
}

/// Whether a reload reads this file (the loader's own rules, by name).
fn is_read(path: &Path, single_file: Option<&Path>) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    match single_file {
        Some(file) => name == file.as_os_str(),
        None => !name.to_string_lossy().starts_with('.') && super::load::is_yaml(path),
    }
}

struct Publisher {
    snapshots: watch::Sender<Arc<ResourceSet>>,
    errors: watch::Sender<Vec<Diagnostic>>,
    warnings: watch::Sender<Vec<Diagnostic>>,
    invalid: watch::Sender<Vec<Diagnostic>>,
    revision: u64,
}

impl Publisher {
    /// `noticed`: when the first event of the change was seen (none for the first load).
    fn publish(&mut self, outcome: LoadOutcome, noticed: Option<Instant>) {
        publish_new(&self.warnings, outcome.warnings, "");
        publish_new(
            &self.invalid,
            outcome.invalid,
            "invalid input, not served: ",
        );
        self.errors.send_if_modified(|current| {
            if *current == outcome.errors {
                return false;
            }
            if !outcome.errors.is_empty() {
                let errors = outcome.errors.iter().map(ToString::to_string);
                tracing::error!(
                    "input has errors; objects with errors are left out, and an edited file with \
                     errors keeps serving its previous version:\n{}",
                    errors.collect::<Vec<_>>().join("\n")
                );
            }
            *current = outcome.errors;
            true
        });
        if outcome.changed || self.revision == 0 {
            let mut set = outcome.set;
            self.revision += 1;
            set.revision = self.revision;
            set.arrival = noticed.map(|noticed| crate::timing::Arrival {
                noticed,
                published: Instant::now(),
            });
            tracing::info!(
                objects = set.len(),
                revision = set.revision,
                "file provider published a snapshot"
            );
            self.snapshots.send_replace(Arc::new(set));
        }
    }
}

/// Publishes `latest` on `sender` when it differs from what is there, logging (after `label`)
/// each diagnostic not there before: a reload repeats none.
fn publish_new(sender: &watch::Sender<Vec<Diagnostic>>, latest: Vec<Diagnostic>, label: &str) {
    sender.send_if_modified(|current| {
        if *current == latest {
            return false;
        }
        for diagnostic in latest.iter().filter(|d| !current.contains(d)) {
            tracing::warn!("{label}{diagnostic}");
        }
        *current = latest;
        true
    });
}
