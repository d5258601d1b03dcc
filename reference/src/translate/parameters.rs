//! GatewayParameters: which apply to a Gateway, and what they add up to.
//!
//! A GatewayClass names the default in `spec.parametersRef`. A Gateway may name objects of its
//! own namespace in two places: K8sGateway's annotation [`ANNOTATION`], and the Gateway API's
//! `spec.infrastructure.parametersRef` (which kgateway uses instead). Each is deep-merged over
//! what comes before it (maps merge key by key, anything else it sets replaces the value), in
//! this order: the class default, the annotation's object, the `parametersRef` object. So with
//! both set, the standard field wins where the two disagree. A reference that names nothing,
//! or parameters no proxy could run with, make the class or the Gateway not accepted
//! (`InvalidParameters`) rather than leaving part of the parameters out: a proxy is deployed as
//! described, or not at all.

use serde_json::Value;

use super::conditions::{Problem, reason};
use crate::api::k8sgateway::gateway_parameters::{
    GatewayParametersSpec, Image, KubernetesProxyConfig, ServiceType,
};
use crate::api::{Gateway, GatewayClass, GatewayParameters};
use crate::model::{ObjectKey, ResourceSet};

/// The Gateway annotation naming a GatewayParameters of the Gateway's namespace.
pub const ANNOTATION: &str = "gateway.gloo.solo.io/gateway-parameters-name";

/// API group and kind a GatewayClass `parametersRef` must name.
const GROUP: &str = "gateway.gloo.solo.io";
const KIND: &str = "GatewayParameters";

/// How long a stopping proxy sleeps when `gracefulShutdown` gives no time (as K8sGateway).
pub const GRACEFUL_SLEEP_SECONDS: i64 = 10;

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
/// own objects merged over it, checked as a whole. `None` when there are none.
pub(crate) fn for_gateway(
    set: &ResourceSet,
    key: &ObjectKey,
    gw: &Gateway,
    class: Option<GatewayParametersSpec>,
) -> Result<Option<GatewayParametersSpec>, Problem> {
    let invalid = |m: String| Problem::new(reason::INVALID_PARAMETERS, m);
    let mut layers = Vec::new();
    let annotated = gw
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION));
    if let Some(name) = annotated {
        let own = lookup(set, &ObjectKey::new(&key.namespace, name))
            .map_err(|m| invalid(format!("annotation {ANNOTATION}: {m}")))?;
        layers.push(("the annotation's", own));
    }
    let referenced = gw
        .spec
        .infrastructure
        .as_ref()
        .and_then(|i| i.parameters_ref.as_ref());
    if let Some(r) = referenced {
        let field = "spec.infrastructure.parametersRef";
        if r.group != GROUP || r.kind != KIND {
            return Err(invalid(format!(
                "{field}: {}/{} {} is not supported by this controller (only {GROUP}/{KIND})",
                r.group, r.kind, r.name
            )));
        }
        let own = lookup(set, &ObjectKey::new(&key.namespace, &r.name))
            .map_err(|m| invalid(format!("{field}: {m}")))?;
        layers.push(("spec.infrastructure.parametersRef's", own));
    }
    let mut merged = class;
    for (whose, own) in layers {
        merged = Some(match merged {
            None => own,
            Some(base) => merge(&base, &own).map_err(|m| {
                invalid(format!(
                    "merging {whose} {KIND} over the parameters before it: {m}"
                ))
            })?,
        });
    }
    check_merged(merged.as_ref(), istio_integration(set))
        .map_err(|m| invalid(format!("the parameters of Gateway {key}: {m}")))?;
    Ok(merged)
}

/// Settings `gloo.istioOptions.enableIntegration` (of the Settings in effect): every proxy
/// deployed on Kubernetes gets the Istio sidecars.
pub fn istio_integration(set: &ResourceSet) -> bool {
    let settings = super::settings::current(set)
        .filter(|s| crate::validate::settings(s).is_empty())
        .or(set.last_good_settings.as_ref());
    settings
        .and_then(|s| s.spec.gloo.as_ref()?.istio_options.as_ref())
        .and_then(|o| o.0.get("enableIntegration")?.as_bool())
        == Some(true)
}

/// What only the merged parameters can say: an image no layer names that the rendering needs
/// (gatesim has no default for the sidecars), a drain longer than the pod may take.
fn check_merged(spec: Option<&GatewayParametersSpec>, istio: bool) -> Result<(), String> {
    if spec.is_some_and(|s| s.self_managed.is_some()) {
        return Ok(());
    }
    let default = KubernetesProxyConfig::default();
    let kube = spec.and_then(|s| s.kube.as_ref()).unwrap_or(&default);
    let named = |image: Option<&Image>, field: &str, by: &str| {
        if image
            .and_then(|i| i.repository.as_deref())
            .is_some_and(|r| !r.is_empty())
        {
            Ok(())
        } else {
            Err(format!(
                "{field}.repository: required by {by} (gatesim has no default image for it)"
            ))
        }
    };
    if istio {
        let by = "the Istio integration (Settings gloo.istioOptions.enableIntegration)";
        named(
            kube.sds_container.as_ref().and_then(|c| c.image.as_ref()),
            "spec.kube.sdsContainer.image",
            by,
        )?;
        let istio = kube.istio.clone().unwrap_or_default();
        if istio.custom_sidecars.as_ref().is_none_or(Vec::is_empty) {
            named(
                istio
                    .istio_proxy_container
                    .as_ref()
                    .and_then(|c| c.image.as_ref()),
                "spec.kube.istio.istioProxyContainer.image",
                by,
            )?;
        }
    }
    if let Some(ai) = kube
        .ai_extension
        .as_ref()
        .filter(|a| a.enabled == Some(true))
    {
        named(
            ai.image.as_ref(),
            "spec.kube.aiExtension.image",
            "spec.kube.aiExtension.enabled",
        )?;
    }
    let pod = kube.pod_template.clone().unwrap_or_default();
    let graceful = pod.graceful_shutdown.filter(|g| g.enabled == Some(true));
    if let (Some(g), Some(grace)) = (graceful, pod.termination_grace_period_seconds) {
        let sleep = g.sleep_time_seconds.unwrap_or(GRACEFUL_SLEEP_SECONDS);
        if sleep >= grace {
            return Err(format!(
                "spec.kube.podTemplate.gracefulShutdown.sleepTimeSeconds: {sleep} is not shorter \
                 than spec.kube.podTemplate.terminationGracePeriodSeconds ({grace}): the pod \
                 would be killed while it drains"
            ));
        }
    }
    Ok(())
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
    let pod = kube.pod_template.clone().unwrap_or_default();
    if let Some(s) = pod
        .graceful_shutdown
        .and_then(|g| g.sleep_time_seconds)
        .filter(|s| *s < 0)
    {
        return Err(format!(
            "spec.kube.podTemplate.gracefulShutdown.sleepTimeSeconds: must not be negative, is {s}"
        ));
    }
    if let Some(s) = pod.termination_grace_period_seconds.filter(|s| *s < 0) {
        return Err(format!(
            "spec.kube.podTemplate.terminationGracePeriodSeconds: must not be negative, is {s}"
        ));
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
    use rstest::rstest;

    use super::*;

    /// The parameters of Gateway `shop/gw`: [`CLASS`] (named by the class) and the
    /// GatewayParameters `own` in `shop`, the Gateway's annotation and
    /// `spec.infrastructure.parametersRef` (`group/kind/name`) naming what they say.
    fn resolve(
        own: &[(&str, &str, &str)],
        annotation: Option<&str>,
        reference: Option<&str>,
        settings: &str,
    ) -> Result<Option<GatewayParametersSpec>, Problem> {
        let mut yaml = String::new();
        for (namespace, name, spec) in std::iter::once(&CLASS).chain(own) {
            yaml += &format!(
                "apiVersion: gateway.gloo.solo.io/v1alpha1\nkind: GatewayParameters\n\
                 metadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
            );
        }
        yaml += &format!(
            "apiVersion: gloo.solo.io/v1\nkind: Settings\n\
             metadata: {{name: default, namespace: gloo-system}}\nspec: {settings}\n---\n"
        );
        yaml += "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n\
                 metadata: {name: c}\nspec:\n  controllerName: gatesim.dev/reference-controller\n  \
                 parametersRef: {group: gateway.gloo.solo.io, kind: GatewayParameters, name: class, namespace: infra}\n---\n";
        let annotations = annotation.map_or(String::new(), |a| {
            format!(", annotations: {{{ANNOTATION}: {a}}}")
        });
        let infrastructure = reference.map_or(String::new(), |r| {
            let mut parts = r.split('/');
            let (g, k, n) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            format!("  infrastructure: {{parametersRef: {{group: {g}, kind: {k}, name: {n}}}}}\n")
        });
        yaml += &format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
             metadata: {{name: gw, namespace: shop{annotations}}}\nspec:\n  gatewayClassName: c\n\
             {infrastructure}  listeners: [{{name: http, port: 80, protocol: HTTP}}]\n"
        );
        let set = crate::provider::file::decode_text(std::path::Path::new("t.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let key = ObjectKey::new("shop", "gw");
        let class = class_default(&set, &set.gateway_classes[&ObjectKey::new("", "c")]);
        let class = class
            .map_err(|p| p.message)
            .expect("the class default is valid");
        for_gateway(&set, &key, &set.gateways[&key], class)
    }

    const CLASS: (&str, &str, &str) = (
        "infra",
        "class",
        "{kube: {deployment: {replicas: 1}, podTemplate: {extraLabels: {a: '1', b: '1'}}, stats: {enabled: true}}}",
    );
    const REF: &str = "gateway.gloo.solo.io/GatewayParameters/by-ref";

    #[rstest]
    #[case::class_only(&[], None, None,
        "kube: {deployment: {replicas: 1}, podTemplate: {extraLabels: {a: '1', b: '1'}}, stats: {enabled: true}}")]
    #[case::annotation_over_class(
        &[("shop", "by-annotation", "{kube: {deployment: {replicas: 2}, podTemplate: {extraLabels: {b: '2'}}}}")],
        Some("by-annotation"), None,
        "kube: {deployment: {replicas: 2}, podTemplate: {extraLabels: {a: '1', b: '2'}}, stats: {enabled: true}}")]
    #[case::parameters_ref_over_class(
        &[("shop", "by-ref", "{kube: {deployment: {replicas: 3}, stats: {enabled: false}, floatingUserId: true}}")],
        None, Some(REF),
        "kube: {deployment: {replicas: 3}, podTemplate: {extraLabels: {a: '1', b: '1'}}, stats: {enabled: false}, floatingUserId: true}")]
    #[case::parameters_ref_over_annotation(
        &[("shop", "by-annotation", "{kube: {deployment: {replicas: 2}, podTemplate: {extraLabels: {b: '2', c: '2'}}}}"),
          ("shop", "by-ref", "{kube: {deployment: {replicas: 3}, podTemplate: {extraLabels: {c: '3'}}}}")],
        Some("by-annotation"), Some(REF),
        "kube: {deployment: {replicas: 3}, podTemplate: {extraLabels: {a: '1', b: '2', c: '3'}}, stats: {enabled: true}}")]
    #[case::self_managed_replaces_kube(
        &[("shop", "by-ref", "{selfManaged: {}}")], None, Some(REF), "selfManaged: {}")]
    #[case::lists_are_replaced_not_appended(
        &[("shop", "by-annotation", "{kube: {podTemplate: {tolerations: [{key: x, operator: Exists}]}}}"),
          ("shop", "by-ref", "{kube: {podTemplate: {tolerations: [{key: y, operator: Exists}]}}}")],
        Some("by-annotation"), Some(REF),
        "kube: {deployment: {replicas: 1}, podTemplate: {extraLabels: {a: '1', b: '1'}, tolerations: [{key: y, operator: Exists}]}, stats: {enabled: true}}")]
    fn class_default_then_annotation_then_parameters_ref(
        #[case] own: &[(&str, &str, &str)],
        #[case] annotation: Option<&str>,
        #[case] reference: Option<&str>,
        #[case] expected: &str,
    ) {
        let merged = resolve(own, annotation, reference, "{}").map_err(|p| p.message);
        assert_eq!(merged, Ok(Some(spec(expected))));
    }

    #[rstest]
    #[case::unsupported_kind(&[], None, Some("example.com/Params/p"),
        "spec.infrastructure.parametersRef: example.com/Params p is not supported")]
    #[case::missing_object(&[], None, Some(REF),
        "spec.infrastructure.parametersRef: GatewayParameters shop/by-ref not found")]
    #[case::invalid_object(&[("shop", "by-ref", "{kube: {deployment: {replicas: 0}}}")], None, Some(REF),
        "spec.infrastructure.parametersRef: GatewayParameters shop/by-ref: spec.kube.deployment.replicas")]
    #[case::missing_annotated_object(&[], Some("nope"), None,
        "annotation gateway.gloo.solo.io/gateway-parameters-name: GatewayParameters shop/nope not found")]
    #[case::bad_reference_despite_a_good_annotation(
        &[("shop", "ok", "{kube: {deployment: {replicas: 2}}}")], Some("ok"), Some(REF),
        "spec.infrastructure.parametersRef: GatewayParameters shop/by-ref not found")]
    #[case::negative_sleep(&[("shop", "by-ref", "{kube: {podTemplate: {gracefulShutdown: {enabled: true, sleepTimeSeconds: -1}}}}")],
        None, Some(REF), "gracefulShutdown.sleepTimeSeconds: must not be negative")]
    #[case::drain_longer_than_the_grace_period(
        &[("shop", "by-ref", "{kube: {podTemplate: {gracefulShutdown: {enabled: true, sleepTimeSeconds: 30}, terminationGracePeriodSeconds: 30}}}")],
        None, Some(REF), "sleepTimeSeconds: 30 is not shorter than spec.kube.podTemplate.terminationGracePeriodSeconds (30)")]
    #[case::ai_without_image(&[("shop", "by-ref", "{kube: {aiExtension: {enabled: true}}}")], None, Some(REF),
        "spec.kube.aiExtension.image.repository: required by spec.kube.aiExtension.enabled")]
    fn invalid_parameters_name_the_field(
        #[case] own: &[(&str, &str, &str)],
        #[case] annotation: Option<&str>,
        #[case] reference: Option<&str>,
        #[case] expected: &str,
    ) {
        let problem = resolve(own, annotation, reference, "{}").unwrap_err();
        assert_eq!(problem.reason, reason::INVALID_PARAMETERS);
        assert!(problem.message.contains(expected), "{}", problem.message);
    }

    #[rstest]
    #[case::off_needs_no_images("{}", "{kube: {}}", None)]
    #[case::on_needs_the_sds_image(
        "{gloo: {istioOptions: {enableIntegration: true}}}",
        "{kube: {}}",
        Some("spec.kube.sdsContainer.image.repository: required by the Istio integration")
    )]
    #[case::on_needs_the_agent_image(
        "{gloo: {istioOptions: {enableIntegration: true}}}",
        "{kube: {sdsContainer: {image: {repository: sds}}}}",
        Some("spec.kube.istio.istioProxyContainer.image.repository")
    )]
    #[case::custom_sidecars_replace_the_agent(
        "{gloo: {istioOptions: {enableIntegration: true}}}",
        "{kube: {sdsContainer: {image: {repository: sds}}, istio: {customSidecars: [{name: mine}]}}}",
        None
    )]
    #[case::self_managed_deploys_nothing(
        "{gloo: {istioOptions: {enableIntegration: true}}}",
        "{selfManaged: {}}",
        None
    )]
    fn the_istio_integration_needs_its_images(
        #[case] settings: &str,
        #[case] own: &str,
        #[case] expected: Option<&str>,
    ) {
        match (
            resolve(&[("shop", "by-ref", own)], None, Some(REF), settings),
            expected,
        ) {
            (Ok(_), None) => {}
            (Err(p), Some(e)) => assert!(p.message.contains(e), "{}", p.message),
            (got, expected) => panic!("expected {expected:?}, got {got:?}"),
        }
    }

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
