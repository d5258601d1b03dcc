//! Route status: one `status.parents` entry per parentRef that names a Gateway of ours.

use serde_json::{Value, json};

use super::RouteInfo;
use super::attach::ParentOutcome;
use crate::api::GATEWAY_GROUP;
use crate::translate::conditions::{Problem, condition, kind, reason};
use crate::translate::output::{ObjectRef, StatusPatch, StatusUpdate};

pub(crate) fn route_status(
    route: &RouteInfo,
    outcomes: &[ParentOutcome],
    resolved_refs: Option<&Problem>,
    rules_problem: Option<&Problem>,
    controller_name: &str,
) -> StatusUpdate {
    let generation = route.generation;
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
                condition(
                    kind::RESOLVED_REFS,
                    resolved_refs.map_or(Ok(reason::RESOLVED_REFS), Err),
                    "All references are resolved",
                    generation,
                ),
            ];
            json!({
                "parentRef": route.parent_refs[o.parent].status_json(),
                "controllerName": controller_name,
                "conditions": conditions,
            })
        })
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
            parents,
        },
    }
}
