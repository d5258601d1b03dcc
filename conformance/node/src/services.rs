//! Services on the node: what kube-proxy and cluster DNS give a real node's pods, reduced to
//! what workloads here need (a controller pod reaching the API server and being reached by its
//! proxies through a Service, a harness reaching a Gateway's Service).
//!
//! - **ClusterIPs answer.** Each Service's ClusterIP is added as a /32 address of the node's
//!   own bridge, and the node listens on each of its TCP ports, passing every connection to a
//!   ready endpoint of the Service (round robin over its EndpointSlices), as kube-proxy's old
//!   userspace mode did. Pods reach the address through their default route (the bridge), the
//!   host reaches it as a local address. A ClusterIP nobody listens on still meets the node's
//!   `unreachable` route. The `kubernetes` Service leads to the API server (its endpoints are
//!   not reconciled in this cluster).
//! - **Names resolve.** A hosts file lists every Service as `<name>.<namespace>.svc.cluster.local`
//!   (and `.svc`); the node bind-mounts it over `/etc/hosts` in every pod's containers and
//!   rewrites it in place as Services come and go.
//!
//! Everything lives on the bridge and in files of the node: `network::teardown` removes the
//! bridge and its addresses with it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::network::{self, NetworkPlan};

/// How long a connection to an endpoint may take before the client's connection is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Service's key: namespace and name.
type Key = (String, String);

/// One TCP port of one Service, as the node serves it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Port {
    service: Key,
    /// The Service port's name, which its EndpointSlices' ports carry.
    name: String,
    port: u16,
}

/// What the watches have seen.
#[derive(Default)]
struct Table {
    services: BTreeMap<Key, Service>,
    /// By namespace and slice name.
    slices: BTreeMap<Key, EndpointSlice>,
}

impl Table {
    /// Every ClusterIP of the node's service range with the ports it serves.
    fn listeners(&self, plan: &NetworkPlan) -> BTreeMap<(Ipv4Addr, u16), Port> {
        let mut out = BTreeMap::new();
        for (key, svc) in &self.services {
            let Some(ip) = cluster_ip(svc, plan) else {
                continue;
            };
            for p in svc.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
                let tcp = p.protocol.as_deref().is_none_or(|p| p == "TCP");
                let Ok(port) = u16::try_from(p.port) else {
                    continue;
                };
                if tcp {
                    out.insert(
                        (ip, port),
                        Port {
                            service: key.clone(),
                            name: p.name.clone().unwrap_or_default(),
                            port,
                        },
                    );
                }
            }
        }
        out
    }

    /// The ready endpoints of a Service port.
    fn endpoints(&self, port: &Port, api_server: Option<SocketAddr>) -> Vec<SocketAddr> {
        if port.service == ("default".to_owned(), "kubernetes".to_owned()) {
            return api_server.into_iter().collect();
        }
        let (namespace, name) = &port.service;
        let mut out = Vec::new();
        for ((ns, _), slice) in &self.slices {
            let owner = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"));
            if ns != namespace || owner != Some(name) {
                continue;
            }
            let number = slice.ports.iter().flatten().find_map(|p| {
                (p.name.clone().unwrap_or_default() == port.name)
                    .then_some(p.port)
                    .flatten()
            });
            let Some(number) = number.and_then(|n| u16::try_from(n).ok()) else {
                continue;
            };
            for e in &slice.endpoints {
                if e.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                    continue;
                }
                for a in &e.addresses {
                    if let Ok(ip) = a.parse::<IpAddr>() {
                        out.push(SocketAddr::new(ip, number));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The hosts file: localhost, then every Service with a ClusterIP.
    fn hosts(&self) -> String {
        let mut text = String::from(
            "# Written by gatesim-node: the cluster's Services.\n127.0.0.1\tlocalhost\n::1\tlocalhost\n",
        );
        for ((namespace, name), svc) in &self.services {
            let ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
            if let Some(ip) = ip.filter(|ip| ip.parse::<IpAddr>().is_ok()) {
                text.push_str(&format!(
                    "{ip}\t{name}.{namespace}.svc.cluster.local {name}.{namespace}.svc\n"
                ));
            }
        }
        text
    }
}

/// A Service's ClusterIP, when it is in the node's service range.
fn cluster_ip(svc: &Service, plan: &NetworkPlan) -> Option<Ipv4Addr> {
    let ip: Ipv4Addr = svc.spec.as_ref()?.cluster_ip.as_deref()?.parse().ok()?;
    let [a, b, c, _] = ip.octets();
    (a == 10 && b == 214 && c == plan.index).then_some(ip)
}

/// Endpoints per listening address, read by the accept loops.
type Routes = Arc<RwLock<BTreeMap<(Ipv4Addr, u16), Vec<SocketAddr>>>>;

/// The node's hosts file (see the module documentation).
pub fn hosts_path(state_dir: &Path) -> PathBuf {
    state_dir.join("hosts")
}

/// Writes the hosts file as it reads before any Service is known, so that the first pods
/// have a file to mount.
pub fn init_hosts(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, Table::default().hosts())
}

/// Serves the Services until `shutdown` turns true.
pub async fn run(
    client: kube::Client,
    plan: NetworkPlan,
    hosts: PathBuf,
    api_server: Option<SocketAddr>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut table = Table::default();
    write_hosts(&hosts, &table.hosts());
    let routes: Routes = Arc::default();
    let mut listening: BTreeMap<(Ipv4Addr, u16), JoinHandle<()>> = BTreeMap::new();
    let mut addresses: BTreeSet<Ipv4Addr> = BTreeSet::new();

    let services = watcher::watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .map(|e| e.map(|e| Change::Service(Box::new(e))));
    let slices = watcher::watcher(
        Api::<EndpointSlice>::all(client),
        watcher::Config::default(),
    )
    .default_backoff()
    .map(|e| e.map(|e| Change::Slice(Box::new(e))));
    let events = futures::stream::select(services, slices);
    futures::pin_mut!(events);
    loop {
        let event = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            event = events.next() => event,
        };
        match event {
            None => break,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "watching Services and EndpointSlices");
                continue;
            }
            Some(Ok(change)) => table.apply(change),
        }
        // Bring listeners, addresses, routes and names in line with the table.
        let wanted = table.listeners(&plan);
        let wanted_ips: BTreeSet<Ipv4Addr> = wanted.keys().map(|(ip, _)| *ip).collect();
        for ip in wanted_ips.difference(&addresses.clone()) {
            match network::add_service_address(&plan, *ip).await {
                Ok(()) => {
                    addresses.insert(*ip);
                }
                Err(e) => tracing::warn!(%ip, error = %e, "adding a ClusterIP to the bridge"),
            }
        }
        let stale: Vec<(Ipv4Addr, u16)> = listening
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .copied()
            .collect();
        for key in stale {
            if let Some(task) = listening.remove(&key) {
                task.abort();
            }
        }
        for ip in addresses.clone().difference(&wanted_ips) {
            if let Err(e) = network::remove_service_address(&plan, *ip).await {
                tracing::warn!(%ip, error = %e, "removing a ClusterIP from the bridge");
            }
            addresses.remove(ip);
        }
        {
            let mut r = routes.write().unwrap_or_else(|e| e.into_inner());
            *r = wanted
                .iter()
                .map(|(k, p)| (*k, table.endpoints(p, api_server)))
                .collect();
        }
        for (key, port) in &wanted {
            if listening.contains_key(key) || !addresses.contains(&key.0) {
                continue;
            }
            match TcpListener::bind(SocketAddr::new(IpAddr::V4(key.0), key.1)).await {
                Ok(listener) => {
                    let routes = Arc::clone(&routes);
                    listening.insert(*key, tokio::spawn(forward(listener, *key, routes)));
                }
                Err(e) => tracing::warn!(
                    service = %format!("{}/{}", port.service.0, port.service.1),
                    address = %format!("{}:{}", key.0, key.1),
                    error = %e,
                    "listening on a ClusterIP"
                ),
            }
        }
        write_hosts(&hosts, &table.hosts());
    }
    for (_, task) in listening {
        task.abort();
    }
}

enum Change {
    Service(Box<Event<Service>>),
    Slice(Box<Event<EndpointSlice>>),
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl Table {
    fn apply(&mut self, change: Change) {
        match change {
            Change::Service(e) => apply(&mut self.services, *e, |s: &Service| key_of(&s.metadata)),
            Change::Slice(e) => apply(&mut self.slices, *e, |s: &EndpointSlice| {
                key_of(&s.metadata)
            }),
        }
    }
}

/// A watch event on one store. A relist replaces the store's content as it completes.
fn apply<K: Clone>(store: &mut BTreeMap<Key, K>, event: Event<K>, key: impl Fn(&K) -> Key) {
    match event {
        Event::Apply(o) => {
            store.insert(key(&o), o);
        }
        Event::Delete(o) => {
            store.remove(&key(&o));
        }
        Event::Init => store.clear(),
        Event::InitApply(o) => {
            store.insert(key(&o), o);
        }
        Event::InitDone => {}
    }
}

/// Rewrites the hosts file in place: containers have it bind-mounted, so it must stay the
/// same file.
fn write_hosts(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return;
    }
    if let Err(e) = std::fs::write(path, text) {
        tracing::warn!(path = %path.display(), error = %e, "writing the hosts file");
    }
}

/// Accepts connections on a ClusterIP port and passes each to the next endpoint.
async fn forward(listener: TcpListener, key: (Ipv4Addr, u16), routes: Routes) {
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let endpoints = routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
            .unwrap_or_default();
        if endpoints.is_empty() {
            // No ready endpoint: the client sees the connection closed, as with a Service
            // without endpoints.
            continue;
        }
        let i = next.fetch_add(1, Ordering::Relaxed) % endpoints.len();
        let target = endpoints[i];
        tokio::spawn(async move {
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await;
            if let Ok(Ok(mut upstream)) = connected {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(ns: &str, name: &str, ip: &str, ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name},
            "spec": {"clusterIP": ip, "ports": ports},
        }))
        .unwrap()
    }

    fn slice(
        ns: &str,
        service: &str,
        port: serde_json::Value,
        endpoints: serde_json::Value,
    ) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": format!("{service}-abc"),
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [port],
            "endpoints": endpoints,
        }))
        .unwrap()
    }

    #[test]
    fn ports_map_to_ready_endpoints_by_port_name() {
        let plan = NetworkPlan::new(7);
        let mut t = Table::default();
        t.services.insert(
            ("a".into(), "web".into()),
            service("a", "web", "10.214.7.20", json!([{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}])),
        );
        t.services.insert(
            ("a".into(), "elsewhere".into()),
            service("a", "elsewhere", "10.96.0.9", json!([{"port": 80}])),
        );
        t.slices.insert(
            ("a".into(), "web-abc".into()),
            slice(
                "a",
                "web",
                json!({"name": "http", "port": 8080}),
                json!([
                    {"addresses": ["10.213.7.5"], "conditions": {"ready": true}},
                    {"addresses": ["10.213.7.6"], "conditions": {"ready": false}},
                ]),
            ),
        );
        let listeners = t.listeners(&plan);
        assert_eq!(
            listeners.len(),
            1,
            "TCP ports of ClusterIPs in the node's range: {listeners:?}"
        );
        let port = &listeners[&(Ipv4Addr::new(10, 214, 7, 20), 80)];
        assert_eq!(
            t.endpoints(port, None),
            vec!["10.213.7.5:8080".parse::<SocketAddr>().unwrap()]
        );
        let hosts = t.hosts();
        assert!(
            hosts.contains("10.214.7.20\tweb.a.svc.cluster.local web.a.svc\n"),
            "{hosts}"
        );
    }

    #[test]
    fn the_kubernetes_service_leads_to_the_api_server() {
        let t = Table::default();
        let port = Port {
            service: ("default".into(), "kubernetes".into()),
            name: "https".into(),
            port: 443,
        };
        let api: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        assert_eq!(t.endpoints(&port, Some(api)), vec![api]);
    }
}
