//! Health of each part of a local cluster: its process is the one recorded and alive, and its
//! own health endpoint says so (etcd `/health`, the API server `/readyz`, the controller
//! manager `/healthz`, the Node's Ready condition).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;

use super::state::{ClusterState, Layout, Part};
use super::{ClusterError, apiserver_url, client_for};

/// One line of `gatesim cluster status`.
#[derive(Clone, Debug)]
pub struct PartHealth {
    pub part: Part,
    pub pid: Option<u32>,
    pub healthy: bool,
    pub detail: String,
    /// Resident memory, from /proc.
    pub rss_kib: Option<u64>,
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

async fn get(client: &kube::Client, path: &str) -> Result<String, String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    client
        .request_text(request)
        .await
        .map_err(|e| e.to_string())
}

fn plain_client(port: u16) -> Result<kube::Client, String> {
    let url = format!("http://127.0.0.1:{port}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    kube::Client::try_from(kube::Config::new(url)).map_err(|e| e.to_string())
}

/// Asks one part whether it is healthy; the reason when it is not.
pub async fn check(layout: &Layout, state: &ClusterState, part: Part) -> Result<String, String> {
    match part {
        Part::Etcd => {
            let body = get(&plain_client(state.etcd_client_port)?, "/health").await?;
            if body.contains("\"health\":\"true\"") {
                Ok("healthy".to_owned())
            } else {
                Err(body)
            }
        }
        Part::ApiServer => {
            let client = client_for(layout, &apiserver_url(state))
                .await
                .map_err(|e| e.to_string())?;
            let body = get(&client, "/readyz").await?;
            if body.trim() == "ok" {
                Ok(format!("ready at {}", apiserver_url(state)))
            } else {
                Err(body)
            }
        }
        Part::ControllerManager => {
            let url = format!("https://127.0.0.1:{}", state.controller_manager_port);
            let client = client_for(layout, &url).await.map_err(|e| e.to_string())?;
            let body = get(&client, "/healthz").await?;
            if body.trim() == "ok" {
                Ok("healthy".to_owned())
            } else {
                Err(body)
            }
        }
        Part::Node => {
            let client = client_for(layout, &apiserver_url(state))
                .await
                .map_err(|e| e.to_string())?;
            let nodes: Api<Node> = Api::all(client.clone());
            let node = nodes
                .get_opt(&state.node_name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("Node {} is not registered yet", state.node_name))?;
            let ready = node
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if !ready {
                return Err(format!("Node {} is not Ready", state.node_name));
            }
            let pods: Api<Pod> = Api::all(client);
            let params = kube::api::ListParams::default()
                .fields(&format!("spec.nodeName={}", state.node_name));
            let running = pods
                .list_metadata(&params)
                .await
                .map(|l| l.items.len())
                .unwrap_or_default();
            Ok(format!(
                "Node {} Ready, {running} pod(s) bound, pods in 10.213.{}.0/24",
                state.node_name, state.network
            ))
        }
    }
}

/// Polls `check` until it passes; fails early when the process `pid` just started dies, with
/// its log's tail. Liveness is asked of the process id alone: right after exec the kernel
/// can show an empty command line for a moment, so [`Layout::running`] would call a process
/// that is still starting dead.
pub async fn wait_healthy(
    layout: &Layout,
    state: &ClusterState,
    part: Part,
    pid: u32,
    bound: Duration,
) -> Result<Duration, ClusterError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let last = match check(layout, state, part).await {
            Ok(_) => return Ok(started.elapsed()),
            Err(e) => e,
        };
        let died = !gatesim_node::process::alive(pid);
        if died || started.elapsed() >= bound {
            let log = layout.log(part);
            let tail = std::fs::read_to_string(&log)
                .map(|t| {
                    let lines: Vec<&str> = t.lines().collect();
                    lines[lines.len().saturating_sub(8)..].join("\n")
                })
                .unwrap_or_default();
            let last = if died {
                format!("the process exited ({last}); its log ends with:\n{tail}")
            } else {
                last
            };
            return Err(ClusterError::Unhealthy {
                part: part.name(),
                seconds: bound.as_secs(),
                last,
                log,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Every part's health; `Err(NotUp)` when the directory holds no cluster.
pub async fn status(layout: &Layout) -> Result<Vec<PartHealth>, ClusterError> {
    let state = layout
        .read_state()?
        .ok_or_else(|| ClusterError::NotUp(layout.root.clone()))?;
    let mut out = Vec::new();
    for part in Part::ALL {
        let pid = layout.running(part);
        let (healthy, detail) = match pid {
            None => (false, "not running".to_owned()),
            Some(_) => match check(layout, &state, part).await {
                Ok(detail) => (true, detail),
                Err(e) => (false, e),
            },
        };
        out.push(PartHealth {
            part,
            pid,
            healthy,
            detail,
            rss_kib: pid.and_then(rss_kib),
        });
    }
    Ok(out)
}
