//! Status shapes: Gateway API's PolicyStatus for the policy kinds, conditions for the rest.
//!
//! K8sGateway itself writes solo-kit `statuses` on the option kinds and nothing on the
//! others; gatesim writes the Gateway API shape instead (as kgateway does), so policy status
//! reads like route status: one entry per ancestor and controller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::Condition;

/// Status of a policy: how it stands with each object it affects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatus {
    /// One entry per ancestor and controller. Each controller writes and removes only its
    /// own entries.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub ancestors: Vec<PolicyAncestorStatus>,
}

/// A policy's status with respect to one ancestor (a Gateway or a route), as one controller
/// sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAncestorStatus {
    pub ancestor_ref: ParentReference,
    /// The controller that wrote this entry.
    #[schemars(length(min = 1, max = 253))]
    pub controller_name: String,
    #[serde(default)]
    #[schemars(length(max = 8))]
    pub conditions: Vec<Condition>,
}

/// Gateway API's reference to a parent (or ancestor) object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// Status of the kinds that are not policies (Upstream, GatewayParameters, Settings).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The `metadata.generation` the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    #[schemars(length(max = 8))]
    pub conditions: Vec<Condition>,
}
