//! `gatesim cluster down`: stops the node first (it stops its pods in order and removes its
//! network), then the controller manager, the API server and etcd; then removes whatever a
//! crash may have left (pod processes, namespaces, veths, bridge, route, mount points) and the
//! state directory, and checks that nothing is left.

use std::path::PathBuf;
use std::time::Duration;

use gatesim_node::launch::MountPoints;
use gatesim_node::network::{self, NetworkPlan};
use gatesim_node::process;

use super::ClusterError;
use super::state::{Layout, Part, release_network};

pub struct DownOptions {
    pub layout: Layout,
    /// Keep `logs/` (everything else goes).
    pub keep_logs: bool,
}

/// What `down` found and removed.
#[derive(Debug, Default)]
pub struct DownReport {
    pub stopped: Vec<(Part, u32)>,
    /// Processes found by their command line after the recorded ones were stopped.
    pub strays: Vec<u32>,
    /// Network namespaces and links that were still there after the node stopped.
    pub network_leftovers: Vec<String>,
    /// Mount points the node created that could not be removed (not empty).
    pub kept_mount_points: Vec<PathBuf>,
    pub logs: Option<PathBuf>,
}

/// How long each part may take to stop after SIGTERM.
fn grace(part: Part) -> Duration {
    match part {
        // The node stops its pods first, each within its own grace.
        Part::Node => Duration::from_secs(20),
        _ => Duration::from_secs(5),
    }
}

pub async fn down(options: &DownOptions) -> Result<DownReport, ClusterError> {
    let layout = &options.layout;
    let state = layout
        .read_state()?
        .ok_or_else(|| ClusterError::NotUp(layout.root.clone()))?;
    let mut report = DownReport::default();
    for part in [
        Part::Node,
        Part::ControllerManager,
        Part::ApiServer,
        Part::Etcd,
    ] {
        if let Some(pid) = layout.running(part) {
            process::stop_all(&[pid], grace(part)).await;
            report.stopped.push((part, pid));
        }
    }
    // Anything else still naming the state directory (a node's helper, a half-started part).
    let strays = process::processes_mentioning(&layout.root.to_string_lossy());
    process::stop_all(&strays, Duration::from_secs(2)).await;
    report.strays = strays;

    let plan = NetworkPlan::new(state.network);
    let found = network::leftovers(&plan).await?;
    report.network_leftovers = found
        .namespaces
        .iter()
        .chain(&found.links)
        .cloned()
        .collect();
    network::teardown(&plan).await?;
    let remaining = network::leftovers(&plan).await?;
    if !remaining.is_empty() {
        return Err(ClusterError::State(format!(
            "the node's network could not be removed entirely: {remaining:?}"
        )));
    }
    let node_dir = layout.node_dir();
    report.kept_mount_points = MountPoints::remove_recorded(&node_dir.join("mountpoints"));

    if options.keep_logs {
        for entry in std::fs::read_dir(&layout.root)
            .map_err(ClusterError::io("reading", &layout.root))?
            .flatten()
        {
            let path = entry.path();
            if path == layout.logs() {
                continue;
            }
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(ClusterError::io("removing", &path))?;
        }
        report.logs = Some(layout.logs());
    } else {
        std::fs::remove_dir_all(&layout.root)
            .map_err(ClusterError::io("removing", &layout.root))?;
    }
    release_network(layout, state.network);
    Ok(report)
}
