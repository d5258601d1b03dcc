//! Retry policies (`retries`), as gloo's `RetryPolicy`.

use super::schema::ProtoDuration;

message! {
    pub struct RetryPolicy {
        /// Conditions to retry on, comma-separated as Envoy's `x-envoy-retry-on`
        /// (`5xx`, `connect-failure`, `retriable-status-codes`, ...).
        retry_on: String,
        num_retries: u32,
        per_try_timeout: ProtoDuration,
        retry_back_off: RetryBackOff,
        /// Prefer hosts of other priorities than those already tried.
        previous_priorities: PreviousPriorities,
        /// Status codes retried under `retriable-status-codes`.
        retriable_status_codes: Vec<u32>,
        rate_limited_retry_back_off: RateLimitedRetryBackOff,
    }
}

message! {
    /// Exponential back-off between retries.
    pub struct RetryBackOff {
        /// At least 1ms; required when `retryBackOff` is set.
        base_interval: ProtoDuration,
        max_interval: ProtoDuration,
    }
}

message! {
    pub struct PreviousPriorities {
        update_frequency: u32,
    }
}

message! {
    /// Back-off taken from the upstream's rate-limit response headers.
    pub struct RateLimitedRetryBackOff {
        reset_headers: Vec<ResetHeader>,
        max_interval: ProtoDuration,
    }
}

message! {
    pub struct ResetHeader {
        name: String,
        format: ResetHeaderFormat,
    }
}

proto_enum! {
    pub enum ResetHeaderFormat {
        Seconds = ("SECONDS", 0),
        UnixTimestamp = ("UNIX_TIMESTAMP", 1),
    }
}
