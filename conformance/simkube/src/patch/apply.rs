//! Server-side apply (`application/apply-patch+yaml`), over the simplified field model of
//! [`crate::fields`] (maps merge, lists are atomic).
//!
//! What it keeps from upstream: the applier's previous field set is replaced by what it
//! applies now, so a field it stops listing is removed unless another manager also owns
//! it; a field another manager owns with a different value is a conflict unless `force`,
//! which moves ownership; applying to an absent object creates it.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::fields::{self, FieldPath};
use crate::kinds::KindSpec;
use crate::managed::{self, Entry, Operation, Writer};

/// The outcome of an apply: the merged object and the new `managedFields` entries.
#[derive(Debug)]
pub struct Applied {
    /// `current` with the configuration applied.
    pub object: Value,
    /// Ownership after the apply.
    pub entries: Vec<Entry>,
}

/// Applies `config` (already narrowed to the part the target may change) for `writer`.
///
/// `finalize` applies server defaults to the merged object before conflicts are judged,
/// so a field is only in conflict when the apply would really change its value (an
/// atomic list that the server filled defaults into is not).
pub fn apply(
    spec: &KindSpec,
    name: &str,
    current: Option<&Value>,
    config: &Value,
    force: bool,
    writer: &Writer<'_>,
    finalize: &mut dyn FnMut(&mut Value),
) -> Result<Applied, ApiError> {
    let applied = fields::leaf_paths(config);
    let mut entries = current.map(managed::read).unwrap_or_default();
    let mut object = current.cloned().unwrap_or_else(|| json!({}));

    let is_self = |e: &Entry| {
        e.manager == writer.manager
            && e.operation == Operation::Apply
            && e.subresource.as_deref() == writer.subresource
    };
    let previous = entries
        .iter()
        .find(|e| is_self(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    for gone in previous.difference(&applied) {
        let shared = entries
            .iter()
            .filter(|e| !is_self(e))
            .any(|e| e.fields.iter().any(|q| fields::overlaps(q, gone)));
        let reapplied = applied.iter().any(|a| fields::overlaps(a, gone));
        if !shared && !reapplied {
            fields::remove(&mut object, gone);
        }
    }
    merge_config(&mut object, config);
    finalize(&mut object);

    let before = current.cloned().unwrap_or(Value::Null);
    let mut conflicts: Vec<(usize, FieldPath)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.manager == writer.manager {
            continue;
        }
        for p in &applied {
            let owned = e.fields.iter().any(|q| fields::overlaps(p, q));
            if owned && fields::get(&before, p) != fields::get(&object, p) {
                conflicts.push((i, p.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            let listed: Vec<(String, String)> = conflicts
                .iter()
                .map(|(i, p)| (entries[*i].manager.clone(), format!(".{}", p.join("."))))
                .collect();
            return Err(ApiError::apply_conflicts(spec, name, &listed));
        }
        for (i, p) in &conflicts {
            entries[*i].fields.retain(|q| !fields::overlaps(q, p));
        }
    }

    let entry = managed::entry_mut(&mut entries, writer, Operation::Apply);
    entry.fields = applied;
    Ok(Applied { object, entries })
}

/// Merges an apply configuration: maps recursively, everything else replaced; nulls in
/// the configuration are ignored.
fn merge_config(target: &mut Value, config: &Value) {
    match (target, config) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                match v {
                    Value::Null => {}
                    Value::Object(_) => {
                        let slot = t.entry(k.clone()).or_insert_with(|| json!({}));
                        if !slot.is_object() {
                            *slot = json!({});
                        }
                        merge_config(slot, v);
                    }
                    other => {
                        t.insert(k.clone(), other.clone());
                    }
                }
            }
        }
        (t, c) => *t = c.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::KINDS;

    fn gateway_spec() -> &'static KindSpec {
        KINDS.iter().find(|k| k.kind == "Gateway").unwrap()
    }

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "gateway.networking.k8s.io/v1",
            subresource: None,
            now: "2024-01-01T00:00:00Z",
        }
    }

    fn apply_as(
        current: Option<&Value>,
        config: Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, ApiError> {
        let out = apply(
            gateway_spec(),
            "gw",
            current,
            &config,
            force,
            &writer(manager),
            &mut |_| {},
        )?;
        let mut object = out.object;
        managed::write(&mut object, &out.entries);
        Ok(object)
    }

    #[test]
    fn reapplying_drops_what_is_no_longer_listed() {
        let first = apply_as(
            None,
            json!({"metadata": {"name": "gw", "labels": {"a": "1", "b": "2"}},
                   "spec": {"listeners": [{"name": "x"}, {"name": "y"}], "extra": 1}}),
            "harness",
            false,
        )
        .unwrap();
        let second = apply_as(
            Some(&first),
            json!({"metadata": {"name": "gw", "labels": {"a": "1"}},
                   "spec": {"listeners": [{"name": "x"}]}}),
            "harness",
            false,
        )
        .unwrap();
        assert_eq!(second["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(second["spec"], json!({"listeners": [{"name": "x"}]}));
    }

    #[test]
    fn fields_shared_with_another_manager_survive_and_conflicts_need_force() {
        let base = apply_as(
            None,
            json!({"metadata": {"name": "gw"}, "spec": {"a": 1, "b": 2}}),
            "one",
            false,
        )
        .unwrap();
        // Same value: shared ownership, no conflict.
        let shared = apply_as(
            Some(&base),
            json!({"metadata": {"name": "gw"}, "spec": {"a": 1}}),
            "two",
            false,
        )
        .unwrap();
        // "one" stops listing a: "two" still owns it, so it stays.
        let kept = apply_as(
            Some(&shared),
            json!({"metadata": {"name": "gw"}, "spec": {"b": 2}}),
            "one",
            false,
        )
        .unwrap();
        assert_eq!(kept["spec"]["a"], json!(1));
        // Different value: conflict, unless forced.
        let err = apply_as(
            Some(&kept),
            json!({"metadata": {"name": "gw"}, "spec": {"b": 3}}),
            "two",
            false,
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains("conflict with \"one\": .spec.b"),
            "{}",
            err.message
        );
        let forced = apply_as(
            Some(&kept),
            json!({"metadata": {"name": "gw"}, "spec": {"b": 3}}),
            "two",
            true,
        )
        .unwrap();
        assert_eq!(forced["spec"]["b"], json!(3));
        let owners = managed::summary(&forced);
        assert!(owners.get("one/Apply").is_none(), "{owners:?}");
    }
}
