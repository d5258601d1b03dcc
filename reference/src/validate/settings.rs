//! Settings (`gloo.solo.io/v1`): the fields gatesim reads. The rest of the object is ignored,
//! so only these can make it unusable.

use super::path::{Checker, FieldError};
use crate::api::Settings;

/// What is wrong with a Settings object, naming the fields.
pub fn settings(settings: &Settings) -> Vec<FieldError> {
    let mut c = Checker::new();
    let spec = &settings.spec;
    c.field("spec", |c| {
        c.list(
            "watchNamespaces",
            spec.watch_namespaces.as_deref(),
            1024,
            |c, _, ns| {
                c.check(super::names::namespace(ns));
            },
        );
        if spec
            .watch_namespace_selectors
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            c.field("watchNamespaceSelectors", |c| {
                c.fail("is not supported by gatesim; list the namespaces in watchNamespaces")
            });
        }
        let policy = spec
            .gloo
            .as_ref()
            .and_then(|g| g.invalid_config_policy.as_ref());
        if let Some(code) = policy.and_then(|p| p.invalid_route_response_code) {
            c.field("gloo", |c| {
                c.field("invalidConfigPolicy", |c| {
                    c.field("invalidRouteResponseCode", |c| {
                        c.range(code.into(), 200, 599)
                    })
                })
            });
        }
    });
    c.finish()
}
