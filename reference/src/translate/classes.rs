//! GatewayClasses: which are ours, and whether they are accepted.

use std::collections::BTreeMap;

use serde_json::json;

use super::conditions::{Problem, condition, kind, reason};
use super::features;
use super::output::{ObjectRef, StatusPatch, StatusUpdate};
use crate::api::GATEWAY_GROUP;
use crate::model::ResourceSet;

/// Our GatewayClasses by name, each with its acceptance outcome.
pub(crate) fn evaluate(set: &ResourceSet) -> BTreeMap<String, Result<(), Problem>> {
    set.gateway_classes
        .values()
        .filter(|gc| gc.spec.controller_name == set.config.controller_name)
        .map(|gc| {
            let name = gc.metadata.name.clone().unwrap_or_default();
            let outcome = match (super::invalid::class(set, gc), &gc.spec.parameters_ref) {
                (Some(invalid), _) => Err(invalid),
                (None, None) => Ok(()),
                (None, Some(p)) => Err(Problem::new(
                    reason::INVALID_PARAMETERS,
                    format!(
                        "parametersRef {}/{} {} is not supported by this controller",
                        p.group, p.kind, p.name
                    ),
                )),
            };
            (name, outcome)
        })
        .collect()
}

pub(crate) fn statuses(
    set: &ResourceSet,
    classes: &BTreeMap<String, Result<(), Problem>>,
    out: &mut Vec<StatusUpdate>,
) {
    for (name, outcome) in classes {
        let Some(gc) = set
            .gateway_classes
            .get(&crate::model::ObjectKey::cluster(name))
        else {
            continue;
        };
        let generation = gc.metadata.generation;
        let conditions = vec![
            condition(
                kind::ACCEPTED,
                outcome.as_ref().map(|_| reason::ACCEPTED),
                "GatewayClass is accepted by this controller",
                generation,
            ),
            condition(
                kind::SUPPORTED_VERSION,
                Ok(reason::SUPPORTED_VERSION),
                "Gateway API version is supported",
                generation,
            ),
        ];
        let supported: Vec<_> = features::SUPPORTED
            .iter()
            .map(|f| json!({ "name": f }))
            .collect();
        out.push(StatusUpdate {
            target: ObjectRef {
                api_version: format!("{GATEWAY_GROUP}/v1"),
                kind: "GatewayClass".into(),
                namespace: None,
                name: name.clone(),
            },
            patch: StatusPatch::Whole(json!({
                "conditions": conditions,
                "supportedFeatures": supported,
            })),
        });
    }
}
