//! A cluster of its own through the CLI: `up` (standard channel), `status`, `kubeconfig`, a
//! crashed node found by `status` and repaired by `up`, and `down` after another crash leaving
//! nothing behind but the logs it was asked to keep.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use gatesim_conformance::cluster::{self, Layout};
use gatesim_node::network::{self, NetworkPlan};
use gatesim_node::process::{self, Signal};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::support::{Cluster, check, echo_pod, is_ready, pod_ip, who_answers};

fn gatesim(args: &[&str], state: &Path) -> Result<Output, String> {
    Command::new(crate::support::gatesim())
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .map_err(|e| format!("running gatesim {args:?}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn succeeded(args: &[&str], state: &Path) -> Result<String, String> {
    let out = gatesim(args, state)?;
    check(out.status.success(), || {
        format!(
            "gatesim {args:?} failed ({}):\n{}{}",
            out.status,
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok(stdout(&out))
}

/// Every process in the node's pod namespaces.
async fn pod_processes(plan: &NetworkPlan) -> Result<Vec<u32>, String> {
    let found = network::leftovers(plan).await.map_err(|e| e.to_string())?;
    let mut pids = Vec::new();
    for netns in found.namespaces {
        pids.extend(
            network::netns_pids(&netns)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(pids)
}

fn kill_node(layout: &Layout) -> Result<u32, String> {
    let pid = layout
        .running(cluster::Part::Node)
        .ok_or("the node is not running")?;
    process::signal(pid, Signal::Kill);
    Ok(pid)
}

pub fn lifecycle_crash_and_down(shared: &Cluster) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state = dir.path().join("cluster");
    let layout = Layout::new(state.clone());
    let up = succeeded(&["cluster", "up", "--channel", "standard"], &state)?;
    check(
        up.contains("cluster up in") && up.contains("gatesim-node"),
        || format!("up said:\n{up}"),
    )?;
    let status = succeeded(&["cluster", "status"], &state)?;
    check(status.matches("healthy ").count() == 4, || {
        format!("status:\n{status}")
    })?;
    let path = succeeded(&["cluster", "kubeconfig"], &state)?;
    check(path.trim() == layout.kubeconfig().to_string_lossy(), || {
        format!("kubeconfig path {path:?}")
    })?;
    let text = succeeded(&["cluster", "kubeconfig", "--print"], &state)?;
    check(text.contains("client-certificate-data"), || {
        "the kubeconfig lacks the admin certificate".into()
    })?;

    let mount = format!("/etc/gatesim-lifecycle-{}", std::process::id());
    let result = shared.block_on(async {
        let client = cluster::admin_client(&layout)
            .await
            .map_err(|e| e.to_string())?;
        let plan = NetworkPlan::new(
            layout
                .read_state()
                .map_err(|e| e.to_string())?
                .ok_or("no state")?
                .network,
        );
        check(plan.index != shared.state.network, || {
            "two clusters share a network".into()
        })?;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let crd = crds
            .get("httproutes.gateway.networking.k8s.io")
            .await
            .map_err(|e| e.to_string())?;
        let channel = crd
            .metadata
            .annotations
            .unwrap_or_default()
            .remove("gateway.networking.k8s.io/channel");
        check(channel.as_deref() == Some("standard"), || {
            format!("CRD channel {channel:?}")
        })?;

        // A pod with a volume at a mount point the node has to create on the host.
        let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
        let secret: Secret = serde_json::from_value(
            json!({"metadata": {"name": "tls"}, "stringData": {"tls.crt": "x"}}),
        )
        .map_err(|e| e.to_string())?;
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| e.to_string())?;
        let mut pod = echo_pod("survivor", 3000);
        pod["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "tls", "mountPath": mount}]);
        pod["spec"]["volumes"] = json!([{"name": "tls", "secret": {"secretName": "tls"}}]);
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(pod).map_err(|e| e.to_string())?,
        )
        .await
        .map_err(|e| e.to_string())?;
        let wait_ready = || async {
            crate::support::eventually(Duration::from_secs(60), || async {
                let pod = pods.get("survivor").await.map_err(|e| e.to_string())?;
                check(is_ready(&pod), || "not Ready".into())?;
                let addr = SocketAddr::from((pod_ip(&pod)?, 3000));
                let answered = who_answers(addr).await?;
                check(answered == "survivor", || format!("answered as {answered}"))
            })
            .await
        };
        wait_ready().await?;
        check(Path::new(&mount).is_dir(), || {
            format!("{mount} was not created")
        })?;

        // A crashed node: status says so, and `up` brings it back with the pod running again.
        let first = pod_processes(&plan).await?;
        kill_node(&layout)?;
        let out = gatesim(&["cluster", "status"], &state)?;
        check(
            !out.status.success() && stdout(&out).contains("not running"),
            || format!("status after the crash:\n{}", stdout(&out)),
        )?;
        succeeded(&["cluster", "up"], &state)?;
        wait_ready().await?;
        for pid in &first {
            check(!process::alive(*pid), || {
                format!("pod process {pid} of the crashed node still runs")
            })?;
        }

        // Crash again, then down: nothing may be left.
        let second = pod_processes(&plan).await?;
        check(!second.is_empty(), || {
            "the repaired node runs no pod processes".into()
        })?;
        kill_node(&layout)?;
        let down = succeeded(&["cluster", "down", "--keep-logs"], &state)?;
        check(down.contains("logs kept"), || format!("down said:\n{down}"))?;
        for pid in &second {
            check(!process::alive(*pid), || {
                format!("pod process {pid} survived down")
            })?;
        }
        let found = network::leftovers(&plan).await.map_err(|e| e.to_string())?;
        check(found.is_empty(), || {
            format!("network leftovers after down: {found:?}")
        })?;
        Ok::<(), String>(())
    });
    let strays = process::processes_mentioning(&state.to_string_lossy());
    let left: Vec<String> = std::fs::read_dir(&state)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if result.is_err() {
        let _ = gatesim(&["cluster", "down"], &state);
    }
    result?;
    check(strays.is_empty(), || {
        format!("processes of the cluster survived down: {strays:?}")
    })?;
    check(left == ["logs"], || {
        format!("the state directory holds {left:?}, not just logs")
    })?;
    check(!Path::new(&mount).exists(), || {
        format!("{mount} was left on the host")
    })
}
