//! Route status: one `status.parents` entry per parentRef that names a Gateway of ours.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::RouteInfo;
use super::attach::ParentOutcome;
use crate::api::GATEWAY_GROUP;
use crate::model::ObjectKey;
use crate::translate::conditions::{Problem, condition, kind, reason};
use crate::translate::output::{ObjectRef, StatusPatch, StatusUpdate};

/// `delegators`: for a route delegated to, each HTTPRoute that delegates to it and whether it
/// was accepted there (with the message that says so); each gets an entry like a Gateway
/// parent's, its parentRef naming that HTTPRoute.
pub(crate) fn route_status(
    route: &RouteInfo,
    outcomes: &[ParentOutcome],
    delegators: Option<&BTreeMap<ObjectKey, Result<String, Problem>>>,
    resolved_refs: Option<&Problem>,
    rules_problem: Option<&Problem>,
    controller_name: &str,
) -> StatusUpdate {
    let generation = route.generation;
    let resolved = || {
        condition(
            kind::RESOLVED_REFS,
            resolved_refs.map_or(Ok(reason::RESOLVED_REFS), Err),
            "All references are resolved",
            generation,
        )
    };
    let delegated = delegators.into_iter().flatten().map(|(parent, accepted)| {
        let (result, message) = match accepted {
            Ok(m) => (rules_problem.map_or(Ok(reason::ACCEPTED), Err), m.as_str()),
            Err(p) => (Err(p), ""),
        };
        json!({
            "parentRef": {
                "group": GATEWAY_GROUP,
                "kind": "HTTPRoute",
                "namespace": parent.namespace,
                "name": parent.name,
            },
            "controllerName": controller_name,
            "conditions": [condition(kind::ACCEPTED, result, message, generation), resolved()],
        })
    });
    let parents: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let conditions = vec![
                condition(
                    kind::ACCEPTED,
                    match (&o.result, rules_problem) {
                        (Err(p), _) | (Ok(_), Some(p)) => Err(p),
                        (Ok(_), None) => Ok(reason::ACCEPTED),
                    },
                    "Route is accepted",
                    generation,
                ),
                resolved(),
            ];
            json!({
                "parentRef": route.parent_refs[o.parent].status_json(),
                "controllerName": controller_name,
                "conditions": conditions,
            })
        })
        .chain(delegated)
        .collect();
    StatusUpdate {
        target: ObjectRef {
            api_version: format!("{GATEWAY_GROUP}/v1"),
            kind: route.kind.to_string(),
            namespace: Some(route.key.namespace.clone()),
            name: route.key.name.clone(),
        },
        patch: StatusPatch::RouteParents {
            controller_name: controller_name.to_string(),
            parents: std::sync::Arc::new(parents),
        },
    }
}
