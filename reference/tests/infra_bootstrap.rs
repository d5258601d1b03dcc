//! The rendered bootstrap against a real Envoy: every variant validates, and an Envoy started
//! from it reports the identity and honours the fetch timeout.

mod infra_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use gatesim_reference::infra::admin;
use gatesim_reference::infra::bootstrap::{self, BootstrapParams, XdsProtocol};
use gatesim_reference::infra::envoy::{EnvoyError, validate_file};

use infra_support::{dead_xds_addr, envoy_or_skip};

fn variants() -> Vec<(String, BootstrapParams)> {
    let mut out = Vec::new();
    for protocol in [XdsProtocol::StateOfTheWorld, XdsProtocol::Delta] {
        for xds in ["127.0.0.1:18000", "[::1]:18000"] {
            for limited in [true, false] {
                let mut p = BootstrapParams::new("default/gw", xds.parse().unwrap());
                p.protocol = protocol;
                p.node_metadata
                    .insert("address".into(), "127.0.10.1".into());
                if !limited {
                    p.max_downstream_connections = None;
                }
                out.push((format!("{protocol:?} xds={xds} overload={limited}"), p));
            }
        }
    }
    out
}

#[test]
fn every_bootstrap_variant_passes_envoy_validate() {
    let Some(envoy) = envoy_or_skip("every_bootstrap_variant_passes_envoy_validate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (i, (label, params)) in variants().into_iter().enumerate() {
        let path = dir.path().join(format!("bootstrap-{i}.yaml"));
        std::fs::write(&path, bootstrap::render(&params).unwrap()).unwrap();
        let started = Instant::now();
        validate_file(&envoy, &path).unwrap_or_else(|e| panic!("{label}: {e}"));
        eprintln!("validated {label} in {:?}", started.elapsed());
    }
}

#[test]
fn validate_rejects_a_broken_bootstrap() {
    // The control for the test above: the same path reports Envoy's complaint.
    let Some(envoy) = envoy_or_skip("validate_rejects_a_broken_bootstrap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut value = bootstrap::bootstrap_value(&BootstrapParams::new("n", dead_xds_addr()));
    value["dynamic_resources"]["ads_config"]["api_type"] = "BOGUS".into();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, serde_yaml::to_string(&value).unwrap()).unwrap();
    match validate_file(&envoy, &path) {
        Err(EnvoyError::Rejected(msg)) => assert!(msg.contains("BOGUS"), "{msg}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn envoy_started_from_the_bootstrap_reports_identity_and_times_out_its_first_fetch() {
    let test = "envoy_started_from_the_bootstrap_reports_identity_and_times_out_its_first_fetch";
    let Some(envoy) = envoy_or_skip(test) else {
        return;
    };
    for protocol in [XdsProtocol::StateOfTheWorld, XdsProtocol::Delta] {
        let dir = tempfile::tempdir().unwrap();
        let mut p = BootstrapParams::new("infra/edge", dead_xds_addr());
        p.protocol = protocol;
        p.initial_fetch_timeout = Duration::from_millis(1500);
        p.node_metadata
            .insert("address".into(), "127.0.10.42".into());
        let config = dir.path().join("bootstrap.yaml");
        std::fs::write(&config, bootstrap::render(&p).unwrap()).unwrap();
        let addr_file = dir.path().join("admin.addr");

        let started = Instant::now();
        let mut child = tokio::process::Command::new(&envoy)
            .arg("-c")
            .arg(&config)
            .args([
                "--use-dynamic-base-id",
                "--disable-hot-restart",
                "--concurrency",
                "1",
            ])
            .arg("--admin-address-path")
            .arg(&addr_file)
            .args(["-l", "info", "--log-path"])
            .arg(dir.path().join("envoy.log"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let admin_addr = loop {
            if let Ok(Ok(a)) = std::fs::read_to_string(&addr_file).map(|s| s.trim().parse()) {
                break a;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{protocol:?}: no admin address"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        eprintln!(
            "{protocol:?}: Envoy start -> admin address in {:?}",
            started.elapsed()
        );

        let info = admin::get(admin_addr, "/server_info").await.unwrap();
        let info: serde_json::Value = serde_json::from_str(&info.body).unwrap();
        assert!(
            info["version"].as_str().unwrap().contains("/1.40.0/"),
            "{info}"
        );
        assert_eq!(info["node"]["id"], "infra/edge");
        assert_eq!(info["node"]["cluster"], bootstrap::DEFAULT_NODE_CLUSTER);
        assert_eq!(info["node"]["metadata"]["address"], "127.0.10.42");

        // No control plane: not ready until the first fetch times out, then live without config.
        let ready = admin::get(admin_addr, "/ready").await.unwrap();
        assert_eq!(
            (ready.status, ready.body.trim()),
            (503, "PRE_INITIALIZING"),
            "{protocol:?}"
        );
        let stats = admin::get(admin_addr, "/stats?filter=control_plane.connected_state")
            .await
            .unwrap();
        assert_eq!(stats.body.trim(), "control_plane.connected_state: 0");
        let live = loop {
            let r = admin::get(admin_addr, "/ready").await.unwrap();
            if r.status == 200 {
                break started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{protocol:?}: never ready: {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        eprintln!("{protocol:?}: live after {live:?} (initial_fetch_timeout 1.5s)");
        // CDS initializes first and LDS only after it, so each waits out its own timeout.
        assert!(
            live >= Duration::from_millis(2900),
            "{protocol:?}: live too early: {live:?}"
        );

        let quit = admin::post(admin_addr, "/quitquitquit").await.unwrap();
        assert_eq!(quit.status, 200);
        let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{protocol:?}: {status}");
    }
}
