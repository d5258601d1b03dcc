//! Server-side defaults: the CRD schemas' defaults (or, without schemas, the table in
//! [`crate::crd_defaults`]),
//! and the few built-in ones clients read back: a Namespace's name label and phase, a
//! Service's type, cluster IP and port defaults.
//!
//! Cluster IPs come from 10.96.0.0/16 like a kind cluster's; nothing ever connects to
//! them (backends are reached through EndpointSlices on loopback), they only make the
//! object look like one a real server returns.

use serde_json::{Map, Value, json};

use crate::kinds::KindSpec;
use crate::meta;
use crate::schema::Node;

/// The label every Namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Allocates cluster IPs.
#[derive(Debug, Default)]
pub struct Allocator {
    next_ip: u32,
}

impl Allocator {
    fn cluster_ip(&mut self) -> String {
        self.next_ip += 1;
        // Skip .0 and the apiserver's conventional 10.96.0.1.
        let n = self.next_ip + 1;
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }
}

/// Fills defaults into `obj` being written over `old` (None on create): the schema's
/// when the kind has one, else simkube's own table.
pub fn apply(
    spec: &KindSpec,
    schema: Option<&Node>,
    obj: &mut Value,
    old: Option<&Value>,
    alloc: &mut Allocator,
) {
    match (spec.group, spec.kind, schema) {
        ("", "Namespace", _) => namespace(obj, old.is_none()),
        ("", "Service", _) => service(obj, old, alloc),
        (_, _, Some(schema)) => crate::schema::apply_defaults(schema, obj),
        (group, kind, None) => crate::crd_defaults::apply(group, kind, obj),
    }
}

fn namespace(obj: &mut Value, creating: bool) {
    let name = meta::name(obj).unwrap_or_default().to_string();
    let meta = meta::metadata_mut(obj);
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(NAMESPACE_NAME_LABEL.into(), Value::String(name));
    }
    if creating {
        obj["status"] = json!({"phase": "Active"});
    }
}

fn service(obj: &mut Value, old: Option<&Value>, alloc: &mut Allocator) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        obj["spec"] = json!({});
        return service(obj, old, alloc);
    };
    let kind = spec
        .entry("type")
        .or_insert_with(|| Value::String("ClusterIP".into()))
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    spec.entry("sessionAffinity")
        .or_insert_with(|| Value::String("None".into()));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol")
                .or_insert_with(|| Value::String("TCP".into()));
            if !port.contains_key("targetPort")
                && let Some(p) = port.get("port").cloned()
            {
                port.insert("targetPort".into(), p);
            }
        }
    }
    if kind == "ExternalName" {
        return;
    }
    // The cluster IP is immutable: keep the one allocated before.
    let previous = old
        .and_then(|o| o.pointer("/spec/clusterIP"))
        .and_then(Value::as_str)
        .map(String::from);
    let ip = match (spec.get("clusterIP").and_then(Value::as_str), previous) {
        (_, Some(prev)) => prev,
        (Some(given), None) if !given.is_empty() => given.to_string(),
        _ => alloc.cluster_ip(),
    };
    spec.insert("clusterIP".into(), Value::String(ip.clone()));
    if ip != "None" {
        spec.insert("clusterIPs".into(), json!([ip]));
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy")
            .or_insert_with(|| Value::String("SingleStack".into()));
    }
    spec.entry("internalTrafficPolicy")
        .or_insert_with(|| Value::String("Cluster".into()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::KINDS;

    fn spec(kind: &str) -> &'static KindSpec {
        KINDS
            .iter()
            .find(|k| k.kind == kind && k.group.is_empty())
            .unwrap()
    }

    #[test]
    fn services_get_an_ip_that_sticks() {
        let mut alloc = Allocator::default();
        let mut svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
        apply(spec("Service"), None, &mut svc, None, &mut alloc);
        let ip = svc["spec"]["clusterIP"].clone();
        assert!(ip.as_str().unwrap().starts_with("10.96."));
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], json!(80));
        let mut updated = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 81}]}});
        apply(spec("Service"), None, &mut updated, Some(&svc), &mut alloc);
        assert_eq!(updated["spec"]["clusterIP"], ip);
    }

    #[test]
    fn namespaces_carry_their_name_label() {
        let mut ns = json!({"metadata": {"name": "team-a"}});
        apply(
            spec("Namespace"),
            None,
            &mut ns,
            None,
            &mut Allocator::default(),
        );
        assert_eq!(
            ns["metadata"]["labels"][NAMESPACE_NAME_LABEL],
            json!("team-a")
        );
        assert_eq!(ns["status"]["phase"], json!("Active"));
    }
}
