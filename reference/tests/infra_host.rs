//! The host infrastructure provider with real Envoy processes. The proxies' xDS cluster points
//! at a port where nothing listens: they start, serve their admin endpoint, and wait for
//! configuration that never comes, which is all the provider is responsible for.

mod infra_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gatesim_reference::infra::{
    AddressAllocator, HostConfig, HostInfra, ProxyInfo, ProxySpec, ProxyState, ReconcileReport,
    admin, desired_proxies,
};
use gatesim_reference::model::ObjectKey;

use infra_support::{
    alive, dead_xds_addr, envoy_or_skip, eventually, init_tracing, processes_mentioning,
};

/// Restart after `kill -9` must happen within this (backoff 100 ms + Envoy start-up).
const RESTART_BOUND: Duration = Duration::from_secs(5);

fn config(envoy: PathBuf, work_dir: &std::path::Path) -> HostConfig {
    HostConfig {
        envoy,
        xds_addr: dead_xds_addr(),
        work_dir: work_dir.to_path_buf(),
        delta: false,
        log_level: "info".to_string(),
        ..HostConfig::default()
    }
}

/// Specs for these Gateways, with addresses from a fresh allocator.
fn desired(gateways: &[ObjectKey]) -> BTreeMap<ObjectKey, ProxySpec> {
    let mut alloc = AddressAllocator::new();
    alloc.sync(gateways).unwrap();
    desired_proxies(&alloc.address_strings())
}

/// Reconcile and insist that every proxy came up.
async fn reconcile_ok(host: &HostInfra, want: &BTreeMap<ObjectKey, ProxySpec>) -> ReconcileReport {
    let report = host.reconcile(want).await;
    assert!(report.failed.is_empty(), "{report:?}");
    report
}

async fn server_info(p: &ProxyInfo) -> serde_json::Value {
    let addr = p
        .admin_address
        .unwrap_or_else(|| panic!("{} has no admin address: {p:?}", p.gateway));
    let resp = admin::get(addr, "/server_info").await.unwrap();
    assert_eq!(resp.status, 200, "{resp:?}");
    serde_json::from_str(&resp.body).unwrap()
}

#[tokio::test]
async fn two_gateways_run_two_envoys_and_removing_one_stops_it() {
    let Some(envoy) = envoy_or_skip("two_gateways_run_two_envoys_and_removing_one_stops_it") else {
        return;
    };
    init_tracing();
    let work = tempfile::tempdir().unwrap();
    let host = HostInfra::new(config(envoy, work.path())).unwrap();
    let (a, b) = (ObjectKey::new("ns", "alpha"), ObjectKey::new("ns", "beta"));
    let both = desired(&[a.clone(), b.clone()]);

    let report = reconcile_ok(&host, &both).await;
    assert_eq!(report.started, vec![a.clone(), b.clone()]);
    assert!(report.failed.is_empty(), "{report:?}");

    let proxies = host.proxies();
    assert_eq!(proxies.len(), 2);
    let (pa, pb) = (&proxies[0], &proxies[1]);
    assert_eq!(
        (pa.address.as_str(), pb.address.as_str()),
        ("127.0.10.1", "127.0.10.2")
    );
    assert_ne!(pa.pid, pb.pid);
    assert_ne!(pa.admin_address, pb.admin_address);
    for p in &proxies {
        assert_eq!(p.state, ProxyState::Running, "{p:?}");
        assert!(alive(p.pid.unwrap()));
        let info = server_info(p).await;
        assert_eq!(info["node"]["id"], p.node_id.as_str());
        assert_eq!(info["node"]["metadata"]["address"], p.address.as_str());
        assert_eq!(
            info["node"]["metadata"]["gateway_name"],
            p.gateway.name.as_str()
        );
        assert_eq!(info["command_line_options"]["concurrency"], 1);
        assert!(p.dir.join("bootstrap.yaml").is_file());
        eprintln!(
            "{}: start -> admin address {:.1} ms",
            p.gateway,
            p.startup_ms.unwrap()
        );
    }
    // The report serializes for the admin endpoint.
    let json = serde_json::to_value(&proxies).unwrap();
    assert_eq!(json[0]["state"], "running");
    assert_eq!(json[1]["gateway"]["name"], "beta");

    // Same desired set again: nothing changes.
    let again = reconcile_ok(&host, &both).await;
    assert!(
        again.started.is_empty() && again.stopped.is_empty(),
        "{again:?}"
    );
    assert_eq!(host.proxy(&a).unwrap().pid, pa.pid);

    // Remove alpha: its Envoy goes away, beta's stays.
    let only_b: BTreeMap<_, _> = both
        .iter()
        .filter(|(k, _)| **k == b)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let started = Instant::now();
    let report = reconcile_ok(&host, &only_b).await;
    eprintln!("stopping one proxy took {:?}", started.elapsed());
    assert_eq!(report.stopped, vec![a.clone()]);
    assert!(!alive(pa.pid.unwrap()), "alpha's Envoy still runs");
    assert!(
        admin::get(pa.admin_address.unwrap(), "/ready")
            .await
            .is_err()
    );
    assert_eq!(host.proxies().len(), 1);
    assert_eq!(host.proxy(&b).unwrap().pid, pb.pid);
    assert!(alive(pb.pid.unwrap()));
    let log = std::fs::read_to_string(pa.dir.join("envoy.log")).unwrap();
    assert!(
        log.contains("shutting down"),
        "alpha was not stopped gracefully:\n{log}"
    );

    host.shutdown().await;
}

#[tokio::test]
async fn a_killed_proxy_is_restarted() {
    let Some(envoy) = envoy_or_skip("a_killed_proxy_is_restarted") else {
        return;
    };
    init_tracing();
    let work = tempfile::tempdir().unwrap();
    let host = HostInfra::new(config(envoy, work.path())).unwrap();
    let gw = ObjectKey::new("ns", "phoenix");
    reconcile_ok(&host, &desired(std::slice::from_ref(&gw))).await;
    let before = host.proxy(&gw).unwrap();
    let old_pid = before.pid.unwrap();

    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-9", &old_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let after = host
        .wait_until(&gw, RESTART_BOUND, |p| {
            p.state == ProxyState::Running && p.restarts == 1
        })
        .await
        .unwrap();
    eprintln!(
        "kill -9 -> restarted and admin up in {:?}",
        killed.elapsed()
    );

    assert_ne!(after.pid, Some(old_pid));
    assert!(alive(after.pid.unwrap()));
    let why = after.last_exit.as_deref().unwrap();
    assert!(why.contains("signal: 9"), "exit reason: {why}");
    assert!(
        why.contains("envoy.log"),
        "exit reason lacks the log tail: {why}"
    );
    let info = server_info(&after).await;
    assert_eq!(info["node"]["id"], "ns/phoenix");

    host.shutdown().await;
}

#[tokio::test]
async fn shutdown_leaves_no_envoy_running() {
    let Some(envoy) = envoy_or_skip("shutdown_leaves_no_envoy_running") else {
        return;
    };
    init_tracing();
    let work = tempfile::tempdir().unwrap();
    let host = HostInfra::new(config(envoy, work.path())).unwrap();
    let gws: Vec<ObjectKey> = (0..3)
        .map(|i| ObjectKey::new("ns", format!("gw-{i}")))
        .collect();
    reconcile_ok(&host, &desired(&gws)).await;
    let pids: Vec<u32> = host.proxies().iter().map(|p| p.pid.unwrap()).collect();
    assert_eq!(processes_mentioning(work.path()).len(), 3);

    let started = Instant::now();
    host.shutdown().await;
    eprintln!("shutting down 3 proxies took {:?}", started.elapsed());
    assert!(host.proxies().is_empty());
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived shutdown");
    }
    assert_eq!(processes_mentioning(work.path()), Vec::<u32>::new());
}

#[tokio::test]
async fn dropping_the_provider_kills_its_proxies() {
    let Some(envoy) = envoy_or_skip("dropping_the_provider_kills_its_proxies") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut cfg = config(envoy, work.path());
    cfg.parent_death_signal = false; // only kill_on_drop is under test here
    let host = HostInfra::new(cfg).unwrap();
    reconcile_ok(&host, &desired(&[ObjectKey::new("ns", "dropped")])).await;
    let pid = host.proxies()[0].pid.unwrap();
    drop(host);
    assert!(
        eventually(Duration::from_secs(5), || !alive(pid)).await,
        "pid {pid} outlived the provider"
    );
}

#[test]
fn proxies_die_with_the_thread_that_started_them() {
    // The controller killed with SIGKILL runs no destructor; the parent-death signal is what
    // takes its proxies down then. Leaking the runtime and provider on a thread that exits is
    // the closest a test gets: nothing is dropped, only the thread goes away.
    let Some(envoy) = envoy_or_skip("proxies_die_with_the_thread_that_started_them") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let cfg = config(envoy, work.path());
    let (pid, with_signal) = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let host = HostInfra::new(cfg).unwrap();
        let pid = rt.block_on(async {
            reconcile_ok(&host, &desired(&[ObjectKey::new("ns", "orphan")])).await;
            host.proxies()[0].pid.unwrap()
        });
        let with_signal = host.uses_parent_death_signal();
        std::mem::forget(host);
        std::mem::forget(rt);
        (pid, with_signal)
    })
    .join()
    .unwrap();
    if !with_signal {
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        if std::env::var("GATESIM_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("setpriv (util-linux) is required for parent-death signals but unavailable");
        }
        eprintln!("SKIP: proxies_die_with_the_thread_that_started_them: setpriv unavailable");
        return;
    }
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "pid {pid} outlived its parent thread"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn a_changed_spec_restarts_the_proxy_with_the_new_identity() {
    let Some(envoy) = envoy_or_skip("a_changed_spec_restarts_the_proxy_with_the_new_identity")
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut cfg = config(envoy, work.path());
    cfg.delta = true;
    let host = HostInfra::new(cfg).unwrap();
    let gw = ObjectKey::new("ns", "mover");
    let mut want = desired(std::slice::from_ref(&gw));
    reconcile_ok(&host, &want).await;
    let old = host.proxy(&gw).unwrap();

    want.get_mut(&gw).unwrap().address = "127.0.10.77".to_string();
    let report = reconcile_ok(&host, &want).await;
    assert_eq!(
        (report.stopped.clone(), report.started.clone()),
        (vec![gw.clone()], vec![gw.clone()])
    );
    let new = host.proxy(&gw).unwrap();
    assert_ne!(new.pid, old.pid);
    assert!(!alive(old.pid.unwrap()));
    assert_eq!(new.restarts, 0, "a requested restart is not a failure");
    let info = server_info(&new).await;
    assert_eq!(info["node"]["metadata"]["address"], "127.0.10.77");
    let bootstrap = std::fs::read_to_string(new.dir.join("bootstrap.yaml")).unwrap();
    assert!(bootstrap.contains("DELTA_GRPC"), "{bootstrap}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_proxy_that_cannot_start_is_reported_and_retried() {
    let Some(envoy) = envoy_or_skip("a_proxy_that_cannot_start_is_reported_and_retried") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut cfg = config(envoy, work.path());
    cfg.log_level = "loud".to_string(); // Envoy refuses an unknown level at once
    let host = HostInfra::new(cfg).unwrap();
    let gw = ObjectKey::new("ns", "broken");
    let report = host.reconcile(&desired(std::slice::from_ref(&gw))).await;
    let reason = report
        .failed
        .get(&gw)
        .unwrap_or_else(|| panic!("not reported as failed: {report:?}"));
    assert!(reason.contains("exit status"), "{reason}");
    assert!(
        reason.contains("loud"),
        "Envoy's complaint is missing: {reason}"
    );
    // Supervision keeps trying, with growing delays.
    let p = host
        .wait_until(&gw, Duration::from_secs(5), |p| p.restarts >= 3)
        .await
        .unwrap();
    assert_ne!(p.state, ProxyState::Running);
    host.shutdown().await;
    assert_eq!(processes_mentioning(work.path()), Vec::<u32>::new());
}

#[tokio::test]
async fn bad_gateway_names_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let host = HostInfra::new(config(PathBuf::from("/nonexistent/envoy"), work.path())).unwrap();
    let gw = ObjectKey::new("..", "escape");
    let want = BTreeMap::from([(gw.clone(), ProxySpec::for_gateway(&gw, "127.0.10.1"))]);
    let report = host.reconcile(&want).await;
    let reason = report
        .failed
        .get(&gw)
        .unwrap_or_else(|| panic!("{report:?}"));
    assert!(reason.contains("../escape"), "{reason}");
    assert!(report.started.is_empty(), "{report:?}");
    assert!(host.proxies().is_empty());
}

#[tokio::test]
async fn startup_latency_of_ten_proxies_started_together() {
    let Some(envoy) = envoy_or_skip("startup_latency_of_ten_proxies_started_together") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let host = HostInfra::new(config(envoy, work.path())).unwrap();
    let gws: Vec<ObjectKey> = (0..10)
        .map(|i| ObjectKey::new("load", format!("gw-{i:02}")))
        .collect();
    let started = Instant::now();
    let report = reconcile_ok(&host, &desired(&gws)).await;
    let total = started.elapsed();
    assert!(report.failed.is_empty(), "{report:?}");
    let mut ms: Vec<f64> = host
        .proxies()
        .iter()
        .map(|p| p.startup_ms.unwrap())
        .collect();
    ms.sort_by(f64::total_cmp);
    eprintln!(
        "10 proxies: reconcile {total:?}; start -> admin min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms[0], ms[5], ms[9]
    );
    assert_eq!(
        host.proxies()
            .iter()
            .filter(|p| p.state == ProxyState::Running)
            .count(),
        10
    );
    host.shutdown().await;
}
