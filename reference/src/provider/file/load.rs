//! Reading a tree of YAML files into one `ResourceSet`, re-decoding only files that changed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::Diagnostic;
use super::decode::{DecodedFile, decode_file, duplicate_message};
use super::locate::{keys, locate_in_text};
use crate::model::{
    ControllerConfig, KindVisitorMut, ObjectKey, ResourceSet, StoredKind, visit_all_kinds,
};

/// Directory symlinks are followed; this bounds a symlink loop.
const MAX_DEPTH: usize = 32;

/// The result of one [`Loader::load`].
#[derive(Debug)]
pub struct LoadOutcome {
    /// The snapshot (revision 0: numbering is the caller's), or every error found.
    pub result: Result<ResourceSet, super::LoadErrors>,
    /// Documents skipped because the controller does not read their kind.
    pub warnings: Vec<Diagnostic>,
    /// Objects that fail validation, `file:line:col: field.path: why`. They are part of the
    /// snapshot all the same: translation gives them status and serves nothing of them.
    /// Empty when `ControllerConfig::validate_inputs` is off.
    pub invalid: Vec<Diagnostic>,
    /// Whether any file was added, removed or edited since the previous load.
    pub changed: bool,
}

/// Reads a directory (or one file) again and again, keeping what each file decoded to, so a
/// reload after an edit decodes only the edited file. Files are compared by content, not by
/// modification time, whose granularity can hide two quick edits of the same size.
#[derive(Debug)]
pub struct Loader {
    root: PathBuf,
    files: BTreeMap<PathBuf, CachedFile>,
    loaded_once: bool,
}

#[derive(Debug)]
struct CachedFile {
    bytes: Vec<u8>,
    decoded: DecodedFile,
}

impl CachedFile {
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
            let cached = match self.files.remove(&shown) {
                Some(cached) if cached.bytes == bytes => cached,
                _ => {
                    changed = true;
                    let decoded = decode_bytes(&shown, &bytes);
                    CachedFile { bytes, decoded }
                }
            };
            files.insert(shown, cached);
        }
        // Whatever is left was not listed again: removed.
        changed |= !self.files.is_empty();
        self.files = files;

        let mut set = ResourceSet {
            config: config.clone(),
            ..ResourceSet::default()
        };
        let mut warnings = Vec::new();
        let mut invalid = Vec::new();
        let mut duplicates = Vec::new();
        for (shown, file) in &self.files {
            errors.extend(file.decoded.errors.iter().cloned());
            warnings.extend(file.decoded.warnings.iter().cloned());
            if config.validate_inputs {
                invalid.extend(file.decoded.invalid.iter().cloned());
            }
            visit_all_kinds(&mut Merge {
                set: &mut set,
                file: shown,
                decoded: &file.decoded,
                duplicates: &mut duplicates,
            });
        }
        errors.extend(duplicates.iter().map(|dup| self.describe(dup)));
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        let result = if errors.is_empty() {
            Ok(set)
        } else {
            Err(super::LoadErrors(errors))
        };
        LoadOutcome {
            result,
            warnings,
            invalid,
            changed,
        }
    }

    /// An object defined in two files: point at the second, naming where the first is.
    fn describe(&self, dup: &Duplicate) -> Diagnostic {
        let origin = (dup.kind.clone(), dup.key.clone());
        let doc_of = |file: &CachedFile| {
            file.decoded
                .origins
                .get(&origin)
                .copied()
                .unwrap_or_default()
        };
        let first = self
            .files
            .iter()
            .find(|(_, file)| file.decoded.origins.contains_key(&origin));
        let first_location = first.map(|(shown, file)| {
            let location =
                locate_in_text(file.text(), doc_of(file), &keys(&["metadata", "name"]), "")
                    .location();
            duplicate_message(&dup.kind, &dup.key, shown, location)
        });
        let message = first_location
            .unwrap_or_else(|| duplicate_message(&dup.kind, &dup.key, &dup.file, None));
        match self.files.get(&dup.file) {
            Some(file) => Diagnostic::from_yaml(
                &dup.file,
                &locate_in_text(
                    file.text(),
                    doc_of(file),
                    &keys(&["metadata", "name"]),
                    &message,
                ),
            ),
            None => Diagnostic::new(&dup.file, message),
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
