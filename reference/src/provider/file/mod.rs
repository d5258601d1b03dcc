//! The file provider: Kubernetes objects from a directory of YAML.
//!
//! [`load_dir`] reads a tree once (the `translate` CLI); [`FileProvider`] keeps reading it as
//! it changes. Problems are [`Diagnostic`]s that name the file, line and column, the field
//! path and what was expected, as a compiler would: the person reading them is editing those
//! files.

mod decode;
mod load;
mod watch;

pub use decode::decode_object;
pub use load::{LoadOutcome, Loader};
pub use watch::{FileProvider, FileProviderError};

use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::{ControllerConfig, ResourceSet};
use crate::yaml::{Location, Problem};

/// One problem in the input, positioned when the position is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, relative to the directory given to the provider.
    pub file: PathBuf,
    /// 1-based line within the whole file (not within its document).
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// What is wrong, led by the field path where there is one.
    pub message: String,
}

impl Diagnostic {
    fn new(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn at(file: &Path, location: Option<Location>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: location.map(|l| l.line),
            column: location.map(|l| l.column),
            message: message.into(),
        }
    }

    fn problem(file: &Path, problem: &Problem) -> Self {
        Self::at(file, problem.location, problem.message.clone())
    }
}

impl Diagnostic {
    /// `file:line:column: <severity>: message`, as compilers print what is not an error.
    pub fn with_severity(&self, severity: &str) -> String {
        Self {
            message: format!("{severity}: {}", self.message),
            ..self.clone()
        }
        .to_string()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found in one load, in file order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct LoadErrors(pub Vec<Diagnostic>);

/// Decode the text of one YAML file (`file` names it in diagnostics) into the objects it
/// holds: what a load does per file, without the file system. The fuzz targets drive it.
pub fn decode_text(file: &Path, text: &str) -> Result<ResourceSet, LoadErrors> {
    let decoded = decode::decode_file(file, text);
    if decoded.errors.is_empty() {
        Ok(decoded.objects)
    } else {
        Err(LoadErrors(decoded.errors))
    }
}

/// Load every `*.yaml` / `*.yml` under `path` (recursively; `path` may also be one file).
///
/// Objects of kinds the controller does not read are skipped, and objects that fail
/// validation kept (their status says why), each with a logged warning; [`Loader`] hands
/// both out as data. The snapshot has revision 1; a [`FileProvider`] numbers its reloads from
/// there.
pub fn load_dir(
    path: impl AsRef<Path>,
    config: &ControllerConfig,
) -> Result<ResourceSet, LoadErrors> {
    let outcome = Loader::new(path.as_ref()).load(config);
    for warning in outcome.warnings.iter().chain(&outcome.invalid) {
        tracing::warn!("{warning}");
    }
    outcome.into_result().map(|mut set| {
        set.revision = 1;
        set
    })
}
