//! For the live end-to-end tests: small HTTP backends that say who they are and what they saw,
//! a client that opens a fresh connection per request (plain or TLS with SNI), a prober that
//! keeps sending requests while a test changes things, and the controller they all talk to.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::{envoy, host::HostConfig};
use gatesim_reference::model::ControllerConfig;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A backend replica: answers every request with JSON naming itself and echoing the request.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    /// Listen on `ip:port` (`port` 0: any free port).
    pub async fn start(name: &str, ip: &str, port: u16) -> Result<Self> {
        let listener = TcpListener::bind((ip, port))
            .await
            .with_context(|| format!("binding {ip}:{port}"))?;
        let addr = listener.local_addr()?;
        let who: Arc<str> = Arc::from(name);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let who = Arc::clone(&who);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let who = Arc::clone(&who);
                        async move { Ok::<_, Infallible>(reply(&who, req)) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                });
            }
        });
        Ok(Self {
            name: name.to_string(),
            addr,
            task,
        })
    }
}

fn reply(who: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in req.headers() {
        headers
            .entry(k.as_str().to_string())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let body = json!({
        "backend": who,
        "method": req.method().as_str(),
        "path": req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        "host": req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or(""),
        "headers": headers,
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Bytes,
}

impl Reply {
    /// The backend's JSON view of the request, when a backend answered.
    pub fn seen(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn backend(&self) -> Option<String> {
        self.seen()
            .and_then(|v| v["backend"].as_str().map(str::to_string))
    }

    pub fn seen_header(&self, name: &str) -> Option<String> {
        self.seen()
            .and_then(|v| v["headers"][name].as_array().cloned())
            .map(|vals| {
                vals.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
    }
}

/// One request description.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: &'static str,
    pub host: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Call {
    pub fn get(host: &str, path: &str) -> Self {
        Self {
            method: "GET",
            host: host.into(),
            path: path.into(),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn method(mut self, m: &'static str) -> Self {
        self.method = m;
        self
    }
}

async fn exchange<S>(io: S, call: &Call) -> Result<Reply>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(call.method)
        .uri(&call.path)
        .header("host", &call.host);
    for (k, v) in &call.headers {
        req = req.header(k, v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::new()))?)
        .await?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Plain HTTP/1.1 over a fresh connection.
pub async fn send(addr: SocketAddr, call: &Call) -> Result<Reply> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await??;
    tokio::time::timeout(Duration::from_secs(10), exchange(stream, call)).await?
}

/// HTTPS over a fresh connection, trusting `ca_pem` and sending `sni`.
pub async fn send_tls(addr: SocketAddr, sni: &str, ca_pem: &str, call: &Call) -> Result<Reply> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from(sni.to_string())?;
    let tls = connector
        .connect(name, stream)
        .await
        .context("TLS handshake")?;
    tokio::time::timeout(Duration::from_secs(10), exchange(tls, call)).await?
}

/// Repeat `f` until it yields `Ok(Some(value))` or `within` passes. `Ok(None)` and errors mean
/// "not yet"; the timeout error carries the last one, so a failure says what was seen.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let last = match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "condition not met".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("{what}: not reached within {within:?}; last: {last}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Our GatewayClass and Gateway `default/gw` with one HTTP listener on port 80.
pub const HTTP_GATEWAY: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatesim}
spec: {controllerName: gatesim.dev/reference-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gatesim
  listeners: [{name: http, port: 80, protocol: HTTP}]
";

/// How long anything a test waits for may take, on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(20);

/// A controller serving `dir/config` with the file provider and one Envoy per Gateway, or
/// `None` (after a loud skip) where Envoy is unavailable.
pub async fn start_controller(
    dir: &Path,
    network: u8,
    config: ControllerConfig,
) -> Result<Option<Controller>> {
    let Some(envoy) = envoy::locate_or_skip("live end-to-end test")? else {
        return Ok(None);
    };
    let work = dir.join("proxies");
    let controller = Controller::start(ControllerOptions {
        source: Source::File(dir.join("config")),
        infra: Infra::Host(Box::new(HostConfig::new(
            envoy,
            "127.0.0.1:0".parse()?,
            work,
        ))),
        xds_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        config,
        address_network: network,
        envoy: None,
    })
    .await?;
    Ok(Some(controller))
}

/// Wait until Gateway `default/gw`'s proxy has acknowledged the configuration of the latest
/// translation in full (the barrier a harness waits on before probing).
pub async fn wait_acked(controller: &Controller) -> Result<()> {
    let revision = controller.state().revision();
    controller
        .cache()
        .wait_acked("default/gw", revision, WAIT)
        .await
        .map(drop)
        .map_err(|e| anyhow::anyhow!("revision {revision} never fully ACKed: {e:?}"))
}

/// A Service `service` (port 8080) whose endpoints are `ips` on `port`.
pub fn service_yaml(service: &str, port: u16, ips: &[String]) -> String {
    let endpoints: Vec<String> = ips
        .iter()
        .map(|ip| format!("{{addresses: [{ip}]}}"))
        .collect();
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {service}, namespace: default}}\n\
         spec: {{ports: [{{name: http, port: 8080}}]}}\n---\n\
         apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: {service}-1, namespace: default, labels: {{kubernetes.io/service-name: {service}}}}}\n\
         addressType: IPv4\nports: [{{name: http, port: {port}}}]\nendpoints: [{}]\n",
        endpoints.join(", ")
    )
}

/// A Service whose endpoints are `backends` (which share one port).
pub fn endpoint_slice(service: &str, backends: &[&Backend]) -> String {
    let ips: Vec<String> = backends.iter().map(|b| b.addr.ip().to_string()).collect();
    service_yaml(service, backends[0].addr.port(), &ips)
}

/// The address of the (first) Gateway's proxy, once it runs.
pub async fn gateway_addr(controller: &Controller) -> Result<std::net::IpAddr> {
    eventually(WAIT, "the Gateway's proxy is up", || {
        let address = controller
            .infra()
            .and_then(|i| i.proxies().first().and_then(|p| p.address.parse().ok()));
        async move { Ok(address) }
    })
    .await
}

/// Send `call` until `check` accepts the reply; the timeout error shows the last reply.
pub async fn expect(
    addr: SocketAddr,
    call: Call,
    check: impl Fn(&Reply) -> bool,
    what: &str,
) -> Result<Reply> {
    eventually(WAIT, what, || {
        let call = call.clone();
        let check = &check;
        async move {
            let r = send(addr, &call).await?;
            if check(&r) {
                Ok(Some(r))
            } else {
                anyhow::bail!(
                    "status {} headers {:?} body {}",
                    r.status,
                    r.headers,
                    String::from_utf8_lossy(&r.body)
                )
            }
        }
    })
    .await
}

/// Requests sent over and over, each expecting a 2xx from a named backend, until stopped.
pub struct Prober {
    stop: Arc<AtomicBool>,
    task: JoinHandle<ProbeCount>,
}

/// What a prober saw.
#[derive(Debug, Default)]
struct ProbeCount {
    ok: usize,
    /// Every reply that was not a 2xx from the expected backend, and every failed request.
    failures: Vec<String>,
}

impl Prober {
    /// Probe `addr` with each `(call, backend name prefix)` in turn.
    pub fn start(addr: SocketAddr, calls: Vec<(Call, String)>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut count = ProbeCount::default();
            while !stopped.load(Ordering::Relaxed) {
                for (call, backend) in &calls {
                    match send(addr, call).await {
                        Ok(r)
                            if (200..300).contains(&r.status)
                                && r.backend().is_some_and(|b| b.starts_with(backend.as_str())) =>
                        {
                            count.ok += 1
                        }
                        Ok(r) => count.failures.push(format!(
                            "{} {}: status {}, body {}",
                            call.host,
                            call.path,
                            r.status,
                            String::from_utf8_lossy(&r.body)
                        )),
                        Err(e) => count
                            .failures
                            .push(format!("{} {}: {e:#}", call.host, call.path)),
                    }
                }
                // Leave the (shared, small) machine to the controller and Envoy in between.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            count
        });
        Self { stop, task }
    }

    /// Stop; the number of right replies, and what went wrong with every other request.
    pub async fn stop(self) -> Result<(usize, Vec<String>)> {
        self.stop.store(true, Ordering::Relaxed);
        let count = self.task.await?;
        Ok((count.ok, count.failures))
    }

    /// Stop, and fail unless every reply was right (and there were some); prints the counts.
    pub async fn stop_all_good(self) -> Result<usize> {
        self.stop.store(true, Ordering::Relaxed);
        let count = self.task.await?;
        eprintln!(
            "prober: {} good replies, {} failures",
            count.ok,
            count.failures.len()
        );
        anyhow::ensure!(
            count.failures.is_empty(),
            "requests that had to succeed failed: {:?}",
            count.failures
        );
        anyhow::ensure!(count.ok > 0, "the prober never got a reply");
        Ok(count.ok)
    }
}
