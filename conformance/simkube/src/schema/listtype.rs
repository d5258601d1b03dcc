//! `x-kubernetes-list-type: set | map`: no two items of a set alike, no two items of a
//! map list with the same keys (`x-kubernetes-list-map-keys`). A duplicate is reported
//! at its second occurrence, with the key it repeats.

use serde_json::{Map, Value};

use super::field::child_path;
use super::field::{FieldError, Reason};
use super::structural::{Additional, Node};

/// The list-type errors of `data` at `path`.
pub fn check(node: &Node, data: &Value, path: &str, out: &mut Vec<FieldError>) {
    match data {
        Value::Array(items) => {
            match node.list_type.as_deref() {
                Some("set") => {
                    for i in duplicates(items) {
                        out.push(duplicate(path, i, items[i].clone()));
                    }
                }
                Some("map") => {
                    let keys: Vec<Value> = items
                        .iter()
                        .map(|item| {
                            let mut key = Map::new();
                            for k in &node.list_map_keys {
                                if let Some(v) = item.get(k) {
                                    key.insert(k.clone(), v.clone());
                                }
                            }
                            Value::Object(key)
                        })
                        .collect();
                    for i in duplicates(&keys) {
                        out.push(duplicate(path, i, keys[i].clone()));
                    }
                }
                _ => {}
            }
            if let Some(item) = &node.items {
                for (i, v) in items.iter().enumerate() {
                    check(item, v, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(map) => {
            let child = |k: &str| child_path(path, k);
            for (k, v) in map {
                match node.property(k) {
                    Some(sub) => check(sub, v, &child(k), out),
                    None => {
                        if let Additional::Schema(sub) = &node.additional {
                            check(sub, v, &child(k), out);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn duplicate(path: &str, i: usize, value: Value) -> FieldError {
    FieldError::new(Reason::Duplicate, format!("{path}[{i}]"), Some(value), "")
}

/// Indices of the second occurrence of each repeated item.
fn duplicates(items: &[Value]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let before = items[..i].iter().filter(|x| *x == item).count();
        if before == 1 {
            out.push(i);
        }
    }
    out
}
