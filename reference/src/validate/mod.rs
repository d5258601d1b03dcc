//! Validation of input objects, before translation and the same for every provider.
//!
//! Every field the Gateway API constrains is checked here, as its CRDs at the pinned release
//! (v1.5.1) state it: patterns, lengths, list sizes, ranges, required fields and the CEL
//! rules, plus what the API documents but cannot express (hostnames are never IP addresses,
//! DNS labels are at most 63 characters). On top of the API, values that Envoy would refuse
//! (and so refuse every other route of the Gateway along with them) or mishandle are refused
//! too: regexes RE2 does not accept or that exceed the program size Envoy is configured for,
//! header modifiers that touch `Host`, path modifiers that are not plain absolute paths.
//!
//! The checks are pure: an object in, its findings out, each naming the field path
//! (`spec.rules[0].matches[1].path.value`) and why. The translator turns findings into the
//! upstream status conditions; the file provider also points them at file, line and column.

pub(crate) mod durations;
mod filters;
mod gateway;
mod gatewayclass;
pub(crate) mod headers;
mod hostnames;
mod httproute;
mod names;
mod path;
mod paths;
mod referencegrant;
mod refs;
pub mod regex;
mod settings;
mod upstream;

use std::any::Any;

pub use gateway::gateway;
pub use gatewayclass::gateway_class;
pub use httproute::http_route;
pub use path::{Fault, FieldError, FieldPath, Seg};
pub use referencegrant::reference_grant;
pub use settings::settings;
pub use upstream::{has_hostnames, upstream};

use crate::api::{Gateway, GatewayClass, HttpRoute, ReferenceGrant, Settings, Upstream};
use crate::model::StoredKind;

/// The findings for an object of any stored kind; kinds without checks have none.
pub fn object<K: StoredKind>(obj: &K) -> Vec<FieldError> {
    let any: &dyn Any = obj;
    if let Some(route) = any.downcast_ref::<HttpRoute>() {
        http_route(route)
    } else if let Some(gw) = any.downcast_ref::<Gateway>() {
        gateway(gw)
    } else if let Some(class) = any.downcast_ref::<GatewayClass>() {
        gateway_class(class)
    } else if let Some(grant) = any.downcast_ref::<ReferenceGrant>() {
        reference_grant(grant)
    } else if let Some(u) = any.downcast_ref::<Upstream>() {
        upstream(u)
    } else if let Some(s) = any.downcast_ref::<Settings>() {
        settings(s)
    } else {
        Vec::new()
    }
}

/// Findings as one message, `path: why; path: why`.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
