//! Memory: the resident set of a running `gatesim-controller` (file provider, no proxies)
//! once it has translated 0, 1,000, 10,000 and 100,000 HTTPRoutes, read from /proc/PID/status
//! (`VmRSS` now, `VmHWM` its peak so far), and what each route costs between the last two
//! sizes: the bound a large input stays within.
//!
//! `cargo bench -p gatesim-reference --bench memory`; `GATESIM_BENCH_SMOKE=1` measures 0 and
//! 100 routes only. Prints `figure<TAB>value<TAB>target` lines for `ci/bench`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A Gateway and, per route, one hostname, two rules and a Service with its endpoints (one
/// Service per ten routes), in files of 500 routes.
fn write_inputs(dir: &Path, routes: usize) -> Result<()> {
    let mut setup = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gatesim}\n\
         spec: {controllerName: gatesim.dev/reference-controller}\n---\n\
         apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\n\
         spec:\n  gatewayClassName: gatesim\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n",
    );
    for s in 0..routes.div_ceil(10) {
        setup.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{s}, namespace: default}}\n\
             spec: {{ports: [{{name: http, port: 8080}}]}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: svc-{s}-1, namespace: default, labels: {{kubernetes.io/service-name: svc-{s}}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: 3000}}]\n\
             endpoints: [{{addresses: [127.0.{}.{}]}}]\n",
            s / 250,
            s % 250 + 1
        ));
    }
    std::fs::write(dir.join("setup.yaml"), setup)?;
    for (file, chunk) in (0..routes).collect::<Vec<_>>().chunks(500).enumerate() {
        let mut text = String::new();
        for &r in chunk {
            text.push_str(&format!(
                "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
                 metadata: {{name: route-{r}, namespace: default}}\n\
                 spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [app-{r}.example.com]\n  rules:\n\
                 \x20 - matches: [{{path: {{type: PathPrefix, value: /api/{r}}}, headers: [{{name: x-version, value: v2}}]}}]\n\
                 \x20   filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: x-route, value: \"{r}\"}}]}}}}]\n\
                 \x20   backendRefs: [{{name: svc-{}, port: 8080}}]\n\
                 \x20 - matches: [{{path: {{type: Exact, value: /}}}}]\n\
                 \x20   backendRefs: [{{name: svc-{}, port: 8080}}]\n",
                r / 10,
                r / 10
            ));
        }
        std::fs::write(dir.join(format!("routes-{file}.yaml")), text)?;
    }
    Ok(())
}

fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// GET `path` from the admin endpoint.
fn get(addr: SocketAddr, path: &str) -> Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// The controller's resident and peak resident memory in KiB.
fn memory(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Stops the controller however the measurement ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the controller on `routes` generated routes, wait for its translation of all of
/// them to be published, and read its memory.
fn measure(routes: usize) -> Result<(u64, u64)> {
    let dir = tempfile::tempdir()?;
    write_inputs(dir.path(), routes)?;
    let admin = free_port()?;
    let child = Command::new(env!("CARGO_BIN_EXE_gatesim-controller"))
        .args(["run", "--infra", "none"])
        .env("RUST_LOG", "error")
        .arg(format!("--provider=file:{}", dir.path().display()))
        .arg(format!("--xds-addr={}", free_port()?))
        .arg(format!("--admin-addr={admin}"))
        .stdout(Stdio::null())
        .spawn()
        .context("starting gatesim-controller")?;
    let running = Running(child);
    // Reading 100,000 routes' YAML takes a while on a small machine.
    let deadline = Instant::now() + Duration::from_secs(120 + routes as u64 / 500);
    let done = format!("gatesim_translation_routes {routes}\n");
    loop {
        if let Ok(metrics) = get(admin, "/metrics")
            && metrics.contains(&done)
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the controller did not translate {routes} routes in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let what follows a translation (snapshots, the admin views) settle.
    std::thread::sleep(Duration::from_millis(500));
    memory(running.0.id())
}

fn main() -> Result<()> {
    let smoke = std::env::var("GATESIM_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let sizes: &[(usize, &str)] = if smoke {
        &[(0, "-"), (100, "-")]
    } else {
        &[
            (0, "-"),
            (1_000, "< 50 MiB"),
            (10_000, "< 300 MiB"),
            (100_000, "-"),
        ]
    };
    let mut last: Option<(usize, u64)> = None;
    for &(routes, target) in sizes {
        let (rss, peak) = measure(routes)?;
        let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
        println!("controller RSS, {routes} routes\t{}\t{target}", mib(rss));
        println!("controller peak RSS, {routes} routes\t{}\t-", mib(peak));
        if let Some((before, before_peak)) = last.filter(|(n, _)| *n > 0 && routes >= 10 * *n) {
            println!(
                "controller peak RSS per route, {before} to {routes} routes\t{:.1} KiB\t-",
                peak.saturating_sub(before_peak) as f64 / (routes - before) as f64
            );
        }
        last = Some((routes, peak));
    }
    Ok(())
}
