//! Envoy's `aws_lambda` filter for `aws` Upstreams.
//!
//! The filter sits in every connection manager whose routes reach a Lambda function and acts
//! only on clusters that carry its metadata (`com.amazonaws.lambda: {egress_gateway: true}`),
//! so other routes pass through it untouched. Each route (or weighted cluster) to a function
//! carries the function's ARN and credentials as per-route configuration; the payload is the
//! request body as sent and the answer is the function's output, as K8sGateway does without
//! transformations. An Upstream whose `destinationOverrides` ask for `ASYNC` invocations gets
//! Envoy's asynchronous mode: Lambda acknowledges the call and Envoy answers 200.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::Metadata;
use envoy_types::pb::envoy::extensions::filters::http::aws_lambda::v3::{
    Config, Credentials, PerRouteConfig, config::InvocationMode,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpFilter, http_filter,
};
use envoy_types::pb::google::protobuf::{Any, Struct, Value, value};

use super::any;
use crate::translate::lambda::LambdaCall;

pub(crate) const FILTER: &str = "envoy.filters.http.aws_lambda";
const METADATA: &str = "com.amazonaws.lambda";

/// The connection manager's filter. Envoy requires an ARN and, without credentials, would
/// look for them in the environment and the instance metadata service (calls this proxy
/// must never make); every route to a function replaces both, so these are inert
/// placeholders.
pub(crate) fn http_filter() -> HttpFilter {
    let placeholder = LambdaCall {
        arn: "arn:aws:lambda:us-east-1:000000000000:function:gatesim-unused".into(),
        credentials: crate::translate::lambda::AwsCredentials {
            access_key_id: "unused".into(),
            secret_access_key: "unused".into(),
            session_token: None,
        },
        asynchronous: false,
    };
    HttpFilter {
        name: FILTER.into(),
        config_type: Some(http_filter::ConfigType::TypedConfig(any(&config(
            &placeholder,
        )))),
        ..Default::default()
    }
}

fn config(call: &LambdaCall) -> Config {
    Config {
        arn: call.arn.clone(),
        payload_passthrough: true,
        invocation_mode: if call.asynchronous {
            InvocationMode::Asynchronous
        } else {
            InvocationMode::Synchronous
        } as i32,
        credentials: Some(Credentials {
            access_key_id: call.credentials.access_key_id.clone(),
            secret_access_key: call.credentials.secret_access_key.clone(),
            session_token: call.credentials.session_token.clone().unwrap_or_default(),
        }),
        ..Default::default()
    }
}

/// The function a route (or one of its weighted clusters) invokes.
pub(crate) fn per_route(config_map: &mut HashMap<String, Any>, call: &LambdaCall) {
    config_map.insert(
        FILTER.into(),
        any(&PerRouteConfig {
            invoke_config: Some(config(call)),
        }),
    );
}

/// The metadata that makes the filter act on a cluster.
pub(crate) fn cluster_metadata() -> Metadata {
    let gateway = Struct {
        fields: [(
            "egress_gateway".to_string(),
            Value {
                kind: Some(value::Kind::BoolValue(true)),
            },
        )]
        .into(),
    };
    Metadata {
        filter_metadata: [(METADATA.to_string(), gateway)].into(),
        ..Default::default()
    }
}
