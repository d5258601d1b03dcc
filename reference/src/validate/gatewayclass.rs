//! GatewayClass: the controller name, the description, and the parameters reference.

use super::names;
use super::path::{Checker, FieldError};
use super::refs;
use crate::api::GatewayClass;

pub fn gateway_class(gc: &GatewayClass) -> Vec<FieldError> {
    let mut c = Checker::new();
    let spec = &gc.spec;
    c.field("spec", |c| {
        c.field("controllerName", |c| {
            if c.length(&spec.controller_name, 1, 253) {
                c.check(names::domain_prefixed(&spec.controller_name));
            }
        });
        if let Some(d) = &spec.description {
            c.field("description", |c| {
                c.length(d, 0, 64);
            });
        }
        if let Some(p) = &spec.parameters_ref {
            c.field("parametersRef", |c| refs::reference(c, p.into()));
        }
    });
    c.finish()
}
