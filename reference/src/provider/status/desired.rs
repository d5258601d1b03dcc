//! What to write: the translator's desired status, reconciled with the object's current one.
//!
//! Pure, so the rules are tested without an API server:
//! - Translation has no clock and sets every `lastTransitionTime` to the Unix epoch. A
//!   condition keeps its current time when one of the same type already has the same status,
//!   and gets `now` otherwise (the Kubernetes convention: the time of the last status change).
//! - Nothing is written when the result equals the current status, so a status that differs
//!   only in `lastTransitionTime` never causes a write.
//! - A route's `status.parents` and a policy's `status.ancestors` are shared with other
//!   controllers: only the entries whose `controllerName` is ours are replaced.
//! - `observedGeneration` is the translator's; it is compared and written like any field.

use serde_json::{Map, Value, json};

use crate::translate::StatusPatch;

/// The JSON merge patch to send to the `status` subresource, or `None` when the object
/// already has the desired status.
///
/// `resource_version` is the version `current` was read at; a patch of a shared list (route
/// parents, policy ancestors) carries it, so the API server rejects it (409 Conflict, retried
/// with a fresh read) if another controller changed the list meanwhile: the list is replaced
/// as a whole, theirs included.
pub fn plan(
    patch: &StatusPatch,
    current: Option<&Value>,
    resource_version: Option<&str>,
    now: &str,
) -> Option<Value> {
    let current = current.filter(|status| !status.is_null());
    match patch {
        StatusPatch::Whole(desired) => plan_whole(desired, current, now),
        StatusPatch::RouteParents {
            controller_name,
            parents,
        } => plan_shared(
            SharedList::PARENTS,
            controller_name,
            parents,
            current,
            resource_version,
            now,
        ),
        StatusPatch::PolicyAncestors {
            controller_name,
            ancestors,
        } => plan_shared(
            SharedList::ANCESTORS,
            controller_name,
            ancestors,
            current,
            resource_version,
            now,
        ),
    }
}

/// A status list whose entries several controllers write, each its own.
struct SharedList {
    /// The list's field in `status`.
    field: &'static str,
}

impl SharedList {
    const PARENTS: SharedList = SharedList { field: "parents" };
    const ANCESTORS: SharedList = SharedList { field: "ancestors" };
}

fn plan_whole(desired: &Value, current: Option<&Value>, now: &str) -> Option<Value> {
    let mut desired = desired.clone();
    strip_nulls(&mut desired);
    fix_times(&mut desired, current, now);
    let empty = Value::Object(Map::new());
    let current = current.unwrap_or(&empty);
    (*current != desired).then(|| json!({ "status": merge_patch(current, &desired) }))
}

fn plan_shared(
    list: SharedList,
    controller_name: &str,
    desired: &[Value],
    current: Option<&Value>,
    resource_version: Option<&str>,
    now: &str,
) -> Option<Value> {
    let current_parents = current
        .and_then(|s| s.get(list.field))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let is_ours = |entry: &&Value| {
        entry.get("controllerName").and_then(Value::as_str) == Some(controller_name)
    };
    let ours_now: Vec<&Value> = current_parents.iter().filter(is_ours).collect();
    let ours_now_list = Value::Array(ours_now.iter().map(|v| (*v).clone()).collect());

    let mut ours = Vec::with_capacity(desired.len());
    for (index, entry) in desired.iter().enumerate() {
        let mut entry = entry.clone();
        strip_nulls(&mut entry);
        if let Some(obj) = entry.as_object_mut() {
            obj.entry("controllerName")
                .or_insert_with(|| Value::String(controller_name.to_string()));
        }
        let before = counterpart(&entry, index, Some(&ours_now_list));
        fix_times(&mut entry, before, now);
        ours.push(entry);
    }
    if ours_now.len() == ours.len() && ours_now.iter().zip(&ours).all(|(a, b)| *a == b) {
        return None;
    }
    let mut parents: Vec<Value> = current_parents
        .iter()
        .filter(|e| !is_ours(e))
        .cloned()
        .collect();
    parents.extend(ours);
    let mut body = json!({ "status": { list.field: parents } });
    if let Some(rv) = resource_version {
        body["metadata"] = json!({ "resourceVersion": rv });
    }
    Some(body)
}

/// Set every condition's `lastTransitionTime` in `desired`, looking up the condition it
/// replaces in `current` (the same place in the previous status).
fn fix_times(desired: &mut Value, current: Option<&Value>, now: &str) {
    match desired {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let before = current.and_then(|c| c.get(key));
                if key == "conditions" {
                    fix_conditions(value, before, now);
                } else {
                    fix_times(value, before, now);
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let before = counterpart(item, index, current);
                fix_times(item, before, now);
            }
        }
        _ => {}
    }
}

fn fix_conditions(conditions: &mut Value, current: Option<&Value>, now: &str) {
    let current = current.and_then(Value::as_array);
    let Some(conditions) = conditions.as_array_mut() else {
        return;
    };
    for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
        let kept = current
            .and_then(|list| list.iter().find(|c| c.get("type") == condition.get("type")))
            .filter(|c| c.get("status") == condition.get("status"))
            .and_then(|c| c.get("lastTransitionTime"))
            .cloned();
        condition.insert(
            "lastTransitionTime".into(),
            kept.unwrap_or_else(|| Value::String(now.to_string())),
        );
    }
}

/// The element of `current` (an array) that `item` takes the place of: the one with the same
/// identity (listeners by `name`, route parents by `parentRef` and policy ancestors by
/// `ancestorRef`, each with `controllerName`), or else the one at the same position.
fn counterpart<'a>(item: &Value, index: usize, current: Option<&'a Value>) -> Option<&'a Value> {
    let items = current?.as_array()?;
    for identity in ["name", "parentRef", "ancestorRef"] {
        if let Some(id) = item.get(identity) {
            return items.iter().find(|c| {
                c.get(identity) == Some(id) && c.get("controllerName") == item.get("controllerName")
            });
        }
    }
    items.get(index)
}

/// RFC 7386: the merge patch that turns `current` into `desired`.
fn merge_patch(current: &Value, desired: &Value) -> Value {
    match (current, desired) {
        (Value::Object(current), Value::Object(desired)) => {
            let mut patch = Map::new();
            for (key, want) in desired {
                match current.get(key) {
                    Some(have) if have == want => {}
                    Some(have) => {
                        patch.insert(key.clone(), merge_patch(have, want));
                    }
                    None => {
                        patch.insert(key.clone(), want.clone());
                    }
                }
            }
            for key in current.keys().filter(|key| !desired.contains_key(*key)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        _ => desired.clone(),
    }
}

/// In a merge patch `null` means "remove"; an absent field is what a desired `null` means.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
