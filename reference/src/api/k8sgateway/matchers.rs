//! Envoy's matcher and percentage types as gloo embeds them, and the options built only of
//! them (CSRF, request buffering).

message! {
    /// A regular expression (RE2).
    pub struct RegexMatcher {
        google_re2: GoogleRe2,
        regex: String,
    }
}

message! {
    pub struct GoogleRe2 {
        /// Deprecated in Envoy; accepted for old configurations.
        max_program_size: u32,
    }
}

message! {
    /// Rewrites the parts of a string that `pattern` matches with `substitution` (which may
    /// use capture groups such as `\1`).
    pub struct RegexMatchAndSubstitute {
        pattern: RegexMatcher,
        substitution: String,
    }
}

message! {
    /// Matches a string exactly, by prefix, by suffix or by regular expression (one of them).
    pub struct StringMatcher {
        exact: String,
        prefix: String,
        suffix: String,
        safe_regex: RegexMatcher,
        ignore_case: bool,
    }
}

message! {
    /// `numerator` out of the `denominator`.
    pub struct FractionalPercent {
        numerator: u32,
        denominator: Denominator,
    }
}

proto_enum! {
    pub enum Denominator {
        Hundred = ("HUNDRED", 0),
        TenThousand = ("TEN_THOUSAND", 1),
        Million = ("MILLION", 2),
    }
}

message! {
    /// A fraction that an Envoy runtime key may override.
    pub struct RuntimeFractionalPercent {
        default_value: FractionalPercent,
        runtime_key: String,
    }
}

message! {
    /// Cross-site request forgery protection (`csrf`).
    pub struct CsrfPolicy {
        /// Share of requests the policy is enforced on (required by Envoy).
        filter_enabled: RuntimeFractionalPercent,
        /// Share of requests evaluated and counted, but not rejected.
        shadow_enabled: RuntimeFractionalPercent,
        /// Origins accepted besides the request's own host.
        additional_origins: Vec<StringMatcher>,
    }
}

message! {
    /// Buffers whole requests before they go upstream.
    pub struct Buffer {
        /// Larger requests are answered 413.
        #[schemars(range(min = 1))]
        max_request_bytes: u32,
    }
}

message! {
    /// Per-route override of the listener's request buffering: turn it off, or set another
    /// limit (one of the two).
    pub struct BufferPerRoute {
        disabled: bool,
        buffer: Buffer,
    }
}
