//! DirectResponse (`gateway.gloo.solo.io/v1alpha1`): a fixed answer for the HTTPRoute rule
//! that names it in an `ExtensionRef` filter.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{checked_f64, checked_str};
use super::status::PolicyStatus;

/// DirectResponse's spec.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "gateway.gloo.solo.io",
    version = "v1alpha1",
    kind = "DirectResponse",
    namespaced,
    status = "PolicyStatus",
    derive = "Default",
    derive = "PartialEq",
    shortname = "dr",
    category = "gloo-gateway",
    printcolumn(
        name = "Status",
        type_ = "integer",
        json_path = ".spec.status",
        description = "The HTTP status code of the response"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "A fixed response, served instead of forwarding by the HTTPRoute rules that name it in an ExtensionRef filter."
)]
pub struct DirectResponseSpec {
    /// The HTTP status code of the response.
    #[schemars(range(min = 200, max = 599))]
    #[serde(deserialize_with = "status_code")]
    pub status: u32,
    /// The response body.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "body"
    )]
    #[schemars(length(max = MAX_BODY))]
    pub body: Option<String>,
}

/// K8sGateway's limit on `body`, in characters.
pub const MAX_BODY: u32 = 4096;

/// The schema's 200-599, also for objects that never met an API server (files).
fn status_code<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    checked_f64(deserializer, "an HTTP status code", |code| {
        if code.fract() == 0.0 && (200.0..=599.0).contains(&code) {
            Ok(code as u32)
        } else {
            Err(format!(
                "status {code} is not an HTTP status code between 200 and 599"
            ))
        }
    })
}

/// The schema's length limit, also for objects that never met an API server.
fn body<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    checked_str(deserializer, "a response body", |body| {
        let chars = body.chars().count();
        if chars > MAX_BODY as usize {
            return Err(format!(
                "body has {chars} characters, more than the {MAX_BODY} allowed"
            ));
        }
        Ok(Some(body.to_string()))
    })
}
