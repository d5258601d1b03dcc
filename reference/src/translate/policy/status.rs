//! Policy status: Gateway API's PolicyStatus (`status.ancestors`) for every policy object.
//!
//! One entry per ancestor: the HTTPRoute for RouteOption and DirectResponse (the object whose
//! rules they change), the Gateway, with the listener as `sectionName` when the policy names
//! one, for the Gateway-level kinds. A target that does not exist is an ancestor too, so the
//! entry can say which of several targets is wrong. Conditions:
//!
//! - `Accepted`: `Accepted`; or False with `Invalid` (a value gatesim refuses, naming the
//!   field), `TargetNotFound` (naming the target), `Conflicted` (a first-wins kind that lost).
//! - `Attached`, only when accepted: `Attached` (all of its fields are in effect), `Merged`
//!   (some are, the message lists the others and what overrides them) or False `Overridden`
//!   (none is).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rank::Outcome;
use crate::api::GATEWAY_GROUP;
use crate::model::{ObjectKey, StoredKind};
use crate::translate::conditions::{Problem, condition, kind, reason};
use crate::translate::output::{ObjectRef, StatusPatch, StatusUpdate};

/// The CRDs allow 16 ancestors per policy.
const MAX_ANCESTORS: usize = 16;

/// Condition messages stay readable: a long list of lost fields is cut here.
const MAX_MESSAGE: usize = 2048;

/// Policy-specific reasons and the `Attached` condition type (Gateway API's policy ones).
pub(crate) mod policy_reason {
    pub const ATTACHED: &str = "Attached";
    pub const MERGED: &str = "Merged";
    pub const OVERRIDDEN: &str = "Overridden";
    pub const TARGET_NOT_FOUND: &str = "TargetNotFound";
    pub const CONFLICTED: &str = "Conflicted";
}

const ATTACHED: &str = "Attached";

/// An ancestor as written in `ancestorRef`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ancestor {
    pub group: String,
    pub kind: String,
    pub key: ObjectKey,
    pub section_name: Option<String>,
}

impl Ancestor {
    pub fn route(key: &ObjectKey) -> Self {
        Self::new(GATEWAY_GROUP, "HTTPRoute", key, None)
    }

    pub fn gateway(key: &ObjectKey, section_name: Option<&str>) -> Self {
        Self::new(GATEWAY_GROUP, "Gateway", key, section_name)
    }

    /// A target as written, whatever it names.
    pub fn new(group: &str, kind: &str, key: &ObjectKey, section_name: Option<&str>) -> Self {
        Self {
            group: group.to_string(),
            kind: kind.to_string(),
            key: key.clone(),
            section_name: section_name.map(str::to_string),
        }
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "group": self.group,
            "kind": self.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
        });
        if let Some(s) = &self.section_name {
            v["sectionName"] = json!(s);
        }
        v
    }
}

impl std::fmt::Display for Ancestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.key)?;
        if let Some(s) = &self.section_name {
            write!(f, " (listener {s})")?;
        }
        Ok(())
    }
}

/// How a policy stands with one ancestor, gathered over every place it applies there (each
/// rule of a route, each listener of a Gateway).
#[derive(Debug, Default)]
struct AncestorState {
    not_found: Option<String>,
    conflicted: Vec<String>,
    lost: Vec<String>,
    /// Some of its fields are in effect somewhere under this ancestor.
    applied: bool,
    /// Competed somewhere (was a candidate), as opposed to only being named.
    competed: bool,
}

#[derive(Debug)]
struct Entry {
    target: ObjectRef,
    generation: Option<i64>,
    invalid: Option<Problem>,
    ancestors: BTreeMap<Ancestor, AncestorState>,
}

/// Everything policy resolution learns about each policy object, keyed by kind and object.
#[derive(Debug, Default)]
pub(crate) struct Report {
    entries: BTreeMap<(&'static str, ObjectKey), Entry>,
}

impl Report {
    /// Every policy object gets an entry, so that one that no longer attaches anywhere has
    /// this controller's stale ancestors removed.
    pub fn register<K: StoredKind>(
        &mut self,
        kind: &'static str,
        key: &ObjectKey,
        obj: &K,
        invalid: Option<Problem>,
    ) {
        self.entries.insert(
            (kind, key.clone()),
            Entry {
                target: ObjectRef {
                    api_version: K::api_version(&()).into_owned(),
                    kind: kind.to_string(),
                    namespace: Some(key.namespace.clone()),
                    name: key.name.clone(),
                },
                generation: obj.meta().generation,
                invalid,
                ancestors: BTreeMap::new(),
            },
        );
    }

    fn state(
        &mut self,
        kind: &'static str,
        key: &ObjectKey,
        a: &Ancestor,
    ) -> Option<&mut AncestorState> {
        let entry = self.entries.get_mut(&(kind, key.clone()))?;
        Some(entry.ancestors.entry(a.clone()).or_default())
    }

    /// The policy names `a` (a target or a route that refers to it) without competing there
    /// yet; an invalid policy still reports to it.
    pub fn named(&mut self, kind: &'static str, key: &ObjectKey, a: &Ancestor) {
        self.state(kind, key, a);
    }

    pub fn not_found(&mut self, kind: &'static str, key: &ObjectKey, a: &Ancestor, why: String) {
        if let Some(s) = self.state(kind, key, a) {
            s.not_found.get_or_insert(why);
        }
    }

    /// The outcome of one competition under `a`; `place` prefixes its messages (`rule 0`).
    pub fn outcome(
        &mut self,
        kind: &'static str,
        key: &ObjectKey,
        a: &Ancestor,
        place: &str,
        outcome: &Outcome<'_>,
    ) {
        let Some(s) = self.state(kind, key, a) else {
            return;
        };
        s.competed = true;
        s.applied |= outcome.applied;
        let at = |m: &String| {
            if place.is_empty() {
                m.clone()
            } else {
                format!("{place}: {m}")
            }
        };
        if let Some(c) = &outcome.share.conflicted {
            s.conflicted.push(at(c));
        }
        s.lost.extend(outcome.share.lost.iter().map(at));
    }

    /// The policy is in effect, whole, somewhere under `a` (a DirectResponse answering).
    pub fn applied(&mut self, kind: &'static str, key: &ObjectKey, a: &Ancestor) {
        if let Some(s) = self.state(kind, key, a) {
            s.competed = true;
            s.applied = true;
        }
    }

    /// A policy that cannot apply under `a` for a reason of its own there (a DirectResponse
    /// beside backendRefs).
    pub fn conflicted(&mut self, kind: &'static str, key: &ObjectKey, a: &Ancestor, why: String) {
        if let Some(s) = self.state(kind, key, a) {
            s.competed = true;
            s.conflicted.push(why);
        }
    }

    /// One status update per policy object, in a stable order.
    pub fn statuses(self, controller_name: &str, out: &mut Vec<StatusUpdate>) {
        for entry in self.entries.into_values() {
            let generation = entry.generation;
            let ancestors: Vec<Value> = entry
                .ancestors
                .iter()
                .take(MAX_ANCESTORS)
                .map(|(a, s)| {
                    json!({
                        "ancestorRef": a.json(),
                        "controllerName": controller_name,
                        "conditions": conditions(a, s, &entry, generation),
                    })
                })
                .collect();
            out.push(StatusUpdate {
                target: entry.target,
                patch: StatusPatch::PolicyAncestors {
                    controller_name: controller_name.to_string(),
                    ancestors,
                },
            });
        }
    }
}

fn conditions(
    a: &Ancestor,
    s: &AncestorState,
    entry: &Entry,
    generation: Option<i64>,
) -> Vec<crate::api::Condition> {
    let rejected = if let Some(p) = &entry.invalid {
        Some(p.clone())
    } else if let Some(m) = &s.not_found {
        Some(Problem::new(policy_reason::TARGET_NOT_FOUND, m.clone()))
    } else if !s.conflicted.is_empty() && !s.applied {
        Some(Problem::new(policy_reason::CONFLICTED, join(&s.conflicted)))
    } else {
        None
    };
    let accepted = condition(
        kind::ACCEPTED,
        rejected.as_ref().map_or(Ok(reason::ACCEPTED), Err),
        "the policy is valid and its target exists",
        generation,
    );
    if rejected.is_some() {
        return vec![accepted];
    }
    let mut lost = s.lost.clone();
    lost.extend(s.conflicted.iter().cloned());
    let in_effect = format!("in effect on {a}");
    let (attached, why, message) = if !s.competed {
        (
            false,
            policy_reason::OVERRIDDEN,
            format!("nothing under {a} uses it"),
        )
    } else if lost.is_empty() {
        (true, policy_reason::ATTACHED, in_effect)
    } else if s.applied {
        (true, policy_reason::MERGED, join(&lost))
    } else {
        (false, policy_reason::OVERRIDDEN, join(&lost))
    };
    let attached = if attached {
        condition(ATTACHED, Ok(why), &message, generation)
    } else {
        condition(ATTACHED, Err(&Problem::new(why, message)), "", generation)
    };
    vec![accepted, attached]
}

/// Messages joined, each once, cut at [`MAX_MESSAGE`].
fn join(messages: &[String]) -> String {
    let mut seen: Vec<&String> = Vec::new();
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    let mut out = seen
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    if out.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(" ...");
    }
    out
}
