//! Which HTTPRoutes a delegating backendRef selects.
//!
//! K8sGateway spells delegation three ways in a rule's `backendRefs`:
//!
//! - `group: gateway.networking.k8s.io, kind: HTTPRoute, name: <route>` (+ `namespace`): one route;
//! - the same with `name: "*"` (or an empty name): every HTTPRoute of the namespace;
//! - `group: delegation.gateway.solo.io, kind: label, name: <value>` (+ `namespace`): the
//!   HTTPRoutes labelled `delegation.gateway.solo.io/label: <value>` in the namespace, or in every
//!   namespace when the namespace is `all` (refused while a Namespace of that name exists, so
//!   that a real namespace called `all` is never widened to the whole cluster).
//!
//! The namespace defaults to the delegating route's own.

use std::collections::HashMap;

use crate::api::GATEWAY_GROUP;
use crate::model::{ObjectKey, ResourceSet};
use crate::translate::conditions::{Problem, reason};

/// The label a route carries to be selected by a label delegation.
pub(crate) const LABEL: &str = "delegation.gateway.solo.io/label";
/// The group and kind of a label delegation backendRef.
const LABEL_GROUP: &str = "delegation.gateway.solo.io";
const LABEL_KIND: &str = "label";
/// The namespace of a label delegation that means every namespace.
const ALL_NAMESPACES: &str = "all";

/// What one delegating backendRef selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Selector {
    Named(ObjectKey),
    Namespace(String),
    /// Label value, and the namespace (`None`: every namespace).
    Label(String, Option<String>),
}

/// A delegating backendRef of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DelegateRef {
    /// Index in the rule's `backendRefs`.
    pub position: usize,
    pub selector: Selector,
}

/// The delegation a backendRef asks for, if it is one.
pub(crate) fn delegate_ref(
    route_ns: &str,
    position: usize,
    group: Option<&str>,
    kind: Option<&str>,
    namespace: Option<&str>,
    name: &str,
) -> Option<DelegateRef> {
    // Nearly every backendRef names a Service: nothing is copied for those.
    let ns = || namespace.unwrap_or(route_ns).to_string();
    let selector = match (group.unwrap_or(""), kind.unwrap_or("Service")) {
        (GATEWAY_GROUP, "HTTPRoute") if name.is_empty() || name == "*" => Selector::Namespace(ns()),
        (GATEWAY_GROUP, "HTTPRoute") => Selector::Named(ObjectKey::new(ns(), name)),
        (LABEL_GROUP, LABEL_KIND) => {
            let ns = ns();
            Selector::Label(name.to_string(), (ns != ALL_NAMESPACES).then_some(ns))
        }
        _ => return None,
    };
    Some(DelegateRef { position, selector })
}

impl Selector {
    /// Says what is selected, for status messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Named(k) => format!("HTTPRoute {k}"),
            Self::Namespace(ns) => format!("every HTTPRoute of namespace {ns}"),
            Self::Label(v, Some(ns)) => {
                format!("the HTTPRoutes labelled {LABEL}={v} in namespace {ns}")
            }
            Self::Label(v, None) => format!("the HTTPRoutes labelled {LABEL}={v} in any namespace"),
        }
    }
}

/// HTTPRoutes indexed for selection, built once per translation.
pub(crate) struct Index<'a> {
    set: &'a ResourceSet,
    by_label: HashMap<&'a str, Vec<&'a ObjectKey>>,
}

impl<'a> Index<'a> {
    pub fn new(set: &'a ResourceSet) -> Self {
        let mut by_label: HashMap<&'a str, Vec<&'a ObjectKey>> = HashMap::new();
        for (key, route) in &set.http_routes {
            if let Some(v) = route.metadata.labels.as_ref().and_then(|l| l.get(LABEL)) {
                by_label.entry(v.as_str()).or_default().push(key);
            }
        }
        Self { set, by_label }
    }

    /// The routes `s` selects, sorted by namespace and name; an error when the selection is
    /// refused or empty (the caller reports it on the delegating route).
    pub fn select(&self, s: &Selector) -> Result<Vec<&'a ObjectKey>, Problem> {
        let found: Vec<&'a ObjectKey> = match s {
            Selector::Named(k) => self
                .set
                .http_routes
                .get_key_value(k)
                .map(|(k, _)| k)
                .into_iter()
                .collect(),
            Selector::Namespace(ns) => self
                .set
                .http_routes
                .range(ObjectKey::new(ns.as_str(), "")..)
                .take_while(|(k, _)| k.namespace == *ns)
                .map(|(k, _)| k)
                .collect(),
            Selector::Label(v, ns) => {
                if ns.is_none()
                    && self
                        .set
                        .namespaces
                        .contains_key(&ObjectKey::new("", ALL_NAMESPACES))
                {
                    return Err(Problem::new(
                        reason::REF_NOT_PERMITTED,
                        format!(
                            "a Namespace named {ALL_NAMESPACES:?} exists, so a label delegation \
                             to namespace {ALL_NAMESPACES:?} is refused rather than widened to \
                             every namespace"
                        ),
                    ));
                }
                self.by_label
                    .get(v.as_str())
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|k| ns.as_ref().is_none_or(|ns| k.namespace == *ns))
                    .collect()
            }
        };
        if found.is_empty() {
            return Err(Problem::new(
                reason::BACKEND_NOT_FOUND,
                format!("{} matches no route", s.describe()),
            ));
        }
        Ok(found)
    }
}
