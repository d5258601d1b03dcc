//! `gatesim cluster up`: builds (or finds) the pinned binaries, makes the PKI and kubeconfig on
//! first use, starts whatever part is not running (in order, each awaited until healthy), and
//! installs the CRDs. Parts that run already are left alone, so `up` also repairs a cluster
//! one of whose processes died.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatesim_node::network::NetworkPlan;

use super::health::wait_healthy;
use super::spawn::detached;
use super::state::{ClusterState, Layout, Part, claim_network, free_port};
use super::{ClusterError, apiserver_url, client_for, crds, kubeconfig_text};
use crate::report::terminal::human;
use crate::tools::{self, CONFORMANCE, CONTROL_PLANE, ETCD};

/// Which Gateway API CRDs to install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Standard,
    Experimental,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Standard => "standard",
            Channel::Experimental => "experimental",
        }
    }

    pub fn parse(name: &str) -> Option<Channel> {
        match name {
            "standard" => Some(Channel::Standard),
            "experimental" => Some(Channel::Experimental),
            _ => None,
        }
    }
}

/// Progress lines for people.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

pub struct UpOptions {
    pub layout: Layout,
    pub channel: Channel,
    /// The program that runs the node (`<program> cluster node --state-dir <dir>`): the
    /// `gatesim` binary.
    pub node_program: PathBuf,
    /// More CRDs to install when the directory exists (the repository's K8sGateway CRDs).
    pub extra_crds: Option<PathBuf>,
}

/// What `up` did.
#[derive(Debug)]
pub struct UpReport {
    /// Parts started now, with the time each took to become healthy.
    pub started: Vec<(Part, Duration)>,
    pub crds: Vec<String>,
    pub total: Duration,
    pub kubeconfig: PathBuf,
}

/// The repository's K8sGateway CRDs, when this build comes from a checkout that has them.
pub fn repository_crds() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(
            || PathBuf::from("reference/crds"),
            |root| root.join("reference/crds"),
        )
}

async fn ensure_tools(progress: &Progress) -> Result<(), ClusterError> {
    let progress = Arc::clone(progress);
    tokio::task::spawn_blocking(move || {
        let say = |line: &str| progress(line);
        ETCD.ensure(&[], &say)?;
        CONTROL_PLANE.ensure(&[], &say)?;
        CONFORMANCE.ensure(&["echo-basic", "crds"], &say)?;
        Ok::<(), tools::ToolsError>(())
    })
    .await
    .map_err(|e| ClusterError::State(format!("building tools: {e}")))??;
    Ok(())
}

fn create(layout: &Layout, channel: Channel) -> Result<ClusterState, ClusterError> {
    std::fs::create_dir_all(&layout.root).map_err(ClusterError::io("creating", &layout.root))?;
    let network = claim_network(layout)?;
    let plan = NetworkPlan::new(network);
    let state = ClusterState {
        network,
        etcd_client_port: free_port()?,
        etcd_peer_port: free_port()?,
        apiserver_port: free_port()?,
        controller_manager_port: free_port()?,
        channel: channel.name().to_owned(),
        node_name: "gatesim-node".to_owned(),
    };
    // The `kubernetes` Service takes the first address of the service range.
    let kubernetes_service = std::net::Ipv4Addr::new(10, 214, network, 1);
    layout
        .pki()
        .generate(&[plan.gateway(), kubernetes_service])?;
    let kubeconfig = layout.kubeconfig();
    let text = kubeconfig_text(layout, &apiserver_url(&state))?;
    std::fs::write(&kubeconfig, text).map_err(ClusterError::io("writing", &kubeconfig))?;
    layout.write_state(&state)?;
    Ok(state)
}

fn path_arg(path: PathBuf) -> String {
    path.to_string_lossy().into_owned()
}

fn arguments(layout: &Layout, state: &ClusterState, part: Part) -> (PathBuf, Vec<String>) {
    let pki = layout.pki();
    let local = |port: u16| format!("http://127.0.0.1:{port}");
    match part {
        Part::Etcd => (
            ETCD.path("etcd"),
            vec![
                "--name=default".into(),
                format!("--data-dir={}", path_arg(layout.etcd_data())),
                format!("--listen-client-urls={}", local(state.etcd_client_port)),
                format!("--advertise-client-urls={}", local(state.etcd_client_port)),
                format!("--listen-peer-urls={}", local(state.etcd_peer_port)),
                format!(
                    "--initial-advertise-peer-urls={}",
                    local(state.etcd_peer_port)
                ),
                format!("--initial-cluster=default={}", local(state.etcd_peer_port)),
                // A throw-away cluster: durability is not worth the fsyncs.
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
        ),
        Part::ApiServer => (
            CONTROL_PLANE.path("kube-apiserver"),
            vec![
                format!("--etcd-servers={}", local(state.etcd_client_port)),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={}", state.apiserver_port),
                format!("--cert-dir={}", path_arg(pki.dir.clone())),
                format!("--tls-cert-file={}", path_arg(pki.serving_cert())),
                format!("--tls-private-key-file={}", path_arg(pki.serving_key())),
                format!("--client-ca-file={}", path_arg(pki.ca_cert())),
                "--authorization-mode=RBAC".into(),
                format!(
                    "--service-cluster-ip-range={}",
                    NetworkPlan::new(state.network).service_subnet()
                ),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!(
                    "--service-account-key-file={}",
                    path_arg(pki.service_account_pub())
                ),
                format!(
                    "--service-account-signing-key-file={}",
                    path_arg(pki.service_account_key())
                ),
                "--disable-admission-plugins=ServiceAccount".into(),
                "--allow-privileged=true".into(),
                // With a loopback advertise address the `kubernetes` endpoints cannot be
                // written; nothing here needs them.
                "--endpoint-reconciler-type=none".into(),
                "--enable-priority-and-fairness=false".into(),
                "--profiling=false".into(),
            ],
        ),
        Part::ControllerManager => {
            let kubeconfig = path_arg(layout.kubeconfig());
            (
                CONTROL_PLANE.path("kube-controller-manager"),
                vec![
                    format!("--kubeconfig={kubeconfig}"),
                    format!("--authentication-kubeconfig={kubeconfig}"),
                    format!("--authorization-kubeconfig={kubeconfig}"),
                    "--leader-elect=false".into(),
                    // No node-lifecycle controller: the simulated node needs no heartbeat. The
                    // root CA publisher puts `kube-root-ca.crt` in every namespace, which pods
                    // mount to trust the API server (in-cluster clients).
                    "--controllers=deployment-controller,replicaset-controller,\
                     endpointslice-controller,garbage-collector-controller,\
                     namespace-controller,pod-garbage-collector-controller,\
                     root-ca-certificate-publisher-controller"
                        .into(),
                    format!("--root-ca-file={}", path_arg(pki.ca_cert())),
                    "--bind-address=127.0.0.1".into(),
                    format!("--secure-port={}", state.controller_manager_port),
                    format!("--tls-cert-file={}", path_arg(pki.serving_cert())),
                    format!("--tls-private-key-file={}", path_arg(pki.serving_key())),
                    "--use-service-account-credentials=false".into(),
                    "--profiling=false".into(),
                ],
            )
        }
        Part::Node => (PathBuf::new(), Vec::new()),
    }
}

fn bound(part: Part) -> Duration {
    match part {
        // A loaded machine can take its time with the first start of the API server.
        Part::ApiServer => Duration::from_secs(180),
        _ => Duration::from_secs(60),
    }
}

async fn start(
    options: &UpOptions,
    state: &ClusterState,
    part: Part,
) -> Result<Option<Duration>, ClusterError> {
    let layout = &options.layout;
    if layout.running(part).is_some() {
        return Ok(None);
    }
    let (program, args) = match part {
        Part::Node => (
            options.node_program.clone(),
            vec![
                "cluster".into(),
                "node".into(),
                "--state-dir".into(),
                path_arg(layout.root.clone()),
            ],
        ),
        _ => arguments(layout, state, part),
    };
    let pid = detached(layout, part, &program, &args)?;
    wait_healthy(layout, state, part, pid, bound(part))
        .await
        .map(Some)
}

/// Brings the cluster up (or completes it) and reports what it did.
pub async fn up(options: &UpOptions, progress: Progress) -> Result<UpReport, ClusterError> {
    let started = Instant::now();
    if !super::is_root() {
        return Err(ClusterError::NotRoot);
    }
    ensure_tools(&progress).await?;
    let layout = &options.layout;
    let state = match layout.read_state()? {
        Some(state) => state,
        None => create(layout, options.channel)?,
    };
    progress(&format!(
        "cluster in {} (pods in {}, API server {})",
        layout.root.display(),
        NetworkPlan::new(state.network).pod_subnet(),
        apiserver_url(&state)
    ));
    let mut report = UpReport {
        started: Vec::new(),
        crds: Vec::new(),
        total: Duration::ZERO,
        kubeconfig: layout.kubeconfig(),
    };
    let say_started = |part: Part, took: Option<Duration>| match took {
        Some(took) => progress(&format!("  {:<24} healthy in {}", part.name(), human(took))),
        None => progress(&format!("  {:<24} already running", part.name())),
    };
    for part in [Part::Etcd, Part::ApiServer] {
        let took = start(options, &state, part).await?;
        say_started(part, took);
        report.started.extend(took.map(|t| (part, t)));
    }
    let client = client_for(layout, &apiserver_url(&state)).await?;
    let crds_started = Instant::now();
    let channel = Channel::parse(&state.channel).unwrap_or(options.channel);
    let mut files = crds::files_in(&CONFORMANCE.path("crds").join(channel.name()), |n| {
        n.starts_with("gateway")
    })?;
    if let Some(extra) = options.extra_crds.as_ref().filter(|d| d.is_dir()) {
        files.extend(crds::files_in(extra, |_| true)?);
    }
    let (controllers, node, installed) = tokio::join!(
        start(options, &state, Part::ControllerManager),
        start(options, &state, Part::Node),
        crds::install(&client, &files),
    );
    for (part, took) in [(Part::ControllerManager, controllers?), (Part::Node, node?)] {
        say_started(part, took);
        report.started.extend(took.map(|t| (part, t)));
    }
    report.crds = installed?;
    progress(&format!(
        "  {:<24} {} established in {} (Gateway API v1.6.1 {}{})",
        "CRDs",
        report.crds.len(),
        human(crds_started.elapsed()),
        channel.name(),
        match &options.extra_crds {
            Some(d) if d.is_dir() => format!(", and {}", d.display()),
            _ => String::new(),
        }
    ));
    report.total = started.elapsed();
    Ok(report)
}
