//! NACK containment live, with the file provider: a route Envoy rejects is quarantined while
//! the other routes keep answering from the right backends (probed without pause), later
//! edits flow again, a fix is served, and two bad routes at once are both found.
//!
//! Translation's input validation is off here (`validate_inputs: false`), so that the bad
//! routes do reach Envoy, as whatever validation misses would.

mod contain_support;
mod e2e_support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use contain_support::{admin, backed_by_a, bad_header_route, bad_regex_route, route_to, serves};
use e2e_support::{
    Backend, Call, HTTP_GATEWAY, Prober, WAIT, endpoint_slice, eventually, expect, gateway_addr,
    start_controller,
};
use gatesim_reference::controller::Controller;
use gatesim_reference::model::ControllerConfig;
use serde_json::Value;

/// The condition `type_` of route `name` on its parent, as the controller computed it.
fn route_condition(controller: &Controller, name: &str, type_: &str) -> Option<Value> {
    controller
        .state()
        .statuses()
        .into_iter()
        .find(|s| s["kind"] == "HTTPRoute" && s["name"] == name)?["status"]["parents"][0]
        ["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

fn gateway_programmed(controller: &Controller) -> bool {
    controller.state().statuses().iter().any(|s| {
        s["kind"] == "Gateway"
            && s["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Programmed" && c["status"] == "True")
            })
    })
}

/// Wait until route `name` is Accepted=False for being quarantined; its message.
async fn quarantined(controller: &Controller, name: &str, envoy_says: &str) -> Result<String> {
    eventually(WAIT, &format!("route {name} is quarantined"), || {
        let c = route_condition(controller, name, "Accepted");
        async move {
            let c = c.context("no Accepted condition yet")?;
            let message = c["message"].as_str().unwrap_or_default().to_string();
            Ok((c["status"] == "False"
                && c["reason"] == "UnsupportedValue"
                && message.contains(envoy_says))
            .then_some(message))
        }
    })
    .await
}

async fn accepted(controller: &Controller, name: &str) -> Result<()> {
    eventually(WAIT, &format!("route {name} is accepted"), || {
        let c = route_condition(controller, name, "Accepted");
        async move { Ok(c.filter(|c| c["status"] == "True").map(|_| ())) }
    })
    .await
}

async fn programmed_again(controller: &Controller) -> Result<()> {
    eventually(WAIT, "the Gateway is Programmed again", || {
        let programmed = gateway_programmed(controller);
        async move { Ok(programmed.then_some(())) }
    })
    .await
}

fn write(dir: &Path, file: &str, yaml: &str) -> Result<()> {
    // Write aside and rename, so the provider never reads half a file.
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, yaml)?;
    std::fs::rename(&tmp, dir.join(file))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_route_is_quarantined_and_every_other_route_keeps_flowing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config)?;
    let a = Backend::start("a-0", "127.0.74.1", 0).await?;
    let b = Backend::start("b-0", "127.0.74.2", 0).await?;
    let c = Backend::start("c-0", "127.0.74.3", 0).await?;
    let services = [
        endpoint_slice("a", &[&a]),
        endpoint_slice("b", &[&b]),
        endpoint_slice("c", &[&c]),
    ]
    .join("---\n");
    write(&config, "gateway.yaml", HTTP_GATEWAY)?;
    write(&config, "services.yaml", &services)?;
    for (route, service) in [("one", "a"), ("two", "b"), ("three", "c")] {
        write(&config, &format!("{route}.yaml"), &route_to(route, service))?;
    }
    let settings = ControllerConfig {
        validate_inputs: false,
        ..ControllerConfig::default()
    };
    let Some(controller) = start_controller(dir.path(), 74, settings).await? else {
        return Ok(());
    };
    let http = SocketAddr::new(gateway_addr(&controller).await?, 80);
    serves(http, "one.example.com", "a-0").await?;
    serves(http, "two.example.com", "b-0").await?;
    serves(http, "three.example.com", "c-0").await?;
    programmed_again(&controller).await?;

    // From here on, the routes nobody touches answer every request from the right backend.
    let prober = Prober::start(
        http,
        vec![
            (Call::get("one.example.com", "/"), "a-0".into()),
            (Call::get("three.example.com", "/"), "c-0".into()),
        ],
    );

    // A route Envoy rejects is found and quarantined, with Envoy's own words.
    let added = Instant::now();
    write(&config, "bad.yaml", &backed_by_a(bad_regex_route("bad")))?;
    let message = quarantined(&controller, "bad", "missing ): /bad/(").await?;
    eprintln!(
        "bad route added -> quarantined in {:.3} s: {message}",
        added.elapsed().as_secs_f64()
    );
    // An edit of another route is served again.
    let edited = Instant::now();
    write(&config, "two.yaml", &route_to("two", "a"))?;
    serves(http, "two.example.com", "a-0").await?;
    eprintln!(
        "edit of another route served {:.3} s after it was written",
        edited.elapsed().as_secs_f64()
    );
    programmed_again(&controller).await?;

    // Reported: /quarantine, /errors, /metrics.
    let view: Value = serde_json::from_str(&admin(&controller, "/quarantine").await?)?;
    ensure!(view["enabled"] == true, "{view:#}");
    let entries = view["quarantined"].as_array().context("quarantined")?;
    ensure!(entries.len() == 1, "{view:#}");
    ensure!(entries[0]["object"]["name"] == "bad", "{view:#}");
    ensure!(entries[0]["object"]["kind"] == "HTTPRoute", "{view:#}");
    ensure!(entries[0]["gateway"] == "default/gw", "{view:#}");
    ensure!(
        entries[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing ): /bad/(")),
        "{view:#}"
    );
    ensure!(
        entries[0]["bisection"]["seconds"].as_f64().is_some(),
        "{view:#}"
    );
    let errors = admin(&controller, "/errors").await?;
    ensure!(
        errors.contains("HTTPRoute default/bad: quarantined") && errors.contains("missing )"),
        "{errors}"
    );
    let metrics = admin(&controller, "/metrics").await?;
    for line in [
        "gatesim_containment_enabled 1\n",
        "gatesim_quarantined_objects 1\n",
        "gatesim_quarantines_total 1\n",
        "gatesim_containment_runs_total{outcome=\"quarantined\"} 1\n",
    ] {
        ensure!(metrics.contains(line), "{line} missing from\n{metrics}");
    }

    // The fix is tried again, served and accepted.
    write(
        &config,
        "bad.yaml",
        &backed_by_a(bad_regex_route("bad")).replace("/bad/(", "/bad/[0-9]+"),
    )?;
    expect(
        http,
        Call::get("bad.example.com", "/bad/42"),
        |r| r.status == 200 && r.backend().as_deref() == Some("a-0"),
        "the fixed route is served",
    )
    .await?;
    accepted(&controller, "bad").await?;
    let metrics = admin(&controller, "/metrics").await?;
    ensure!(
        metrics.contains("gatesim_quarantined_objects 0\n")
            && metrics.contains("gatesim_quarantine_releases_total 1\n"),
        "{metrics}"
    );

    // Two bad routes at once (one file, one change) are both found by one investigation.
    write(
        &config,
        "worse.yaml",
        &[bad_regex_route("worse"), bad_header_route("worst")].join("---\n"),
    )?;
    quarantined(&controller, "worse", "missing ): /worse/(").await?;
    quarantined(&controller, "worst", "headers may not be modified").await?;
    programmed_again(&controller).await?;
    let view: Value = serde_json::from_str(&admin(&controller, "/quarantine").await?)?;
    let last = view["investigations"]
        .as_array()
        .and_then(|i| i.last())
        .context("investigations")?;
    ensure!(last["outcome"] == "quarantined", "{view:#}");
    ensure!(
        last["detail"] == serde_json::json!(["HTTPRoute default/worse", "HTTPRoute default/worst"]),
        "{view:#}"
    );
    // And the edits of others still flow.
    write(&config, "two.yaml", &route_to("two", "c"))?;
    serves(http, "two.example.com", "c-0").await?;

    prober.stop_all_good().await?;
    controller.shutdown().await;
    Ok(())
}
