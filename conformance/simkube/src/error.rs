//! Errors: the API's `Status` failures, and the library's own start-up errors.

use serde_json::{Value, json};

use crate::kinds::KindSpec;
use crate::schema::{FieldError, aggregate};

/// A failed API request, answered as a `meta/v1` `Status` with the code and reason a real
/// server gives for the same failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `Conflict`, ...).
    pub reason: &'static str,
    /// Human-readable message, worded like the real server's.
    pub message: String,
    /// `details` of the Status, when the reason carries one.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `404 NotFound` for a named object.
    pub fn not_found(spec: &KindSpec, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", spec.group_resource(), name),
        )
        .with_details(details(spec, name))
    }

    /// `404 NotFound` for a missing namespace, as answered to writes into it.
    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
        )
        .with_details(json!({"name": namespace, "kind": "namespaces"}))
    }

    /// `404 NotFound` for a path that names nothing served.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// `409 AlreadyExists`.
    pub fn already_exists(spec: &KindSpec, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", spec.group_resource(), name),
        )
        .with_details(details(spec, name))
    }

    /// `409 Conflict` for a stale `resourceVersion` (or uid precondition).
    pub fn conflict(spec: &KindSpec, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                spec.group_resource(),
                name
            ),
        )
        .with_details(details(spec, name))
    }

    /// `409 Conflict` for server-side apply field ownership conflicts.
    pub fn apply_conflicts(spec: &KindSpec, name: &str, conflicts: &[(String, String)]) -> Self {
        let listed: Vec<String> = conflicts
            .iter()
            .map(|(manager, field)| format!("conflict with \"{manager}\": {field}"))
            .collect();
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, field)| {
                json!({
                    "type": "FieldManagerConflict",
                    "message": format!("conflict with \"{manager}\""),
                    "field": field,
                })
            })
            .collect();
        let mut d = details(spec, name);
        d["causes"] = Value::Array(causes);
        Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict{}: {}",
                conflicts.len(),
                if conflicts.len() == 1 { "" } else { "s" },
                listed.join(", ")
            ),
        )
        .with_details(d)
    }

    /// `422 Invalid` with one cause per invalid field, worded as upstream's
    /// `errors.NewInvalid`: `<Kind>.<group> "<name>" is invalid: <errors>`.
    pub fn invalid(spec: &KindSpec, name: &str, errors: &[FieldError]) -> Self {
        let qualified = if spec.group.is_empty() {
            spec.kind.to_string()
        } else {
            format!("{}.{}", spec.kind, spec.group)
        };
        Self::invalid_as(&qualified, spec.group, spec.kind, name, errors)
    }

    /// `422 Invalid` about the request rather than an object (a patch that does not
    /// decode strictly): upstream names no kind, so the message starts with a space.
    pub fn invalid_request(errors: &[FieldError]) -> Self {
        Self::invalid_as("", "", "", "", errors)
    }

    fn invalid_as(
        qualified: &str,
        group: &str,
        kind: &str,
        name: &str,
        errors: &[FieldError],
    ) -> Self {
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.reason.cause(), "message": e.body(), "field": e.field}))
            .collect();
        let mut d = json!({"name": name, "kind": kind, "causes": causes});
        if !group.is_empty() {
            d["group"] = Value::String(group.to_string());
        }
        Self::new(
            422,
            "Invalid",
            format!(
                "{qualified} {} is invalid: {}",
                quote(name),
                aggregate(errors)
            ),
        )
        .with_details(d)
    }

    /// A failure upstream does not classify (`reason` left empty), such as server-side
    /// apply's refusal of fields the schema does not declare.
    pub fn unclassified(code: u16, message: impl Into<String>) -> Self {
        Self::new(code, "", message)
    }

    /// `400 BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `403 Forbidden`, used for writes into a terminating namespace.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// `405 MethodNotAllowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// `410 Expired`: the resource version asked for is older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// `415 UnsupportedMediaType`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// `500 InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The error a fault injection answers with for `code`, with the reason a real server
    /// pairs with that code. `None` for codes no real server sends as a Status.
    pub fn injected(code: u16) -> Option<Self> {
        let reason = reason_for_code(code)?;
        Some(Self::new(
            code,
            reason,
            format!("simkube: injected fault ({code} {reason})"),
        ))
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if !self.reason.is_empty() {
            status["reason"] = Value::String(self.reason.to_string());
        }
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// The reason a real server pairs with an HTTP status code in a `Status`.
pub fn reason_for_code(code: u16) -> Option<&'static str> {
    Some(match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => return None,
    })
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn details(spec: &KindSpec, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": spec.plural});
    if !spec.group.is_empty() {
        d["group"] = Value::String(spec.group.to_string());
    }
    d
}

/// Errors from starting or driving a [`crate::SimKube`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: std::net::SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The kubeconfig file could not be written.
    #[error("writing kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Path asked for.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The configured address is not a loopback address; simkube only serves on loopback.
    #[error("simkube serves on loopback only, not {0}")]
    NotLoopback(std::net::SocketAddr),
    /// The server task failed.
    #[error("server task: {0}")]
    Server(String),
    /// A name in `Config::require_crds` is not a custom kind simkube serves.
    #[error("{0} names no custom resource simkube serves (expected <plural>.<group>)")]
    UnknownCrd(String),
    /// The CRD schemas asked for could not be had.
    #[error("CRD schemas: {0}")]
    Crds(String),
}
