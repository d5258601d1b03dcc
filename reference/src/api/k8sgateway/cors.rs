//! Cross-origin resource sharing (`cors`) on routes and virtual hosts.

message! {
    pub struct CorsPolicy {
        /// Origins allowed, matched exactly.
        allow_origin: Vec<String>,
        /// Origins allowed, matched by regular expression (RE2).
        allow_origin_regex: Vec<String>,
        allow_methods: Vec<String>,
        allow_headers: Vec<String>,
        expose_headers: Vec<String>,
        /// Seconds a preflight answer may be cached, as a string (`"86400"`).
        max_age: String,
        allow_credentials: bool,
        /// Turns off CORS for a route that would inherit it from its virtual host.
        disable_for_route: bool,
    }
}

message! {
    /// How a virtual host's CORS settings combine with a route's.
    pub struct CorsPolicyMergeSettings {
        expose_headers: CorsMergeStrategy,
    }
}

proto_enum! {
    pub enum CorsMergeStrategy {
        /// The route's value replaces the virtual host's.
        Default = ("DEFAULT", 0),
        /// Both lists are combined.
        Union = ("UNION", 1),
    }
}
