//! VirtualHostOption (`gateway.solo.io/v1`): options for every virtual host of the Gateway
//! listeners it targets.

use super::cors::{CorsPolicy, CorsPolicyMergeSettings};
use super::headers::HeaderManipulation;
use super::matchers::{BufferPerRoute, CsrfPolicy};
use super::retries::RetryPolicy;
use super::schema::Unmodelled;
use super::status::PolicyStatus;
use super::target::PolicyTargetReferenceWithSectionName;
use super::transformation::TransformationStages;

option_kind! {
    /// VirtualHostOption's spec.
    pub struct VirtualHostOptionSpec for "VirtualHostOption" {
        /// Gateways, or single listeners of them by `sectionName`, in the policy's namespace.
        target_refs: PolicyTargetReferenceWithSectionName,
        options: VirtualHostOptions,
    }
    short_names: ["vho", "vhopts", "gvho"],
    crd_doc: "Options for every virtual host of the Gateways (or Gateway listeners) it targets.",
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
        transformations: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        extensions: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ratelimit_basic: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ratelimit_early: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        rate_limit_early_configs: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ratelimit: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        rate_limit_configs: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ratelimit_regular: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        rate_limit_regular_configs: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        waf: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        jwt: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        jwt_staged: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        rbac: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        extauth: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        dlp: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_early: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_late: Unmodelled,
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
