//! Paths into a YAML document and positions in its text.

use std::fmt;

/// A 1-based position in a YAML file, as shown to users (`file:line:column`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Location {
    pub fn of(error: &serde_yaml::Error) -> Option<Location> {
        error.location().map(|l| Location {
            line: l.line(),
            column: l.column(),
        })
    }

    /// The same place in a text that has `lines` more lines before it.
    pub fn below(self, lines: usize) -> Location {
        Location {
            line: self.line + lines,
            ..self
        }
    }
}

/// One step of a path into a YAML document: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path into a YAML document, displayed the way serde_yaml displays the paths in its own errors
/// (`steps[2].expect-http.cases[0].request`), so semantic and syntax errors read alike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YamlPath(Vec<Segment>);

impl YamlPath {
    pub fn root() -> YamlPath {
        YamlPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> YamlPath {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    pub fn index(&self, index: usize) -> YamlPath {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path without its last segment; `None` at the root.
    pub fn parent(&self) -> Option<YamlPath> {
        let (_, parent) = self.0.split_last()?;
        Some(YamlPath(parent.to_vec()))
    }

    /// This path followed by `rest`.
    pub fn join(&self, rest: &[Segment]) -> YamlPath {
        let mut next = self.clone();
        next.0.extend_from_slice(rest);
        next
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}
