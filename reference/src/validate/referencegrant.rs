//! ReferenceGrant: who may refer (`from`) to what (`to`).

use super::names;
use super::path::{Checker, FieldError};
use crate::api::ReferenceGrant;

pub fn reference_grant(grant: &ReferenceGrant) -> Vec<FieldError> {
    let mut c = Checker::new();
    let spec = &grant.spec;
    c.field("spec", |c| {
        c.field("from", |c| c.min_items(spec.from.len(), 1));
        c.list("from", Some(&spec.from), 16, |c, _, f| {
            c.value("group", names::group(&f.group));
            c.value("kind", names::kind(&f.kind));
            c.value("namespace", names::namespace(&f.namespace));
        });
        c.field("to", |c| c.min_items(spec.to.len(), 1));
        c.list("to", Some(&spec.to), 16, |c, _, t| {
            c.value("group", names::group(&t.group));
            c.value("kind", names::kind(&t.kind));
            if let Some(n) = &t.name {
                c.value("name", names::object_name(n));
            }
        });
    });
    c.finish()
}
