//! Running the CEL rules of a schema over an object: every node with rules is evaluated
//! where the object has a value, `oldSelf` bound where the old object has one that
//! correlates (object fields by name, items of map lists by key), transition rules
//! skipped where it has none.

use serde_json::Value;

use super::cel::{Outcome, to_cel};
use super::field::child_path;
use super::field::{FieldError, Reason};
use super::structural::{Additional, Node};

/// The rule errors of `data` (with `old`, on updates) at `path`.
pub fn check(
    node: &Node,
    data: &Value,
    old: Option<&Value>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if data.is_null() || !node.has_rules() {
        return;
    }
    evaluate(node, data, old, path, out);
    for sub in &node.all_of {
        evaluate(sub, data, old, path, out);
    }
    match data {
        Value::Array(items) => {
            let Some(item) = &node.items else {
                return;
            };
            let old_items = old.and_then(Value::as_array);
            for (i, v) in items.iter().enumerate() {
                let old_item = match (node.list_type.as_deref(), old_items) {
                    (Some("map"), Some(olds)) => olds
                        .iter()
                        .find(|o| node.list_map_keys.iter().all(|k| o.get(k) == v.get(k))),
                    _ => None,
                };
                check(item, v, old_item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            let child = |k: &str| child_path(path, k);
            let old_map = old.and_then(Value::as_object);
            if let Additional::Schema(sub) = &node.additional {
                for (k, v) in map.iter().filter(|(k, _)| node.property(k).is_none()) {
                    check(sub, v, old_map.and_then(|m| m.get(k)), &child(k), out);
                }
            }
            for (name, sub) in &node.properties {
                if let Some(v) = map.get(name) {
                    check(sub, v, old_map.and_then(|m| m.get(name)), &child(name), out);
                }
            }
        }
        _ => {}
    }
}

fn evaluate(node: &Node, data: &Value, old: Option<&Value>, path: &str, out: &mut Vec<FieldError>) {
    if node.rules.is_empty() {
        return;
    }
    let this = to_cel(data, Some(node));
    let before = old.map(|o| to_cel(o, Some(node)));
    let ty = Value::String(node.type_name().to_string());
    for rule in &node.rules {
        if rule.uses_old_self && before.is_none() {
            continue;
        }
        match rule.eval(&this, before.as_ref()) {
            Outcome::Holds => {}
            Outcome::Fails(detail) => {
                let field = match &rule.field_path {
                    Some(p) if path.is_empty() => p.clone(),
                    Some(p) if p.starts_with('[') => format!("{path}{p}"),
                    Some(p) => format!("{path}.{p}"),
                    None => path.to_string(),
                };
                out.push(match rule.reason {
                    Reason::Forbidden => FieldError::forbidden(field, detail),
                    Reason::Required => FieldError::required(field, detail),
                    Reason::Duplicate => {
                        FieldError::new(Reason::Duplicate, field, Some(ty.clone()), "")
                    }
                    _ => FieldError::invalid(field, ty.clone(), detail),
                });
            }
            Outcome::Error(detail) => out.push(FieldError::invalid(path, ty.clone(), detail)),
        }
    }
}
