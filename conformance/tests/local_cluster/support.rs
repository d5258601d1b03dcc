//! The shared cluster of the trials, and the helpers they use: namespaces of their own, pods
//! from JSON, waiting on real conditions, and requests to pods.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatesim_conformance::cluster::{self, Channel, ClusterState, DownOptions, Layout, UpOptions};
use gatesim_conformance::probe::{ProbeRequest, send};
use gatesim_conformance::tools::ALL;
use gatesim_node::network::{self, NetworkPlan};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::{Value, json};

pub struct Cluster {
    runtime: tokio::runtime::Runtime,
    pub layout: Layout,
    pub state: ClusterState,
    pub client: kube::Client,
}

#[derive(Clone)]
pub enum Started {
    Ready(Arc<Cluster>),
    Skipped(String),
    Failed(String),
}

pub fn required() -> bool {
    std::env::var("GATESIM_REQUIRE_ALL").as_deref() == Ok("1")
}

/// `gatesim`, the binary under test (it is also the node's program).
pub fn gatesim() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gatesim"))
}

fn unavailable(why: String) -> Started {
    if required() {
        Started::Failed(format!(
            "{why} (GATESIM_REQUIRE_ALL=1 requires the local cluster)"
        ))
    } else {
        eprintln!("SKIP: local cluster trials: {why}");
        Started::Skipped(format!("SKIP: {why}"))
    }
}

/// Builds (or finds) the tools and brings a cluster up in a state directory of this process.
pub fn start() -> Started {
    if !cluster::is_root() {
        return unavailable("not root: the simulated node creates network namespaces".into());
    }
    for tool in ALL {
        let say = |line: &str| eprintln!("{line}");
        match tool.ensure(&[], &say) {
            Ok(_) => {}
            Err(e) if e.is_missing_go() => return unavailable(e.to_string()),
            Err(e) => return Started::Failed(format!("building {}: {e}", tool.name)),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Started::Failed(format!("starting a runtime: {e}")),
    };
    let layout = Layout::new(
        std::env::temp_dir().join(format!("gatesim-test-cluster-{}", std::process::id())),
    );
    let options = UpOptions {
        layout: layout.clone(),
        channel: Channel::Experimental,
        node_program: gatesim(),
        extra_crds: Some(cluster::up::repository_crds()),
    };
    let progress: cluster::up::Progress = Arc::new(|line: &str| eprintln!("{line}"));
    let started = runtime.block_on(async {
        let report = cluster::up(&options, progress).await?;
        eprintln!("shared cluster up in {:?}", report.total);
        let client = cluster::admin_client(&layout).await?;
        let state = layout
            .read_state()?
            .ok_or_else(|| cluster::ClusterError::NotUp(layout.root.clone()))?;
        Ok::<_, cluster::ClusterError>((client, state))
    });
    match started {
        Ok((client, state)) => Started::Ready(Arc::new(Cluster {
            runtime,
            layout,
            state,
            client,
        })),
        Err(e) if e.is_unavailable() => unavailable(e.to_string()),
        Err(e) => Started::Failed(format!("starting the shared cluster: {e}")),
    }
}

/// Takes the shared cluster down and checks that nothing of it is left.
pub fn stop(cluster: &Cluster) -> Result<(), String> {
    let options = DownOptions {
        layout: cluster.layout.clone(),
        keep_logs: false,
    };
    cluster
        .block_on(cluster::down(&options))
        .map_err(|e| e.to_string())?;
    cluster.block_on(nothing_left(&cluster.layout, cluster.plan()))
}

/// No process, namespace, link, route or file of the cluster remains.
pub async fn nothing_left(layout: &Layout, plan: NetworkPlan) -> Result<(), String> {
    let found = network::leftovers(&plan).await.map_err(|e| e.to_string())?;
    if !found.is_empty() {
        return Err(format!("network leftovers: {found:?}"));
    }
    let processes = gatesim_node::process::processes_mentioning(&layout.root.to_string_lossy());
    if !processes.is_empty() {
        return Err(format!("processes still running: {processes:?}"));
    }
    if layout.root.exists() {
        return Err(format!("{} still exists", layout.root.display()));
    }
    Ok(())
}

impl Cluster {
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    pub fn plan(&self) -> NetworkPlan {
        NetworkPlan::new(self.state.network)
    }

    /// A fresh namespace for one trial.
    pub async fn namespace(&self, name: &str) -> Result<String, String> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))
            .map_err(|e| e.to_string())?;
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .map_err(|e| format!("creating namespace {name}: {e}"))?;
        Ok(name.to_owned())
    }

    /// Deletes a trial's namespace (and so its pods) without waiting.
    pub async fn delete_namespace(&self, name: &str) -> Result<(), String> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|e| format!("deleting namespace {name}: {e}"))
    }

    pub fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates a pod from its JSON (`metadata.name` and `spec` at least).
    pub async fn create_pod(&self, namespace: &str, pod: Value) -> Result<Pod, String> {
        let pod: Pod = serde_json::from_value(pod).map_err(|e| e.to_string())?;
        self.pods(namespace)
            .create(&PostParams::default(), &pod)
            .await
            .map_err(|e| format!("creating pod: {e}"))
    }

    /// Waits until the pod satisfies `ready`, returning it; fails with its last status.
    pub async fn wait_pod(
        &self,
        namespace: &str,
        name: &str,
        bound: Duration,
        what: &str,
        ready: impl Fn(&Pod) -> bool,
    ) -> Result<Pod, String> {
        let deadline = Instant::now() + bound;
        loop {
            let pod = self
                .pods(namespace)
                .get_opt(name)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(pod) = &pod
                && ready(pod)
            {
                return Ok(pod.clone());
            }
            if Instant::now() >= deadline {
                let status = pod
                    .and_then(|p| p.status)
                    .map(|s| serde_json::to_string_pretty(&s).unwrap_or_default());
                return Err(format!(
                    "pod {namespace}/{name} not {what} within {bound:?}; status: {}",
                    status.unwrap_or_else(|| "(no pod)".into())
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_pod_gone(
        &self,
        namespace: &str,
        name: &str,
        bound: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + bound;
        while self
            .pods(namespace)
            .get_opt(name)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            if Instant::now() >= deadline {
                return Err(format!(
                    "pod {namespace}/{name} still exists after {bound:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    pub async fn delete_pod(
        &self,
        namespace: &str,
        name: &str,
        grace: Option<u32>,
    ) -> Result<(), String> {
        let params = DeleteParams {
            grace_period_seconds: grace,
            ..DeleteParams::default()
        };
        self.pods(namespace)
            .delete(name, &params)
            .await
            .map(|_| ())
            .map_err(|e| format!("deleting pod {namespace}/{name}: {e}"))
    }
}

pub fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready") == Some("True")
}

pub fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

pub fn pod_ip(pod: &Pod) -> Result<Ipv4Addr, String> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_ref())
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| "the pod has no IPv4 podIP".to_owned())
}

/// An echo-basic pod answering on `port`, its name in the reply.
pub fn echo_pod(name: &str, port: u16) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [{
                "name": "echo",
                "image": "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
                "env": [
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "HTTP_PORT", "value": port.to_string()},
                ],
                "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
            }],
        },
    })
}

/// Which pod answered a GET on `addr` (the echo reply's pod name).
pub async fn who_answers(addr: SocketAddr) -> Result<String, String> {
    let mut request = ProbeRequest::new(addr, "/who");
    request.timeout = Duration::from_secs(3);
    let response = send(&request).await.map_err(|e| e.to_string())?;
    response
        .echo
        .map(|e| e.pod)
        .ok_or_else(|| format!("{addr} answered {} without an echo reply", response.status))
}

/// A connection to `addr` is refused or cannot be made at all.
pub async fn unreachable(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await,
        Ok(Err(_)) | Err(_)
    )
}

/// Polls `check` until it gives `Ok`, or fails with its last error after `bound`.
pub async fn eventually<T, F, Fut>(bound: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + bound;
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(format!("after {bound:?}: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Fails with `message` unless `cond`.
pub fn check(cond: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(message()) }
}
