//! Loading scenarios: reading files, resolving `base:` and `resourceFiles:`, discovering every
//! scenario under a directory, and rejecting duplicate names in a run.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::access_log::SCENARIO_DIR;
use super::doc::Doc;
use super::error::{LoadErrors, ScenarioError, Source, YamlPath};
use super::features::{Feature, Level, Profile};
use super::object::{HarnessObject, Object, TestCertificate, mentions};
use super::step::Step;
use super::validate::{Catalog, check_object_references, check_step, resolve_object};
use super::values::KnownFeature;

/// The file as written; everything scenario-level is strict.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ScenarioFile {
    name: String,
    description: String,
    features: Vec<KnownFeature>,
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    slow: bool,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    resources: Vec<Object>,
    #[serde(default)]
    resource_files: Vec<String>,
    steps: Vec<Step>,
    #[serde(default)]
    generated: Option<Generated>,
}

/// Set on scenarios a generator wrote (a fuzzer is planned), with what reproduces them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Generated {
    pub seed: String,
    pub property: String,
    /// The version of the generator that produced the case (a seed means nothing without it).
    #[serde(default)]
    pub generator_version: Option<u32>,
}

/// A value with the place it was written.
#[derive(Clone, Debug)]
pub struct Located<T> {
    pub source: Source,
    pub value: T,
}

/// A base fixture: objects applied once per run before any scenario that names it.
#[derive(Debug)]
pub struct Fixture {
    pub name: String,
    pub path: PathBuf,
    pub objects: Vec<Object>,
}

/// A loaded and validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub features: Vec<&'static Feature>,
    pub provisional: bool,
    pub slow: bool,
    /// Shared by every scenario of a run that names the same base.
    pub base: Option<Arc<Fixture>>,
    /// Objects applied before the first step: `resources`, then each of `resourceFiles` in order.
    pub resources: Vec<Object>,
    /// `resourceFiles`, resolved against the scenario's directory.
    pub resource_files: Vec<PathBuf>,
    pub steps: Vec<Located<Step>>,
    pub generated: Option<Generated>,
    name_source: Source,
}

impl Scenario {
    /// Loads one scenario, resolving `base:` in the project's `scenarios/base/`.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, &LoadOptions::default())
    }

    pub fn load_with(
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<Scenario, ScenarioError> {
        Loader::new(options.clone()).load(path.as_ref())
    }

    pub fn feature_names(&self) -> Vec<&'static str> {
        self.features.iter().map(|f| f.name).collect()
    }

    /// How `profile` counts this scenario (see [`Profile::level`]).
    pub fn level(&self, profile: Profile) -> Option<Level> {
        profile.level(&self.feature_names())
    }

    /// The scenario's own objects: `resources`, resource files and every `apply` step, in order.
    pub fn own_objects(&self) -> impl Iterator<Item = &Object> {
        let applied = self.steps.iter().flat_map(|s| match &s.value {
            Step::Apply(objects) => objects.as_slice(),
            _ => &[],
        });
        self.resources.iter().chain(applied)
    }

    /// Every object the scenario can refer to: its base's, then its own.
    pub fn all_objects(&self) -> impl Iterator<Item = &Object> {
        self.base
            .iter()
            .flat_map(|b| b.objects.iter())
            .chain(self.own_objects())
    }

    /// The TestCertificates a `trust` value names: `namespace/name`, or a bare name in any
    /// namespace.
    pub fn trusted_certificates(&self, trust: &str) -> Vec<&TestCertificate> {
        let mut catalog = Catalog::default();
        catalog.add(self.all_objects());
        catalog.certificates_named(trust)
    }

    /// Whether the scenario needs a directory of its own on the proxies' host: its objects or
    /// patches name [`SCENARIO_DIR`], or a step reads an access log from it.
    pub fn uses_scenario_dir(&self) -> bool {
        self.own_objects()
            .any(|o| mentions(o.value(), SCENARIO_DIR))
            || self.steps.iter().any(|s| match &s.value {
                Step::Patch(entries) => entries.iter().any(|e| mentions(&e.patch, SCENARIO_DIR)),
                Step::ExpectAccessLog(_) => true,
                _ => false,
            })
    }

    /// Every TestCertificate of the base and the scenario.
    pub fn test_certificates(&self) -> impl Iterator<Item = &TestCertificate> {
        self.all_objects().filter_map(|o| match o.harness() {
            Some(HarnessObject::TestCertificate(c)) => Some(c),
            _ => None,
        })
    }
}

/// Where `base:` names are resolved.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--base-dir`; the project's `scenarios/base/` when `None`.
    pub base_dir: Option<PathBuf>,
}

impl LoadOptions {
    pub fn base_dir(&self) -> PathBuf {
        self.base_dir
            .clone()
            .unwrap_or_else(|| default_scenarios_dir().join("base"))
    }
}

/// The project's `scenarios/` directory (the default of `gatesim run`).
pub fn default_scenarios_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| PathBuf::from("scenarios"), |root| root.join("scenarios"))
}

/// Loads scenarios, sharing base fixtures between them.
pub struct Loader {
    options: LoadOptions,
    bases: HashMap<PathBuf, Arc<Fixture>>,
}

/// Shared, because every `Source` of the file keeps the text to locate its node on demand. A
/// key repeated in any mapping of the file is an error here, before anything reads a value
/// that the repetition would silently replace.
fn read(path: &Path) -> Result<Arc<str>, ScenarioError> {
    let text: Arc<str> = std::fs::read_to_string(path)
        .map(Arc::from)
        .map_err(|source| ScenarioError::Read {
            file: path.to_owned(),
            source,
        })?;
    match gatesim_reference::yaml::duplicate_keys(&text).first() {
        Some((_, problem)) => Err(ScenarioError::problem(path, problem)),
        None => Ok(text),
    }
}

impl Loader {
    pub fn new(options: LoadOptions) -> Loader {
        Loader {
            options,
            bases: HashMap::new(),
        }
    }

    pub fn load(&mut self, path: &Path) -> Result<Scenario, ScenarioError> {
        let text = read(path)?;
        self.load_text(path, text)
    }

    /// Loads a scenario from its text; `path` places it (errors name it, `resourceFiles` are
    /// resolved beside it).
    pub fn load_text(&mut self, path: &Path, text: Arc<str>) -> Result<Scenario, ScenarioError> {
        let file: ScenarioFile =
            serde_yaml::from_str(&text).map_err(|e| ScenarioError::from_yaml(path, &e))?;
        let doc = Doc {
            file: path,
            text: &text,
            document: 0,
        };
        let root = YamlPath::root();
        check_identity(doc, &file)?;
        let base = match &file.base {
            Some(name) => Some(self.base(doc, name)?),
            None => None,
        };
        let mut resources = resolve_objects(doc, &root.key("resources"), file.resources)?;
        let resource_files = resolve_resource_files(doc, &file.resource_files)?;
        for resource_file in &resource_files {
            resources.extend(load_resource_file(resource_file)?);
        }
        let steps = resolve_steps(doc, file.steps)?;

        // Cross-references, against the base's objects and the scenario's own.
        let applied = || {
            steps.iter().flat_map(|s| match &s.value {
                Step::Apply(objects) => objects.as_slice(),
                _ => &[],
            })
        };
        let mut catalog = Catalog::default();
        if let Some(base) = &base {
            catalog.add(&base.objects);
        }
        catalog.add(resources.iter().chain(applied()));
        check_object_references(&catalog, &resources)?;
        for (k, step) in steps.iter().enumerate() {
            if let Step::Apply(objects) = &step.value {
                check_object_references(&catalog, objects)?;
            }
            check_step(doc, &root.key("steps").index(k), &step.value, &catalog)?;
        }

        Ok(Scenario {
            path: path.to_owned(),
            name: file.name,
            description: file.description,
            features: file.features.into_iter().map(|f| f.0).collect(),
            provisional: file.provisional,
            slow: file.slow,
            base,
            resources,
            resource_files,
            steps,
            generated: file.generated,
            name_source: doc.source(&root.key("name")),
        })
    }

    /// The fixture `name` (cached for the run), or an error at the scenario's `base` node.
    fn base(&mut self, doc: Doc<'_>, name: &str) -> Result<Arc<Fixture>, ScenarioError> {
        let at = YamlPath::root().key("base");
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !valid || name.starts_with('.') {
            return Err(doc.error(
                &at,
                format!("a base is named by its file name without `.yaml`, got `{name}`"),
            ));
        }
        let path = self.options.base_dir().join(format!("{name}.yaml"));
        if let Some(fixture) = self.bases.get(&path) {
            return Ok(Arc::clone(fixture));
        }
        if !path.is_file() {
            return Err(doc.error(
                &at,
                format!("no base fixture `{name}` (looked for {})", path.display()),
            ));
        }
        let fixture = Arc::new(load_fixture(name, &path)?);
        self.bases.insert(path, Arc::clone(&fixture));
        Ok(fixture)
    }

    /// Loads every scenario under `paths` (files or directories), reporting every broken file
    /// and every name used twice. A file that a scenario of the run names in `resourceFiles` is
    /// a resource file, not a scenario, wherever it lives.
    pub fn load_all(&mut self, paths: &[PathBuf]) -> Result<Vec<Scenario>, LoadErrors> {
        let files = discover(paths, &self.options)?;
        let results: Vec<(PathBuf, Result<Scenario, ScenarioError>)> = files
            .into_iter()
            .map(|file| (file.clone(), self.load(&file)))
            .collect();
        let resource_files: HashSet<PathBuf> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .flat_map(|s| {
                s.resource_files
                    .iter()
                    .filter_map(|f| std::fs::canonicalize(f).ok())
            })
            .collect();
        let mut scenarios: Vec<Scenario> = Vec::new();
        let mut errors = Vec::new();
        for (file, result) in results {
            if std::fs::canonicalize(&file).is_ok_and(|f| resource_files.contains(&f)) {
                continue;
            }
            match result {
                Ok(scenario) => match scenarios.iter().find(|s| s.name == scenario.name) {
                    Some(first) => errors.push(ScenarioError::invalid(
                        &scenario.path,
                        scenario.name_source.location(),
                        format!(
                            "name: duplicate scenario name `{}`, also used by {}",
                            scenario.name,
                            first.path.display()
                        ),
                    )),
                    None => scenarios.push(scenario),
                },
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok(scenarios)
        } else {
            Err(LoadErrors(errors))
        }
    }
}

fn resolve_objects(
    doc: Doc<'_>,
    at: &YamlPath,
    objects: Vec<Object>,
) -> Result<Vec<Object>, ScenarioError> {
    objects
        .into_iter()
        .enumerate()
        .map(|(i, object)| resolve_object(doc, &at.index(i), object))
        .collect()
}

/// `resourceFiles`, resolved against the scenario's directory; each must exist.
fn resolve_resource_files(doc: Doc<'_>, listed: &[String]) -> Result<Vec<PathBuf>, ScenarioError> {
    let directory = doc.file.parent().unwrap_or(Path::new("."));
    let mut resolved = Vec::new();
    for (i, relative) in listed.iter().enumerate() {
        let path = directory.join(relative);
        if !path.is_file() {
            return Err(doc.error(
                &YamlPath::root().key("resourceFiles").index(i),
                format!("no resource file `{}`", path.display()),
            ));
        }
        resolved.push(path);
    }
    Ok(resolved)
}

/// The objects of a multi-document file, in order; empty documents are skipped.
fn load_resource_file(path: &Path) -> Result<Vec<Object>, ScenarioError> {
    let text = read(path)?;
    let mut objects = Vec::new();
    for (document, deserializer) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let object =
            Object::deserialize(deserializer).map_err(|e| ScenarioError::from_yaml(path, &e))?;
        if object.value().is_null() {
            continue;
        }
        let doc = Doc {
            file: path,
            text: &text,
            document,
        };
        objects.push(resolve_object(doc, &YamlPath::root(), object)?);
    }
    Ok(objects)
}

/// Positions every step and types the objects of `apply` steps.
fn resolve_steps(doc: Doc<'_>, steps: Vec<Step>) -> Result<Vec<Located<Step>>, ScenarioError> {
    let mut resolved = Vec::new();
    for (k, step) in steps.into_iter().enumerate() {
        let at = YamlPath::root().key("steps").index(k);
        let value = match step {
            Step::Apply(objects) => Step::Apply(resolve_objects(doc, &at.key("apply"), objects)?),
            other => other,
        };
        resolved.push(Located {
            source: doc.source(&at),
            value,
        });
    }
    Ok(resolved)
}

fn load_fixture(name: &str, path: &Path) -> Result<Fixture, ScenarioError> {
    let text = read(path)?;
    let raw: Vec<Object> =
        serde_yaml::from_str(&text).map_err(|e| ScenarioError::from_yaml(path, &e))?;
    let doc = Doc {
        file: path,
        text: &text,
        document: 0,
    };
    let objects = resolve_objects(doc, &YamlPath::root(), raw)?;
    let mut catalog = Catalog::default();
    catalog.add(&objects);
    check_object_references(&catalog, &objects)?;
    Ok(Fixture {
        name: name.to_owned(),
        path: path.to_owned(),
        objects,
    })
}

fn check_identity(doc: Doc<'_>, file: &ScenarioFile) -> Result<(), ScenarioError> {
    let root = YamlPath::root();
    let valid_name = !file.name.is_empty()
        && file
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !valid_name {
        return Err(doc.error(
            &root.key("name"),
            format!(
                "a scenario name uses letters, digits, `-`, `_` and `.` only, got `{}`",
                file.name
            ),
        ));
    }
    if file.description.trim().is_empty() {
        return Err(doc.error(
            &root.key("description"),
            "describe what the scenario checks",
        ));
    }
    if file.features.is_empty() {
        return Err(doc.error(
            &root.key("features"),
            "list at least one feature (Gateway, HTTPRoute, ...)",
        ));
    }
    for (i, feature) in file.features.iter().enumerate() {
        if file.features[..i].contains(feature) {
            return Err(doc.error(
                &root.key("features").index(i),
                format!("feature `{}` is listed twice", feature.0.name),
            ));
        }
    }
    if file.steps.is_empty() {
        return Err(doc.error(&root.key("steps"), "list at least one step"));
    }
    Ok(())
}

/// Every scenario file under `paths`: files as given, and every `*.yaml` below each directory
/// (sorted, hidden entries skipped), except the base directory and a `base/` directly under a
/// given directory, whose files are fixtures rather than scenarios.
pub fn discover(paths: &[PathBuf], options: &LoadOptions) -> Result<Vec<PathBuf>, LoadErrors> {
    let base_dir = std::fs::canonicalize(options.base_dir()).ok();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        if !path.is_dir() {
            errors.push(ScenarioError::Read {
                file: path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
            continue;
        }
        let skip = [
            base_dir.clone(),
            std::fs::canonicalize(path.join("base")).ok(),
        ];
        if let Err(error) = walk(path, &skip, &mut files) {
            errors.push(error);
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(LoadErrors(errors))
    }
}

fn walk(
    dir: &Path,
    skip: &[Option<PathBuf>],
    files: &mut Vec<PathBuf>,
) -> Result<(), ScenarioError> {
    let read_error = |source| ScenarioError::Read {
        file: dir.to_owned(),
        source,
    };
    let canonical = std::fs::canonicalize(dir).map_err(read_error)?;
    if skip.iter().flatten().any(|s| *s == canonical) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_error)?;
    entries.sort();
    for entry in entries {
        let hidden = entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if entry.is_dir() {
            walk(&entry, skip, files)?;
        } else if entry.extension().is_some_and(|e| e == "yaml") {
            files.push(entry);
        }
    }
    Ok(())
}

/// Loads every scenario under one directory.
pub fn load_dir(dir: impl AsRef<Path>, options: &LoadOptions) -> Result<Vec<Scenario>, LoadErrors> {
    Loader::new(options.clone()).load_all(&[dir.as_ref().to_owned()])
}

/// Loads every scenario under `paths`, as one run.
pub fn load_all(paths: &[PathBuf], options: &LoadOptions) -> Result<Vec<Scenario>, LoadErrors> {
    Loader::new(options.clone()).load_all(paths)
}
