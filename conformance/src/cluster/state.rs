//! The state directory of a local cluster: what `up` decided (ports, network, channel), the
//! PKI, the admin kubeconfig, etcd's data, each process's id and log, and the node's pods.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ClusterError;
use super::pki::Pki;

/// The processes of a cluster, in start order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Etcd,
    ApiServer,
    ControllerManager,
    Node,
}

impl Part {
    pub const ALL: [Part; 4] = [
        Part::Etcd,
        Part::ApiServer,
        Part::ControllerManager,
        Part::Node,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::Etcd => "etcd",
            Part::ApiServer => "kube-apiserver",
            Part::ControllerManager => "kube-controller-manager",
            Part::Node => "gatesim-node",
        }
    }
}

/// What `up` decided; written to `cluster.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterState {
    pub network: u8,
    pub etcd_client_port: u16,
    pub etcd_peer_port: u16,
    pub apiserver_port: u16,
    pub controller_manager_port: u16,
    pub channel: String,
    pub node_name: String,
}

/// Paths inside a state directory.
#[derive(Clone, Debug)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: PathBuf) -> Layout {
        Layout { root }
    }

    /// `<cache>/cluster`, the directory of the default cluster.
    pub fn default_root() -> PathBuf {
        gatesim_reference::infra::envoy::cache_dir().join("cluster")
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("cluster.json")
    }
    pub fn pki(&self) -> Pki {
        Pki::new(self.root.join("pki"))
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("admin.kubeconfig")
    }
    pub fn etcd_data(&self) -> PathBuf {
        self.root.join("etcd")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn log(&self, part: Part) -> PathBuf {
        self.logs().join(format!("{}.log", part.name()))
    }
    pub fn pid_file(&self, part: Part) -> PathBuf {
        self.root.join("pids").join(part.name())
    }
    pub fn node_dir(&self) -> PathBuf {
        self.root.join("node")
    }

    pub fn read_state(&self) -> Result<Option<ClusterState>, ClusterError> {
        let path = self.state_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| ClusterError::State(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClusterError::io("reading", &path)(e)),
        }
    }

    pub fn write_state(&self, state: &ClusterState) -> Result<(), ClusterError> {
        let path = self.state_file();
        let text = serde_json::to_string_pretty(state).unwrap_or_default();
        std::fs::write(&path, text).map_err(ClusterError::io("writing", &path))
    }

    /// The recorded process of `part`, if it is alive and still the one that was started
    /// (its command line names this state directory, so a reused process id does not count).
    pub fn running(&self, part: Part) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pid_file(part))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let root = self.root.to_string_lossy();
        (gatesim_node::process::alive(pid)
            && gatesim_node::process::command_line(pid).is_some_and(|c| c.contains(root.as_ref())))
        .then_some(pid)
    }
}

/// A free TCP port on loopback (the kernel's choice; it stays free until someone binds it).
pub fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(ClusterError::io("binding", Path::new("127.0.0.1:0")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(ClusterError::io("binding", Path::new("127.0.0.1:0")))
}

/// Network indexes are claimed in `<cache>/cluster-networks/<index>`, each file naming the
/// state directory that holds it, so clusters side by side never share a bridge or subnet.
pub fn claim_network(layout: &Layout) -> Result<u8, ClusterError> {
    let dir = gatesim_reference::infra::envoy::cache_dir().join("cluster-networks");
    std::fs::create_dir_all(&dir).map_err(ClusterError::io("creating", &dir))?;
    let me = layout.root.to_string_lossy().into_owned();
    for index in 0..=u8::MAX {
        let claim = dir.join(index.to_string());
        let owner = std::fs::read_to_string(&claim).ok();
        let free = match &owner {
            None => true,
            Some(owner) if *owner == me => true,
            // A claim whose cluster is gone (its state removed by hand) is stale.
            Some(owner) => Layout::new(PathBuf::from(owner))
                .read_state()
                .ok()
                .flatten()
                .is_none_or(|s| s.network != index),
        };
        // A bridge of that index that no claim explains belongs to someone else.
        let bridge = gatesim_node::network::NetworkPlan::new(index).bridge();
        let bridge_taken = owner.is_none() && Path::new("/sys/class/net").join(&bridge).exists();
        if !free || bridge_taken {
            continue;
        }
        let fresh = owner.is_none();
        if fresh {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&claim)
            {
                Ok(mut f) => {
                    use std::io::Write as _;
                    f.write_all(me.as_bytes())
                        .map_err(ClusterError::io("writing", &claim))?;
                    return Ok(index);
                }
                // Someone claimed it between the check and now.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(ClusterError::io("writing", &claim)(e)),
            }
        }
        std::fs::write(&claim, &me).map_err(ClusterError::io("writing", &claim))?;
        return Ok(index);
    }
    Err(ClusterError::State(
        "all 256 network indexes are claimed; run `gatesim cluster down` for clusters you no longer need".into(),
    ))
}

/// Gives a network index back (only if this state directory holds it).
pub fn release_network(layout: &Layout, index: u8) {
    let claim = gatesim_reference::infra::envoy::cache_dir()
        .join("cluster-networks")
        .join(index.to_string());
    if std::fs::read_to_string(&claim).is_ok_and(|o| o == layout.root.to_string_lossy()) {
        let _ = std::fs::remove_file(claim);
    }
}
