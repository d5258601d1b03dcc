//! `gatesim cluster`: a real Kubernetes control plane on this machine (etcd, kube-apiserver
//! and kube-controller-manager built from pinned Go modules, see [`crate::tools`]) with the
//! simulated node of `gatesim-node`, all as detached processes recorded in a state directory.
//!
//! - [`up`] starts what is not running yet (a second `up` is a health check), installs the
//!   Gateway API CRDs of the chosen channel and, when the repository has them, the K8sGateway
//!   CRDs.
//! - [`status`] reports each part's health; [`down`] stops everything and removes every
//!   process, namespace, link, route and file the cluster made, also after a crash.

mod crds;
mod down;
mod health;
mod pki;
mod spawn;
mod state;
pub mod up;

use std::path::{Path, PathBuf};

use serde_json::json;

pub use down::{DownOptions, DownReport, down};
pub use health::{PartHealth, status};
pub use state::{ClusterState, Layout, Part};
pub use up::{Channel, UpOptions, up};

use crate::file_error::FileError;
use crate::tools::ToolsError;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Tools(#[from] ToolsError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("certificates: {0}")]
    Pki(String),
    #[error("state: {0}")]
    State(String),
    #[error("starting {part}: {message}")]
    Start { part: &'static str, message: String },
    #[error("{part} did not become healthy within {seconds}s: {last}; see {log}")]
    Unhealthy {
        part: &'static str,
        seconds: u64,
        last: String,
        log: PathBuf,
    },
    #[error("{action}: {source}")]
    Api {
        action: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("the kubeconfig {path}: {message}")]
    Kubeconfig { path: PathBuf, message: String },
    #[error("no local cluster in {0} (start one with `gatesim cluster up`)")]
    NotUp(PathBuf),
    #[error("the node's network: {0}")]
    Network(#[from] gatesim_node::network::NetworkError),
    #[error("a local cluster needs root: its node creates network namespaces, veths and a bridge")]
    NotRoot,
}

impl ClusterError {
    pub fn io(
        what: &'static str,
        path: &Path,
    ) -> impl FnOnce(std::io::Error) -> ClusterError + use<> {
        FileError::at(what, path)
    }

    /// Whether this machine cannot run a local cluster at all (no Go to build the control
    /// plane, or not root for network namespaces): tests skip then, unless told not to.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ClusterError::NotRoot => true,
            ClusterError::Tools(e) => e.is_missing_go(),
            ClusterError::Network(gatesim_node::network::NetworkError::Ip { message, .. }) => {
                message.contains("Operation not permitted")
            }
            ClusterError::Network(gatesim_node::network::NetworkError::Spawn(_)) => true,
            _ => false,
        }
    }
}

/// Whether this process runs as root (the node creates network namespaces and a bridge).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// The admin kubeconfig: the CA, and the admin certificate and key, embedded.
fn kubeconfig_text(layout: &Layout, server: &str) -> Result<String, ClusterError> {
    use base64::Engine as _;
    let pki = layout.pki();
    let b64 = |path: PathBuf| -> Result<String, ClusterError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(pki.read(&path)?))
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gatesim-local", "cluster": {
            "server": server,
            "certificate-authority-data": b64(pki.ca_cert())?,
        }}],
        "users": [{"name": "gatesim-admin", "user": {
            "client-certificate-data": b64(pki.admin_cert())?,
            "client-key-data": b64(pki.admin_key())?,
        }}],
        "contexts": [{"name": "gatesim-local", "context": {"cluster": "gatesim-local", "user": "gatesim-admin"}}],
        "current-context": "gatesim-local",
    });
    serde_yaml::to_string(&config).map_err(|e| ClusterError::State(e.to_string()))
}

/// A client for `server` (the API server, or another HTTPS endpoint under the cluster's CA)
/// with the admin identity.
pub async fn client_for(layout: &Layout, server: &str) -> Result<kube::Client, ClusterError> {
    let path = layout.kubeconfig();
    let fail = |message: String| ClusterError::Kubeconfig {
        path: path.clone(),
        message,
    };
    let text = kubeconfig_text(layout, server)?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).map_err(|e| fail(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| fail(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| fail(e.to_string()))
}

/// The admin client of a running cluster.
pub async fn admin_client(layout: &Layout) -> Result<kube::Client, ClusterError> {
    let state = layout
        .read_state()?
        .ok_or_else(|| ClusterError::NotUp(layout.root.clone()))?;
    client_for(layout, &apiserver_url(&state)).await
}

pub fn apiserver_url(state: &ClusterState) -> String {
    format!("https://127.0.0.1:{}", state.apiserver_port)
}
