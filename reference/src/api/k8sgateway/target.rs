//! What a policy attaches to (`spec.targetRefs`), as K8sGateway's skv2 references spell it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference from a RouteOption to the HTTPRoute it applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTargetReference {
    /// API group of the target; `gateway.networking.k8s.io` for Gateway API kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[schemars(length(min = 1))]
    pub kind: String,
    #[schemars(length(min = 1))]
    pub name: String,
    /// Only the policy's own namespace is honoured; K8sGateway keeps the field for
    /// compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A reference to a Gateway, optionally narrowed to one of its listeners.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTargetReferenceWithSectionName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[schemars(length(min = 1))]
    pub kind: String,
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The listener (by name) the policy applies to; all of the target's listeners when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}
