//! The status a translation wrote, compared with the status the oracle allows.

use gatesim_reference::translate::{StatusPatch, Translation};
use serde_json::Value;

use crate::oracle::{Cond, WorldStatus};

fn conditions(v: &Value) -> &[Value] {
    v.get("conditions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn condition<'a>(list: &'a [Value], kind: &str) -> Option<(bool, &'a str)> {
    list.iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| {
            (
                c.get("status").and_then(Value::as_str) == Some("True"),
                c.get("reason").and_then(Value::as_str).unwrap_or(""),
            )
        })
}

fn check_cond(label: &str, list: &[Value], kind: &str, want: &Cond, out: &mut Vec<String>) {
    match condition(list, kind) {
        None => out.push(format!("{label}: no {kind} condition")),
        Some((status, reason)) if !want.admits(status, reason) => out.push(format!(
            "{label}: {kind} is {status} ({reason}); the specification allows {} ({})",
            want.status,
            if want.reasons.is_empty() {
                "any reason".to_owned()
            } else {
                want.reasons.join(" or ")
            }
        )),
        Some(_) => {}
    }
}

/// A condition whose status the specification fixes and whose reason it leaves open.
fn check_status(label: &str, list: &[Value], kind: &str, want: bool, out: &mut Vec<String>) {
    let want = Cond {
        status: want,
        reasons: Vec::new(),
    };
    check_cond(label, list, kind, &want, out);
}

fn find<'a>(t: &'a Translation, kind: &str, ns: &str, name: &str) -> Option<&'a StatusPatch> {
    t.statuses
        .iter()
        .find(|s| {
            s.target.kind == kind
                && s.target.namespace.as_deref() == Some(ns)
                && s.target.name == name
        })
        .map(|s| &s.patch)
}

/// Every difference between `t`'s status and `want`; empty when they agree.
pub fn compare(t: &Translation, want: &WorldStatus) -> Vec<String> {
    let mut out = Vec::new();
    for gw in &want.gateways {
        let label = format!("Gateway {}/{}", gw.namespace, gw.name);
        let Some(StatusPatch::Whole(status)) = find(t, "Gateway", &gw.namespace, &gw.name) else {
            out.push(format!("{label}: no status"));
            continue;
        };
        check_status(
            &label,
            conditions(status),
            "Accepted",
            gw.accepted,
            &mut out,
        );
        let listeners = status
            .get("listeners")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for l in &gw.listeners {
            let label = format!("{label} listener {}", l.name);
            let Some(actual) = listeners
                .iter()
                .find(|a| a.get("name").and_then(Value::as_str) == Some(&l.name))
            else {
                out.push(format!("{label}: no status"));
                continue;
            };
            let conds = conditions(actual);
            check_cond(&label, conds, "Conflicted", &l.conflicted, &mut out);
            check_cond(&label, conds, "ResolvedRefs", &l.resolved_refs, &mut out);
            check_status(&label, conds, "Accepted", l.accepted, &mut out);
            let attached = actual
                .get("attachedRoutes")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX) as usize;
            let (lo, hi) = l.attached_routes;
            if attached < lo || attached > hi {
                out.push(format!(
                    "{label}: attachedRoutes is {attached}; the specification allows {lo} to {hi}"
                ));
            }
            let kinds: Vec<(String, String)> = actual
                .get("supportedKinds")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|k| {
                    (
                        k.get("group")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        k.get("kind")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )
                })
                .collect();
            let want_kinds: Vec<(String, String)> = l
                .supported_kinds
                .iter()
                .map(|k| (k.group.clone(), k.kind.clone()))
                .collect();
            if kinds != want_kinds {
                out.push(format!(
                    "{label}: supportedKinds is {kinds:?}; the specification requires {want_kinds:?}"
                ));
            }
        }
    }
    for route in &want.routes {
        let label = format!("HTTPRoute {}/{}", route.namespace, route.name);
        let parents: &[Value] = match find(t, "HTTPRoute", &route.namespace, &route.name) {
            Some(StatusPatch::RouteParents { parents, .. }) => parents.as_slice(),
            _ => &[],
        };
        if parents.len() != route.parents.len() {
            out.push(format!(
                "{label}: {} parent statuses; the specification requires {} (one per parentRef \
                 naming a Gateway of this controller)",
                parents.len(),
                route.parents.len()
            ));
            continue;
        }
        for (want, actual) in route.parents.iter().zip(parents) {
            let label = format!(
                "{label} parent {}/{}",
                want.gateway_namespace, want.gateway_name
            );
            let name = actual.pointer("/parentRef/name").and_then(Value::as_str);
            if name != Some(&want.gateway_name) {
                out.push(format!("{label}: status entry names {name:?}"));
                continue;
            }
            let conds = conditions(actual);
            check_cond(&label, conds, "Accepted", &want.accepted, &mut out);
            check_cond(&label, conds, "ResolvedRefs", &want.resolved_refs, &mut out);
        }
    }
    out
}
