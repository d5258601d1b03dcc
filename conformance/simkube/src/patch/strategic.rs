//! Strategic merge patch, simplified.
//!
//! Upstream drives strategic merge from the Go struct tags of each built-in type. simkube
//! has no schemas, so it uses one table of the list fields whose elements merge by key
//! (containers by `name`, ports by `containerPort`/`port`, conditions by `type`, ...) and
//! treats every other list as replaced. It honours the directives `kubectl apply` emits:
//! `$patch` (`replace`, `delete`, `merge`), `$retainKeys`, `$deleteFromPrimitiveList/<f>`
//! and `$setElementOrder/<f>` (the last only for ordering, which it ignores). `finalizers`
//! is a primitive list merged as a set, as upstream.

use serde_json::{Map, Value};

/// The key elements of the list field `field` merge by, given one element.
fn merge_key(field: &str, element: &Map<String, Value>) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "envFrom" => "name",
        "volumeMounts" | "volumeDevices" => "mountPath",
        "hostAliases" => "ip",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "ports" if element.contains_key("containerPort") => "containerPort",
        "ports" => "port",
        _ => return None,
    })
}

/// Primitive lists that merge as sets instead of being replaced.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Applies `patch` to `target` in place.
pub fn apply(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        merge_map(target, p);
    } else {
        *target = patch.clone();
    }
}

fn merge_map(target: &mut Value, patch: &Map<String, Value>) {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = strip_directives(&Value::Object(patch.clone()));
            return;
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("just made a map");
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/")
                && let (Some(Value::Array(list)), Value::Array(gone)) = (t.get_mut(field), value)
            {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        match value {
            Value::Null => {
                t.remove(key);
            }
            Value::Object(child) => {
                if child.get("$patch").and_then(Value::as_str) == Some("delete") {
                    t.remove(key);
                } else {
                    merge_map(t.entry(key.clone()).or_insert(Value::Null), child);
                }
            }
            Value::Array(items) => {
                let merged = merge_list(key, t.get(key), items);
                t.insert(key.clone(), merged);
            }
            scalar => {
                t.insert(key.clone(), scalar.clone());
            }
        }
    }
}

fn merge_list(field: &str, current: Option<&Value>, patch: &[Value]) -> Value {
    let replace = patch
        .iter()
        .any(|e| e.get("$patch").and_then(Value::as_str) == Some("replace"));
    let elements: Vec<&Value> = patch
        .iter()
        .filter(|e| e.get("$patch").and_then(Value::as_str) != Some("replace"))
        .collect();
    let current = match current {
        Some(Value::Array(items)) if !replace => items.clone(),
        _ => return Value::Array(elements.into_iter().map(strip_directives).collect()),
    };
    if is_set_list(field) {
        let mut out = current;
        for e in elements {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        return Value::Array(out);
    }
    let Some(key) = elements
        .iter()
        .find_map(|e| e.as_object().and_then(|m| merge_key(field, m)))
    else {
        return Value::Array(elements.into_iter().map(strip_directives).collect());
    };
    let mut out = current;
    for e in elements {
        let Some(map) = e.as_object() else { continue };
        let id = map.get(key);
        let pos = out.iter().position(|c| c.get(key) == id && id.is_some());
        let delete = map.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => merge_map(&mut out[i], map),
            (None, false) => out.push(strip_directives(e)),
        }
    }
    Value::Array(out)
}

/// A copy of `v` without `$`-directives, for values inserted whole.
fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_merge_and_nulls_delete() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        apply(&mut t, &json!({"a": null, "b": {"c": 5}, "e": "x"}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": "x"}));
    }

    #[test]
    fn keyed_lists_merge_by_key() {
        let mut t = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        apply(
            &mut t,
            &json!({"spec": {
                "$setElementOrder/ports": [{"port": 80}, {"port": 8080}],
                "ports": [{"port": 80, "name": "web"}, {"port": 8080}, {"port": 443, "$patch": "delete"}]
            }}),
        );
        assert_eq!(
            t,
            json!({"spec": {"ports": [{"port": 80, "name": "web"}, {"port": 8080}]}})
        );
    }

    #[test]
    fn unknown_lists_are_replaced_and_finalizers_union() {
        let mut t = json!({"metadata": {"finalizers": ["a"]}, "spec": {"hosts": ["x", "y"]}});
        apply(
            &mut t,
            &json!({"metadata": {"finalizers": ["b"]}, "spec": {"hosts": ["z"]}}),
        );
        assert_eq!(
            t,
            json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"hosts": ["z"]}})
        );
    }

    #[test]
    fn directives_replace_retain_and_delete_from_primitive_lists() {
        let mut t = json!({"m": {"a": 1, "b": 2}, "n": {"x": 1, "y": 2}, "f": ["a", "b"]});
        apply(
            &mut t,
            &json!({
                "m": {"$patch": "replace", "c": 3},
                "n": {"$retainKeys": ["x", "z"], "z": 3},
                "$deleteFromPrimitiveList/f": ["a"]
            }),
        );
        assert_eq!(t, json!({"m": {"c": 3}, "n": {"x": 1, "z": 3}, "f": ["b"]}));
    }
}
