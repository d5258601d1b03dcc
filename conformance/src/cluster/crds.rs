//! CRD installation: every CustomResourceDefinition of the given files, applied server side
//! (as the Gateway API project documents), then awaited until Established.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use serde::Deserialize as _;
use serde_json::Value;

use super::ClusterError;

/// Who owns the CRDs in managedFields.
const FIELD_MANAGER: &str = "gatesim-cluster";

/// The YAML files of a directory whose names match `filter`, sorted.
pub fn files_in(dir: &Path, filter: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, ClusterError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(ClusterError::io("reading", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && p.file_name().and_then(|n| n.to_str()).is_some_and(&filter)
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The CRDs in the files (other kinds are left out).
fn read(files: &[PathBuf]) -> Result<Vec<Value>, ClusterError> {
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(ClusterError::io("reading", file))?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document)
                .map_err(|e| ClusterError::State(format!("{}: {e}", file.display())))?;
            if value.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                crds.push(value);
            }
        }
    }
    Ok(crds)
}

/// Applies the CRDs of `files` and waits until all are Established; their names.
pub async fn install(
    client: &kube::Client,
    files: &[PathBuf],
) -> Result<Vec<String>, ClusterError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in read(files)? {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|source| ClusterError::Api {
                action: format!("applying CRD {name}"),
                source: Box::new(source),
            })?;
        names.push(name);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in &names {
        loop {
            let crd = api.get(name).await.map_err(|source| ClusterError::Api {
                action: format!("reading CRD {name}"),
                source: Box::new(source),
            })?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::State(format!(
                    "CRD {name} was not Established within 60s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(names)
}
