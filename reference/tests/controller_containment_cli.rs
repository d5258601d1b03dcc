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
