//! The node's network: a bridge with the first address of the node's subnet, and per pod a
//! network namespace joined to it by a veth pair. Everything is created with `ip` and named
//! after the node's network index, so that [`teardown`] finds all of it again, also after the
//! node process died.
//!
//! Pods get addresses in `10.213.<index>.0/24`; the host reaches them through the bridge and
//! they reach the host (and each other) through it too. Besides those, the node adds only
//! things of its own: a firewall rule accepting traffic between its pods across its bridge
//! (see `create_bridge`), and an `unreachable` route for Service ClusterIPs
//! (`10.214.<index>.0/24`, the API server's service range), so a connection to a ClusterIP
//! nobody serves fails here instead of reaching whoever answers for unknown addresses on this
//! machine; those the node serves (see `services`) are addresses of the bridge, which local
//! routing finds first.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("`iptables {args}` failed: {message}")]
    Iptables { args: String, message: String },
    #[error("`ip {args}` failed: {message}")]
    Ip { args: String, message: String },
    #[error("running `ip`: {0} (the simulated node needs iproute2 and root)")]
    Spawn(std::io::Error),
}

/// The names and ranges of one node's network, all derived from its index (0 to 255).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetworkPlan {
    pub index: u8,
}

impl NetworkPlan {
    pub fn new(index: u8) -> NetworkPlan {
        NetworkPlan { index }
    }

    pub fn bridge(&self) -> String {
        format!("gsbr{}", self.index)
    }

    /// The bridge's address: the node's InternalIP and every pod's default gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.index, 1)
    }

    pub fn pod_subnet(&self) -> String {
        format!("10.213.{}.0/24", self.index)
    }

    /// The API server's `--service-cluster-ip-range`.
    pub fn service_subnet(&self) -> String {
        format!("10.214.{}.0/24", self.index)
    }

    /// The address of the pod in slot `slot` (2 to 254).
    pub fn pod_address(&self, slot: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.index, slot)
    }

    /// Network namespaces of this node's pods are `<prefix><slot>`.
    pub fn netns_prefix(&self) -> String {
        format!("gatesim{}-", self.index)
    }

    pub fn netns(&self, slot: u8) -> String {
        format!("{}{slot}", self.netns_prefix())
    }

    /// The host end of a pod's veth pair (at most 15 characters, as Linux requires).
    fn host_veth(&self, slot: u8) -> String {
        format!("gsv{}x{slot}", self.index)
    }

    fn pod_veth(&self, slot: u8) -> String {
        format!("gsp{}x{slot}", self.index)
    }
}

async fn ip(args: &[&str]) -> Result<String, NetworkError> {
    let out = Command::new(ip_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(NetworkError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetworkError::Ip {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// `ip`, from PATH or the usual sbin directories (which a user's PATH may lack).
pub fn ip_binary() -> PathBuf {
    crate::images::find_on_path("ip")
        .or_else(|| {
            ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| PathBuf::from("ip"))
}

fn exists_error(e: &NetworkError) -> bool {
    matches!(e, NetworkError::Ip { message, .. } if message.contains("File exists"))
}

/// `iptables`, where the machine has one: its absence means no firewall to make way through.
fn iptables_binary() -> Option<PathBuf> {
    crate::images::find_on_path("iptables").or_else(|| {
        ["/usr/sbin/iptables", "/sbin/iptables"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    })
}

/// The rule that lets pods of this node talk to each other across its bridge. With the
/// `br_netfilter` module loaded, bridged packets pass the host's `FORWARD` chain, whose policy
/// Docker sets to `DROP`; this one rule, for this bridge only and marked with the node's
/// name, accepts them first. It is the node's own: created with the bridge, removed with it.
fn forward_rule(plan: &NetworkPlan) -> Vec<String> {
    let bridge = plan.bridge();
    [
        "FORWARD",
        "-i",
        &bridge,
        "-o",
        &bridge,
        "-m",
        "comment",
        "--comment",
        &format!("gatesim-node {}", plan.index),
        "-j",
        "ACCEPT",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Runs `iptables <verb> <rule>`; `Ok(false)` when iptables says no (a `-C` that finds nothing).
async fn iptables(verb: &str, rule: &[String]) -> Result<bool, NetworkError> {
    let Some(binary) = iptables_binary() else {
        return Ok(false);
    };
    let out = Command::new(binary)
        .args(["-w", verb])
        .args(rule)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(NetworkError::Spawn)?;
    match (out.status.success(), verb) {
        (true, _) => Ok(true),
        (false, "-C") => Ok(false),
        (false, _) => Err(NetworkError::Iptables {
            args: format!("{verb} {}", rule.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        }),
    }
}

async fn has_forward_rule(plan: &NetworkPlan) -> Result<bool, NetworkError> {
    iptables("-C", &forward_rule(plan)).await
}

/// Creates the bridge (idempotent: a bridge left by a crashed node is reused).
pub async fn create_bridge(plan: &NetworkPlan) -> Result<(), NetworkError> {
    let bridge = plan.bridge();
    // Without STP and with no forward delay a new port forwards at once; otherwise the first
    // seconds of a pod's traffic are dropped while the port is "learning".
    match ip(&[
        "link",
        "add",
        "name",
        &bridge,
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
    ])
    .await
    {
        Err(e) if exists_error(&e) => {}
        other => {
            other?;
        }
    }
    let address = format!("{}/24", plan.gateway());
    match ip(&["addr", "add", &address, "dev", &bridge]).await {
        Err(e) if exists_error(&e) => {}
        other => {
            other?;
        }
    }
    ip(&["link", "set", &bridge, "up"]).await?;
    match ip(&["route", "add", "unreachable", &plan.service_subnet()]).await {
        Err(e) if exists_error(&e) => {}
        other => {
            other?;
        }
    }
    if iptables_binary().is_some() && !has_forward_rule(plan).await? {
        iptables("-I", &forward_rule(plan)).await?;
    }
    Ok(())
}

/// Makes a Service's ClusterIP an address of the node's bridge, so the node can listen on it
/// (see `services`); idempotent.
pub async fn add_service_address(
    plan: &NetworkPlan,
    address: Ipv4Addr,
) -> Result<(), NetworkError> {
    match ip(&[
        "addr",
        "add",
        &format!("{address}/32"),
        "dev",
        &plan.bridge(),
    ])
    .await
    {
        Err(e) if exists_error(&e) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Takes a ClusterIP off the bridge again; one already gone is fine.
pub async fn remove_service_address(
    plan: &NetworkPlan,
    address: Ipv4Addr,
) -> Result<(), NetworkError> {
    match ip(&[
        "addr",
        "del",
        &format!("{address}/32"),
        "dev",
        &plan.bridge(),
    ])
    .await
    {
        Err(NetworkError::Ip { message, .. }) if message.contains("Cannot assign") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// A pod's network namespace, ready for processes: `eth0` with the pod's address, `lo` up, a
/// default route through the bridge.
pub async fn create_pod_network(plan: &NetworkPlan, slot: u8) -> Result<String, NetworkError> {
    let netns = plan.netns(slot);
    let (host, peer) = (plan.host_veth(slot), plan.pod_veth(slot));
    // A namespace of the same name can only be a leftover of this node: clear it first.
    delete_pod_network(plan, slot).await?;
    ip(&["netns", "add", &netns]).await?;
    let result = async {
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer]).await?;
        ip(&["link", "set", &peer, "netns", &netns]).await?;
        ip(&["link", "set", &host, "master", &plan.bridge(), "up"]).await?;
        ip(&["-n", &netns, "link", "set", &peer, "name", "eth0"]).await?;
        let address = format!("{}/24", plan.pod_address(slot));
        ip(&["-n", &netns, "addr", "add", &address, "dev", "eth0"]).await?;
        ip(&["-n", &netns, "link", "set", "eth0", "up"]).await?;
        ip(&["-n", &netns, "link", "set", "lo", "up"]).await?;
        ip(&[
            "-n",
            &netns,
            "route",
            "add",
            "default",
            "via",
            &plan.gateway().to_string(),
        ])
        .await?;
        Ok::<(), NetworkError>(())
    }
    .await;
    if let Err(e) = result {
        let _ = delete_pod_network(plan, slot).await;
        return Err(e);
    }
    Ok(netns)
}

/// Kills whatever still runs in a pod's namespace and deletes it (and so its veth pair).
pub async fn delete_pod_network(plan: &NetworkPlan, slot: u8) -> Result<(), NetworkError> {
    delete_netns(&plan.netns(slot)).await?;
    // A veth whose namespace is gone is gone too; one left by a half-done setup is not.
    match ip(&["link", "del", &plan.host_veth(slot)]).await {
        Ok(_) => Ok(()),
        Err(NetworkError::Ip { message, .. })
            if message.contains("Cannot find device") || message.contains("does not exist") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn delete_netns(netns: &str) -> Result<(), NetworkError> {
    if !netns_names().await?.iter().any(|n| n == netns) {
        return Ok(());
    }
    for _ in 0..50 {
        let pids = netns_pids(netns).await?;
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            crate::process::signal(pid, crate::process::Signal::Kill);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ip(&["netns", "del", netns]).await?;
    Ok(())
}

/// Process ids living in a network namespace.
pub async fn netns_pids(netns: &str) -> Result<Vec<u32>, NetworkError> {
    Ok(ip(&["netns", "pids", netns])
        .await?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

async fn netns_names() -> Result<Vec<String>, NetworkError> {
    Ok(ip(&["netns", "list"])
        .await?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// What of a node's network exists on this machine.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    pub namespaces: Vec<String>,
    pub links: Vec<String>,
    pub route: bool,
    /// The bridge's forwarding rule (see `create_bridge`).
    pub firewall: bool,
}

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.links.is_empty() && !self.route && !self.firewall
    }
}

/// Lists the namespaces, veths, bridge and route of a node's network.
pub async fn leftovers(plan: &NetworkPlan) -> Result<Leftovers, NetworkError> {
    let prefix = plan.netns_prefix();
    let namespaces = netns_names()
        .await?
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let ours = [format!("gsv{}x", plan.index), format!("gsp{}x", plan.index)];
    let links = ip(&["-o", "link", "show"])
        .await?
        .lines()
        // "7: gsv3x2@if6: <BROADCAST,...": the name sits between the first two colons.
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or_default().to_owned())
        .filter(|n| *n == plan.bridge() || ours.iter().any(|p| n.starts_with(p.as_str())))
        .collect();
    let route = ip(&["route", "show", "type", "unreachable"])
        .await?
        .lines()
        .any(|l| l.split_whitespace().next() == Some(plan.service_subnet().as_str()));
    Ok(Leftovers {
        namespaces,
        links,
        route,
        firewall: has_forward_rule(plan).await?,
    })
}

/// Removes everything of a node's network: its pods' processes and namespaces, stray veths,
/// the bridge and the route. Safe to call with nothing left.
pub async fn teardown(plan: &NetworkPlan) -> Result<(), NetworkError> {
    let found = leftovers(plan).await?;
    for netns in &found.namespaces {
        delete_netns(netns).await?;
    }
    for link in leftovers(plan).await?.links {
        match ip(&["link", "del", &link]).await {
            Ok(_) => {}
            Err(NetworkError::Ip { message, .. }) if message.contains("Cannot find device") => {}
            Err(e) => return Err(e),
        }
    }
    if found.route {
        ip(&["route", "del", "unreachable", &plan.service_subnet()]).await?;
    }
    while has_forward_rule(plan).await? {
        iptables("-D", &forward_rule(plan)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits_and_share_the_index() {
        let plan = NetworkPlan::new(255);
        assert!(plan.host_veth(254).len() <= 15, "{}", plan.host_veth(254));
        assert!(plan.pod_veth(254).len() <= 15);
        assert_eq!(plan.bridge(), "gsbr255");
        assert_eq!(plan.netns(7), "gatesim255-7");
        assert_eq!(plan.pod_address(7), Ipv4Addr::new(10, 213, 255, 7));
        assert_eq!(plan.gateway(), Ipv4Addr::new(10, 213, 255, 1));
        assert_eq!(plan.service_subnet(), "10.214.255.0/24");
    }
}
