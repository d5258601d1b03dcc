//! `gatesim-echo`: the harness's echo backend as a program of its own, for images and pods.
//! It reads the environment upstream's echo-basic reads, so a pod spec written for
//! echo-basic runs it unchanged.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use gatesim_conformance::echo::{self, EchoServer};

#[derive(Parser)]
#[command(
    name = "gatesim-echo",
    version,
    about = "An echo backend that answers like the Gateway API's echo-basic: each request comes \
             back as JSON naming the pod, namespace and request. /health and /healthz answer \
             200 OK.",
    after_help = env_help()
)]
struct Cli {
    /// The address to listen on (echo-basic listens on every interface).
    #[arg(long, env = "ECHO_LISTEN_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    address: IpAddr,
}

fn env_help() -> String {
    let mut help = String::from("Environment (as echo-basic's):\n");
    for (name, what) in echo::ENV_VARIABLES {
        help.push_str(&format!("  {name:<20} {what}\n"));
    }
    help
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gatesim-echo: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatesim-echo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> Result<()> {
    let config = echo::config_from_env(|name| std::env::var(name).ok(), cli.address)
        .context("reading the environment")?;
    let handle = EchoServer::start(config).await.context("starting")?;
    for addr in handle.http_addrs() {
        println!("listening on {addr} (HTTP/1.1, h2c)");
    }
    for addr in handle.tls_addrs() {
        println!("listening on {addr} (TLS: HTTP/1.1, h2)");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    handle.shutdown().await;
    Ok(())
}
