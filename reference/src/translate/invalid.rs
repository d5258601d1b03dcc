//! Validation findings (see [`crate::validate`]) as the conditions of the objects they
//! concern, with the upstream reason that fits each: a route is not accepted by any of its
//! parents (`UnsupportedValue`, or `IncompatibleFilters`); a listener is not accepted
//! (`UnsupportedValue`, `PortUnavailable`, `UnsupportedProtocol`) while the rest of its
//! Gateway is served; a Gateway or GatewayClass as a whole is not accepted (`Invalid`, or
//! `InvalidParameters` for a class's parametersRef); a ReferenceGrant grants nothing.
//!
//! Every function returns nothing when `ControllerConfig::validate_inputs` is off.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::conditions::{Problem, reason};
use crate::api::{Gateway, GatewayClass, HttpRoute};
use crate::model::ResourceSet;
use crate::validate::{self, Fault, FieldError};

fn problem(reason: &'static str, errors: &[FieldError]) -> Problem {
    Problem::new(reason, validate::describe(errors))
}

/// Why a route cannot be accepted, if its fields say so.
pub(crate) fn route(set: &ResourceSet, route: &HttpRoute) -> Option<Problem> {
    if !set.config.validate_inputs {
        return None;
    }
    let errors = validate::http_route(route);
    let first = errors.first()?;
    let reason = match first.fault {
        Fault::Filters => reason::INCOMPATIBLE_FILTERS,
        Fault::Value | Fault::Protocol | Fault::Port => reason::UNSUPPORTED_VALUE,
    };
    Some(problem(reason, &errors))
}

/// Why a GatewayClass cannot be accepted, if its fields say so.
pub(crate) fn class(set: &ResourceSet, class: &GatewayClass) -> Option<Problem> {
    if !set.config.validate_inputs {
        return None;
    }
    let errors = validate::gateway_class(class);
    let first = errors.first()?;
    let reason = if first.path.starts_with(&["spec", "parametersRef"]) {
        reason::INVALID_PARAMETERS
    } else {
        reason::INVALID
    };
    Some(problem(reason, &errors))
}

/// A Gateway's findings: those about the Gateway as a whole, and those about each listener
/// (by index).
#[derive(Debug, Default)]
pub(crate) struct GatewayProblems {
    pub gateway: Option<Problem>,
    pub listeners: BTreeMap<usize, Problem>,
}

pub(crate) fn gateway(set: &ResourceSet, gw: &Gateway) -> GatewayProblems {
    if !set.config.validate_inputs {
        return GatewayProblems::default();
    }
    let mut whole = Vec::new();
    let mut by_listener: BTreeMap<usize, Vec<FieldError>> = BTreeMap::new();
    for e in validate::gateway(gw) {
        match e.path.index_under(&["spec", "listeners"]) {
            Some(i) => by_listener.entry(i).or_default().push(e),
            None => whole.push(e),
        }
    }
    GatewayProblems {
        gateway: (!whole.is_empty()).then(|| problem(reason::INVALID, &whole)),
        listeners: by_listener
            .into_iter()
            .map(|(i, errors)| {
                let reason = match errors[0].fault {
                    Fault::Port => reason::PORT_UNAVAILABLE,
                    Fault::Protocol => reason::UNSUPPORTED_PROTOCOL,
                    Fault::Value | Fault::Filters => reason::UNSUPPORTED_VALUE,
                };
                (i, problem(reason, &errors))
            })
            .collect(),
    }
}

/// The snapshot without the ReferenceGrants that are invalid: they grant nothing. Borrowed
/// as it is when every grant is valid, which is the usual case.
pub(crate) fn without_invalid_grants(set: &ResourceSet) -> Cow<'_, ResourceSet> {
    if !set.config.validate_inputs {
        return Cow::Borrowed(set);
    }
    let invalid: Vec<_> = set
        .reference_grants
        .iter()
        .filter(|(_, g)| !validate::reference_grant(g).is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    if invalid.is_empty() {
        return Cow::Borrowed(set);
    }
    let mut filtered = set.clone();
    for key in &invalid {
        filtered.reference_grants.remove(key);
    }
    Cow::Owned(filtered)
}
