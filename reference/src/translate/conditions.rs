//! Status conditions as the Gateway API spells them.
//!
//! Translation has no clock, so every condition carries the Unix epoch as its
//! `lastTransitionTime`; the status writer substitutes the real time (or keeps the previous one
//! when the condition did not change).

use crate::api::{Condition, Time};

/// Condition types.
pub mod kind {
    pub const ACCEPTED: &str = "Accepted";
    pub const PROGRAMMED: &str = "Programmed";
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    pub const CONFLICTED: &str = "Conflicted";
    pub const SUPPORTED_VERSION: &str = "SupportedVersion";
}

/// Condition reasons used by this controller (all upstream names).
pub mod reason {
    pub const ACCEPTED: &str = "Accepted";
    pub const PROGRAMMED: &str = "Programmed";
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    pub const NO_CONFLICTS: &str = "NoConflicts";
    pub const INVALID: &str = "Invalid";
    pub const INVALID_PARAMETERS: &str = "InvalidParameters";
    pub const PENDING: &str = "Pending";
    pub const PORT_UNAVAILABLE: &str = "PortUnavailable";
    pub const LISTENERS_NOT_VALID: &str = "ListenersNotValid";
    pub const UNSUPPORTED_ADDRESS: &str = "UnsupportedAddress";
    pub const ADDRESS_NOT_ASSIGNED: &str = "AddressNotAssigned";
    pub const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
    pub const UNSUPPORTED_VALUE: &str = "UnsupportedValue";
    pub const INCOMPATIBLE_FILTERS: &str = "IncompatibleFilters";
    pub const PROTOCOL_CONFLICT: &str = "ProtocolConflict";
    pub const HOSTNAME_CONFLICT: &str = "HostnameConflict";
    pub const INVALID_CERTIFICATE_REF: &str = "InvalidCertificateRef";
    pub const INVALID_ROUTE_KINDS: &str = "InvalidRouteKinds";
    pub const REF_NOT_PERMITTED: &str = "RefNotPermitted";
    pub const NOT_ALLOWED_BY_LISTENERS: &str = "NotAllowedByListeners";
    pub const NO_MATCHING_LISTENER_HOSTNAME: &str = "NoMatchingListenerHostname";
    pub const NO_MATCHING_PARENT: &str = "NoMatchingParent";
    pub const BACKEND_NOT_FOUND: &str = "BackendNotFound";
    pub const INVALID_KIND: &str = "InvalidKind";
    pub const SUPPORTED_VERSION: &str = "SupportedVersion";
}

/// A problem that makes a condition False: its reason and a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub reason: &'static str,
    pub message: String,
}

impl Problem {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Build a condition: `Ok(true_reason)` gives status True, `Err(problem)` gives False.
pub fn condition(
    type_: &str,
    outcome: Result<&'static str, &Problem>,
    true_message: &str,
    generation: Option<i64>,
) -> Condition {
    match outcome {
        Ok(reason) => build(type_, "True", reason, true_message.to_string(), generation),
        Err(p) => build(type_, "False", p.reason, p.message.clone(), generation),
    }
}

/// A condition whose True state means trouble (`Conflicted`): `Some(problem)` gives True.
pub fn negative_condition(
    type_: &str,
    trouble: Option<&Problem>,
    fine_reason: &'static str,
    generation: Option<i64>,
) -> Condition {
    match trouble {
        Some(p) => build(type_, "True", p.reason, p.message.clone(), generation),
        None => build(type_, "False", fine_reason, String::new(), generation),
    }
}

fn build(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: epoch(),
    }
}

pub fn epoch() -> Time {
    Time(jiff::Timestamp::UNIX_EPOCH)
}
