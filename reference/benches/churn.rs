//! Propagation under churn: 3,000 HTTPRoutes on one Gateway, then spread over ten, through
//! the file provider (one file per route) and through the Kubernetes provider watching
//! simkube (server-side apply per route, status written back), and real Envoys. Routes then change at 10 per second while a
//! prober drives steady traffic at ten stable routes. For each change: the time from the file
//! write to its Envoy serving the changed route (polled every 200 µs); for the stable routes:
//! every reply that is not a 2xx from the expected backend.
//!
//! `cargo bench -p gatesim-reference --bench churn`. `GATESIM_CHURN_SECONDS` sets how long
//! routes change (default 60); `GATESIM_BENCH_SMOKE=1` runs 300 routes for 3 s. Prints
//! `figure<TAB>value<TAB>target` lines for `ci/bench`, and the controller's own mean
//! translation time over the run (from its /metrics), to say where the milliseconds go.

/// As the controller binary allocates, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/e2e_support/mod.rs"]
mod e2e_support;

#[path = "../tests/cluster_support/mod.rs"]
mod cluster_support;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cluster_support::Cluster;
use e2e_support::{
    Backend, Call, Prober, WAIT, endpoint_slice, eventually, send, start_controller,
};
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::envoy;
use gatesim_reference::infra::host::HostConfig;
use gatesim_reference::model::{ControllerConfig, ObjectKey};
use gatesim_simkube::SimKube;

/// Where the controller reads its input from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Provider {
    File,
    Simkube,
}

impl Provider {
    fn label(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Simkube => "simkube",
        }
    }
}

/// Writes objects where the controller reads them: a file per object, or an apply to the API
/// server.
enum Input {
    Dir(std::path::PathBuf),
    Api(Cluster, SimKube),
}

impl Input {
    async fn write(&self, name: &str, yaml: &str) -> Result<()> {
        match self {
            Self::Dir(dir) => Ok(std::fs::write(dir.join(format!("{name}.yaml")), yaml)?),
            Self::Api(cluster, _) => cluster.apply(yaml).await,
        }
    }

    async fn controller(&self, dir: &Path, network: u8) -> Result<Controller> {
        match self {
            Self::Dir(_) => start_controller(dir, network, ControllerConfig::default())
                .await?
                .context("Envoy is needed"),
            Self::Api(cluster, _) => {
                let envoy = envoy::locate()?;
                Ok(Controller::start(ControllerOptions {
                    source: Source::Kubernetes(cluster.client.clone()),
                    infra: Infra::Host(Box::new(HostConfig::new(
                        envoy,
                        "127.0.0.1:0".parse()?,
                        dir.join("proxies"),
                    ))),
                    xds_addr: "127.0.0.1:0".parse()?,
                    admin_addr: "127.0.0.1:0".parse()?,
                    config: ControllerConfig::default(),
                    address_network: network,
                    envoy: None,
                })
                .await?)
            }
        }
    }
}

/// Routes that never change; the prober sends to these.
const STABLE: usize = 10;

/// Changes per second.
const RATE: u32 = 10;

fn gateways_yaml(gateways: usize) -> String {
    let mut out = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gatesim}\n\
         spec: {controllerName: gatesim.dev/reference-controller}\n",
    );
    for g in 0..gateways {
        out.push_str(&format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
             metadata: {{name: gw-{g}, namespace: default}}\n\
             spec:\n  gatewayClassName: gatesim\n  listeners: [{{name: http, port: 80, protocol: HTTP}}]\n"
        ));
    }
    out
}

/// Route `r` on Gateway `r % gateways`, for host `app-<r>.example.com`, serving exactly
/// `/v<version>`.
fn route_yaml(r: usize, gateways: usize, version: usize) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: route-{r}, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw-{}}}]\n  hostnames: [app-{r}.example.com]\n\
         \x20 rules: [{{matches: [{{path: {{type: Exact, value: /v{version}}}}}], backendRefs: [{{name: svc, port: 8080}}]}}]\n",
        r % gateways
    )
}

fn call(r: usize, version: usize) -> Call {
    Call::get(&format!("app-{r}.example.com"), &format!("/v{version}"))
}

async fn wait_served(gw: SocketAddr, call: &Call, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = send(gw, call).await
            && r.status == 200
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} {} not served within {within:?}", call.host, call.path);
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// The value of an unlabelled metric line `name value`.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn admin_metrics(addr: SocketAddr) -> Result<String> {
    let r = send(addr, &Call::get("admin", "/metrics")).await?;
    Ok(String::from_utf8_lossy(&r.body).into_owned())
}

struct Outcome {
    samples: Vec<Duration>,
    failures: usize,
    good: usize,
    translate_ms: f64,
    /// Mean milliseconds per stage over the churn (see `gatesim_reference::timing`).
    stages: Vec<(&'static str, f64)>,
}

/// The stages of `gatesim_stage_duration_seconds`, in the order a change goes through them.
const STAGES: [&str; 7] = [
    "provider",
    "queue",
    "prepare",
    "translate",
    "snapshot",
    "publish",
    "apply",
];

async fn run(
    dir: &Path,
    provider: Provider,
    routes: usize,
    gateways: usize,
    seconds: u64,
    network: u8,
) -> Result<Outcome> {
    let input = match provider {
        Provider::File => {
            let config = dir.join("config");
            std::fs::create_dir_all(&config)?;
            Input::Dir(config)
        }
        Provider::Simkube => {
            let simkube = SimKube::start(gatesim_simkube::Config::default()).await?;
            let client = kube::Client::try_from(kube::Config::new(simkube.url().parse()?))?;
            Input::Api(Cluster { client }, simkube)
        }
    };
    let backend = Backend::start("svc", &format!("127.{network}.20.1"), 0).await?;
    input
        .write(
            "setup",
            &format!(
                "{}---\n{}",
                gateways_yaml(gateways),
                endpoint_slice("svc", &[&backend])
            ),
        )
        .await?;
    for r in 0..routes {
        input
            .write(&format!("route-{r}"), &route_yaml(r, gateways, 0))
            .await?;
    }
    let controller = input.controller(dir, network).await?;
    let infra = controller.infra().context("host proxies")?;
    let addresses: BTreeMap<usize, SocketAddr> = eventually(
        Duration::from_secs(120),
        "every Gateway's proxy is up",
        || {
            let found: BTreeMap<usize, SocketAddr> = (0..gateways)
                .filter_map(|g| {
                    let p = infra.proxy(&ObjectKey::new("default", format!("gw-{g}")))?;
                    let ip: IpAddr = p.address.parse().ok()?;
                    Some((g, SocketAddr::new(ip, 80)))
                })
                .collect();
            async move { Ok((found.len() == gateways).then_some(found)) }
        },
    )
    .await?;
    let gw_of = |r: usize| addresses[&(r % gateways)];
    // Every route is served before churn starts.
    for r in (0..routes).rev().take(gateways).chain(0..STABLE) {
        wait_served(gw_of(r), &call(r, 0), Duration::from_secs(120)).await?;
    }

    let probers: Vec<Prober> = (0..STABLE)
        .map(|r| Prober::start(gw_of(r), vec![(call(r, 0), "svc".to_string())]))
        .collect();
    let before = admin_metrics(controller.admin_addr()).await?;

    let period = Duration::from_secs(1) / RATE;
    let changes = seconds as usize * RATE as usize;
    let mut samples = Vec::with_capacity(changes);
    let start = Instant::now();
    for i in 1..=changes {
        let r = STABLE + (i * 7919) % (routes - STABLE);
        let tick = start + period * (i as u32 - 1);
        tokio::time::sleep_until(tick.into()).await;
        let written = Instant::now();
        input
            .write(&format!("route-{r}"), &route_yaml(r, gateways, i))
            .await?;
        wait_served(gw_of(r), &call(r, i), WAIT).await?;
        samples.push(written.elapsed());
    }

    let after = admin_metrics(controller.admin_addr()).await?;
    let delta =
        |name: &str| metric(&after, name).unwrap_or(0.0) - metric(&before, name).unwrap_or(0.0);
    let count = delta("gatesim_translation_duration_seconds_count");
    let translate_ms = if count > 0.0 {
        delta("gatesim_translation_duration_seconds_sum") / count * 1e3
    } else {
        f64::NAN
    };
    let stages = STAGES
        .iter()
        .map(|stage| {
            let series = |suffix: &str| {
                delta(&format!(
                    "gatesim_stage_duration_seconds_{suffix}{{stage=\"{stage}\"}}"
                ))
            };
            let count = series("count");
            let mean = if count > 0.0 {
                series("sum") / count * 1e3
            } else {
                f64::NAN
            };
            (*stage, mean)
        })
        .collect();
    let mut failures = 0;
    let mut good = 0;
    for p in probers {
        let (ok, failed) = p.stop().await?;
        good += ok;
        failures += failed.len();
        for f in failed.iter().take(5) {
            eprintln!("stable route failed: {f}");
        }
    }
    controller.shutdown().await;
    if let Input::Api(_, simkube) = input {
        simkube.shutdown().await?;
    }
    Ok(Outcome {
        samples,
        failures,
        good,
        translate_ms,
        stages,
    })
}

fn main() -> Result<()> {
    let smoke = std::env::var("GATESIM_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let (routes, default_seconds) = if smoke { (300, 3) } else { (3_000, 60) };
    let seconds = std::env::var("GATESIM_CHURN_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_seconds);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // `GATESIM_CHURN_PROVIDERS=file` (or `simkube`) runs one provider only.
    let only = std::env::var("GATESIM_CHURN_PROVIDERS").unwrap_or_default();
    let runs = [
        (Provider::File, 1, 46),
        (Provider::File, 10, 47),
        (Provider::Simkube, 1, 48),
        (Provider::Simkube, 10, 49),
    ];
    for (provider, gateways, network) in runs {
        if !only.is_empty() && !only.split(',').any(|p| p == provider.label()) {
            continue;
        }
        let dir = tempfile::tempdir()?;
        let mut o = rt.block_on(run(
            dir.path(),
            provider,
            routes,
            gateways,
            seconds,
            network,
        ))?;
        o.samples.sort();
        let pct = |p: usize| o.samples[(o.samples.len() * p / 100).min(o.samples.len() - 1)];
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        let name = format!("churn {routes} routes/{gateways} gw/{}", provider.label());
        println!("{name}: apply to served p50\t{}\t< 10 ms", ms(pct(50)));
        println!("{name}: apply to served p99\t{}\t< 50 ms", ms(pct(99)));
        println!(
            "{name}: apply to served max\t{}\t-",
            ms(*o.samples.last().context("no changes")?)
        );
        println!(
            "{name}: non-2xx on stable routes (of {} requests)\t{}\t0",
            o.good + o.failures,
            o.failures
        );
        println!(
            "{name}: controller translation, mean\t{:.1} ms\t-",
            o.translate_ms
        );
        for (stage, mean) in &o.stages {
            println!("{name}: stage {stage}, mean\t{mean:.2} ms\t-");
        }
    }
    Ok(())
}
