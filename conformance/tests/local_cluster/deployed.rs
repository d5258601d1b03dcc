//! The reference controller deployed as a user deploys it, onto the local cluster: `kubectl
//! apply -k deploy/` brings it up as a pod of the simulated node (image
//! `gatesim/controller:<version>`, mapped to the built `gatesim-controller`), with
//! `--infra kubernetes`; the GATEWAY-HTTP core profile then runs with `gatesim run --target
//! cluster` through the Envoy pods it creates, reached at each Gateway's Service. Afterwards
//! the proxies' objects are gone with their Gateways, and `kubectl delete -k deploy/` removes
//! the controller.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::ListParams;

use crate::commands::{BASE_NAMESPACES, bases_gone, controller_binary, text};
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
    check(
        out.status.success() && said.contains("37 passed, 0 failed"),
        || {
            format!(
                "gatesim run --target cluster said:\n{said}\ncontroller log:\n{}",
                logs()
            )
        },
    )?;
    cluster.block_on(async {
        bases_gone(cluster).await?;
        // Every proxy went with its Gateway.
        let deployments: Api<Deployment> = Api::all(cluster.client.clone());
        let selector = "app.kubernetes.io/managed-by=gatesim,app.kubernetes.io/name=gatesim-proxy";
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
