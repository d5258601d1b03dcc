//! VirtualHostOption (`gateway.solo.io/v1`): options for every virtual host of the Gateway
//! listeners it targets.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cors::{CorsPolicy, CorsPolicyMergeSettings};
use super::headers::HeaderManipulation;
use super::matchers::{BufferPerRoute, CsrfPolicy};
use super::retries::RetryPolicy;
use super::schema::preserve_unknown;
use super::status::PolicyStatus;
use super::target::PolicyTargetReferenceWithSectionName;
use super::transformation::TransformationStages;

/// VirtualHostOption's spec.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "gateway.solo.io",
    version = "v1",
    kind = "VirtualHostOption",
    namespaced,
    status = "PolicyStatus",
    derive = "Default",
    derive = "PartialEq",
    shortname = "vho",
    shortname = "vhopts",
    shortname = "gvho",
    category = "gloo-gateway",
    doc = "Options for every virtual host of the Gateways (or Gateway listeners) it targets."
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualHostOptionSpec {
    /// Gateways, or single listeners of them by `sectionName`, in the policy's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub target_refs: Option<Vec<PolicyTargetReferenceWithSectionName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<VirtualHostOptions>,
}

message! {
    /// gloo's `VirtualHostOptions`.
    pub struct VirtualHostOptions {
        header_manipulation: HeaderManipulation,
        cors: CorsPolicy,
        cors_policy_merge_settings: CorsPolicyMergeSettings,
        retries: RetryPolicy,
        /// Adds `x-envoy-attempt-count` to requests sent upstream.
        include_request_attempt_count: bool,
        /// Adds `x-envoy-attempt-count` to responses.
        include_attempt_count_in_response: bool,
        csrf: CsrfPolicy,
        buffer_per_route: BufferPerRoute,
        stats: Stats,
        staged_transformations: TransformationStages,
        /// Deprecated predecessor of `stagedTransformations`.
        /// Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        transformations: Value,
        /// Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        extensions: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        ratelimit_basic: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        ratelimit_early: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        rate_limit_early_configs: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        ratelimit: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        rate_limit_configs: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        ratelimit_regular: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        rate_limit_regular_configs: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        waf: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        jwt: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        jwt_staged: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        rbac: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        extauth: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        dlp: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        ext_proc_early: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        ext_proc: Value,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        ext_proc_late: Value,
    }
}

message! {
    /// Statistics per virtual cluster (groups of requests by path and method).
    pub struct Stats {
        virtual_clusters: Vec<VirtualCluster>,
    }
}

message! {
    pub struct VirtualCluster {
        name: String,
        /// Regular expression on the request path.
        pattern: String,
        method: String,
    }
}
