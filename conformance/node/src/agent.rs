//! The node itself: registers a Ready Node, binds every unscheduled pod to it (there is no
//! scheduler), and runs one supervising task per pod bound to it.
//!
//! No node-lifecycle controller runs in the local cluster, so the Node is written once and
//! needs no lease or heartbeat to stay Ready.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::images::Programs;
use crate::launch::MountPoints;
use crate::network::{self, NetworkError, NetworkPlan};
use crate::pod::{self, FIELD_MANAGER};
use crate::services;
use crate::shared::{Addresses, Shared};

/// How a node is set up.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The Node object's name.
    pub name: String,
    pub network: NetworkPlan,
    /// Pod directories (`pods/`) and the record of created mount points live here.
    pub state_dir: PathBuf,
    pub programs: Programs,
    /// Where the `kubernetes` Service leads (the API server, on this host).
    pub api_server: Option<SocketAddr>,
}

impl NodeConfig {
    pub fn pods_dir(&self) -> PathBuf {
        self.state_dir.join("pods")
    }

    pub fn mount_record(&self) -> PathBuf {
        self.state_dir.join("mountpoints")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("the node's network: {0}")]
    Network(#[from] NetworkError),
    #[error("{action}: {source}")]
    Api {
        action: &'static str,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn api_error(action: &'static str) -> impl FnOnce(kube::Error) -> NodeError {
    move |source| NodeError::Api {
        action,
        source: Box::new(source),
    }
}

/// The labels a scheduler would match `nodeSelector` against.
fn node_labels(name: &str) -> BTreeMap<String, String> {
    [
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", std::env::consts::ARCH),
        ("node.gatesim.dev/simulated", "true"),
    ]
    .into_iter()
    .map(|(k, v)| {
        let v = if v == "x86_64" {
            "amd64"
        } else if v == "aarch64" {
            "arm64"
        } else {
            v
        };
        (k.to_owned(), v.to_owned())
    })
    .collect()
}

fn memory_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(1 << 20)
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

/// Creates or updates the Node and marks it Ready (server-side apply, so a node restarted on
/// the same cluster takes its object over).
async fn register(client: &kube::Client, config: &NodeConfig) -> Result<(), NodeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let subnet = config.network.pod_subnet();
    nodes
        .patch(
            &config.name,
            &params,
            &Patch::Apply(json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": config.name, "labels": node_labels(&config.name)},
                "spec": {"podCIDR": subnet, "podCIDRs": [subnet]},
            })),
        )
        .await
        .map_err(api_error("registering the Node"))?;
    let now = jiff::Timestamp::now().to_string();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let resources =
        json!({"cpu": cpus.to_string(), "memory": format!("{}Ki", memory_kib()), "pods": "250"});
    let status = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "status": {
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "simulated node"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "simulated node"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "simulated node"),
                condition("Ready", "True", "KubeletReady", "gatesim-node is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": config.network.gateway().to_string()},
                {"type": "Hostname", "address": config.name},
            ],
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {
                "architecture": node_labels(&config.name)["kubernetes.io/arch"],
                "bootID": "",
                "containerRuntimeVersion": format!("gatesim-node://{}", env!("CARGO_PKG_VERSION")),
                "kernelVersion": kernel_version(),
                "kubeProxyVersion": "",
                "kubeletVersion": format!("v1.36.3+gatesim-node-{}", env!("CARGO_PKG_VERSION")),
                "machineID": "",
                "operatingSystem": "linux",
                "osImage": "gatesim simulated node",
                "systemUUID": "",
            },
        },
    });
    nodes
        .patch_status(&config.name, &params, &Patch::Apply(status))
        .await
        .map_err(api_error("marking the Node Ready"))?;
    Ok(())
}

/// A pod the node runs: its latest version goes to the supervising task.
struct Running {
    updates: watch::Sender<Option<Pod>>,
}

struct Agent {
    shared: Arc<Shared>,
    running: HashMap<String, Running>,
    binding: Arc<Mutex<HashSet<String>>>,
    tasks: JoinSet<()>,
    shutdown: watch::Receiver<bool>,
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn terminal(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Succeeded" || p == "Failed")
}

impl Agent {
    fn seen(&mut self, pod: Pod) {
        let spec = pod.spec.as_ref();
        let node = spec
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        if node == self.shared.node_name {
            let key = uid(&pod);
            match self.running.get(&key) {
                Some(running) => {
                    let _ = running.updates.send(Some(pod));
                }
                None => {
                    let (tx, rx) = watch::channel(Some(pod));
                    let shared = Arc::clone(&self.shared);
                    let shutdown = self.shutdown.clone();
                    self.tasks.spawn(pod::supervise(shared, rx, shutdown));
                    self.running.insert(key, Running { updates: tx });
                }
            }
        } else if node.is_empty() && pod.metadata.deletion_timestamp.is_none() && !terminal(&pod) {
            let key = uid(&pod);
            let fresh = self
                .binding
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone());
            if fresh {
                let (shared, binding) = (Arc::clone(&self.shared), Arc::clone(&self.binding));
                self.tasks.spawn(async move {
                    bind(&shared, &pod).await;
                    binding
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&key);
                });
            }
        }
    }

    fn gone(&mut self, key: &str) {
        if let Some(running) = self.running.remove(key) {
            let _ = running.updates.send(None);
        }
    }
}

/// Binds a pod to the node, as the scheduler would; `nodeSelector` must match the node.
async fn bind(shared: &Shared, pod: &Pod) {
    let (Some(name), Some(namespace)) = (&pod.metadata.name, &pod.metadata.namespace) else {
        return;
    };
    let labels = node_labels(&shared.node_name);
    let selector = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.clone())
        .unwrap_or_default();
    let mismatched: Vec<String> = selector
        .iter()
        .filter(|(k, v)| labels.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !mismatched.is_empty() {
        shared.event(
            pod,
            true,
            "FailedScheduling",
            "Scheduling",
            format!(
                "0/1 nodes are available: node {} does not match the pod's node selector ({})",
                shared.node_name,
                mismatched.join(", ")
            ),
        );
        return;
    }
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), namespace);
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": namespace, "uid": pod.metadata.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": shared.node_name},
    });
    let mut pause = Duration::from_millis(50);
    for _ in 0..10 {
        match api
            .create_subresource::<_, Value>("binding", name, &PostParams::default(), &binding)
            .await
        {
            Ok(_) => {
                shared.event(
                    pod,
                    false,
                    "Scheduled",
                    "Binding",
                    format!(
                        "Successfully assigned {namespace}/{name} to {}",
                        shared.node_name
                    ),
                );
                return;
            }
            // Bound already, or gone.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => return,
            Err(e) => {
                tracing::warn!(pod = %format!("{namespace}/{name}"), error = %e, "binding failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Runs the node until `shutdown` completes, then stops every pod's processes and removes
/// the node's network (the API objects stay: the node may come back).
pub async fn run(
    client: kube::Client,
    config: NodeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NodeError> {
    // Whatever an earlier run of this node left behind goes first: its pods start afresh.
    network::teardown(&config.network).await?;
    MountPoints::remove_recorded(&config.mount_record());
    let pods_dir = config.pods_dir();
    let io = |what, path: &PathBuf| {
        let path = path.clone();
        move |source| NodeError::Io { what, path, source }
    };
    if pods_dir.exists() {
        std::fs::remove_dir_all(&pods_dir).map_err(io("clearing", &pods_dir))?;
    }
    std::fs::create_dir_all(&pods_dir).map_err(io("creating", &pods_dir))?;
    let hosts = services::hosts_path(&config.state_dir);
    services::init_hosts(&hosts).map_err(io("writing", &hosts))?;
    network::create_bridge(&config.network).await?;
    register(&client, &config).await?;

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: Some(config.name.clone()),
        },
    );
    let shared = Arc::new(Shared {
        client: client.clone(),
        node_name: config.name.clone(),
        plan: config.network,
        programs: config.programs.clone(),
        pods_dir,
        mount_points: MountPoints::new(config.mount_record()),
        addresses: Mutex::new(Addresses::default()),
        recorder,
        hosts: hosts.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let serving = tokio::spawn(services::run(
        client.clone(),
        config.network,
        hosts,
        config.api_server,
        stop_rx.clone(),
    ));
    let mut agent = Agent {
        shared,
        running: HashMap::new(),
        binding: Arc::new(Mutex::new(HashSet::new())),
        tasks: JoinSet::new(),
        shutdown: stop_rx,
    };
    tracing::info!(node = %config.name, subnet = %config.network.pod_subnet(), "node ready");

    let pods: Api<Pod> = Api::all(client);
    let events = watcher::watcher(pods, watcher::Config::default()).default_backoff();
    futures::pin_mut!(events);
    futures::pin_mut!(shutdown);
    let mut relisted: Option<HashSet<String>> = None;
    loop {
        let event = tokio::select! {
            () = &mut shutdown => break,
            event = events.next() => event,
            Some(_) = agent.tasks.join_next(), if !agent.tasks.is_empty() => continue,
        };
        match event {
            None => break,
            Some(Err(e)) => tracing::warn!(error = %e, "watching pods"),
            Some(Ok(Event::Apply(pod))) => agent.seen(pod),
            Some(Ok(Event::Delete(pod))) => agent.gone(&uid(&pod)),
            Some(Ok(Event::Init)) => relisted = Some(HashSet::new()),
            Some(Ok(Event::InitApply(pod))) => {
                if let Some(seen) = relisted.as_mut() {
                    seen.insert(uid(&pod));
                }
                agent.seen(pod);
            }
            Some(Ok(Event::InitDone)) => {
                if let Some(seen) = relisted.take() {
                    let vanished: Vec<String> = agent
                        .running
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for key in vanished {
                        agent.gone(&key);
                    }
                }
            }
        }
    }

    tracing::info!(node = %config.name, "stopping pods");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(Duration::from_secs(15), async {
        while agent.tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        agent.tasks.abort_all();
    }
    serving.abort();
    network::teardown(&config.network).await?;
    MountPoints::remove_recorded(&config.mount_record());
    Ok(())
}
