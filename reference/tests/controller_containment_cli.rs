//! `gatesim-controller run --infra none`: NACK containment checks rejected configurations with
//! `--envoy` or an Envoy found on the machine, and without one says once, at start, that it
//! is off and why.

mod e2e_support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e_support::{Call, send};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The controller, serving an empty directory with proxies left to someone else.
fn controller(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Result<Child> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatesim-controller"));
    cmd.args(["run", "--infra", "none"])
        .arg("--provider")
        .arg(format!("file:{}", dir.display()))
        .args(["--xds-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd.spawn()?)
}

/// Its log up to the line announcing the admin address, and that address.
async fn started(child: &mut Child) -> Result<(Vec<String>, SocketAddr)> {
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await? {
            if let Some(admin) = line
                .split_once("admin on http://")
                .and_then(|(_, rest)| rest.split_whitespace().next())
            {
                let admin = admin.trim_end_matches(',').parse()?;
                return Ok::<_, anyhow::Error>(admin);
            }
            seen.push(line);
        }
        anyhow::bail!("the controller exited before it announced its admin address")
    };
    let admin = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .context("the controller did not start in time")??;
    Ok((seen, admin))
}

async fn quarantine_view(admin: SocketAddr) -> Result<Value> {
    let r = send(admin, &Call::get("admin", "/quarantine")).await?;
    ensure!(r.status == 200, "status {}", r.status);
    Ok(serde_json::from_slice(&r.body)?)
}

fn mentions(log: &[String], text: &str) -> usize {
    log.iter().filter(|l| l.contains(text)).count()
}

#[tokio::test]
async fn without_an_envoy_containment_is_off_and_says_so_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = controller(
        dir.path(),
        &[],
        &[("GATESIM_ENVOY", "/nonexistent/gatesim-envoy")],
    )?;
    let (log, admin) = started(&mut child).await?;
    ensure!(
        mentions(&log, "NACK containment is disabled") == 1,
        "one line says so: {log:#?}"
    );
    ensure!(
        mentions(
            &log,
            "/nonexistent/gatesim-envoy, which is not an executable file"
        ) == 1,
        "and why: {log:#?}"
    );
    let view = quarantine_view(admin).await?;
    ensure!(view["enabled"] == false, "{view:#}");
    ensure!(
        view["disabledBecause"]
            .as_str()
            .is_some_and(|w| w.contains("GATESIM_ENVOY")),
        "{view:#}"
    );
    Ok(())
}

#[tokio::test]
async fn the_envoy_flag_names_the_judge() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = controller(dir.path(), &["--envoy", "/nonexistent/envoy"], &[])?;
    let (log, admin) = started(&mut child).await?;
    ensure!(
        mentions(
            &log,
            "NACK containment is disabled: /nonexistent/envoy is not an executable file"
        ) == 1,
        "{log:#?}"
    );
    ensure!(quarantine_view(admin).await?["enabled"] == false);
    drop(child);

    let Some(envoy) =
        gatesim_reference::infra::envoy::locate_or_skip("the --envoy flag with a real Envoy")?
    else {
        return Ok(());
    };
    let envoy = envoy.to_string_lossy().into_owned();
    let mut child = controller(dir.path(), &["--envoy", &envoy], &[])?;
    let (log, admin) = started(&mut child).await?;
    ensure!(mentions(&log, "NACK containment is on") == 1, "{log:#?}");
    let view = quarantine_view(admin).await?;
    ensure!(view["enabled"] == true, "{view:#}");
    ensure!(view["envoy"] == envoy.as_str(), "{view:#}");
    Ok(())
}

/// `--settings-namespace` says where the Settings singleton is read from: the `default` there
/// is the one reported (here unusable, so the defaults stay in effect, and the log says so
/// once), while a `default` in the usual namespace is not read at all.
#[tokio::test]
async fn the_settings_namespace_flag_picks_the_settings_object() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("settings.yaml"),
        "apiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {name: default, namespace: ops}\n\
         spec: {watchNamespaces: [Not_A_Namespace]}\n---\n\
         apiVersion: gloo.solo.io/v1\nkind: Settings\n\
         metadata: {name: default, namespace: gloo-system}\nspec: {watchNamespaces: [default]}\n",
    )?;
    let mut child = controller(
        dir.path(),
        &["--settings-namespace", "ops"],
        &[("GATESIM_ENVOY", "/nonexistent/gatesim-envoy")],
    )?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    // The first translation may log before the admin address is announced.
    let mut before = Vec::new();
    let admin: SocketAddr = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the controller did not start in time")??
            .context("the controller exited before it announced its admin address")?;
        if let Some((_, rest)) = line.split_once("admin on http://") {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            break addr.trim_end_matches(',').parse()?;
        }
        before.push(line);
    };
    // Keep reading its log, which goes on after the start (the Settings warning).
    let log = tokio::spawn(async move {
        let mut seen = before;
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });
    let mut status = String::new();
    for _ in 0..300 {
        let r = send(admin, &Call::get("admin", "/status")).await?;
        status = String::from_utf8_lossy(&r.body).into_owned();
        if status.contains("\"Settings\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parsed: Value = serde_json::from_str(&status)?;
    let settings: Vec<&Value> = parsed["statuses"]
        .as_array()
        .context("a list of statuses")?
        .iter()
        .filter(|s| s["kind"] == "Settings")
        .collect();
    ensure!(
        settings.len() == 1,
        "one Settings status expected: {status}"
    );
    ensure!(settings[0]["namespace"] == "ops", "{status}");
    let text = settings[0].to_string();
    ensure!(
        text.contains("spec.watchNamespaces[0]") && text.contains("the defaults stay in effect"),
        "{text}"
    );
    child.kill().await?;
    let log = log.await?;
    ensure!(
        mentions(&log, "Settings cannot be used") == 1,
        "the log says it once: {log:?}"
    );
    Ok(())
}
