//! Errors of the scenario format: every one names the file and, whenever the YAML has a node to
//! point at, the line and column, so a user can jump straight to the mistake.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use gatesim_reference::yaml::{Location, Segment, YamlPath};

/// Where an object or step was written: its file and, computed on first use, the position of its
/// node. Positions cost a walk of the file each, and most are only ever shown in failure output.
#[derive(Clone)]
pub struct Source {
    file: PathBuf,
    node: Option<Node>,
}

#[derive(Clone)]
struct Node {
    text: Arc<str>,
    document: usize,
    path: YamlPath,
    location: Arc<OnceLock<Option<Location>>>,
}

impl Source {
    pub(crate) fn new(file: &Path, text: &Arc<str>, document: usize, path: &YamlPath) -> Source {
        Source {
            file: file.to_owned(),
            node: Some(Node {
                text: Arc::clone(text),
                document,
                path: path.clone(),
                location: Arc::default(),
            }),
        }
    }

    pub(crate) fn unknown() -> Source {
        Source {
            file: PathBuf::new(),
            node: None,
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The YAML path of the node within its document.
    pub fn path(&self) -> Option<&YamlPath> {
        self.node.as_ref().map(|n| &n.path)
    }

    /// An error about the node at `keys` below this one, positioned there.
    pub(crate) fn error_at(&self, keys: &[&str], message: impl fmt::Display) -> ScenarioError {
        let Some(node) = &self.node else {
            return ScenarioError::invalid(&self.file, None, message.to_string());
        };
        let path = keys.iter().fold(node.path.clone(), |p, k| p.key(k));
        let doc = super::doc::Doc {
            file: &self.file,
            text: &node.text,
            document: node.document,
        };
        doc.error(&path, message)
    }

    pub fn location(&self) -> Option<Location> {
        let node = self.node.as_ref()?;
        *node
            .location
            .get_or_init(|| gatesim_reference::yaml::locate(&node.text, node.document, &node.path))
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({self})")
    }
}

impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        self.file == other.file
            && self.path() == other.path()
            && self.location() == other.location()
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location() {
            Some(location) => write!(f, "{}:{location}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// Why a scenario, a base fixture or a resource file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Malformed YAML, a schema mismatch (unknown key, wrong type, missing field) or a semantic
    /// mistake (unknown feature, dangling reference, ...). `message` starts with the YAML path of
    /// the offending node when there is one.
    #[error("{}", located(file, *location, message))]
    Invalid {
        file: PathBuf,
        location: Option<Location>,
        message: String,
    },
}

fn located(file: &Path, location: Option<Location>, message: &str) -> String {
    match location {
        Some(location) => format!("{}:{location}: {message}", file.display()),
        None => format!("{}: {message}", file.display()),
    }
}

impl ScenarioError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            ScenarioError::Read { file, .. } | ScenarioError::Invalid { file, .. } => file,
        }
    }

    /// The position of the offending node, when the error has one.
    pub fn location(&self) -> Option<Location> {
        match self {
            ScenarioError::Read { .. } => None,
            ScenarioError::Invalid { location, .. } => *location,
        }
    }

    pub(crate) fn invalid(file: &Path, location: Option<Location>, message: String) -> Self {
        ScenarioError::Invalid {
            file: file.to_owned(),
            location,
            message,
        }
    }

    /// Converts a serde_yaml error, keeping its path prefix and moving its position to the front.
    pub(crate) fn from_yaml(file: &Path, error: &serde_yaml::Error) -> Self {
        ScenarioError::problem(file, &gatesim_reference::yaml::Problem::from_yaml(error))
    }

    pub(crate) fn problem(file: &Path, problem: &gatesim_reference::yaml::Problem) -> Self {
        ScenarioError::invalid(file, problem.location, problem.message.clone())
    }
}

/// Several independent load failures (one per broken file), reported together so a user fixes
/// a whole directory in one pass.
#[derive(Debug)]
pub struct LoadErrors(pub Vec<ScenarioError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

impl From<ScenarioError> for LoadErrors {
    fn from(error: ScenarioError) -> Self {
        LoadErrors(vec![error])
    }
}
