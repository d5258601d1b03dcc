//! RouteOption (`gateway.solo.io/v1`): options for the rules of the HTTPRoutes it targets,
//! or of one rule through an `ExtensionRef` filter.

use super::cors::CorsPolicy;
use super::headers::HeaderManipulation;
use super::matchers::{BufferPerRoute, CsrfPolicy, RegexMatchAndSubstitute};
use super::retries::RetryPolicy;
use super::schema::{Percent, ProtoDuration, Struct, Unmodelled};
use super::status::PolicyStatus;
use super::target::PolicyTargetReference;
use super::transformation::TransformationStages;

option_kind! {
    /// RouteOption's spec.
    pub struct RouteOptionSpec for "RouteOption" {
        /// HTTPRoutes whose every rule gets these options.
        target_refs: PolicyTargetReference,
        options: RouteOptions,
    }
    short_names: ["rto", "rtopts", "grto"],
    crd_doc: "Options for the rules of the HTTPRoutes it targets, or of one rule that names it in an ExtensionRef filter.",
}

message! {
    /// gloo's `RouteOptions`.
    pub struct RouteOptions {
        faults: RouteFaults,
        /// Replaces the matched path prefix.
        prefix_rewrite: String,
        /// Rewrites the path by regular expression.
        regex_rewrite: RegexMatchAndSubstitute,
        /// Upstream request timeout (`0s` disables it).
        timeout: ProtoDuration,
        idle_timeout: ProtoDuration,
        max_stream_duration: MaxStreamDuration,
        retries: RetryPolicy,
        header_manipulation: HeaderManipulation,
        /// Sets the Host header sent upstream. One of `hostRewrite`, `autoHostRewrite`,
        /// `hostRewritePathRegex` and `hostRewriteHeader`.
        host_rewrite: String,
        /// Sets the Host header to the upstream host's name.
        auto_host_rewrite: bool,
        /// Sets the Host header from the path, by regular expression.
        host_rewrite_path_regex: RegexMatchAndSubstitute,
        /// Sets the Host header from another request header.
        host_rewrite_header: String,
        /// Keeps the original Host in `x-forwarded-host` when it is rewritten.
        append_x_forwarded_host: bool,
        cors: CorsPolicy,
        csrf: CsrfPolicy,
        lb_hash: RouteActionHashConfig,
        upgrades: Vec<ProtocolUpgradeConfig>,
        buffer_per_route: BufferPerRoute,
        staged_transformations: TransformationStages,
        /// Deprecated predecessor of `stagedTransformations`.
        /// Accepted by the schema, not implemented by gatesim.
        transformations: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        extensions: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        tracing: Unmodelled,
        /// Request mirroring to an Upstream.
        /// Accepted by the schema, not implemented by gatesim.
        shadowing: Unmodelled,
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
        jwt_providers_staged: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        rbac: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        extauth: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        dlp: Unmodelled,
        /// Route metadata by filter namespace.
        /// Accepted by the schema, not implemented by gatesim.
        envoy_metadata: std::collections::BTreeMap<String, Struct>,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_early: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_late: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ai: Unmodelled,
    }
}

message! {
    /// Faults injected into a share of the route's requests.
    pub struct RouteFaults {
        abort: RouteAbort,
        delay: RouteDelay,
    }
}

message! {
    /// Answers a share of requests with `httpStatus` instead of forwarding them.
    pub struct RouteAbort {
        /// Percentage of requests aborted.
        percentage: Percent,
        #[schemars(range(min = 200, max = 599))]
        http_status: u32,
    }
}

message! {
    /// Delays a share of requests by `fixedDelay`.
    pub struct RouteDelay {
        /// Percentage of requests delayed.
        percentage: Percent,
        fixed_delay: ProtoDuration,
    }
}

message! {
    /// Limits on a stream's lifetime.
    pub struct MaxStreamDuration {
        max_stream_duration: ProtoDuration,
        /// Cap on a gRPC client's `grpc-timeout` header.
        grpc_timeout_header_max: ProtoDuration,
        grpc_timeout_header_offset: ProtoDuration,
    }
}

message! {
    /// Consistent-hash load balancing keys.
    pub struct RouteActionHashConfig {
        hash_policies: Vec<HashPolicy>,
    }
}

message! {
    /// One hash key: a header, a cookie or the source IP (one of them).
    pub struct HashPolicy {
        header: String,
        cookie: Cookie,
        source_ip: bool,
        /// Stop at this policy when it yields a hash.
        terminal: bool,
    }
}

message! {
    /// A cookie to hash; Envoy sets it when absent and `ttl` is given.
    pub struct Cookie {
        name: String,
        ttl: ProtoDuration,
        path: String,
    }
}

message! {
    /// A protocol upgrade to allow or refuse (one of the three).
    pub struct ProtocolUpgradeConfig {
        websocket: ProtocolUpgradeSpec,
        connect: ProtocolUpgradeSpec,
        connect_terminate: ProtocolUpgradeSpec,
    }
}

message! {
    pub struct ProtocolUpgradeSpec {
        enabled: bool,
    }
}
