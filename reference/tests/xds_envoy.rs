//! The ADS server driving a real Envoy, in both protocols: initial configuration, a route
//! change without restart, cluster replacement under traffic without a single 5xx, a NACK
//! surfaced with Envoy's message in `/xds` and `/metrics`, and push-to-ACK latency.

mod xds_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use gatesim_reference::admin::{self, AdminState, Metrics};
use gatesim_reference::xds::{self, SnapshotCache, WaitError};
use xds_support::{Backend, Config, Envoy, HttpClient, Mode, envoy_binary, free_port, percentile};

const ACK_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything one test runs: cache, ADS and admin servers, one Envoy.
struct Rig {
    node: String,
    cache: SnapshotCache,
    _xds: xds::ServerHandle,
    admin: SocketAddr,
    _admin_server: xds::ServerHandle,
    envoy: Envoy,
    listen: SocketAddr,
    client: HttpClient,
}

impl Rig {
    /// Start with `first` (revision 1, listening on `listen`) and wait until Envoy has it.
    async fn start(
        mode: Mode,
        name: &str,
        listen: SocketAddr,
        first: Config<'_>,
    ) -> Result<Option<Self>> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let Some(binary) = envoy_binary() else {
            return Ok(None);
        };
        let node = format!("xds-test/{name}");
        let cache = SnapshotCache::new();
        let xds_server = xds::serve("127.0.0.1:0".parse()?, cache.clone()).await?;
        let router = admin::router(AdminState::new(cache.clone(), Metrics::new()));
        let admin_server = admin::serve("127.0.0.1:0".parse()?, router).await?;
        cache.set(&node, first.snapshot(1));
        let envoy = Envoy::start(&binary, &node, xds_server.local_addr(), mode).await?;
        let rig = Self {
            node,
            cache,
            admin: admin_server.local_addr(),
            _xds: xds_server,
            _admin_server: admin_server,
            envoy,
            listen,
            client: HttpClient::default(),
        };
        rig.wait(1).await?;
        Ok(Some(rig))
    }

    async fn wait(&self, revision: u64) -> Result<Duration> {
        let started = Instant::now();
        match self
            .cache
            .wait_acked(&self.node, revision, ACK_TIMEOUT)
            .await
        {
            Ok(_) => Ok(started.elapsed()),
            Err(e) => bail!("{e}\nEnvoy log:\n{}", self.envoy.log_tail()),
        }
    }

    async fn set(&self, config: Config<'_>, revision: u64) -> Result<Duration> {
        self.cache.set(&self.node, config.snapshot(revision));
        self.wait(revision).await
    }

    async fn get(&self, path: &str) -> Result<(u16, String)> {
        self.client.get(self.listen, path).await
    }

    /// The first request after start-up: the listener may take a moment to accept after its
    /// configuration is ACKed (Envoy opens the socket once the listener has warmed).
    async fn first_get(&self, path: &str) -> Result<(u16, String)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.get(path).await {
                Ok(r) => return Ok(r),
                Err(e) if Instant::now() > deadline => {
                    return Err(e.context("listener never answered"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    async fn admin_json(&self) -> Result<serde_json::Value> {
        let (status, body) = self.client.get(self.admin, "/xds").await?;
        ensure!(status == 200, "/xds answered {status}");
        serde_json::from_str(&body).context("/xds is JSON")
    }
}

fn listen_addr() -> Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
}

async fn configuration_changes_reach_envoy(mode: Mode) -> Result<()> {
    let a = Backend::start("backend-a").await?;
    let b = Backend::start("backend-b").await?;
    let (a_addr, b_addr) = (a.addr, b.addr);
    let name = format!("changes-{mode:?}").to_lowercase();
    let listen = listen_addr()?;
    let Some(rig) = Rig::start(
        mode,
        &name,
        listen,
        Config::new(listen, &[("a", a_addr)], &[("/", "a")]),
    )
    .await?
    else {
        return Ok(());
    };

    // Initial configuration.
    assert_eq!(rig.first_get("/").await?, (200, "backend-a".to_string()));

    // A route change, served by the same process.
    let clusters = [("a", a_addr), ("b", b_addr)];
    rig.set(
        Config::new(listen, &clusters, &[("/v2", "b"), ("/", "a")]),
        2,
    )
    .await?;
    assert_eq!(rig.get("/v2/x").await?, (200, "backend-b".to_string()));
    assert_eq!(rig.get("/x").await?, (200, "backend-a".to_string()));

    // A route to a cluster Envoy does not have, with validate_clusters: Envoy must refuse it.
    let only_a = [("a", a_addr)];
    rig.cache.set(
        &rig.node,
        Config::new(listen, &only_a, &[("/", "a"), ("/bad", "no-such-cluster")])
            .validate_clusters()
            .snapshot(3),
    );
    let rejection = match rig.cache.wait_acked(&rig.node, 3, ACK_TIMEOUT).await {
        Err(WaitError::Rejected { rejection, .. }) => rejection,
        other => bail!("expected Envoy to reject revision 3, got {other:?}"),
    };
    assert_eq!(rejection.ty, "RDS");
    assert!(
        rejection.message.contains("no-such-cluster"),
        "Envoy's message: {}",
        rejection.message
    );
    // Envoy keeps serving what it had.
    assert_eq!(rig.get("/v2/x").await?, (200, "backend-b".to_string()));
    let json = rig.admin_json().await?;
    let node = &json["nodes"][&rig.node];
    assert_eq!(node["connected"], true, "{json:#}");
    assert_eq!(node["ackedRevision"], 2, "{json:#}");
    assert_eq!(node["types"]["RDS"]["nacks"], 1, "{json:#}");
    let message = node["types"]["RDS"]["lastNack"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("no-such-cluster"), "{json:#}");
    assert_eq!(node["rejected"]["type"], "RDS", "{json:#}");
    let (_, metrics) = rig.client.get(rig.admin, "/metrics").await?;
    let nacks = format!(
        "gatesim_xds_nacks_total{{node=\"{}\",type=\"RDS\"}} 1\n",
        rig.node
    );
    assert!(metrics.contains(&nacks), "{metrics}");
    assert_eq!(rig.client.get(rig.admin, "/healthz").await?.0, 200);

    // A good snapshot after the bad one is accepted; the rejected one was never resent.
    rig.set(
        Config::new(listen, &only_a, &[("/", "a")]).validate_clusters(),
        4,
    )
    .await?;
    assert_eq!(rig.get("/v2/x").await?, (200, "backend-a".to_string()));
    let json = rig.admin_json().await?;
    assert_eq!(
        json["nodes"][&rig.node]["types"]["RDS"]["nacks"], 1,
        "{json:#}"
    );
    assert!(json["nodes"][&rig.node]["rejected"].is_null(), "{json:#}");

    // Cluster b is gone from Envoy once revision 4 is ACKed (removals included).
    let clusters = rig.envoy.admin_get(&rig.client, "/clusters").await?;
    assert!(
        !clusters.lines().any(|l| l.starts_with("b::")),
        "cluster b still in Envoy:\n{clusters}"
    );

    // A changed cluster is re-created and re-warmed by Envoy; that must not stall the rollout
    // (Envoy delays the CDS ACK until the cluster has its endpoints).
    let changed = Config::new(listen, &only_a, &[("/", "a")])
        .validate_clusters()
        .connect_timeout_ms(2500);
    let took = rig.set(changed, 5).await?;
    assert!(
        took < Duration::from_secs(5),
        "changing a cluster took {took:?} to be ACKed"
    );
    assert_eq!(rig.get("/x").await?, (200, "backend-a".to_string()));
    Ok(())
}

/// Replace the cluster behind "/" again and again while a client keeps requesting it: with
/// make-before-break, no request may fail.
async fn cluster_replacement_under_traffic(mode: Mode) -> Result<()> {
    let backends = [Backend::start("one").await?, Backend::start("two").await?];
    let addrs = [backends[0].addr, backends[1].addr];
    let name = format!("replace-{mode:?}").to_lowercase();
    let listen = listen_addr()?;
    let first_clusters = [("svc-0", addrs[0])];
    let first = Config::new(listen, &first_clusters, &[("/", "svc-0")]).validate_clusters();
    let Some(rig) = Rig::start(mode, &name, listen, first).await? else {
        return Ok(());
    };
    assert_eq!(rig.first_get("/").await?.0, 200);

    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (client, listen, stop) = (rig.client.clone(), rig.listen, Arc::clone(&stop));
        tokio::spawn(async move {
            let (mut ok, mut failures) = (0u32, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match client.get(listen, "/").await {
                    Ok((200, _)) => ok += 1,
                    Ok((status, body)) => failures.push(format!("HTTP {status}: {body}")),
                    Err(e) => failures.push(format!("{e:#}")),
                }
            }
            (ok, failures)
        })
    };
    const SWAPS: u64 = 20;
    for i in 1..=SWAPS {
        let cluster = format!("svc-{i}");
        let clusters = [(cluster.as_str(), addrs[i as usize % 2])];
        let rules = [("/", cluster.as_str())];
        rig.set(
            Config::new(rig.listen, &clusters, &rules).validate_clusters(),
            i + 1,
        )
        .await?;
        // Let some requests run against each configuration.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, failures) = load.await?;
    eprintln!(
        "{mode:?}: {SWAPS} cluster replacements under load: {ok} requests OK, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "requests failed during cluster replacement: {failures:?}"
    );
    assert!(ok > 100, "too few requests ({ok}) to mean anything");
    let (_, body) = rig.get("/").await?;
    assert_eq!(
        body,
        if SWAPS.is_multiple_of(2) {
            "one"
        } else {
            "two"
        }
    );
    let clusters = rig.envoy.admin_get(&rig.client, "/clusters").await?;
    let names: std::collections::BTreeSet<&str> = clusters
        .lines()
        .filter_map(|l| l.split("::").next())
        .filter(|n| n.starts_with("svc-"))
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec![format!("svc-{SWAPS}")],
        "old clusters removed"
    );
    Ok(())
}

/// Time from `set` to the ACK of a route change, over 50 changes.
async fn push_to_ack_latency(mode: Mode) -> Result<()> {
    let backend = Backend::start("backend").await?;
    let addr = backend.addr;
    let name = format!("latency-{mode:?}").to_lowercase();
    let listen = listen_addr()?;
    let clusters = [("a", addr)];
    let first = Config::new(listen, &clusters, &[("/", "a")]);
    let Some(rig) = Rig::start(mode, &name, listen, first).await? else {
        return Ok(());
    };
    let mut samples = Vec::new();
    for i in 0..50u64 {
        let prefix = format!("/v{i}");
        let rules = [(prefix.as_str(), "a")];
        samples.push(
            rig.set(Config::new(rig.listen, &clusters, &rules), i + 2)
                .await?,
        );
        // The change is live: the new prefix routes, the previous one no longer does.
        assert_eq!(rig.get(&format!("{prefix}/x")).await?.0, 200);
        let previous = if i == 0 {
            "/".to_string()
        } else {
            format!("/v{}/x", i - 1)
        };
        assert_eq!(
            rig.get(&previous).await?.0,
            404,
            "{previous} still routed after revision {} was ACKed",
            i + 2
        );
    }
    samples.sort();
    let (p50, p95) = (percentile(&samples, 50), percentile(&samples, 95));
    eprintln!(
        "{mode:?}: push-to-ACK latency of a route change over {} changes: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
    assert!(
        p95 < Duration::from_secs(1),
        "p95 push-to-ACK latency {p95:?} is too slow"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sotw_configuration_changes_reach_envoy() -> Result<()> {
    configuration_changes_reach_envoy(Mode::Sotw).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_configuration_changes_reach_envoy() -> Result<()> {
    configuration_changes_reach_envoy(Mode::Delta).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sotw_cluster_replacement_under_traffic_has_no_errors() -> Result<()> {
    cluster_replacement_under_traffic(Mode::Sotw).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_cluster_replacement_under_traffic_has_no_errors() -> Result<()> {
    cluster_replacement_under_traffic(Mode::Delta).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sotw_push_to_ack_latency() -> Result<()> {
    push_to_ack_latency(Mode::Sotw).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_push_to_ack_latency() -> Result<()> {
    push_to_ack_latency(Mode::Delta).await
}
