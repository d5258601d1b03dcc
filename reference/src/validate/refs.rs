//! References to other objects: parentRefs, backendRefs, certificateRefs, parametersRefs.
//! They share field formats (group, kind, name, namespace, port), checked here once.

use super::names;
use super::path::Checker;

/// The fields of a reference as written; `None` where the kind of reference has no such
/// field or the user left it out.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ref<'a> {
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub port: Option<i32>,
}

/// Check the fields of a reference at the current path.
pub(crate) fn reference(c: &mut Checker, r: Ref<'_>) {
    if let Some(g) = r.group {
        c.value("group", names::group(g));
    }
    if let Some(k) = r.kind {
        c.value("kind", names::kind(k));
    }
    c.value("name", names::object_name(r.name));
    if let Some(ns) = r.namespace {
        c.value("namespace", names::namespace(ns));
    }
    if let Some(p) = r.port {
        c.field("port", |c| c.range(p.into(), 1, 65535));
    }
}

/// A reference to a backend: also, a Service needs a port.
pub(crate) fn backend(c: &mut Checker, r: Ref<'_>) {
    reference(c, r);
    let service = r.group.unwrap_or("").is_empty() && r.kind.unwrap_or("Service") == "Service";
    if service && r.port.is_none() {
        c.field("port", |c| {
            c.fail("is required for a reference to a Service")
        });
    }
}
