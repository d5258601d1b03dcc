//! Staged transformations (`stagedTransformations`): request and response rewrites by gloo's
//! transformation filter, before routing (`early`), after it (`regular`) or after the
//! upstream filters (`postRouting`).

use super::schema::Unmodelled;

message! {
    pub struct TransformationStages {
        early: RequestResponseTransformations,
        regular: RequestResponseTransformations,
        post_routing: RequestResponseTransformations,
        /// Also apply the transformations of the enclosing virtual host.
        inherit_transformation: bool,
        log_request_response_info: bool,
        escape_characters: bool,
    }
}

message! {
    /// Transformations chosen by request match or by response match; the first that matches
    /// applies.
    pub struct RequestResponseTransformations {
        request_transforms: Vec<RequestMatch>,
        response_transforms: Vec<ResponseMatch>,
    }
}

message! {
    pub struct RequestMatch {
        /// A gloo request matcher (path, headers, query parameters, methods).
        /// Accepted by the schema, not implemented by gatesim.
        matcher: Unmodelled,
        clear_route_cache: bool,
        request_transformation: Transformation,
        response_transformation: Transformation,
    }
}

message! {
    pub struct ResponseMatch {
        /// Header matchers on the response.
        /// Accepted by the schema, not implemented by gatesim.
        matchers: Vec<Unmodelled>,
        response_code_details: String,
        response_transformation: Transformation,
    }
}

message! {
    /// One transformation: a template, or the header-and-body-to-JSON transform.
    pub struct Transformation {
        /// Inja templates for headers and body, extractors, body parsing.
        /// Accepted by the schema, not implemented by gatesim.
        transformation_template: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        header_body_transform: Unmodelled,
        log_request_response_info: bool,
    }
}
