//! GatewayParameters: which apply to a Gateway, and what they add up to.
//!
//! A GatewayClass names the default in `spec.parametersRef`; a Gateway may name another one of
//! its own namespace in the annotation [`ANNOTATION`]. The Gateway's object is deep-merged over
//! the class's (maps merge key by key, anything else the Gateway sets replaces the default), as
//! K8sGateway's deployer does. A reference that names nothing, or an object whose values no
//! proxy could run with, makes the class or the Gateway not accepted (`InvalidParameters`)
//! rather than leaving part of the parameters out: a proxy is deployed as described, or not at
//! all.

use serde_json::Value;

use super::conditions::{Problem, reason};
use crate::api::k8sgateway::gateway_parameters::{GatewayParametersSpec, ServiceType};
use crate::api::{Gateway, GatewayClass, GatewayParameters};
use crate::model::{ObjectKey, ResourceSet};

/// The Gateway annotation naming a GatewayParameters of the Gateway's namespace.
pub const ANNOTATION: &str = "gateway.gloo.solo.io/gateway-parameters-name";

/// API group and kind a GatewayClass `parametersRef` must name.
const GROUP: &str = "gateway.gloo.solo.io";
const KIND: &str = "GatewayParameters";

/// Envoy's log levels (`-l` and `--component-log-level`).
const LOG_LEVELS: &[&str] = &[
    "trace", "debug", "info", "warning", "warn", "error", "critical", "off",
];

/// The class's default parameters: `None` without a `parametersRef`, else the object it names,
/// checked. A reference to another kind, or to nothing, is the class's `InvalidParameters`.
pub(crate) fn class_default(
    set: &ResourceSet,
    gc: &GatewayClass,
) -> Result<Option<GatewayParametersSpec>, Problem> {
    let Some(p) = &gc.spec.parameters_ref else {
        return Ok(None);
    };
    let described = format!("parametersRef {}/{} {}", p.group, p.kind, p.name);
    if p.group != GROUP || p.kind != KIND {
        return Err(Problem::new(
            reason::INVALID_PARAMETERS,
            format!("{described} is not supported by this controller (only {GROUP}/{KIND})"),
        ));
    }
    let Some(namespace) = p.namespace.as_deref().filter(|n| !n.is_empty()) else {
        return Err(Problem::new(
            reason::INVALID_PARAMETERS,
            format!("{described}: parametersRef.namespace is required, {KIND} is namespaced"),
        ));
    };
    let key = ObjectKey::new(namespace, &p.name);
    let found = lookup(set, &key)
        .map_err(|m| Problem::new(reason::INVALID_PARAMETERS, format!("parametersRef: {m}")))?;
    Ok(Some(found))
}

/// The parameters of a Gateway whose class is accepted: the class default with the Gateway's
/// own object (the annotation) merged over it. `None` when neither exists.
pub(crate) fn for_gateway(
    set: &ResourceSet,
    key: &ObjectKey,
    gw: &Gateway,
    class: Option<GatewayParametersSpec>,
) -> Result<Option<GatewayParametersSpec>, Problem> {
    let named = gw
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION));
    let Some(name) = named else {
        return Ok(class);
    };
    let own = lookup(set, &ObjectKey::new(&key.namespace, name)).map_err(|m| {
        Problem::new(
            reason::INVALID_PARAMETERS,
            format!("annotation {ANNOTATION}: {m}"),
        )
    })?;
    let Some(base) = class else {
        return Ok(Some(own));
    };
    merge(&base, &own).map(Some).map_err(|m| {
        Problem::new(
            reason::INVALID_PARAMETERS,
            format!("merging {KIND} {key}'s parameters over its class's: {m}"),
        )
    })
}

/// The object named by `key`, validated; the message names the object and the field.
fn lookup(set: &ResourceSet, key: &ObjectKey) -> Result<GatewayParametersSpec, String> {
    let Some(obj) = set.gateway_parameters.get(key) else {
        return Err(format!("{KIND} {key} not found"));
    };
    validate(obj).map_err(|m| format!("{KIND} {key}: {m}"))?;
    Ok(obj.spec.clone())
}

/// What the schema cannot say (or a directory of YAML never checked against it): values that
/// no proxy could be deployed with.
fn validate(obj: &GatewayParameters) -> Result<(), String> {
    let spec = &obj.spec;
    if spec.kube.is_some() && spec.self_managed.is_some() {
        return Err("spec: only one of kube or selfManaged may be set".into());
    }
    let Some(kube) = &spec.kube else {
        return Ok(());
    };
    if let Some(0) = kube.deployment.as_ref().and_then(|d| d.replicas) {
        return Err("spec.kube.deployment.replicas: must be at least 1".into());
    }
    if let Some(bootstrap) = kube
        .envoy_container
        .as_ref()
        .and_then(|e| e.bootstrap.as_ref())
    {
        if let Some(level) = &bootstrap.log_level {
            check_level("spec.kube.envoyContainer.bootstrap.logLevel", level)?;
        }
        for (component, level) in bootstrap.component_log_levels.iter().flatten() {
            let field =
                format!("spec.kube.envoyContainer.bootstrap.componentLogLevels.{component}");
            let fit = !component.is_empty()
                && component
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !fit {
                return Err(format!(
                    "{field}: {component:?} is not an Envoy component name (letters, digits, '_')"
                ));
            }
            check_level(&field, level)?;
        }
    }
    if let Some(ServiceType::ExternalName) = kube.service.as_ref().and_then(|s| s.type_) {
        return Err(
            "spec.kube.service.type: ExternalName cannot expose a proxy (ClusterIP, NodePort or \
             LoadBalancer)"
                .into(),
        );
    }
    Ok(())
}

fn check_level(field: &str, level: &str) -> Result<(), String> {
    if LOG_LEVELS.contains(&level) {
        Ok(())
    } else {
        Err(format!(
            "{field}: {level:?} is not an Envoy log level ({})",
            LOG_LEVELS.join(", ")
        ))
    }
}

/// `over` deep-merged into `base`. Choosing `selfManaged` replaces a `kube` default, and the
/// other way round: the two never stand side by side.
pub fn merge(
    base: &GatewayParametersSpec,
    over: &GatewayParametersSpec,
) -> Result<GatewayParametersSpec, String> {
    let mut base = base.clone();
    if over.self_managed.is_some() {
        base.kube = None;
    }
    if over.kube.is_some() {
        base.self_managed = None;
    }
    let mut merged = serde_json::to_value(&base).map_err(|e| e.to_string())?;
    let over = serde_json::to_value(over).map_err(|e| e.to_string())?;
    deep_merge(&mut merged, over);
    serde_json::from_value(merged).map_err(|e| e.to_string())
}

fn deep_merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                match into.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        into.insert(k, v);
                    }
                }
            }
        }
        (into, from) => *into = from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> GatewayParametersSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn the_gateway_s_values_win_and_maps_merge_by_key() {
        let base = spec(
            "kube: {deployment: {replicas: 1}, podTemplate: {extraLabels: {a: '1', b: '1'}}, \
             envoyContainer: {bootstrap: {logLevel: info}}}",
        );
        let over = spec("kube: {deployment: {replicas: 3}, podTemplate: {extraLabels: {b: '2'}}}");
        let merged = merge(&base, &over).unwrap();
        assert_eq!(
            merged,
            spec(
                "kube: {deployment: {replicas: 3}, podTemplate: {extraLabels: {a: '1', b: '2'}}, \
                 envoyContainer: {bootstrap: {logLevel: info}}}"
            )
        );
    }

    #[test]
    fn self_managed_and_kube_replace_each_other() {
        let kube = spec("kube: {deployment: {replicas: 2}}");
        let own = spec("selfManaged: {}");
        assert_eq!(merge(&kube, &own).unwrap(), own);
        assert_eq!(merge(&own, &kube).unwrap(), kube);
    }

    #[test]
    fn invalid_values_name_their_field() {
        let obj = |yaml: &str| GatewayParameters::new("p", spec(yaml));
        let cases = [
            ("kube: {}\nselfManaged: {}", "spec: only one"),
            (
                "kube: {deployment: {replicas: 0}}",
                "spec.kube.deployment.replicas",
            ),
            (
                "kube: {envoyContainer: {bootstrap: {logLevel: loud}}}",
                "spec.kube.envoyContainer.bootstrap.logLevel: \"loud\"",
            ),
            (
                "kube: {envoyContainer: {bootstrap: {componentLogLevels: {upstream: loud}}}}",
                "componentLogLevels.upstream",
            ),
            (
                "kube: {envoyContainer: {bootstrap: {componentLogLevels: {'a:b': debug}}}}",
                "not an Envoy component name",
            ),
            (
                "kube: {service: {type: ExternalName}}",
                "spec.kube.service.type",
            ),
        ];
        for (yaml, expected) in cases {
            let err = validate(&obj(yaml)).unwrap_err();
            assert!(err.contains(expected), "{yaml}: {err}");
        }
        assert!(validate(&obj("kube: {envoyContainer: {bootstrap: {logLevel: debug, componentLogLevels: {upstream: trace}}}}")).is_ok());
    }
}
