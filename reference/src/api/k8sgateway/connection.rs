//! How Envoy connects to an upstream and spreads requests over its hosts: connection limits
//! and timeouts, circuit breakers, load balancing, outlier detection.

use super::schema::{Int64, Percent, ProtoDuration};

message! {
    /// Limits on connections and requests to the upstream as a whole.
    pub struct CircuitBreakerConfig {
        max_connections: u32,
        max_pending_requests: u32,
        max_requests: u32,
        max_retries: u32,
        /// Publishes the remaining capacity as statistics.
        track_remaining: bool,
    }
}

message! {
    pub struct ConnectionConfig {
        max_requests_per_connection: u32,
        connect_timeout: ProtoDuration,
        tcp_keepalive: TcpKeepAlive,
        per_connection_buffer_limit_bytes: u32,
        common_http_protocol_options: HttpProtocolOptions,
        http1_protocol_options: Http1ProtocolOptions,
    }
}

message! {
    pub struct TcpKeepAlive {
        keepalive_probes: u32,
        keepalive_time: ProtoDuration,
        keepalive_interval: ProtoDuration,
    }
}

message! {
    pub struct HttpProtocolOptions {
        idle_timeout: ProtoDuration,
        max_headers_count: u32,
        max_stream_duration: ProtoDuration,
        headers_with_underscores_action: UpstreamHeadersWithUnderscoresAction,
    }
}

proto_enum! {
    pub enum UpstreamHeadersWithUnderscoresAction {
        Allow = ("ALLOW", 0),
        RejectRequest = ("REJECT_REQUEST", 1),
        DropHeader = ("DROP_HEADER", 2),
    }
}

message! {
    pub struct Http1ProtocolOptions {
        enable_trailers: bool,
        override_stream_error_on_invalid_http_message: bool,
        /// Exclusive with `preserveCaseHeaderKeyFormat`.
        proper_case_header_key_format: bool,
        preserve_case_header_key_format: bool,
    }
}

message! {
    /// The load balancing policy (one of `roundRobin`, `leastRequest`, `random`, `ringHash`,
    /// `maglev`) and its settings.
    pub struct LoadBalancerConfig {
        /// Below this percentage of healthy hosts, balance over all hosts.
        healthy_panic_threshold: Percent,
        update_merge_window: ProtoDuration,
        round_robin: RoundRobin,
        least_request: LeastRequest,
        random: Empty,
        ring_hash: RingHash,
        maglev: Empty,
        locality_weighted_lb_config: Empty,
        use_hostname_for_hashing: bool,
        close_connections_on_host_set_change: bool,
    }
}

message! {
    /// A message without fields: its presence is the setting.
    pub struct Empty {}
}

message! {
    pub struct RoundRobin {
        slow_start_config: SlowStartConfig,
    }
}

message! {
    pub struct LeastRequest {
        #[schemars(range(min = 2))]
        choice_count: u32,
        slow_start_config: SlowStartConfig,
    }
}

message! {
    /// Ramps traffic to new hosts up over `slowStartWindow`.
    pub struct SlowStartConfig {
        slow_start_window: ProtoDuration,
        aggression: f64,
        min_weight_percent: Percent,
    }
}

message! {
    pub struct RingHash {
        ring_hash_config: RingHashConfig,
    }
}

message! {
    pub struct RingHashConfig {
        minimum_ring_size: Int64,
        maximum_ring_size: Int64,
    }
}

message! {
    /// Ejects hosts that keep failing from the load balancing set for a while.
    pub struct OutlierDetection {
        consecutive_5xx: u32,
        interval: ProtoDuration,
        base_ejection_time: ProtoDuration,
        #[schemars(range(max = 100))]
        max_ejection_percent: u32,
        #[schemars(range(max = 100))]
        enforcing_consecutive_5xx: u32,
        #[schemars(range(max = 100))]
        enforcing_success_rate: u32,
        success_rate_minimum_hosts: u32,
        success_rate_request_volume: u32,
        success_rate_stdev_factor: u32,
        consecutive_gateway_failure: u32,
        #[schemars(range(max = 100))]
        enforcing_consecutive_gateway_failure: u32,
        split_external_local_origin_errors: bool,
        consecutive_local_origin_failure: u32,
        #[schemars(range(max = 100))]
        enforcing_consecutive_local_origin_failure: u32,
        #[schemars(range(max = 100))]
        enforcing_local_origin_success_rate: u32,
    }
}
