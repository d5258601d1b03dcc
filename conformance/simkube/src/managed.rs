//! `metadata.managedFields`: which field manager owns which fields.
//!
//! Entries are keyed by (manager, operation, subresource) as upstream. Updates move the
//! fields they change to the updating manager; applies replace the applier's set (see
//! [`crate::patch::apply`]). Field sets use the simplified model of [`crate::fields`].

use serde_json::{Value, json};

use crate::fields::{self, FieldSet};

/// Whether an entry was written by an apply or by an ordinary write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update or a non-apply patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Field manager name.
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// `apiVersion` the manager wrote with.
    pub api_version: String,
    /// When the manager last wrote.
    pub time: String,
    /// `status` for writes through the status subresource.
    pub subresource: Option<String>,
    /// Owned fields.
    pub fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: Operation, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }
}

/// Identifies the writer of a request.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// Field manager name.
    pub manager: &'a str,
    /// `apiVersion` of the request.
    pub api_version: &'a str,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<&'a str>,
    /// Timestamp to record.
    pub now: &'a str,
}

/// Reads the entries of an object (malformed entries are skipped).
pub fn read(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            let operation = match e.get("operation")?.as_str()? {
                "Apply" => Operation::Apply,
                _ => Operation::Update,
            };
            Some(Entry {
                manager: e.get("manager")?.as_str()?.to_string(),
                operation,
                api_version: e
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                time: e
                    .get("time")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .map(String::from),
                fields: e
                    .get("fieldsV1")
                    .map(fields::from_fields_v1)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Upstream's order of entries: operation, then the second of the last write, then manager,
/// apiVersion and subresource (times are RFC 3339 in seconds, so they compare as text).
fn upstream_order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    (
        a.operation.as_str(),
        &a.time,
        &a.manager,
        &a.api_version,
        &a.subresource,
    )
        .cmp(&(
            b.operation.as_str(),
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
}

/// Writes `entries` into `obj` in upstream's order (dropping entries that own nothing, as
/// upstream).
pub fn write(obj: &mut Value, entries: &[Entry]) {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| upstream_order(a, b));
    let list: Vec<Value> = sorted
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields::to_fields_v1(&e.fields),
            });
            if let Some(sub) = &e.subresource {
                v["subresource"] = Value::String(sub.clone());
            }
            v
        })
        .collect();
    let meta = crate::meta::metadata_mut(obj);
    if list.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// The entry for (manager, operation, subresource), created empty if absent.
pub fn entry_mut<'e>(
    entries: &'e mut Vec<Entry>,
    writer: &Writer<'_>,
    operation: Operation,
) -> &'e mut Entry {
    let pos = entries
        .iter()
        .position(|e| e.is(writer.manager, operation, writer.subresource));
    let i = match pos {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: writer.manager.to_string(),
                operation,
                api_version: writer.api_version.to_string(),
                time: writer.now.to_string(),
                subresource: writer.subresource.map(String::from),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    let e = &mut entries[i];
    e.api_version = writer.api_version.to_string();
    e.time = writer.now.to_string();
    e
}

/// Records an ordinary write from `old` (None for a create) to `new`: the changed fields
/// leave their previous owners and, where still present, belong to the writer.
pub fn record_update(old: Option<&Value>, new: &mut Value, writer: &Writer<'_>) {
    let mut entries = old.map(read).unwrap_or_default();
    let changed = match old {
        Some(old) => fields::changed_paths(old, new),
        None => fields::leaf_paths(new),
    };
    if changed.is_empty() {
        write(new, &entries);
        return;
    }
    for e in entries.iter_mut() {
        if !e.is(writer.manager, Operation::Update, writer.subresource) {
            fields::subtract_overlapping(&mut e.fields, &changed);
        }
    }
    let present: FieldSet = changed
        .into_iter()
        .filter(|p| fields::get(new, p).is_some_and(|v| !v.is_null()))
        .collect();
    let entry = entry_mut(&mut entries, writer, Operation::Update);
    entry.fields.extend(present);
    write(new, &entries);
}

/// Whether two versions of an object are the same but for their resourceVersion and the
/// managedFields timestamps: such a write is a no-op, as upstream treats it.
pub fn same_but_times(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    if a.len() != b.len() {
        return false;
    }
    a.iter().all(|(k, va)| match b.get(k) {
        None => false,
        Some(vb) if k == "metadata" => same_metadata(va, vb),
        Some(vb) => va == vb,
    })
}

fn same_metadata(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let keys = |m: &'_ serde_json::Map<String, Value>| {
        m.keys().filter(|k| *k != "resourceVersion").count()
    };
    if keys(a) != keys(b) {
        return false;
    }
    a.iter()
        .filter(|(k, _)| *k != "resourceVersion")
        .all(|(k, va)| match (k.as_str(), b.get(k)) {
            (_, None) => false,
            ("managedFields", Some(vb)) => match (va.as_array(), vb.as_array()) {
                (Some(ea), Some(eb)) => {
                    ea.len() == eb.len()
                        && ea.iter().zip(eb).all(|(x, y)| {
                            let (Some(x), Some(y)) = (x.as_object(), y.as_object()) else {
                                return x == y;
                            };
                            x.len() == y.len()
                                && x.iter().all(|(k, v)| k == "time" || y.get(k) == Some(v))
                        })
                }
                _ => va == vb,
            },
            (_, Some(vb)) => va == vb,
        })
}

/// The managed-fields entries as a JSON map keyed by manager, for assertions.
#[cfg(test)]
pub fn summary(obj: &Value) -> serde_json::Map<String, Value> {
    read(obj)
        .into_iter()
        .map(|e| {
            let paths: Vec<Value> = e
                .fields
                .iter()
                .map(|p| Value::String(format!(".{}", p.join("."))))
                .collect();
            (
                format!("{}/{}", e.manager, e.operation.as_str()),
                Value::Array(paths),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer<'a>(manager: &'a str) -> Writer<'a> {
        Writer {
            manager,
            api_version: "v1",
            subresource: None,
            now: "2024-01-01T00:00:00Z",
        }
    }

    #[test]
    fn only_times_and_versions_may_differ_in_a_no_op() {
        let a = json!({"metadata": {"resourceVersion": "1", "managedFields": [{"manager": "m", "time": "t1"}]}, "spec": {"x": 1}});
        let mut b = json!({"metadata": {"resourceVersion": "2", "managedFields": [{"manager": "m", "time": "t2"}]}, "spec": {"x": 1}});
        assert!(same_but_times(&a, &b));
        b["metadata"]["managedFields"][0]["manager"] = json!("n");
        assert!(!same_but_times(&a, &b));
        let c = json!({"metadata": {"resourceVersion": "1", "managedFields": [{"manager": "m", "time": "t1"}]}, "spec": {"x": 2}});
        assert!(!same_but_times(&a, &c));
    }

    #[test]
    fn updates_take_ownership_of_what_they_change() {
        let old = json!({"metadata": {"name": "a"}, "spec": {"x": 1, "y": 2}});
        let mut created = old.clone();
        record_update(None, &mut created, &writer("creator"));
        let mut new = created.clone();
        new["spec"]["x"] = json!(5);
        record_update(Some(&created), &mut new, &writer("editor"));
        let s = summary(&new);
        assert_eq!(s["creator/Update"], json!([".spec.y"]));
        assert_eq!(s["editor/Update"], json!([".spec.x"]));
    }
}
