//! What kube-apiserver does to a custom resource before validating it: drop fields the
//! schema does not declare (reporting their paths, for `fieldValidation`), drop nulls the
//! schema does not allow, and fill in the schema's defaults.

use serde_json::{Map, Value};

use super::structural::{Additional, Node};

/// The fields of `metadata` a server keeps (ObjectMeta's JSON fields).
const OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Removes the fields `root` does not declare from an object, returning their paths
/// (`spec.rules[0].matchez`) in document order.
pub fn prune(root: &Node, obj: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Some(map) = obj.as_object_mut() {
        prune_resource(root, map, "", &mut unknown);
    }
    unknown
}

/// A resource (the object, or an embedded one): `apiVersion`, `kind` and `metadata`
/// are always known; metadata keeps the ObjectMeta fields.
fn prune_resource(
    node: &Node,
    map: &mut Map<String, Value>,
    path: &str,
    unknown: &mut Vec<String>,
) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        let meta_path = join("metadata");
        meta.retain(|k, _| {
            let known = OBJECT_META.contains(&k.as_str());
            if !known {
                unknown.push(format!("{meta_path}.{k}"));
            }
            known
        });
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        prune_field(node, map, &k, &join(&k), unknown);
    }
}

fn prune_field(
    node: &Node,
    map: &mut Map<String, Value>,
    key: &str,
    path: &str,
    unknown: &mut Vec<String>,
) {
    let sub = match node.property(key) {
        Some(sub) => Some(sub),
        None => match &node.additional {
            Additional::Schema(sub) => Some(sub.as_ref()),
            Additional::Allowed(true) => None,
            _ if node.preserve_unknown => None,
            _ => {
                unknown.push(path.to_string());
                map.remove(key);
                return;
            }
        },
    };
    if let (Some(sub), Some(v)) = (sub, map.get_mut(key)) {
        prune_value(sub, v, path, unknown);
    }
}

fn prune_value(node: &Node, v: &mut Value, path: &str, unknown: &mut Vec<String>) {
    match v {
        Value::Object(map) if node.embedded_resource => prune_resource(node, map, path, unknown),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                prune_field(node, map, &k, &format!("{path}.{k}"), unknown);
            }
        }
        Value::Array(items) => {
            if let Some(item) = &node.items {
                for (i, v) in items.iter_mut().enumerate() {
                    prune_value(item, v, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

/// Drops `null` where the schema allows no null and has no default to put there
/// instead (a client writing `field: null` means "unset").
pub fn drop_nulls(node: &Node, v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, val| {
                let sub = child(node, k);
                !(val.is_null() && sub.is_some_and(|s| !s.nullable && s.default.is_none()))
            });
            for (k, val) in map.iter_mut() {
                if let Some(sub) = child(node, k) {
                    drop_nulls(sub, val);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &node.items {
                for v in items {
                    drop_nulls(item, v);
                }
            }
        }
        _ => {}
    }
}

/// Structural defaulting: a property's default fills it where it is absent (or a null
/// the schema does not allow), parents before children, so a defaulted parent gets its
/// children's defaults too.
pub fn default(node: &Node, v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (name, sub) in &node.properties {
                if let Some(d) = &sub.default {
                    let missing = match map.get(name) {
                        None => true,
                        Some(Value::Null) => !sub.nullable,
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(name.clone(), d.clone());
                    }
                }
            }
            for (k, val) in map.iter_mut() {
                if let Some(sub) = child(node, k) {
                    default(sub, val);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &node.items {
                for v in items {
                    if v.is_null()
                        && !item.nullable
                        && let Some(d) = &item.default
                    {
                        *v = d.clone();
                    }
                    default(item, v);
                }
            }
        }
        _ => {}
    }
}

fn child<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.property(key).or(match &node.additional {
        Additional::Schema(sub) => Some(sub.as_ref()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Node {
        Node::parse(&json!({"type": "object", "properties": {
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {
                "rules": {"type": "array", "default": [{"matches": [{}]}], "items": {
                    "type": "object", "properties": {
                        "matches": {"type": "array", "items": {"type": "object", "properties": {
                            "path": {"type": "object", "default": {"type": "PathPrefix"}, "properties": {
                                "type": {"type": "string"}}}}}},
                        "weight": {"type": "integer", "default": 1},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                    }}}}}
        }}))
        .unwrap()
    }

    #[test]
    fn unknown_fields_are_pruned_with_their_paths() {
        let mut obj = json!({"apiVersion": "v", "kind": "K", "metadata": {"name": "n", "bogus": 1},
            "spec": {"rules": [{"matchez": [], "labels": {"any": "x"}}], "extra": true}});
        let unknown = prune(&schema(), &mut obj);
        assert_eq!(
            unknown,
            vec!["metadata.bogus", "spec.extra", "spec.rules[0].matchez"]
        );
        assert_eq!(obj["spec"], json!({"rules": [{"labels": {"any": "x"}}]}));
    }

    #[test]
    fn defaults_fill_parents_then_children_and_nulls_go() {
        let node = schema();
        let mut obj = json!({"spec": {}});
        default(&node, &mut obj);
        assert_eq!(
            obj["spec"]["rules"],
            json!([{"matches": [{"path": {"type": "PathPrefix"}}], "weight": 1}])
        );
        let mut with_null = json!({"spec": {"rules": [{"labels": null, "weight": null}]}});
        drop_nulls(&node, &mut with_null);
        default(&node, &mut with_null);
        assert_eq!(with_null["spec"]["rules"][0], json!({"weight": 1}));
    }
}
