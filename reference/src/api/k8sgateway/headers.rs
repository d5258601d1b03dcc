//! Header manipulation (`headerManipulation`), shared by routes, virtual hosts and
//! listeners.

message! {
    /// Headers to add to and remove from requests and responses.
    pub struct HeaderManipulation {
        request_headers_to_add: Vec<HeaderValueOption>,
        request_headers_to_remove: Vec<String>,
        response_headers_to_add: Vec<ResponseHeaderValueOption>,
        response_headers_to_remove: Vec<String>,
    }
}

message! {
    /// Header changes applied before anything else in the HTTP connection manager.
    pub struct EarlyHeaderManipulation {
        headers_to_add: Vec<HeaderValueOption>,
        headers_to_remove: Vec<String>,
    }
}

message! {
    /// One header to add: a literal value, or (requests only) the value of a secret.
    pub struct HeaderValueOption {
        header: HeaderValue,
        /// Takes the header's value from a Secret; exclusive with `header`.
        header_secret_ref: ResourceRef,
        /// Append to an existing header of that name (the default) instead of replacing it.
        append: bool,
    }
}

message! {
    /// One response header to add (response headers cannot come from secrets).
    pub struct ResponseHeaderValueOption {
        header: HeaderValue,
        append: bool,
    }
}

message! {
    pub struct HeaderValue {
        key: String,
        value: String,
    }
}

message! {
    /// A reference to an object by namespace and name (solo-kit's `ResourceRef`).
    pub struct ResourceRef {
        name: String,
        namespace: String,
    }
}
