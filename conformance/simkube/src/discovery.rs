//! Discovery documents, generated from the kind table: what kubectl and kube's discovery
//! read to map kinds to resources.

use serde_json::{Value, json};

use crate::kinds::{KindSpec, KindTable};

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "gitVersion": "v1.34.0-simkube",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_doc(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "name": group,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(versions[0]),
    })
}

/// `GET /apis`.
pub fn group_list(table: &KindTable) -> Value {
    let groups: Vec<Value> = table
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_doc(g, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`, if the group is served.
pub fn group(table: &KindTable, name: &str) -> Option<Value> {
    let (g, versions) = table
        .groups()
        .into_iter()
        .find(|(g, _)| !g.is_empty() && *g == name)?;
    let mut doc = group_doc(g, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn resource_entries(spec: &KindSpec) -> [Value; 2] {
    let mut main = json!({
        "name": spec.plural,
        "singularName": spec.singular,
        "namespaced": spec.namespaced,
        "kind": spec.kind,
        "verbs": VERBS,
    });
    if !spec.short_names.is_empty() {
        main["shortNames"] = json!(spec.short_names);
    }
    if spec.group.starts_with("gateway.networking.") {
        main["categories"] = json!(["gateway-api"]);
    } else if spec.group.ends_with("solo.io") {
        main["categories"] = json!(["gloo-gateway"]);
    }
    let status = json!({
        "name": format!("{}/status", spec.plural),
        "singularName": "",
        "namespaced": spec.namespaced,
        "kind": spec.kind,
        "verbs": ["get", "patch", "update"],
    });
    [main, status]
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`, if served.
pub fn resource_list(table: &KindTable, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for spec in table
        .served()
        .filter(|k| k.group == group && k.serves(version))
    {
        let [main, status] = resource_entries(spec);
        resources.push(main);
        if spec.status_subresource {
            resources.push(status);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_v1beta1_lists_the_beta_kinds_with_status() {
        let doc = resource_list(&KindTable::new(), "gateway.networking.k8s.io", "v1beta1").unwrap();
        let names: Vec<&str> = doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"gateways") && names.contains(&"gateways/status"));
        assert!(names.contains(&"referencegrants") && !names.contains(&"referencegrants/status"));
        assert!(!names.contains(&"grpcroutes"), "GRPCRoute is v1 only");
        let gw = &doc["resources"].as_array().unwrap()
            [names.iter().position(|n| *n == "gateways").unwrap()];
        assert_eq!(gw["shortNames"], json!(["gtw"]));
    }

    #[test]
    fn unknown_groups_and_versions_are_absent() {
        let table = KindTable::new();
        assert!(group(&table, "example.com").is_none());
        assert!(resource_list(&table, "apps", "v1beta1").is_none());
        assert!(
            group_list(&table)["groups"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["name"] != "")
        );
    }
}
