//! The parent route's annotation that lets delegatees override its RouteOptions.
//!
//! By default a delegating route's RouteOptions win over its delegatees' field by field (a
//! delegatee only fills what the parent leaves unset). The annotation
//! `delegation.gateway.solo.io/enable-policy-overrides` on the parent lifts that: `"*"` for
//! every field, or a comma-separated list of option field names (compared without regard to
//! case and surrounding spaces, as K8sGateway does: `headerManipulation, timeout`). A
//! value that names nothing (empty, or only commas) allows nothing.

use std::collections::BTreeSet;

use crate::api::HttpRoute;

pub(crate) const ANNOTATION: &str = "delegation.gateway.solo.io/enable-policy-overrides";

/// Which RouteOption fields a route's delegatees may override.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Overrides {
    #[default]
    None,
    All,
    /// Lower-cased field names.
    Fields(BTreeSet<String>),
}

impl Overrides {
    pub fn of(route: &HttpRoute) -> Self {
        let Some(value) = route
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION))
        else {
            return Self::None;
        };
        Self::parse(value)
    }

    fn parse(value: &str) -> Self {
        if value.trim() == "*" {
            return Self::All;
        }
        let fields: BTreeSet<String> = value
            .split(',')
            .map(|f| f.trim().to_ascii_lowercase())
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            Self::None
        } else {
            Self::Fields(fields)
        }
    }

    /// Whether a delegatee may override `field` (its JSON name).
    pub fn allows(&self, field: &str) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Fields(f) => f.contains(&field.to_ascii_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Overrides;

    #[test]
    fn the_annotation_value_is_a_wildcard_or_a_field_list() {
        assert!(Overrides::parse("*").allows("timeout"));
        let some = Overrides::parse(" headerManipulation , TIMEOUT");
        assert!(some.allows("headerManipulation"));
        assert!(some.allows("timeout"));
        assert!(!some.allows("prefixRewrite"));
        assert_eq!(Overrides::parse(" , "), Overrides::None);
        assert!(!Overrides::parse("").allows("timeout"));
    }
}
