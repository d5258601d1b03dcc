//! Cross-namespace references (ReferenceGrant) and namespace label selectors.

use std::collections::BTreeMap;

use crate::model::ResourceSet;

/// One end of a reference: API group ("" for core), kind and namespace.
#[derive(Clone, Copy, Debug)]
pub struct RefFrom<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
}

/// The target of a reference.
#[derive(Clone, Copy, Debug)]
pub struct RefTo<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Whether a reference is allowed: always within a namespace; across namespaces only when a
/// ReferenceGrant in the target's namespace lists the source (group, kind, namespace) in `from`
/// and the target (group, kind, optional name) in `to`.
pub fn permitted(set: &ResourceSet, from: RefFrom<'_>, to: RefTo<'_>) -> bool {
    if from.namespace == to.namespace {
        return true;
    }
    set.reference_grants
        .range(namespace_range(to.namespace))
        .any(|(_, grant)| {
            let spec = &grant.spec;
            spec.from.iter().any(|f| {
                f.group == from.group && f.kind == from.kind && f.namespace == from.namespace
            }) && spec.to.iter().any(|t| {
                t.group == to.group
                    && t.kind == to.kind
                    && t.name
                        .as_deref()
                        .is_none_or(|n| n.is_empty() || n == to.name)
            })
        })
}

/// The key range of every object in one namespace of a `Store`.
pub fn namespace_range(
    namespace: &str,
) -> (
    std::ops::Bound<crate::model::ObjectKey>,
    std::ops::Bound<crate::model::ObjectKey>,
) {
    use std::ops::Bound;
    let start = crate::model::ObjectKey::new(namespace, "");
    let mut end_ns = namespace.to_string();
    end_ns.push('\u{0}');
    (
        Bound::Included(start),
        Bound::Excluded(crate::model::ObjectKey::new(end_ns, "")),
    )
}

/// Labels of a namespace (empty when the Namespace object is not known).
pub fn namespace_labels<'a>(
    set: &'a ResourceSet,
    namespace: &str,
) -> Option<&'a BTreeMap<String, String>> {
    set.namespaces
        .get(&crate::model::ObjectKey::cluster(namespace))
        .and_then(|ns| ns.metadata.labels.as_ref())
}

/// Evaluate a label selector given as match labels plus (key, operator, values) requirements.
/// An empty selector matches everything, as in Kubernetes.
pub fn selector_matches<'a>(
    match_labels: Option<&BTreeMap<String, String>>,
    mut match_expressions: impl Iterator<Item = (&'a str, &'a str, &'a [String])>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let labels_ok = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && match_expressions.all(|(key, operator, values)| {
            let value = labels.get(key);
            match operator {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                // Unknown operators match nothing, as the API server would have rejected them.
                _ => false,
            }
        })
}
