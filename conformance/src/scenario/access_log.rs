//! The `expect-access-log` step and the scenario directory it reads from.
//!
//! A proxy writes access logs where its configuration says (a ListenerOption's
//! `fileSink.path`). A scenario names a file the run owns by writing [`SCENARIO_DIR`] in that
//! path; the harness replaces the placeholder, in every string of the scenario's objects and
//! patches, with a directory of its own for this scenario, created empty before the first step.
//! The step names the file relative to that directory. Only targets whose proxies run on the
//! harness's host (`sim`) have such a directory; elsewhere a scenario that uses it is skipped.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

use super::expect::defaults;
use super::values::{GatewayRef, TimeSpan};

/// Replaced by the scenario's own directory in the scenario's objects and patches.
pub const SCENARIO_DIR: &str = "${SCENARIO_DIR}";

/// Lines a proxy must have written to a file of the scenario directory.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectAccessLog {
    /// The Gateway whose proxy writes the file (its status is shown when the step fails).
    pub gateway: GatewayRef,
    /// Relative to the scenario directory.
    pub file: String,
    /// Each entry must match its own line of the file, in this order (other lines may come
    /// between and around them).
    pub lines: Vec<LogLine>,
    #[serde(default)]
    pub within: Option<TimeSpan>,
}

impl ExpectAccessLog {
    pub fn within(&self) -> Duration {
        self.within.map_or(defaults::ACCESS_LOG_WITHIN, |t| t.0)
    }
}

/// What one line must hold: a substring, or (for JSON-formatted logs) these fields.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    #[serde(default)]
    pub contains: Option<String>,
    /// The line is a JSON object holding each field; scalars compare by their text, so
    /// `status: 200` matches `"status": 200` and `"status": "200"`.
    #[serde(default)]
    pub json: Option<BTreeMap<String, serde_json::Value>>,
}

impl LogLine {
    /// Whether `line` is one this entry describes.
    pub fn matches(&self, line: &str) -> bool {
        if let Some(part) = &self.contains
            && !line.contains(part.as_str())
        {
            return false;
        }
        if let Some(fields) = &self.json {
            let Ok(serde_json::Value::Object(object)) = serde_json::from_str(line) else {
                return false;
            };
            return fields
                .iter()
                .all(|(key, want)| object.get(key).is_some_and(|got| same_value(want, got)));
        }
        true
    }

    /// The entry as the failure text shows it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(part) = &self.contains {
            parts.push(format!("a line containing {part:?}"));
        }
        if let Some(fields) = &self.json {
            let shown = serde_json::to_string(fields).unwrap_or_default();
            parts.push(format!("a JSON line with {shown}"));
        }
        parts.join(" and ")
    }
}

fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn same_value(want: &serde_json::Value, got: &serde_json::Value) -> bool {
    match (scalar_text(want), scalar_text(got)) {
        (Some(a), Some(b)) => a == b,
        _ => want == got,
    }
}

/// Finds the entries in order, each on a later line than the one before; returns the first
/// entry that has no line, or `None` when every entry is matched.
pub fn first_unmatched<'a>(entries: &'a [LogLine], text: &str) -> Option<&'a LogLine> {
    let mut lines = text.lines();
    entries
        .iter()
        .find(|entry| !lines.by_ref().any(|line| entry.matches(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(s: &str) -> LogLine {
        LogLine {
            contains: Some(s.to_owned()),
            json: None,
        }
    }

    #[test]
    fn entries_match_distinct_lines_in_order() {
        let text = "GET /a 200\nPOST /b 503\nGET /c 200\n";
        assert!(first_unmatched(&[contains("GET /a"), contains("GET /c")], text).is_none());
        let reversed = [contains("GET /c"), contains("GET /a")];
        let missing = first_unmatched(&reversed, text);
        assert_eq!(
            missing.map(LogLine::describe).as_deref(),
            Some("a line containing \"GET /a\"")
        );
        assert!(
            first_unmatched(&[contains("GET"), contains("GET"), contains("GET")], text).is_some()
        );
    }

    #[test]
    fn json_fields_compare_by_text() {
        let entry = LogLine {
            contains: None,
            json: Some(
                [
                    ("method".to_owned(), serde_json::json!("GET")),
                    ("status".to_owned(), serde_json::json!(200)),
                ]
                .into(),
            ),
        };
        assert!(entry.matches(r#"{"method":"GET","status":"200","path":"/x"}"#));
        assert!(entry.matches(r#"{"method":"GET","status":200}"#));
        assert!(!entry.matches(r#"{"method":"POST","status":200}"#));
        assert!(!entry.matches("GET /x 200"));
    }
}
