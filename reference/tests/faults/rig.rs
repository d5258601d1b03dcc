//! One environment per fault test: simkube with a Gateway, two echo backends and a stable
//! route; the controller (in this process, or as the `gatesim-controller` binary when the test
//! kills it) with the Kubernetes provider and `--infra none`; and the Gateway's Envoy
//! processes, run and restarted by the host infrastructure's supervisor in this process, so
//! they outlive a controller that is killed, reaching xDS through a [`Relay`] that can cut
//! their streams.
//!
//! With `--infra none` the proxies listen on every address, so each test's Gateway listens
//! on a port of its own (see [`port`]) and nothing of one test can answer another's probe.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::host::{HostConfig, HostInfra, ProxyInfo, ProxySpec};
use gatesim_reference::infra::{admin, envoy};
use gatesim_reference::model::{ControllerConfig, ObjectKey};
use gatesim_simkube::{Faults, SimKube};
use tokio::process::{Child, Command};

use crate::cluster_support::Cluster;
use crate::contain_support::{route_to, serves};
use crate::e2e_support::{Backend, Call, WAIT, endpoint_slice, eventually, send};
use crate::relay::Relay;

/// Where the controller runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A library `Controller` in the test process.
    InProcess,
    /// The `gatesim-controller` binary, so it can be killed with `SIGKILL`.
    Process,
}

pub struct Options {
    /// Loopback network `127.<network>.0.0/16` of the test: backends, proxies, listener port.
    pub network: u8,
    pub mode: Mode,
    /// Envoy processes serving the Gateway.
    pub replicas: u32,
    /// Off only where a test needs Envoy itself to reject a configuration (a NACK).
    pub validate_inputs: bool,
}

impl Options {
    pub fn new(network: u8) -> Self {
        Self {
            network,
            mode: Mode::InProcess,
            replicas: 1,
            validate_inputs: true,
        }
    }
}

/// The Gateway's listener port in test `network`: high, below the ephemeral range, apart
/// from every other test's.
pub fn port(network: u8) -> u16 {
    17_000 + u16::from(network)
}

fn gateway_yaml(port: u16) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: gw, namespace: default}}\n\
         spec:\n  gatewayClassName: gatesim\n  listeners: [{{name: http, port: {port}, protocol: HTTP}}]\n"
    )
}

const CLASS: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n\
                     metadata: {name: gatesim}\n\
                     spec: {controllerName: gatesim.dev/reference-controller}\n";

/// The controller binary, restartable on the same addresses.
pub struct ControllerProcess {
    child: Option<Child>,
    xds: SocketAddr,
    admin: SocketAddr,
    kubeconfig: PathBuf,
    log: PathBuf,
}

impl ControllerProcess {
    /// Start it and wait until its admin endpoint answers.
    pub async fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(env!("CARGO_BIN_EXE_gatesim-controller"))
            .args(["run", "--provider", "kubernetes", "--infra", "none"])
            .arg("--xds-addr")
            .arg(self.xds.to_string())
            .arg("--admin-addr")
            .arg(self.admin.to_string())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting gatesim-controller")?;
        self.child = Some(child);
        let admin = self.admin;
        eventually(
            WAIT,
            "the controller's admin endpoint answers",
            || async move {
                let r = send(admin, &Call::get("admin", "/status")).await?;
                Ok((r.status == 200).then_some(()))
            },
        )
        .await
        .with_context(|| self.log_tail())
    }

    /// `SIGKILL`, and how the process ended.
    pub async fn sigkill(&mut self) -> Result<ExitStatus> {
        let mut child = self.child.take().context("the controller is not running")?;
        child.start_kill()?;
        Ok(child.wait().await?)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "controller log:\n{}",
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }
}

pub enum ControllerRun {
    InProcess(Controller),
    Process(ControllerProcess),
}

pub struct Rig {
    pub name: &'static str,
    pub simkube: SimKube,
    pub faults: Faults,
    pub cluster: Cluster,
    pub controller: ControllerRun,
    pub relay: Relay,
    pub proxies: Arc<HostInfra>,
    /// Where the Gateway's listener answers.
    pub http: SocketAddr,
    gateway: String,
    _backends: [Backend; 2],
    _work: tempfile::TempDir,
}

/// A free loopback port, for an address that must stay the same across a restart.
fn free_addr() -> Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

impl Rig {
    /// The environment with the stable route served and its status written, or `None` (after
    /// a loud skip) where Envoy is unavailable.
    pub async fn start(name: &'static str, opts: Options) -> Result<Option<Self>> {
        let Some(envoy) = envoy::locate_or_skip(name)? else {
            return Ok(None);
        };
        let work = tempfile::tempdir()?;
        let simkube = SimKube::start(gatesim_simkube::Config::default()).await?;
        let client = kube::Client::try_from(kube::Config::new(simkube.url().parse()?))?;
        let cluster = Cluster { client };
        let net = opts.network;
        let a = Backend::start("a-0", &format!("127.{net}.20.1"), 0).await?;
        let b = Backend::start("b-0", &format!("127.{net}.20.2"), 0).await?;
        let gateway = gateway_yaml(port(net));
        cluster.apply(&format!("{CLASS}---\n{gateway}")).await?;
        cluster.apply(&endpoint_slice("a", &[&a])).await?;
        cluster.apply(&endpoint_slice("b", &[&b])).await?;
        cluster.apply(&route_to("stable", "a")).await?;

        let controller = match opts.mode {
            Mode::InProcess => ControllerRun::InProcess(
                Controller::start(ControllerOptions {
                    source: Source::Kubernetes(cluster.client.clone()),
                    infra: Infra::None,
                    xds_addr: "127.0.0.1:0".parse()?,
                    admin_addr: "127.0.0.1:0".parse()?,
                    config: ControllerConfig {
                        validate_inputs: opts.validate_inputs,
                        ..ControllerConfig::default()
                    },
                    address_network: net,
                    envoy: Some(envoy.clone()),
                })
                .await?,
            ),
            Mode::Process => {
                ensure!(
                    opts.validate_inputs,
                    "the binary always validates its inputs"
                );
                let kubeconfig = work.path().join("kubeconfig");
                simkube.write_kubeconfig(&kubeconfig)?;
                let mut process = ControllerProcess {
                    child: None,
                    xds: free_addr()?,
                    admin: free_addr()?,
                    kubeconfig,
                    log: work.path().join("controller.log"),
                };
                process.spawn().await?;
                ControllerRun::Process(process)
            }
        };
        let xds = match &controller {
            ControllerRun::InProcess(c) => c.xds_addr(),
            ControllerRun::Process(p) => p.xds,
        };
        let relay = Relay::start(xds).await?;
        let proxies = Arc::new(HostInfra::new(HostConfig {
            log_level: "warning".into(),
            ..HostConfig::new(envoy, relay.addr(), work.path().join("proxies"))
        })?);
        let address = format!("127.{net}.10.1");
        let spec = ProxySpec {
            replicas: opts.replicas,
            ..ProxySpec::for_gateway(&gateway_key(), address.clone())
        };
        let report = proxies
            .reconcile(&BTreeMap::from([(gateway_key(), spec)]))
            .await;
        ensure!(report.failed.is_empty(), "proxies: {report:?}");
        let rig = Self {
            name,
            faults: simkube.faults(),
            simkube,
            cluster,
            controller,
            relay,
            proxies,
            http: SocketAddr::new(address.parse()?, port(net)),
            gateway,
            _backends: [a, b],
            _work: work,
        };
        // Every replica listens before any fault: one answer could come from one of them.
        for envoy in rig.envoys() {
            let admin = envoy
                .admin_address
                .context("a running Envoy's admin address")?;
            wait_stat(
                admin,
                "listener_manager.total_listeners_active",
                "every Envoy has its listener",
                |v| v >= 1,
            )
            .await?;
        }
        serves(rig.http, "stable.example.com", "a-0").await?;
        rig.cluster.route_ready(&route_to("stable", "a")).await?;
        rig.cluster.gateway_listening(&rig.gateway, 1).await?;
        Ok(Some(rig))
    }

    /// The route every probe sends to, expecting backend `a-0`.
    pub fn stable_call(&self) -> Call {
        Call::get("stable.example.com", "/")
    }

    pub fn admin_addr(&self) -> SocketAddr {
        match &self.controller {
            ControllerRun::InProcess(c) => c.admin_addr(),
            ControllerRun::Process(p) => p.admin,
        }
    }

    /// The controller process; an error for an in-process controller.
    pub fn process(&mut self) -> Result<&mut ControllerProcess> {
        match &mut self.controller {
            ControllerRun::Process(p) => Ok(p),
            ControllerRun::InProcess(_) => anyhow::bail!("the controller runs in this process"),
        }
    }

    /// The change a test makes during its fault: route `late` to backend `b`.
    pub fn late_route() -> String {
        route_to("late", "b")
    }

    pub async fn apply_late_route(&self) -> Result<()> {
        self.cluster.apply(&Self::late_route()).await
    }

    /// Wait until the system has converged after the change: route `late` answers from
    /// `b-0` through Envoy, both routes are Accepted with resolved references for their
    /// generation and the Gateway's listener is Programmed with both attached. Prints the time since
    /// `since` (what `from` names) and returns when it converged.
    pub async fn converged(&self, since: Instant, from: &str) -> Result<Instant> {
        serves(self.http, "late.example.com", "b-0").await?;
        self.cluster.route_ready(&Self::late_route()).await?;
        self.cluster.route_ready(&route_to("stable", "a")).await?;
        self.cluster.gateway_listening(&self.gateway, 2).await?;
        let at = Instant::now();
        eprintln!(
            "fault {}: converged (routes served, status written) {} ms after {from}",
            self.name,
            (at - since).as_millis()
        );
        Ok(at)
    }

    /// Every Envoy process of the Gateway, in replica order.
    pub fn envoys(&self) -> Vec<ProxyInfo> {
        self.proxies.proxies()
    }

    pub async fn shutdown(self) -> Result<()> {
        self.proxies.shutdown().await;
        match self.controller {
            ControllerRun::InProcess(c) => c.shutdown().await,
            ControllerRun::Process(mut p) => {
                p.sigkill().await?;
            }
        }
        self.simkube.shutdown().await?;
        Ok(())
    }
}

pub fn gateway_key() -> ObjectKey {
    ObjectKey::new("default", "gw")
}

/// A counter or gauge of the Envoy whose admin endpoint is `admin`.
pub async fn envoy_stat(admin: SocketAddr, name: &str) -> Result<u64> {
    let r = admin::get(admin, &format!("/stats?filter=^{name}$")).await?;
    ensure!(r.is_success(), "Envoy admin /stats: status {}", r.status);
    r.body
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .with_context(|| format!("no {name} in Envoy's stats: {}", r.body))?
        .trim()
        .parse()
        .with_context(|| format!("{name} is not a number"))
}

/// Wait until stat `name` of Envoy `admin` passes `check`; its value.
pub async fn wait_stat(
    admin: SocketAddr,
    name: &str,
    what: &str,
    check: impl Fn(u64) -> bool,
) -> Result<u64> {
    eventually(WAIT, what, || async {
        let v = envoy_stat(admin, name).await?;
        Ok(check(v).then_some(v))
    })
    .await
}

/// The sum of Envoy `admin`'s counters whose names match `filter` (Envoy's regex) and start
/// with `prefix`.
pub async fn envoy_stats_sum(admin: SocketAddr, filter: &str, prefix: &str) -> Result<u64> {
    let r = admin::get(admin, &format!("/stats?filter={filter}")).await?;
    ensure!(r.is_success(), "Envoy admin /stats: status {}", r.status);
    Ok(r.body
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(": "))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum())
}
