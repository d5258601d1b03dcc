//! `invalid-value-contained`: one field of one object corrupted with a value the API or Envoy
//! forbids (see `gatesim_generate::corrupt`) is refused by field, reaches no Envoy, and
//! changes nothing else: the proxy configuration and every other object's status are exactly
//! those of the same world without the corrupted object, and Envoy accepts the configuration.

use std::path::Path;

use gatesim_generate::Corruption;
use gatesim_reference::translate::{StatusPatch, StatusUpdate, Translation};
use serde_json::Value;

use super::cluster;
use super::properties::{Translate, Translated, translate_guarded};

/// Checks the case's corruption (a case without one, a world without routes, holds).
pub fn check(
    translate: Translate<'_>,
    t: &Translated<'_>,
    envoy: Option<&Path>,
) -> Result<(), String> {
    let Some(c) = &t.corruption else {
        return Ok(());
    };
    let clean = cluster::objects(t.world)?;
    let mut corrupted = clean.clone();
    if !c.apply(&mut corrupted) {
        return Err(format!("the corrupted object of {c} is not in the world"));
    }
    let mut without = clean;
    c.remove(&mut without);
    let got = translate_guarded(translate, &cluster::resource_set(corrupted)?)?;
    let want = translate_guarded(translate, &cluster::resource_set(without)?)?;
    if got.proxies != want.proxies {
        return Err(format!(
            "with {c}, the proxy configuration is not the one without that object"
        ));
    }
    let others = |tr: &Translation| -> Vec<String> {
        tr.statuses
            .iter()
            .filter(|s| !is_subject(c, s))
            .map(|s| serde_json::to_string(s).unwrap_or_default())
            .collect()
    };
    if others(&got) != others(&want) {
        let changed: Vec<String> = got
            .statuses
            .iter()
            .filter(|s| !is_subject(c, s) && !want.statuses.contains(s))
            .map(|s| format!("{} {}", s.target.kind, s.target.name))
            .collect();
        return Err(format!(
            "with {c}, the status of other objects changed: {changed:?}"
        ));
    }
    subject_refused(c, t, &got)?;
    if let Some(envoy) = envoy {
        for (gw, proxy) in &got.proxies {
            gatesim_reference::infra::validate::validate_proxy(envoy, proxy).map_err(|e| {
                format!("with {c}, Envoy rejects the configuration of Gateway {gw}: {e}")
            })?;
        }
    }
    Ok(())
}

fn is_subject(c: &Corruption, s: &StatusUpdate) -> bool {
    c.names(
        &s.target.kind,
        s.target.namespace.as_deref().unwrap_or_default(),
        &s.target.name,
    )
}

/// The conditions of each parent (or ancestor) entry the corrupted object got.
fn entries(c: &Corruption, t: &Translation) -> Vec<Vec<Value>> {
    t.statuses
        .iter()
        .filter(|s| is_subject(c, s))
        .flat_map(|s| match &s.patch {
            StatusPatch::RouteParents { parents, .. } => parents.to_vec(),
            StatusPatch::PolicyAncestors { ancestors, .. } => ancestors.clone(),
            StatusPatch::Whole(v) => vec![v.clone()],
        })
        .map(|e| e["conditions"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The corrupted object is never Accepted; where our controller reports on it at all (its
/// route is Accepted by one of our Gateways in the clean world), every entry says
/// Accepted=False naming the field.
fn subject_refused(c: &Corruption, t: &Translated<'_>, got: &Translation) -> Result<(), String> {
    let field = c.field();
    let route = c.policy_for.as_deref().unwrap_or(&c.name);
    let reported = t.translation.statuses.iter().any(|s| {
        s.target.kind == "HTTPRoute"
            && s.target.namespace.as_deref() == Some(c.namespace.as_str())
            && s.target.name == route
            && matches!(&s.patch, StatusPatch::RouteParents { parents, .. }
                if parents.iter().any(|p| accepted(p["conditions"].as_array()) == Some(true)))
    });
    let found = entries(c, got);
    if reported && found.is_empty() {
        return Err(format!("{c} got no status"));
    }
    for conditions in &found {
        let refused = conditions.iter().any(|k| {
            k["type"] == "Accepted"
                && k["status"] == "False"
                && k["message"].as_str().is_some_and(|m| m.contains(&field))
        });
        if !refused {
            return Err(format!(
                "{c} is not refused naming {field}: {}",
                serde_json::to_string(conditions).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

fn accepted(conditions: Option<&Vec<Value>>) -> Option<bool> {
    conditions?
        .iter()
        .find(|k| k["type"] == "Accepted")
        .map(|k| k["status"] == "True")
}
