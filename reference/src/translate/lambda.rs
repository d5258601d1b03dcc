//! AWS Lambda Upstreams (`spec.aws`): the regional endpoint Envoy connects to, the ARN of the
//! function a backendRef picks, and the credentials Envoy signs each invocation with.
//!
//! As in K8sGateway, a backendRef to such an Upstream names its function with an
//! `ExtensionRef` filter `{group: gloo.solo.io, kind: Parameter, name: <logicalName>}`. The
//! controller itself never calls AWS: the credentials go only into the local Envoy's
//! configuration, and Envoy calls the function when a request is routed there.

use std::fmt;

use super::tls::secret_value;
use crate::api::k8sgateway::upstream::{AwsUpstream, InvocationStyle};
use crate::model::{ObjectKey, ResourceSet};

/// The group and kind of the backendRef filter that picks a function.
pub(crate) const PARAMETER_GROUP: &str = "gloo.solo.io";
pub(crate) const PARAMETER_KIND: &str = "Parameter";

/// The keys of an AWS Secret, as K8sGateway's `glooctl create secret aws` writes them.
const ACCESS_KEY: &str = "aws_access_key_id";
const SECRET_KEY: &str = "aws_secret_access_key";
const SESSION_TOKEN: &str = "aws_session_token";

/// One function invocation as a route configures it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LambdaCall {
    pub arn: String,
    pub credentials: AwsCredentials,
    /// `destinationOverrides.invocationStyle: ASYNC`: Lambda queues the event and answers at
    /// once, without the function's output.
    pub asynchronous: bool,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Keeps the secret parts out of logs and test failure output.
impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The AWS partition a region belongs to (the ARN's second field).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The Lambda endpoint of a region (TLS on 443).
pub(crate) fn endpoint(region: &str) -> String {
    let domain = if partition(region) == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("lambda.{region}.{domain}")
}

/// The Secret of `spec.aws.secretRef` (in the Upstream's namespace unless it names one),
/// holding an access key id and secret access key (and a session token for temporary
/// credentials).
pub(crate) fn credentials(
    set: &ResourceSet,
    key: &ObjectKey,
    aws: &AwsUpstream,
) -> Result<AwsCredentials, String> {
    let at = "spec.aws.secretRef";
    let r = aws.secret_ref.clone().unwrap_or_default();
    let (
        secret,
        ObjectKey {
            namespace: ns,
            name,
        },
    ) = super::upstreams::referenced_secret(set, key, &r, at)?;
    let value = |k: &str| -> Result<Option<String>, String> {
        let Some(bytes) = secret_value(secret, k) else {
            return Ok(None);
        };
        let v = String::from_utf8(bytes)
            .map_err(|_| format!("{at}: Secret {ns}/{name}: {k} is not UTF-8 text"))?;
        let v = v.trim().to_string();
        if v.is_empty() {
            return Ok(None);
        }
        if v.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(format!(
                "{at}: Secret {ns}/{name}: {k} holds spaces or control characters"
            ));
        }
        Ok(Some(v))
    };
    let required =
        |k: &str| value(k)?.ok_or_else(|| format!("{at}: Secret {ns}/{name} has no {k}"));
    Ok(AwsCredentials {
        access_key_id: required(ACCESS_KEY)?,
        secret_access_key: required(SECRET_KEY)?,
        session_token: value(SESSION_TOKEN)?,
    })
}

/// The invocation of the function whose `logicalName` a backendRef's Parameter filter names.
pub(crate) fn call(
    set: &ResourceSet,
    key: &ObjectKey,
    aws: &AwsUpstream,
    logical_name: &str,
) -> Result<LambdaCall, String> {
    let function = aws
        .lambda_functions
        .iter()
        .flatten()
        .find(|f| f.logical_name.as_deref() == Some(logical_name))
        .ok_or_else(|| {
            let known: Vec<&str> = aws
                .lambda_functions
                .iter()
                .flatten()
                .filter_map(|f| f.logical_name.as_deref())
                .collect();
            format!(
                "Upstream {key} has no Lambda function with logicalName {logical_name:?} \
                 (it has {})",
                known.join(", ")
            )
        })?;
    let region = aws.region.as_deref().unwrap_or_default();
    let mut arn = format!(
        "arn:{}:lambda:{region}:{}:function:{}",
        partition(region),
        aws.aws_account_id.as_deref().unwrap_or_default(),
        function.lambda_function_name.as_deref().unwrap_or_default(),
    );
    // `$LATEST` is what Lambda runs without a qualifier; naming it changes nothing.
    if let Some(q) = function
        .qualifier
        .as_deref()
        .filter(|q| !q.is_empty() && *q != "$LATEST")
    {
        arn.push(':');
        arn.push_str(q);
    }
    let asynchronous = aws
        .destination_overrides
        .as_ref()
        .and_then(|d| d.invocation_style)
        == Some(InvocationStyle::Async);
    Ok(LambdaCall {
        arn,
        credentials: credentials(set, key, aws)?,
        asynchronous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_partition_of_the_region() {
        assert_eq!(endpoint("us-east-1"), "lambda.us-east-1.amazonaws.com");
        assert_eq!(endpoint("cn-north-1"), "lambda.cn-north-1.amazonaws.com.cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-3"), "aws");
    }

    #[test]
    fn debug_output_hides_the_secret_key() {
        let c = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI".into(),
            session_token: Some("token-value".into()),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(
            !shown.contains("wJalr") && !shown.contains("token-value"),
            "{shown}"
        );
    }
}
