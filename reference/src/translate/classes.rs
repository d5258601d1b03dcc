//! GatewayClasses: which are ours, and whether they are accepted.

use std::collections::BTreeMap;

use serde_json::json;

use super::conditions::{Problem, condition, kind, reason};
use super::output::{ObjectRef, StatusPatch, StatusUpdate};
use super::{features, parameters};
use crate::api::GATEWAY_GROUP;
use crate::api::k8sgateway::gateway_parameters::GatewayParametersSpec;
use crate::model::ResourceSet;

/// A class's acceptance: when accepted, the default GatewayParameters of its Gateways.
pub(crate) type ClassOutcome = Result<Option<GatewayParametersSpec>, Problem>;

/// Our GatewayClasses by name, each with its acceptance outcome.
pub(crate) fn evaluate(set: &ResourceSet) -> BTreeMap<String, ClassOutcome> {
    set.gateway_classes
        .values()
        .filter(|gc| gc.spec.controller_name == set.config.controller_name)
        .map(|gc| {
            let name = gc.metadata.name.clone().unwrap_or_default();
            let outcome = match super::invalid::class(set, gc) {
                Some(invalid) => Err(invalid),
                None => parameters::class_default(set, gc),
            };
            (name, outcome)
        })
        .collect()
}

pub(crate) fn statuses(
    set: &ResourceSet,
    classes: &BTreeMap<String, ClassOutcome>,
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
