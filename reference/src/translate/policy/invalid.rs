//! Why a policy object contributes nothing: a value gatesim refuses (reported `Invalid`,
//! naming the field), or a quarantine after Envoy rejected a configuration containing it.

use super::OptionKind;
use crate::api::GATEWAY_GROUP;
use crate::model::{ObjectKey, ResourceSet};
use crate::translate::conditions::{Problem, reason};

/// The problem of an option object as a whole, if it has one.
pub(crate) fn option_object<K: OptionKind>(
    set: &ResourceSet,
    key: &ObjectKey,
    obj: &K,
) -> Option<Problem> {
    if let Some(entry) = set.quarantined::<K>(key) {
        return Some(Problem::new(
            reason::INVALID,
            format!(
                "Envoy rejected the configuration of Gateway {} with this object in it, so it \
                 is left out until it changes. Envoy said: {}",
                entry.gateway, entry.message
            ),
        ));
    }
    let mut errors = Vec::new();
    for (i, t) in obj.targets().iter().enumerate() {
        if !t.names_kind::<K>() {
            errors.push(format!(
                "spec.targetRefs[{i}]: a {} targets {} objects of group {GATEWAY_GROUP}, not {} of \
                 group {}",
                K::KIND,
                K::TARGET_KIND,
                t.kind,
                t.group
            ));
        }
        if let Some(ns) = t.namespace
            && ns != key.namespace
        {
            errors.push(format!(
                "spec.targetRefs[{i}].namespace: a {} only targets objects in its own namespace \
                 ({}), not in {ns}",
                K::KIND,
                key.namespace
            ));
        }
    }
    // Only tests of the NACK containment path turn this off, to let bad values reach Envoy.
    if let Some(options) = obj.options().filter(|_| set.config.validate_inputs) {
        errors.extend(K::check(options));
    }
    (!errors.is_empty()).then(|| Problem::new(reason::INVALID, errors.join("; ")))
}
