//! Reading a tree of YAML files into one `ResourceSet`, re-decoding only files that changed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Diagnostic;
use super::decode::{DecodedFile, decode_file, duplicate_message, name_location};
use crate::model::{
    ControllerConfig, KindVisitorMut, ObjectKey, ResourceSet, StoredKind, visit_all_kinds,
};
use crate::yaml::Location;

/// Directory symlinks are followed; this bounds a symlink loop.
const MAX_DEPTH: usize = 32;

/// The result of one [`Loader::load`].
#[derive(Debug)]
pub struct LoadOutcome {
    /// The snapshot (revision 0: numbering is the caller's): every object without an error,
    /// and, for a file whose latest version has errors, what that file served before.
    pub set: ResourceSet,
    /// Every error of the latest version of every file, in file order. The objects they are
    /// about are not in `set`.
    pub errors: Vec<Diagnostic>,
    /// Documents skipped because the controller does not read their kind.
    pub warnings: Vec<Diagnostic>,
    /// The objects of `set` that fail validation, `file:line:col: field.path: why` (so, for a
    /// file whose latest version has errors, findings of the version it still serves). They
    /// are in `set` all the same: translation gives them status and serves nothing of them.
    /// Empty when `ControllerConfig::validate_inputs` is off.
    pub invalid: Vec<Diagnostic>,
    /// Whether what `set` holds may differ from the previous load's: a file was added or
    /// removed, or a file now serves another version.
    pub changed: bool,
}

impl LoadOutcome {
    /// The snapshot, or every error when there is any.
    pub fn into_result(self) -> Result<ResourceSet, super::LoadErrors> {
        match self.errors.is_empty() {
            true => Ok(self.set),
            false => Err(super::LoadErrors(self.errors)),
        }
    }
}

/// Reads a directory (or one file) again and again, keeping what each file decoded to, so a
/// reload after an edit decodes only the edited file. Files are compared by content, not by
/// modification time, whose granularity can hide two quick edits of the same size.
///
/// A file's objects with errors are left out and its other objects serve. Once a file has
/// served, an edit that brings errors into it keeps the file serving what it served before
/// (all of it), until an edit without errors: a half-finished edit never takes a working
/// route away. Other files are not affected either way.
#[derive(Debug)]
pub struct Loader {
    root: PathBuf,
    files: BTreeMap<PathBuf, CachedFile>,
    loaded_once: bool,
    /// Errors of the last full listing (unreadable directories and files), which a partial
    /// reload still reports.
    listing_errors: Vec<Diagnostic>,
}

#[derive(Debug)]
struct CachedFile {
    /// What the file holds now: its errors and warnings are reported.
    latest: Arc<Version>,
    /// What the file contributes to snapshots: `latest`, or an earlier version while the
    /// latest has errors.
    serving: Arc<Version>,
}

#[derive(Debug)]
struct Version {
    bytes: Vec<u8>,
    decoded: DecodedFile,
}

impl Version {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }
}

impl Loader {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            files: BTreeMap::new(),
            loaded_once: false,
            listing_errors: Vec::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn load(&mut self, config: &ControllerConfig) -> LoadOutcome {
        let mut errors = Vec::new();
        let listed = list_files(&self.root, &mut errors);
        let mut changed = !self.loaded_once;
        self.loaded_once = true;
        let mut files = BTreeMap::new();
        for (path, shown) in listed {
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                // Removed between listing and reading: the removal's own event follows.
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => {
                    errors.push(Diagnostic::new(&shown, format!("cannot read: {err}")));
                    continue;
                }
            };
            let (cached, new) = refresh(self.files.remove(&shown), &shown, bytes);
            changed |= new;
            files.insert(shown, cached);
        }
        // Whatever is left was not listed again: removed.
        changed |= !self.files.is_empty();
        self.files = files;
        self.listing_errors = errors.clone();
        self.assemble(config, errors, changed)
    }

    /// Read again only `paths`, files of the last load that were written to (the watcher
    /// saw them closed after a write, and nothing else happen): the other files are as the
    /// last load read them, so listing and reading thousands of files for one edit is
    /// avoided. Anything else (a path the last load did not read, a file gone or unreadable,
    /// no load yet, a single-file root) takes a full [`Loader::load`].
    pub fn load_written(
        &mut self,
        config: &ControllerConfig,
        paths: &std::collections::HashSet<PathBuf>,
    ) -> LoadOutcome {
        if !self.loaded_once || !self.root.is_dir() {
            return self.load(config);
        }
        let mut read = Vec::with_capacity(paths.len());
        for path in paths {
            let shown = match path.strip_prefix(&self.root) {
                Ok(shown) if self.files.contains_key(shown) => shown.to_path_buf(),
                _ => return self.load(config),
            };
            match std::fs::read(path) {
                Ok(bytes) => read.push((shown, bytes)),
                Err(_) => return self.load(config),
            }
        }
        let mut changed = false;
        for (shown, bytes) in read {
            let previous = self.files.remove(&shown);
            let (cached, new) = refresh(previous, &shown, bytes);
            changed |= new;
            self.files.insert(shown, cached);
        }
        self.assemble(config, self.listing_errors.clone(), changed)
    }

    /// The snapshot of what the files serve now, with every file's findings.
    fn assemble(
        &self,
        config: &ControllerConfig,
        mut errors: Vec<Diagnostic>,
        changed: bool,
    ) -> LoadOutcome {
        let mut set = ResourceSet {
            config: config.clone(),
            ..ResourceSet::default()
        };
        let mut warnings = Vec::new();
        let mut invalid = Vec::new();
        let mut duplicates = Vec::new();
        for (shown, file) in &self.files {
            errors.extend(file.latest.decoded.errors.iter().cloned());
            warnings.extend(file.latest.decoded.warnings.iter().cloned());
            if config.validate_inputs {
                invalid.extend(file.serving.decoded.invalid.iter().cloned());
            }
            visit_all_kinds(&mut Merge {
                set: &mut set,
                file: shown,
                decoded: &file.serving.decoded,
                duplicates: &mut duplicates,
            });
        }
        errors.extend(duplicates.iter().map(|dup| self.describe(dup)));
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        LoadOutcome {
            set,
            errors,
            warnings,
            invalid,
            changed,
        }
    }

    /// Where the object `kind` `key` of the latest snapshot was written: its file (under the
    /// root as given) and the position of its `metadata.name`.
    pub fn origin(&self, kind: &str, key: &ObjectKey) -> Option<(PathBuf, Option<Location>)> {
        let origin = (kind.to_owned(), key.clone());
        self.files.iter().find_map(|(shown, file)| {
            let document = *file.serving.decoded.origins.get(&origin)?;
            let path = match self.root.is_dir() {
                true => self.root.join(shown),
                false => shown.clone(),
            };
            Some((path, name_location(file.serving.text(), document)))
        })
    }

    /// An object defined in two files: point at the second, naming where the first is.
    fn describe(&self, dup: &Duplicate) -> Diagnostic {
        let origin = (dup.kind.clone(), dup.key.clone());
        let doc_of = |file: &CachedFile| {
            file.serving
                .decoded
                .origins
                .get(&origin)
                .copied()
                .unwrap_or_default()
        };
        let first = self
            .files
            .iter()
            .find(|(_, file)| file.serving.decoded.origins.contains_key(&origin));
        let first_location = first.map(|(shown, file)| {
            let location = name_location(file.serving.text(), doc_of(file));
            duplicate_message(&dup.kind, &dup.key, shown, location)
        });
        let message = first_location
            .unwrap_or_else(|| duplicate_message(&dup.kind, &dup.key, &dup.file, None));
        match self.files.get(&dup.file) {
            Some(file) => Diagnostic::at(
                &dup.file,
                name_location(file.serving.text(), doc_of(file)),
                format!("metadata.name: {message}"),
            ),
            None => Diagnostic::new(&dup.file, message),
        }
    }
}

/// A file's cache entry after reading `bytes` from it, and whether the file now serves
/// another version. Content equal to the latest version keeps the entry; new content is
/// decoded, and served unless it has errors and an earlier version served.
fn refresh(previous: Option<CachedFile>, shown: &Path, bytes: Vec<u8>) -> (CachedFile, bool) {
    match previous {
        Some(cached) if cached.latest.bytes == bytes => (cached, false),
        previous => {
            let decoded = decode_bytes(shown, &bytes);
            let latest = Arc::new(Version { bytes, decoded });
            let serving = match previous {
                Some(previous) if !latest.decoded.errors.is_empty() => previous.serving,
                _ => Arc::clone(&latest),
            };
            // Changed when the file serves its new version (always so for a new file).
            let changed = Arc::ptr_eq(&serving, &latest);
            (CachedFile { latest, serving }, changed)
        }
    }
}

fn decode_bytes(shown: &Path, bytes: &[u8]) -> DecodedFile {
    match std::str::from_utf8(bytes) {
        Ok(text) => decode_file(shown, text),
        Err(err) => {
            let valid = &bytes[..err.valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            let mut diagnostic = Diagnostic::new(shown, "not valid UTF-8");
            diagnostic.line = Some(line);
            diagnostic.column = Some(column);
            DecodedFile {
                errors: vec![diagnostic],
                ..DecodedFile::default()
            }
        }
    }
}

struct Duplicate {
    kind: String,
    key: ObjectKey,
    file: PathBuf,
}

/// Adds one file's objects to the snapshot, noting any already there.
struct Merge<'a> {
    set: &'a mut ResourceSet,
    file: &'a Path,
    decoded: &'a DecodedFile,
    duplicates: &'a mut Vec<Duplicate>,
}

impl KindVisitorMut for Merge<'_> {
    fn visit<K: StoredKind>(&mut self) {
        for (key, obj) in K::store(&self.decoded.objects) {
            let store = K::store_mut(self.set);
            if store.contains_key(key) {
                self.duplicates.push(Duplicate {
                    kind: K::kind(&()).into_owned(),
                    key: key.clone(),
                    file: self.file.to_path_buf(),
                });
            } else {
                store.insert(key.clone(), obj.clone());
            }
        }
    }
}

/// Every YAML file under `root` as (path to read, path to show), sorted by the shown path.
/// Names starting with `.` are skipped: editors' swap and lock files, `.git`, and the `..data`
/// indirection of mounted ConfigMaps (whose files are reached through their symlinks).
fn list_files(root: &Path, errors: &mut Vec<Diagnostic>) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_file() => out.push((root.to_path_buf(), root.to_path_buf())),
        Ok(_) => walk(root, Path::new(""), 0, &mut out, errors),
        Err(err) => errors.push(Diagnostic::new(root, format!("cannot read: {err}"))),
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

fn walk(
    dir: &Path,
    shown: &Path,
    depth: usize,
    out: &mut Vec<(PathBuf, PathBuf)>,
    errors: &mut Vec<Diagnostic>,
) {
    let shown_dir = if shown.as_os_str().is_empty() {
        dir
    } else {
        shown
    };
    if depth > MAX_DEPTH {
        errors.push(Diagnostic::new(
            shown_dir,
            "directories nested too deeply (a symlink loop?)",
        ));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound && depth > 0 => return,
        Err(err) => {
            return errors.push(Diagnostic::new(
                shown_dir,
                format!("cannot read directory: {err}"),
            ));
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let shown_path = shown.join(&name);
        // `metadata` follows symlinks, so linked files and directories count as what they
        // point to. A dangling link or a file removed meanwhile is simply not there.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, &shown_path, depth + 1, out, errors);
        } else if meta.is_file() && is_yaml(&path) {
            out.push((path, shown_path));
        }
    }
}

pub(super) fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"))
}
