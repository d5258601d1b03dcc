//! Status matching, with upstream's rules (`conformance/utils/kubernetes/helpers.go`):
//! conditions match by type and, when given, status and reason; every condition of the object
//! and of every `parents[]` entry must carry the object's generation as observedGeneration;
//! parents match by group, kind, name and namespace and by controller; listeners by name, with
//! `attachedRoutes`, `supportedKinds` containment (`[]`: none at all) and conditions.
//! Policy `ancestors` follow the `parents` rules (ancestorRef match, controller, observedGeneration
//! on every condition of every entry, `exact`). A policy has no conditions of its own: when the
//! status holds `ancestors` and no `conditions`, a plain `conditions:` list is matched against
//! every ancestor entry the run's controller wrote (at least one must exist), which is what a
//! user who writes "the RouteOption is Accepted" means.
//!
//! The check is a pure function of the expectation and the object as read, so it is tested on
//! hand-built statuses; it returns every problem it finds, in words, for failure reports.

use serde_json::Value;

use crate::scenario::{
    ConditionExpectation, ListenerExpectation, ParentRefExpectation, StatusExpectation,
};

/// What the check needs besides the expectation and the object.
#[derive(Clone, Copy, Debug)]
pub struct StatusContext<'a> {
    /// The run GatewayClass's controller: only its `parents[]` entries are matched.
    pub controller_name: &'a str,
    /// `metadata.generation` before the scenario's latest apply or patch of the object: outer
    /// `None` when the scenario never wrote it, inner `None` when that write created it.
    pub generation_before: Option<Option<i64>>,
}

/// Every way `object` falls short of `expected`; empty when it matches.
pub fn check(expected: &StatusExpectation, object: &Value, ctx: StatusContext<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let own_namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();

    if expected.generation_changed {
        match ctx.generation_before {
            None => problems.push(
                "generationChanged: the scenario never applied or patched this object".to_owned(),
            ),
            Some(Some(before)) if before == generation => problems.push(format!(
                "generationChanged: metadata.generation is still {generation}, as before the \
                 latest apply or patch (a change that did not touch the spec?)"
            )),
            Some(_) => {}
        }
    }

    let conditions = list(object.pointer("/status/conditions"));
    let ancestors = list(object.pointer("/status/ancestors"));
    stale_conditions(conditions, generation, "", &mut problems);
    let policy_conditions = conditions.is_empty() && !ancestors.is_empty();
    if expected.ancestors.is_some() || (policy_conditions && expected.conditions.is_some()) {
        let (entries, refs) = (ancestors, ("ancestorRef", "ancestor"));
        stale_entries(entries, refs, generation, own_namespace, &mut problems);
    }
    if let Some(wanted) = &expected.conditions {
        if policy_conditions {
            match_policy_conditions(
                wanted,
                ancestors,
                own_namespace,
                ctx.controller_name,
                &mut problems,
            );
        } else {
            match_conditions(wanted, conditions, "", &mut problems);
        }
    }

    if let Some(wanted) = &expected.parents {
        let entries = list(object.pointer("/status/parents"));
        let refs = ("parentRef", "parent");
        stale_entries(entries, refs, generation, own_namespace, &mut problems);
        let refs: Vec<(&ParentRefExpectation, &[ConditionExpectation])> = wanted
            .iter()
            .map(|p| (&p.parent_ref, p.conditions.as_slice()))
            .collect();
        match_refs(
            &refs,
            entries,
            "parentRef",
            "parents",
            own_namespace,
            expected.exact,
            ctx.controller_name,
            &mut problems,
        );
    }

    if let Some(wanted) = &expected.ancestors {
        let entries = list(object.pointer("/status/ancestors"));
        let refs: Vec<(&ParentRefExpectation, &[ConditionExpectation])> = wanted
            .iter()
            .map(|a| (&a.ancestor_ref, a.conditions.as_slice()))
            .collect();
        match_refs(
            &refs,
            entries,
            "ancestorRef",
            "ancestors",
            own_namespace,
            expected.exact,
            ctx.controller_name,
            &mut problems,
        );
    }

    if let Some(wanted) = &expected.listeners {
        match_listeners(
            wanted,
            list(object.pointer("/status/listeners")),
            expected.exact,
            &mut problems,
        );
    }
    problems
}

fn list(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn prefixed(label: &str, message: String) -> String {
    if label.is_empty() {
        message
    } else {
        format!("{label}: {message}")
    }
}

fn stale_conditions(conditions: &[Value], generation: i64, label: &str, out: &mut Vec<String>) {
    for c in conditions {
        let observed = c.get("observedGeneration").and_then(Value::as_i64);
        if observed != Some(generation) {
            out.push(prefixed(
                label,
                format!(
                    "condition {} has observedGeneration {}, but metadata.generation is {generation}",
                    text(c, "type"),
                    observed.map_or_else(|| "unset".to_owned(), |g| g.to_string()),
                ),
            ));
        }
    }
}

/// Stale conditions of every entry of a `parents` or `ancestors` list; `refs` names the entry's
/// reference key and how a message calls the entry.
fn stale_entries(
    entries: &[Value],
    (ref_key, word): (&str, &str),
    generation: i64,
    own_namespace: &str,
    out: &mut Vec<String>,
) {
    for entry in entries {
        let label = format!(
            "{word} {}",
            describe_actual_ref(entry.get(ref_key), own_namespace)
        );
        stale_conditions(list(entry.get("conditions")), generation, &label, out);
    }
}

fn describe_expected_condition(c: &ConditionExpectation) -> String {
    let mut parts = Vec::new();
    if let Some(s) = c.status {
        parts.push(format!("status {s}"));
    }
    if let Some(r) = &c.reason {
        parts.push(format!("reason {r}"));
    }
    if parts.is_empty() {
        "present".to_owned()
    } else {
        parts.join(", ")
    }
}

/// upstream's `findConditionInList`: any condition of the type whose status and reason fit.
fn condition_problem(wanted: &ConditionExpectation, actual: &[Value]) -> Option<String> {
    let same_type: Vec<&Value> = actual
        .iter()
        .filter(|c| text(c, "type") == wanted.type_)
        .collect();
    let fits = |c: &&Value| {
        wanted
            .status
            .is_none_or(|s| text(c, "status") == s.as_str())
            && wanted
                .reason
                .as_deref()
                .is_none_or(|r| text(c, "reason") == r)
    };
    if same_type.iter().any(fits) {
        return None;
    }
    let expected = describe_expected_condition(wanted);
    if same_type.is_empty() {
        let present: Vec<&str> = actual.iter().map(|c| text(c, "type")).collect();
        return Some(format!(
            "condition {}: expected {expected}, but there is none (conditions: [{}])",
            wanted.type_,
            present.join(", ")
        ));
    }
    let got: Vec<String> = same_type
        .iter()
        .map(|c| {
            let message = text(c, "message");
            let mut s = format!("status {}, reason {}", text(c, "status"), text(c, "reason"));
            if !message.is_empty() {
                s.push_str(&format!(" ({message})"));
            }
            s
        })
        .collect();
    Some(format!(
        "condition {}: expected {expected}, got {}",
        wanted.type_,
        got.join("; ")
    ))
}

/// A policy's own `conditions:` expectation, read from every ancestor entry of `controller`.
fn match_policy_conditions(
    wanted: &[ConditionExpectation],
    ancestors: &[Value],
    own_namespace: &str,
    controller: &str,
    out: &mut Vec<String>,
) {
    let ours: Vec<&Value> = ancestors
        .iter()
        .filter(|e| text(e, "controllerName") == controller)
        .collect();
    if ours.is_empty() {
        out.push(format!(
            "conditions: the object has no conditions of its own and no status.ancestors entry \
             from controller {controller} to read them from"
        ));
    }
    for entry in ours {
        let label = format!(
            "ancestor {}",
            describe_actual_ref(entry.get("ancestorRef"), own_namespace)
        );
        match_conditions(wanted, list(entry.get("conditions")), &label, out);
    }
}

fn match_conditions(
    wanted: &[ConditionExpectation],
    actual: &[Value],
    label: &str,
    out: &mut Vec<String>,
) {
    for w in wanted {
        if let Some(problem) = condition_problem(w, actual) {
            out.push(prefixed(label, problem));
        }
    }
}

/// A parentRef written in status, with the defaults the API applies.
fn actual_ref(value: Option<&Value>, own_namespace: &str) -> (String, String, String, String) {
    let v = value.cloned().unwrap_or(Value::Null);
    let or = |key: &str, default: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(default)
            .to_owned()
    };
    (
        or("group", "gateway.networking.k8s.io"),
        or("kind", "Gateway"),
        or("namespace", own_namespace),
        or("name", ""),
    )
}

fn describe_actual_ref(value: Option<&Value>, own_namespace: &str) -> String {
    let (_, kind, ns, name) = actual_ref(value, own_namespace);
    let section = value
        .and_then(|v| v.get("sectionName"))
        .and_then(Value::as_str)
        .map(|s| format!(" section {s}"))
        .unwrap_or_default();
    format!("{kind} {ns}/{name}{section}")
}

fn describe_expected_ref(r: &ParentRefExpectation, own_namespace: &str) -> String {
    let section = r
        .section_name
        .as_deref()
        .map(|s| format!(" section {s}"))
        .unwrap_or_default();
    format!(
        "{} {}/{}{section}",
        r.kind(),
        r.namespace.as_deref().unwrap_or(own_namespace),
        r.name
    )
}

/// A namespace left out means the route's own, on both sides; `sectionName` and `port` are
/// not compared, as upstream.
fn ref_matches(wanted: &ParentRefExpectation, actual: Option<&Value>, own_namespace: &str) -> bool {
    let (group, kind, namespace, name) = actual_ref(actual, own_namespace);
    group == wanted.group()
        && kind == wanted.kind()
        && name == wanted.name
        && namespace == wanted.namespace.as_deref().unwrap_or(own_namespace)
}

#[allow(clippy::too_many_arguments)]
fn match_refs(
    wanted: &[(&ParentRefExpectation, &[ConditionExpectation])],
    entries: &[Value],
    ref_key: &str,
    list_name: &str,
    own_namespace: &str,
    exact: bool,
    controller: &str,
    out: &mut Vec<String>,
) {
    let ours: Vec<&Value> = entries
        .iter()
        .filter(|e| text(e, "controllerName") == controller)
        .collect();
    let mut used = vec![false; ours.len()];
    for (want, conditions) in wanted {
        let candidates: Vec<usize> = (0..ours.len())
            .filter(|&i| ref_matches(want, ours[i].get(ref_key), own_namespace))
            .collect();
        let label = format!(
            "{list_name} entry {}",
            describe_expected_ref(want, own_namespace)
        );
        if candidates.is_empty() {
            let present: Vec<String> = ours
                .iter()
                .map(|e| describe_actual_ref(e.get(ref_key), own_namespace))
                .collect();
            out.push(format!(
                "{label}: missing; status.{list_name} from controller {controller} has [{}]",
                present.join(", ")
            ));
            continue;
        }
        for &i in &candidates {
            used[i] = true;
        }
        let fitting = candidates.iter().find(|&&i| {
            let actual = list(ours[i].get("conditions"));
            conditions
                .iter()
                .all(|c| condition_problem(c, actual).is_none())
        });
        if fitting.is_none() {
            let actual = list(ours[candidates[0]].get("conditions"));
            match_conditions(conditions, actual, &label, out);
        }
    }
    if exact {
        for (i, entry) in ours.iter().enumerate() {
            if !used[i] {
                out.push(format!(
                    "{list_name}: unexpected entry {} from controller {controller} (exact: true)",
                    describe_actual_ref(entry.get(ref_key), own_namespace)
                ));
            }
        }
    }
}

fn match_listeners(
    wanted: &[ListenerExpectation],
    actual: &[Value],
    exact: bool,
    out: &mut Vec<String>,
) {
    for want in wanted {
        let Some(listener) = actual.iter().find(|l| text(l, "name") == want.name) else {
            let present: Vec<&str> = actual.iter().map(|l| text(l, "name")).collect();
            out.push(format!(
                "listener {}: missing from status.listeners [{}]",
                want.name,
                present.join(", ")
            ));
            continue;
        };
        let label = format!("listener {}", want.name);
        if let Some(routes) = want.attached_routes {
            let got = listener.get("attachedRoutes").and_then(Value::as_i64);
            if got != Some(i64::from(routes)) {
                out.push(format!(
                    "{label}: attachedRoutes expected {routes}, got {}",
                    got.map_or_else(|| "unset".to_owned(), |g| g.to_string())
                ));
            }
        }
        if let Some(kinds) = &want.supported_kinds {
            let present: Vec<(String, String)> = list(listener.get("supportedKinds"))
                .iter()
                .map(|k| {
                    let group = k
                        .get("group")
                        .and_then(Value::as_str)
                        .unwrap_or("gateway.networking.k8s.io");
                    (group.to_owned(), text(k, "kind").to_owned())
                })
                .collect();
            let shown: Vec<String> = present.iter().map(|(g, k)| format!("{g}/{k}")).collect();
            if kinds.is_empty() && !present.is_empty() {
                out.push(format!(
                    "{label}: supportedKinds expected empty, got [{}]",
                    shown.join(", ")
                ));
            }
            for kind in kinds {
                if !present
                    .iter()
                    .any(|(g, k)| g == kind.group() && *k == kind.kind)
                {
                    out.push(format!(
                        "{label}: supportedKinds lacks {}/{} (has [{}])",
                        kind.group(),
                        kind.kind,
                        shown.join(", ")
                    ));
                }
            }
        }
        match_conditions(
            &want.conditions,
            list(listener.get("conditions")),
            &label,
            out,
        );
    }
    if exact {
        let extra: Vec<&str> = actual
            .iter()
            .map(|l| text(l, "name"))
            .filter(|name| !wanted.iter().any(|w| w.name == *name))
            .collect();
        if !extra.is_empty() {
            out.push(format!(
                "listeners: unexpected {} in status (exact: true)",
                extra.join(", ")
            ));
        }
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
