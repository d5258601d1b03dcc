//! Minimal OpenAPI v3 documents, because `kubectl apply` needs them.
//!
//! kubectl validates manifests either itself (downloading the whole OpenAPI schema, and
//! failing when there is none) or by asking the server to (`fieldValidation=Strict`) when
//! the OpenAPI v3 document of the group version lists that parameter on the kind's PATCH
//! operation. simkube publishes exactly that: one PATCH operation per kind, tagged with
//! its group/version/kind and the `fieldValidation` parameter, and no schemas. Without
//! schemas kubectl computes client-side apply patches from its built-in types (strategic
//! merge) or as JSON merge patches (custom resources), as it does for any CRD.

use serde_json::{Map, Value, json};

use crate::kinds::KindTable;

/// Path of a group version in the OpenAPI v3 index (`api/v1`, `apis/<group>/<version>`).
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: the index of group-version documents.
pub fn index(table: &KindTable) -> Value {
    let mut paths = Map::new();
    for (group, versions) in table.groups() {
        for version in versions {
            let p = gv_path(group, version);
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=simkube")}),
            );
        }
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/<api/v1 | apis/<group>/<version>>`, if served.
pub fn group_version(table: &KindTable, path: &str) -> Option<Value> {
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return None,
    };
    let mut paths = Map::new();
    for spec in table
        .served()
        .filter(|k| k.group == group && k.serves(version))
    {
        let collection = if spec.namespaced {
            format!(
                "/{}/namespaces/{{namespace}}/{}",
                gv_path(group, version),
                spec.plural
            )
        } else {
            format!("/{}/{}", gv_path(group, version), spec.plural)
        };
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "patch": {
                    "operationId": format!("patch{}", spec.kind),
                    "x-kubernetes-group-version-kind": {
                        "group": group, "version": version, "kind": spec.kind
                    },
                    "x-kubernetes-action": "patch",
                    "parameters": [
                        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                        {"name": "force", "in": "query", "schema": {"type": "boolean"}}
                    ],
                    "responses": {"200": {"description": "OK"}}
                }
            }),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (simkube)", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_group_version_is_indexed_and_documented() {
        let table = KindTable::new();
        let idx = index(&table);
        let paths = idx["paths"].as_object().unwrap();
        assert!(paths.contains_key("api/v1"));
        assert!(paths.contains_key("apis/gateway.networking.k8s.io/v1beta1"));
        for key in paths.keys() {
            let doc = group_version(&table, key).unwrap_or_else(|| panic!("{key}"));
            assert!(!doc["paths"].as_object().unwrap().is_empty());
        }
        let gw = group_version(&table, "apis/gateway.networking.k8s.io/v1").unwrap();
        let op = &gw["paths"]["/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/{name}"]
            ["patch"];
        assert_eq!(
            op["x-kubernetes-group-version-kind"]["kind"],
            json!("Gateway")
        );
        assert!(group_version(&table, "apis/example.com/v1").is_none());
    }
}
