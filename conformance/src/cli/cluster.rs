//! `gatesim cluster ...` and `gatesim tools ...`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use gatesim_conformance::cluster::{self, Channel, DownOptions, Layout, UpOptions};
use gatesim_conformance::report::terminal::human;
use gatesim_conformance::tools::{self, ALL, CONFORMANCE};
use gatesim_node::NodeConfig;
use gatesim_node::images::Programs;
use gatesim_node::network::NetworkPlan;

use super::args::{ChannelArg, ClusterArgs, ClusterCommand, StateDirArgs, ToolsArgs, ToolsCommand};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn layout(args: &StateDirArgs) -> Layout {
    Layout::new(args.state_dir.clone().unwrap_or_else(Layout::default_root))
}

/// Progress lines on stdout.
pub fn progress() -> cluster::up::Progress {
    Arc::new(|line: &str| say!("{line}"))
}

/// The options `up` gets from the command line; the node is this very binary.
pub fn up_options(layout: Layout, channel: Channel) -> Result<UpOptions> {
    Ok(UpOptions {
        layout,
        channel,
        node_program: std::env::current_exe().context("finding the gatesim binary")?,
        extra_crds: Some(cluster::up::repository_crds()),
    })
}

pub fn cluster(args: ClusterArgs) -> Result<ExitCode> {
    match args.command {
        ClusterCommand::Up(up) => {
            let channel = match up.channel {
                ChannelArg::Standard => Channel::Standard,
                ChannelArg::Experimental => Channel::Experimental,
            };
            let options = up_options(layout(&up.state), channel)?;
            let report = runtime()?.block_on(cluster::up(&options, progress()))?;
            say!(
                "cluster up in {}; kubeconfig: {}",
                human(report.total),
                report.kubeconfig.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Down(down) => {
            let options = DownOptions {
                layout: layout(&down.state),
                keep_logs: down.keep_logs,
            };
            let report = runtime()?.block_on(cluster::down(&options))?;
            for (part, pid) in &report.stopped {
                say!("  stopped {:<24} pid {pid}", part.name());
            }
            if !report.strays.is_empty() {
                say!("  stopped stray processes {:?}", report.strays);
            }
            if !report.network_leftovers.is_empty() {
                say!(
                    "  removed what the node left: {}",
                    report.network_leftovers.join(", ")
                );
            }
            for kept in &report.kept_mount_points {
                say!(
                    "  kept {} (not empty: not made by the node alone)",
                    kept.display()
                );
            }
            match &report.logs {
                Some(logs) => say!("cluster down; logs kept in {}", logs.display()),
                None => say!("cluster down; nothing left behind"),
            }
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Status(state) => {
            let layout = layout(&state);
            let parts = runtime()?.block_on(cluster::status(&layout))?;
            say!("cluster in {}", layout.root.display());
            for p in &parts {
                say!(
                    "  {:<24} {:<9} pid {:<8} rss {:>8}  {}",
                    p.part.name(),
                    if p.healthy { "healthy" } else { "UNHEALTHY" },
                    p.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                    p.rss_kib
                        .map_or_else(|| "-".to_owned(), |k| format!("{} MiB", k / 1024)),
                    p.detail
                );
            }
            Ok(if parts.iter().all(|p| p.healthy) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ClusterCommand::Kubeconfig(args) => {
            let layout = layout(&args.state);
            let path = layout.kubeconfig();
            if !path.exists() {
                bail!(cluster::ClusterError::NotUp(layout.root));
            }
            if args.print {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                say!("{}", text.trim_end());
            } else {
                say!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Node(state) => node(&layout(&state)),
    }
}

/// The programs images map to, as far as this machine has them.
fn programs() -> Programs {
    let controller = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("gatesim-controller")))
        .filter(|p| p.exists());
    Programs {
        echo_basic: CONFORMANCE
            .has("echo-basic")
            .then(|| CONFORMANCE.path("echo-basic")),
        envoy: gatesim_reference::infra::envoy::find().ok().flatten(),
        gatesim_controller: controller,
    }
}

fn node(layout: &Layout) -> Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let state = layout
        .read_state()?
        .ok_or_else(|| cluster::ClusterError::NotUp(layout.root.clone()))?;
    runtime()?.block_on(async {
        let client = cluster::admin_client(layout).await?;
        let config = NodeConfig {
            name: state.node_name.clone(),
            network: NetworkPlan::new(state.network),
            state_dir: layout.node_dir(),
            programs: programs(),
            api_server: Some(std::net::SocketAddr::from((
                std::net::Ipv4Addr::LOCALHOST,
                state.apiserver_port,
            ))),
        };
        gatesim_node::run(client, config, shutdown_signal())
            .await
            .context("the simulated node")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
}

pub fn tools(args: ToolsArgs) -> Result<ExitCode> {
    match args.command {
        ToolsCommand::Build { names } => {
            let chosen: Vec<&tools::Tool> = if names.is_empty() {
                ALL.to_vec()
            } else {
                names
                    .iter()
                    .map(|n| tools::by_name(n))
                    .collect::<Result<_, _>>()?
            };
            for tool in chosen {
                let say = |line: &str| say!("{line}");
                let paths = tool.ensure(&[], &say)?;
                for path in paths {
                    say!("{:<14} {:<9} {}", tool.name, tool.version, path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolsCommand::List => {
            say!(
                "Go: {}",
                tools::go_binary()
                    .map_or_else(|| "not found".to_owned(), |g| g.display().to_string())
            );
            for tool in ALL {
                for artifact in tool.artifacts {
                    let path: PathBuf = tool.path(artifact.file);
                    say!(
                        "{:<14} {:<9} {:<24} {}",
                        tool.name,
                        tool.version,
                        artifact.file,
                        if tool.has(artifact.file) {
                            path.display().to_string()
                        } else {
                            "not built".to_owned()
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
