#![forbid(unsafe_code)]
//! `simkube`: serves a simulated Kubernetes API on loopback until interrupted, for poking
//! at it with kubectl.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use gatesim_simkube::{Config, SchemaSource, SimKube};

/// Serve a simulated Kubernetes API server on loopback.
#[derive(Debug, Parser)]
#[command(name = "simkube", version)]
struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Write a kubeconfig for kubectl here.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Watch events retained per kind for resuming watches.
    #[arg(long, default_value_t = 10_000)]
    history: usize,
    /// Also validate against the CRDs in this directory (any kinds; repeatable).
    #[arg(long = "crd-dir", value_name = "DIR")]
    crd_dirs: Vec<PathBuf>,
    /// Do not provision the upstream Gateway API CRDs (no validation of their kinds
    /// unless --crd-dir has them).
    #[arg(long)]
    no_gateway_api_crds: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let server = SimKube::start(Config {
        addr: args.addr,
        history: args.history,
        schemas: SchemaSource {
            gateway_api: !args.no_gateway_api_crds,
            crd_dirs: args.crd_dirs,
        },
        ..Config::default()
    })
    .await
    .context("starting simkube")?;
    println!(
        "simkube serving at {} ({} kinds validated against CRD schemas)",
        server.url(),
        server.validated_kinds()
    );
    if let Some(path) = &args.kubeconfig {
        server
            .write_kubeconfig(path)
            .with_context(|| format!("writing kubeconfig to {}", path.display()))?;
        println!(
            "kubeconfig written to {} (kubectl --kubeconfig {0} get ns)",
            path.display()
        );
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for interrupt")?;
    server.shutdown().await.context("shutting down")?;
    Ok(())
}
