//! Field paths and field sets: who owns which part of an object.
//!
//! The model is deliberately simpler than upstream structured-merge-diff: a path only walks
//! through maps, and every list is atomic (owned and replaced as a whole). That is enough
//! for what controllers and the harness rely on (dropping a removed label or listener on
//! re-apply, ownership moving on update) without per-kind schemas.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A path of map keys from the object root.
pub type FieldPath = Vec<String>;

/// A set of owned leaf paths.
pub type FieldSet = BTreeSet<FieldPath>;

/// Paths the server or the URL own and no field manager can: identity and server metadata.
fn is_unowned(path: &[String]) -> bool {
    match path {
        [] => true,
        [top] => top == "apiVersion" || top == "kind" || top == "metadata",
        [m, field, ..] if m == "metadata" => matches!(
            field.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "managedFields"
                | "selfLink"
                | "generateName"
        ),
        _ => false,
    }
}

/// The leaf paths set in `obj`: scalars, lists and empty maps, excluding server-owned
/// metadata. Null values are treated as absent.
pub fn leaf_paths(obj: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    collect(obj, &mut path, &mut out);
    out
}

fn collect(v: &Value, path: &mut Vec<String>, out: &mut FieldSet) {
    match v {
        Value::Null => {}
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                path.push(k.clone());
                collect(child, path, out);
                path.pop();
            }
        }
        _ => {
            if !is_unowned(path) {
                out.insert(path.clone());
            }
        }
    }
}

/// The leaf paths whose value differs between `old` and `new` (set, changed or removed).
pub fn changed_paths(old: &Value, new: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    diff(Some(old), Some(new), &mut path, &mut out);
    out
}

fn diff(old: Option<&Value>, new: Option<&Value>, path: &mut Vec<String>, out: &mut FieldSet) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) if !a.is_empty() && !b.is_empty() => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                path.push(k.clone());
                diff(a.get(k), b.get(k), path, out);
                path.pop();
            }
        }
        (a, b) if a == b => {}
        (a, b) => {
            // A subtree appeared, vanished or changed: every leaf on either side changed.
            for side in [a, b].into_iter().flatten() {
                collect(side, path, out);
            }
        }
    }
}

/// The value at `path`, if present.
pub fn get<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

/// Removes the value at `path`, then any map left empty on the way up (an applier that
/// removed its last label leaves no `labels: {}` behind).
pub fn remove(obj: &mut Value, path: &[String]) {
    fn go(v: &mut Value, path: &[String]) -> bool {
        let Some(map) = v.as_object_mut() else {
            return false;
        };
        match path {
            [] => false,
            [last] => {
                map.remove(last);
                map.is_empty()
            }
            [first, rest @ ..] => {
                let emptied = map.get_mut(first).is_some_and(|child| go(child, rest));
                if emptied {
                    map.remove(first);
                }
                map.is_empty()
            }
        }
    }
    go(obj, path);
}

/// Whether `a` is `b` or an ancestor or descendant of it.
pub fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Drops every path overlapping any of `taken`.
pub fn subtract_overlapping(set: &mut FieldSet, taken: &FieldSet) {
    set.retain(|p| !taken.iter().any(|t| overlaps(p, t)));
}

/// Encodes a field set in the `FieldsV1` format of `managedFields`.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for key in path {
            node = node
                .entry(format!("f:{key}"))
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("nodes are maps");
        }
        if !node.is_empty() {
            node.insert(".".into(), Value::Object(Map::new()));
        }
    }
    Value::Object(root)
}

/// Decodes a `FieldsV1` tree back into a field set. Entries this model does not produce
/// (`k:`/`v:` list elements) stop the walk at their list, which owns it whole.
pub fn from_fields_v1(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    walk_v1(v, &mut path, &mut out);
    out
}

fn walk_v1(v: &Value, path: &mut Vec<String>, out: &mut FieldSet) {
    let Some(map) = v.as_object() else {
        return;
    };
    let mut has_field_children = false;
    for (k, child) in map {
        if let Some(name) = k.strip_prefix("f:") {
            has_field_children = true;
            path.push(name.to_string());
            walk_v1(child, path, out);
            path.pop();
        }
    }
    if (!has_field_children || map.contains_key(".")) && !path.is_empty() {
        out.insert(path.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> FieldPath {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn leaves_stop_at_lists_and_skip_identity() {
        let obj = json!({
            "apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "labels": {"x": "1"}},
            "spec": {"listeners": [{"name": "a"}], "empty": {}, "gone": null}
        });
        let leaves = leaf_paths(&obj);
        assert_eq!(
            leaves,
            [p("metadata.labels.x"), p("spec.empty"), p("spec.listeners")]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn fields_v1_round_trips() {
        let set: FieldSet = [p("metadata.labels.x"), p("spec.a"), p("spec.b.c")]
            .into_iter()
            .collect();
        let v1 = to_fields_v1(&set);
        assert_eq!(v1["f:spec"]["f:b"]["f:c"], json!({}));
        assert_eq!(from_fields_v1(&v1), set);
    }

    #[test]
    fn changes_are_found_at_the_leaves() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1, "l": [1]}});
        let new = json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"x": 2, "l": [1]}});
        let changed = changed_paths(&old, &new);
        assert_eq!(
            changed,
            [p("metadata.labels.b"), p("metadata.labels.c"), p("spec.x")]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn removing_the_last_child_removes_the_parent() {
        let mut obj = json!({"metadata": {"name": "a", "labels": {"x": "1"}}});
        remove(&mut obj, &p("metadata.labels.x"));
        assert_eq!(obj, json!({"metadata": {"name": "a"}}));
    }
}
