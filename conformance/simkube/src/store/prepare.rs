//! Turning a request body into the object to store: validation, server-owned metadata,
//! the status subresource rules and the generation rule. Pure functions over JSON.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::kinds::KindSpec;
use crate::meta;
use crate::schema::FieldError;

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The main resource: everything but `status` when the kind has a status subresource.
    Main,
    /// The `status` subresource: only `status`.
    Status,
}

impl Target {
    /// `Some("status")` for the subresource, as recorded in managedFields.
    pub fn subresource(self) -> Option<&'static str> {
        match self {
            Target::Main => None,
            Target::Status => Some("status"),
        }
    }
}

/// Where a body is being written: the URL's namespace and name and the version asked for.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// Namespace from the URL (None for cluster-scoped kinds).
    pub namespace: Option<&'a str>,
    /// Name from the URL (None for a create).
    pub name: Option<&'a str>,
    /// Version from the URL.
    pub version: &'a str,
}

/// Checks the body's type and identity against the URL and sets them for storage: the
/// storage `apiVersion`, the `kind`, the URL's namespace and name.
pub fn normalize_body(
    spec: &KindSpec,
    mut body: Value,
    at: &Location<'_>,
) -> Result<Value, ApiError> {
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let expected_version = spec.api_version(at.version);
    if let Some(v) = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        && v != expected_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({expected_version})"
        )));
    }
    if let Some(k) = map
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        && k != spec.kind
    {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): kind {k}",
            spec.kind
        )));
    }
    map.insert(
        "apiVersion".into(),
        Value::String(spec.api_version(spec.storage_version())),
    );
    map.insert("kind".into(), Value::String(spec.kind.into()));

    let body_ns = meta::namespace(&body).map(String::from);
    let body_name = meta::name(&body).map(String::from);
    let metadata = meta::metadata_mut(&mut body);
    match (spec.namespaced, at.namespace) {
        (true, Some(ns)) => {
            if body_ns.as_deref().is_some_and(|b| b != ns) {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            metadata.insert("namespace".into(), Value::String(ns.into()));
        }
        _ => {
            metadata.remove("namespace");
        }
    }
    if let Some(name) = at.name {
        if body_name.as_deref().is_some_and(|b| b != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                body_name.unwrap_or_default()
            )));
        }
        metadata.insert("name".into(), Value::String(name.into()));
    }
    for field in ["labels", "annotations"] {
        match metadata.get(field) {
            None | Some(Value::Null) => {
                metadata.remove(field);
            }
            Some(Value::Object(m)) if m.values().all(Value::is_string) => {}
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "metadata.{field} must be a map of string keys to string values"
                )));
            }
        }
    }
    Ok(body)
}

/// Prepares a normalized body for creation: resolves `generateName`, validates the name
/// and sets the server-owned metadata.
pub fn for_create(spec: &KindSpec, mut obj: Value, now: &str) -> Result<Value, ApiError> {
    let name = match meta::name(&obj) {
        Some(n) => n.to_string(),
        None => match meta::meta_str(&obj, "generateName") {
            Some(prefix) => format!("{prefix}{}", meta::generated_suffix()),
            None => {
                return Err(ApiError::invalid(
                    spec,
                    "",
                    &[FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ));
            }
        },
    };
    validate_name(spec, &name)?;
    if spec.status_subresource {
        // Real servers ignore status on create when it is a subresource.
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    let metadata = meta::metadata_mut(&mut obj);
    metadata.insert("name".into(), Value::String(name));
    metadata.insert("uid".into(), Value::String(meta::new_uid()));
    metadata.insert("creationTimestamp".into(), Value::String(now.into()));
    if spec.tracks_generation() {
        metadata.insert("generation".into(), Value::from(1));
    } else {
        metadata.remove("generation");
    }
    for server_owned in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    ] {
        metadata.remove(server_owned);
    }
    Ok(obj)
}

fn validate_name(spec: &KindSpec, name: &str) -> Result<(), ApiError> {
    let problem = if spec.kind == "Namespace" {
        meta::invalid_label_name(name)
    } else {
        meta::invalid_subdomain(name)
    };
    match problem {
        Some(why) => Err(ApiError::invalid(
            spec,
            name,
            &[FieldError::invalid(
                "metadata.name",
                Value::String(name.into()),
                why,
            )],
        )),
        None => Ok(()),
    }
}

/// Prepares `incoming` (a full object, normalized) to replace `old` through `target`:
/// checks the resourceVersion precondition, keeps what the target may not change, keeps
/// server-owned metadata and applies the generation rule. `managedFields` are left as in
/// `old`; the caller records ownership.
pub fn for_update(
    spec: &KindSpec,
    old: &Value,
    incoming: Value,
    target: Target,
) -> Result<Value, ApiError> {
    let name = meta::name(old).unwrap_or_default();
    if let Some(rv) = meta::resource_version(&incoming)
        && Some(rv) != meta::resource_version(old)
    {
        return Err(ApiError::conflict(spec, name));
    }
    // A different uid is an attempt to change an immutable field (422), except in a status
    // write to a custom resource, whose strategy takes everything but status from the stored
    // object and so never sees it.
    if let Some(uid) = meta::meta_str(&incoming, "uid")
        && Some(uid) != meta::meta_str(old, "uid")
        && !(spec.custom && target == Target::Status)
    {
        return Err(ApiError::invalid(
            spec,
            name,
            &[FieldError::invalid(
                "metadata.uid",
                Value::String(uid.into()),
                "field is immutable",
            )],
        ));
    }
    let mut new = match target {
        Target::Main => {
            let mut new = incoming;
            if spec.status_subresource {
                set_or_remove(&mut new, "status", old.get("status"));
            }
            new
        }
        Target::Status => {
            let mut new = old.clone();
            set_or_remove(&mut new, "status", incoming.get("status"));
            new
        }
    };
    let old_meta = meta::metadata(old).cloned().unwrap_or_default();
    let new_meta = meta::metadata_mut(&mut new);
    for kept in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
        "managedFields",
    ] {
        match old_meta.get(kept) {
            Some(v) => new_meta.insert(kept.into(), v.clone()),
            None => new_meta.remove(kept),
        };
    }
    new_meta.remove("selfLink");
    if meta::is_deleting(old) {
        let before = meta::finalizers(old);
        let added: Vec<String> = meta::finalizers(&new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .map(String::from)
            .collect();
        if !added.is_empty() {
            return Err(ApiError::invalid(
                spec,
                name,
                &[FieldError::forbidden(
                    "metadata.finalizers",
                    format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                )],
            ));
        }
    }
    if spec.tracks_generation() && spec_changed(spec, old, &new) {
        let g = meta::generation(old) + 1;
        meta::metadata_mut(&mut new).insert("generation".into(), Value::from(g));
    }
    Ok(new)
}

/// Whether anything outside `metadata` (and outside `status`, for kinds whose status is a
/// subresource) differs: the changes that bump `generation`.
pub fn spec_changed(spec: &KindSpec, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if spec.status_subresource {
            m.remove("status");
        }
        m
    };
    strip(old) != strip(new)
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<&Value>) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    match value {
        Some(v) => map.insert(field.into(), v.clone()),
        None => map.remove(field),
    };
}

/// Narrows an apply configuration to what `target` may change, keeping the identity.
pub fn narrow_apply_config(spec: &KindSpec, config: &Value, target: Target) -> Value {
    let mut out = config.clone();
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    match target {
        Target::Main if spec.status_subresource => {
            map.remove("status");
        }
        Target::Main => {}
        Target::Status => {
            map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
            if let Some(Value::Object(m)) = map.get_mut("metadata") {
                m.retain(|k, _| {
                    matches!(k.as_str(), "name" | "namespace" | "resourceVersion" | "uid")
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::KINDS;
    use serde_json::json;

    fn gateway() -> &'static KindSpec {
        KINDS.iter().find(|k| k.kind == "Gateway").unwrap()
    }

    fn stored() -> Value {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "ns", "uid": "u", "generation": 3,
                         "resourceVersion": "10", "labels": {"a": "1"}},
            "spec": {"gatewayClassName": "c"},
            "status": {"conditions": []}
        })
    }

    #[test]
    fn labels_and_status_do_not_bump_generation() {
        let mut relabeled = stored();
        relabeled["metadata"]["labels"]["a"] = json!("2");
        relabeled["status"] = json!({"ignored": true});
        let out = for_update(gateway(), &stored(), relabeled, Target::Main).unwrap();
        assert_eq!(out["metadata"]["generation"], json!(3));
        assert_eq!(
            out["status"],
            json!({"conditions": []}),
            "main writes keep status"
        );

        let mut status = stored();
        status["status"] = json!({"conditions": [{"type": "Accepted"}]});
        status["spec"] = json!({"ignored": true});
        let out = for_update(gateway(), &stored(), status, Target::Status).unwrap();
        assert_eq!(out["metadata"]["generation"], json!(3));
        assert_eq!(
            out["spec"],
            json!({"gatewayClassName": "c"}),
            "status writes keep spec"
        );
        assert_eq!(out["status"]["conditions"][0]["type"], json!("Accepted"));
    }

    #[test]
    fn spec_changes_bump_generation_and_stale_versions_conflict() {
        let mut changed = stored();
        changed["spec"]["gatewayClassName"] = json!("d");
        let out = for_update(gateway(), &stored(), changed.clone(), Target::Main).unwrap();
        assert_eq!(out["metadata"]["generation"], json!(4));
        changed["metadata"]["resourceVersion"] = json!("9");
        let err = for_update(gateway(), &stored(), changed, Target::Main).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
    }

    #[test]
    fn bodies_must_match_the_url() {
        let at = Location {
            namespace: Some("ns"),
            name: Some("gw"),
            version: "v1beta1",
        };
        let ok = normalize_body(gateway(), json!({"metadata": {}}), &at).unwrap();
        assert_eq!(
            ok["apiVersion"],
            json!("gateway.networking.k8s.io/v1"),
            "stored at v1"
        );
        assert_eq!(ok["metadata"], json!({"name": "gw", "namespace": "ns"}));
        for bad in [
            json!({"kind": "Service"}),
            json!({"apiVersion": "gateway.networking.k8s.io/v1"}),
            json!({"metadata": {"namespace": "other"}}),
            json!({"metadata": {"name": "other"}}),
            json!({"metadata": {"labels": {"a": 1}}}),
            json!([1]),
        ] {
            assert_eq!(
                normalize_body(gateway(), bad.clone(), &at)
                    .unwrap_err()
                    .code,
                400,
                "{bad}"
            );
        }
    }
}
