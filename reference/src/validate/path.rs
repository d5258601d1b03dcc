//! Field paths (`spec.rules[0].matches[1].path.value`) and the walker that records findings
//! under them.
//!
//! A path is kept as segments, not text, so that the file provider can follow it through the
//! YAML document to a line and column; it is rendered the way Kubernetes names fields in its
//! own validation errors.

use std::fmt;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A field of an object, by its JSON name.
    Field(&'static str),
    /// An item of a list.
    Index(usize),
    /// An entry of a map (labels, annotations, TLS options), by its key.
    Key(String),
}

/// Where a finding is, from the object's root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// The index under a list field at the root path `list` (`["spec", "listeners"]`), when
    /// this path lies inside one of its items.
    pub fn index_under(&self, list: &[&str]) -> Option<usize> {
        let within = self.0.len() > list.len();
        let prefix = list
            .iter()
            .zip(&self.0)
            .all(|(want, seg)| matches!(seg, Seg::Field(f) if f == want));
        match self.0.get(list.len()) {
            Some(Seg::Index(i)) if within && prefix => Some(*i),
            _ => None,
        }
    }

    /// Whether this path starts with the fields `prefix`.
    pub fn starts_with(&self, prefix: &[&str]) -> bool {
        prefix.len() <= self.0.len()
            && prefix
                .iter()
                .zip(&self.0)
                .all(|(want, seg)| matches!(seg, Seg::Field(f) if f == want))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Field(name) if i == 0 => f.write_str(name)?,
                Seg::Field(name) => write!(f, ".{name}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => write!(f, "[{k}]")?,
            }
        }
        Ok(())
    }
}

/// Which kind of rule a value breaks; the translator turns it into the upstream condition
/// reason that fits the object it reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A value the API (or Envoy) does not allow.
    Value,
    /// A listener protocol that is not a valid protocol name.
    Protocol,
    /// A listener port outside 1-65535.
    Port,
    /// Filters of a route rule that may not be combined or repeated.
    Filters,
}

/// One thing wrong with an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: FieldPath,
    pub fault: Fault,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Walks an object, keeping track of the path to the value at hand, and collects what is
/// wrong. The path is only turned into a [`FieldPath`] when something is, so a valid object
/// costs a push and a pop per field visited.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    stack: Vec<Seg>,
    errors: Vec<FieldError>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn finish(self) -> Vec<FieldError> {
        self.errors
    }

    /// Run `f` on the field `name` of the current value.
    pub fn field(&mut self, name: &'static str, f: impl FnOnce(&mut Self)) {
        self.stack.push(Seg::Field(name));
        f(self);
        self.stack.pop();
    }

    /// Run `f` on the item `index` of the current list.
    pub fn index(&mut self, index: usize, f: impl FnOnce(&mut Self)) {
        self.stack.push(Seg::Index(index));
        f(self);
        self.stack.pop();
    }

    /// Run `f` on the entry `key` of the current map.
    pub fn key(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        self.stack.push(Seg::Key(key.to_string()));
        f(self);
        self.stack.pop();
    }

    /// Run `f` on every item of an optional list field, after checking its length.
    pub fn list<T>(
        &mut self,
        name: &'static str,
        items: Option<&[T]>,
        max: usize,
        mut f: impl FnMut(&mut Self, usize, &T),
    ) {
        let Some(items) = items else { return };
        self.field(name, |c| {
            c.max_items(items.len(), max);
            for (i, item) in items.iter().enumerate() {
                c.index(i, |c| f(c, i, item));
            }
        });
    }

    /// Record that the current value is wrong.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.fail_with(Fault::Value, message);
    }

    pub fn fail_with(&mut self, fault: Fault, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: FieldPath(self.stack.clone()),
            fault,
            message: message.into(),
        });
    }

    /// A check of the current value: `Err(why)` is recorded.
    pub fn check(&mut self, outcome: Result<(), String>) {
        if let Err(why) = outcome {
            self.fail(why);
        }
    }

    /// A check of the field `name` of the current value: `Err(why)` is recorded there.
    pub fn value(&mut self, name: &'static str, outcome: Result<(), String>) {
        self.value_with(name, Fault::Value, outcome);
    }

    pub fn value_with(&mut self, name: &'static str, fault: Fault, outcome: Result<(), String>) {
        if let Err(why) = outcome {
            self.field(name, |c| c.fail_with(fault, why));
        }
    }

    pub fn max_items(&mut self, len: usize, max: usize) {
        if len > max {
            self.fail(format!("must have at most {max} items, has {len}"));
        }
    }

    pub fn min_items(&mut self, len: usize, min: usize) {
        if len < min {
            let noun = if min == 1 { "item" } else { "items" };
            self.fail(format!("must have at least {min} {noun}"));
        }
    }

    /// Length bounds of a string, in characters as the API server counts them.
    pub fn length(&mut self, value: &str, min: usize, max: usize) -> bool {
        // Every bound the API sets is far below what would make counting characters costly,
        // and most values are ASCII, for which bytes are characters.
        let len = if value.is_ascii() {
            value.len()
        } else {
            value.chars().count()
        };
        if len < min {
            self.fail(if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters long")
            });
            false
        } else if len > max {
            self.fail(format!("must be at most {max} characters long, is {len}"));
            false
        } else {
            true
        }
    }

    pub fn range(&mut self, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            self.fail(format!("must be between {min} and {max}, is {value}"));
        }
    }

    pub fn at_least(&mut self, value: i64, min: i64) {
        if value < min {
            self.fail(format!("must be at least {min}, is {value}"));
        }
    }

    /// No two items of a list may share a key (a list the API server keys by a field, or a
    /// set): the later duplicate is reported.
    pub fn unique<'a>(
        &mut self,
        name: &'static str,
        keys: impl Iterator<Item = &'a str>,
        what: &str,
    ) {
        let keys: Vec<&str> = keys.collect();
        for (i, k) in keys.iter().enumerate() {
            if let Some(first) = keys[..i].iter().position(|seen| seen == k) {
                self.field(name, |c| {
                    c.index(i, |c| {
                        c.fail(format!("{what} {k:?} is already used by {name}[{first}]"))
                    })
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_kubernetes_field_paths() {
        let p = FieldPath(vec![
            Seg::Field("spec"),
            Seg::Field("rules"),
            Seg::Index(0),
            Seg::Field("matches"),
            Seg::Index(1),
            Seg::Field("path"),
            Seg::Field("value"),
        ]);
        assert_eq!(p.to_string(), "spec.rules[0].matches[1].path.value");
        assert_eq!(p.index_under(&["spec", "rules"]), Some(0));
        assert_eq!(p.index_under(&["spec", "listeners"]), None);
        assert!(p.starts_with(&["spec", "rules"]));
        let labels = FieldPath(vec![Seg::Field("labels"), Seg::Key("a/b".into())]);
        assert_eq!(labels.to_string(), "labels[a/b]");
    }

    #[test]
    fn checker_records_the_path_of_each_failure() {
        let mut c = Checker::new();
        c.field("spec", |c| {
            c.list("items", Some(&["a", "", "c"][..]), 2, |c, _, v| {
                c.length(v, 1, 10);
            })
        });
        let errors: Vec<String> = c.finish().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "spec.items: must have at most 2 items, has 3",
                "spec.items[1]: must not be empty"
            ]
        );
    }
}
