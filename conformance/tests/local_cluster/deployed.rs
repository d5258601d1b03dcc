//! The reference controller deployed as a user deploys it, onto the local cluster: `kubectl
//! apply -k deploy/` brings it up as a pod of the simulated node (image
//! `gatesim/controller:<version>`, mapped to the built `gatesim-controller`), with
//! `--infra kubernetes`; the GATEWAY-HTTP core profile then runs with `gatesim run --target
//! cluster` through the Envoy pods it creates, reached at each Gateway's Service. Afterwards
//! every proxy left belongs to a Gateway that still exists, deleting the base namespaces takes
//! the rest, and `kubectl delete -k deploy/` removes the controller.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::{Api, ResourceExt};

use crate::commands::{BASE_NAMESPACES, BASES, bases_gone, controller_binary, scenario, text};
use crate::support::{Cluster, check, eventually, gatesim};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn kubectl(cluster: &Cluster, args: &[&str]) -> Result<String, String> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(cluster.layout.kubeconfig())
        .args(args)
        .output()
        .map_err(|e| format!("running kubectl {args:?}: {e}"))?;
    check(out.status.success(), || {
        format!("kubectl {args:?} failed ({}):\n{}", out.status, text(&out))
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn deployed_controller_core_profile(cluster: &Cluster) -> Result<(), String> {
    if controller_binary()?.is_none() {
        return Ok(());
    }
    let _turn = BASE_NAMESPACES.lock().unwrap_or_else(|e| e.into_inner());
    let deploy = repository().join("deploy");
    let deploy = deploy.to_string_lossy();
    kubectl(cluster, &["apply", "-k", &deploy])?;
    let outcome = run_profile(cluster);
    // The controller goes whatever happened; its namespace's deletion is waited for.
    let removed = kubectl(cluster, &["delete", "-k", &deploy, "--wait=true"]);
    let gone = cluster.block_on(async {
        let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
        eventually(Duration::from_secs(120), || async {
            match namespaces.get_opt("gatesim-system").await {
                Ok(None) => Ok(()),
                Ok(Some(_)) => Err("namespace gatesim-system still exists".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    });
    outcome?;
    removed?;
    gone
}

fn run_profile(cluster: &Cluster) -> Result<(), String> {
    kubectl(
        cluster,
        &[
            "-n",
            "gatesim-system",
            "rollout",
            "status",
            "deployment/gatesim-controller",
            "--timeout=180s",
        ],
    )?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let junit = dir.path().join("junit.xml");
    let kubeconfig = cluster.layout.kubeconfig().to_string_lossy().into_owned();
    let junit_arg = junit.to_string_lossy().into_owned();
    // The GATEWAY-HTTP core: the scenarios of upstream's Gateway, HTTPRoute and
    // ReferenceGrant tests.
    let core = ["gateway", "httproute", "referencegrant"].map(scenario);
    let out = Command::new(gatesim())
        .args([
            "run",
            "--target",
            "cluster",
            "--kubeconfig",
            &kubeconfig,
            "--gateway-class",
            "gatesim",
            "--conformance-profiles",
            "GATEWAY-HTTP",
            "--junit",
            &junit_arg,
        ])
        .args(&core)
        .output()
        .map_err(|e| format!("running gatesim run: {e}"))?;
    let said = text(&out);
    // The node serves no logs through the API: read the container's log file.
    let logs = || {
        let pods = cluster.layout.node_dir().join("pods");
        std::fs::read_dir(&pods)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("gatesim-system_gatesim-controller")
            })
            .filter_map(|e| std::fs::read_to_string(e.path().join("controller.log")).ok())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    let passed = out.status.success()
        && said.contains("37 passed, 0 failed")
        && xml.matches("<testcase").count() == 37
        && !xml.contains("<failure");
    check(passed, || {
        format!(
            "gatesim run --target cluster said:\n{said}\ncontroller log:\n{}",
            logs()
        )
    })?;
    cluster.block_on(async {
        let deployments: Api<Deployment> = Api::all(cluster.client.clone());
        let gateways: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &gateway_kind());
        let selector = "app.kubernetes.io/managed-by=gatesim,app.kubernetes.io/name=gatesim-proxy";
        // The scenarios' own Gateways are gone, and their proxies with them: every proxy
        // left is a base Gateway's.
        eventually(Duration::from_secs(60), || async {
            let left = deployments
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| e.to_string())?;
            let mut stray = Vec::new();
            for d in &left.items {
                let (ns, name) = (d.namespace().unwrap_or_default(), d.name_any());
                let api: Api<DynamicObject> =
                    Api::namespaced_with(cluster.client.clone(), &ns, &gateway_kind());
                if api
                    .get_opt(&name)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_none()
                {
                    stray.push(format!("{ns}/{name}"));
                }
            }
            check(!left.items.is_empty() && stray.is_empty(), || {
                format!(
                    "proxies without a Gateway: {stray:?} (of {})",
                    left.items.len()
                )
            })
        })
        .await?;
        // The cluster target leaves its base fixtures; deleting them takes the base
        // Gateways' proxies too.
        let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
        for ns in BASES {
            namespaces
                .delete(ns, &DeleteParams::default())
                .await
                .map_err(|e| format!("deleting {ns}: {e}"))?;
        }
        bases_gone(cluster).await?;
        let left = gateways
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        check(left.items.is_empty(), || {
            format!("{} Gateways left", left.items.len())
        })?;
        eventually(Duration::from_secs(60), || async {
            let left = deployments
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| e.to_string())?;
            check(left.items.is_empty(), || {
                format!("{} proxy Deployments left", left.items.len())
            })
        })
        .await
    })
}

fn gateway_kind() -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "Gateway".into(),
        plural: "gateways".into(),
    }
}
