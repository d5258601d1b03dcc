//! Readiness probes, run from the node against the pod's address as the kubelet does:
//! `tcpSocket` (a connection is accepted), `httpGet` (a status from 200 to 399) and `exec`
//! (the command exits 0, run in the pod's network namespace).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::network::ip_binary;

/// The timing of a probe, with the API's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

fn seconds(value: Option<i32>, default: u64) -> Duration {
    Duration::from_secs(
        value
            .and_then(|v| u64::try_from(v).ok())
            .filter(|v| *v > 0)
            .unwrap_or(default),
    )
}

fn count(value: Option<i32>, default: u32) -> u32 {
    value
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

impl Timing {
    pub fn of(probe: &Probe) -> Timing {
        Timing {
            initial_delay: Duration::from_secs(
                probe
                    .initial_delay_seconds
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(0),
            ),
            period: seconds(probe.period_seconds, 10),
            timeout: seconds(probe.timeout_seconds, 1),
            success_threshold: count(probe.success_threshold, 1),
            failure_threshold: count(probe.failure_threshold, 3),
        }
    }
}

/// A named port resolves through the container's ports.
fn port(container: &Container, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("port {n} is out of range")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| format!("container {} has no port named {name:?}", container.name)),
    }
}

/// One probe attempt: `Ok(())` on success, the reason otherwise.
pub async fn attempt(
    probe: &Probe,
    container: &Container,
    pod_ip: Ipv4Addr,
    netns: &str,
    timeout: Duration,
) -> Result<(), String> {
    let work = async {
        if let Some(tcp) = &probe.tcp_socket {
            let addr = SocketAddr::from((pod_ip, port(container, &tcp.port)?));
            TcpStream::connect(addr)
                .await
                .map(|_| ())
                .map_err(|e| format!("dial tcp {addr}: {e}"))
        } else if let Some(http) = &probe.http_get {
            let addr = SocketAddr::from((pod_ip, port(container, &http.port)?));
            http_get(addr, http.path.as_deref().unwrap_or("/")).await
        } else if let Some(exec) = &probe.exec {
            let argv = exec.command.clone().unwrap_or_default();
            let status = tokio::process::Command::new(ip_binary())
                .args(["netns", "exec", netns])
                .args(&argv)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .map_err(|e| format!("exec {argv:?}: {e}"))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("exec {argv:?}: {status}"))
            }
        } else {
            Err(
                "only tcpSocket, httpGet and exec probes are supported by the simulated node"
                    .to_owned(),
            )
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(format!("probe timed out after {timeout:?}")),
    }
}

async fn http_get(addr: SocketAddr, path: &str) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("dial tcp {addr}: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: gatesim-node-probe\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream
            .read(&mut head[read..])
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if n == 0 {
            break;
        }
        read += n;
    }
    // "HTTP/1.1 200 OK"
    let line = String::from_utf8_lossy(&head[..read]);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("GET {path}: no HTTP status in {line:?}"))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ContainerPort, HTTPGetAction, TCPSocketAction};

    use super::*;

    #[test]
    fn timing_defaults_follow_the_api() {
        let t = Timing::of(&Probe::default());
        assert_eq!(t.period, Duration::from_secs(10));
        assert_eq!(t.timeout, Duration::from_secs(1));
        assert_eq!((t.success_threshold, t.failure_threshold), (1, 3));
    }

    #[tokio::test]
    async fn tcp_and_http_probes_reach_a_listener_by_name_or_number() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port_number = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let status = if buf.starts_with(b"GET /bad ") {
                    "500 Oops"
                } else {
                    "204 No Content"
                };
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let container = Container {
            name: "c".into(),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: i32::from(port_number),
                ..ContainerPort::default()
            }]),
            ..Container::default()
        };
        let ip = Ipv4Addr::LOCALHOST;
        let tcp = Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String("http".into()),
                host: None,
            }),
            ..Probe::default()
        };
        attempt(&tcp, &container, ip, "-", Duration::from_secs(5))
            .await
            .unwrap();
        let http = |path: &str| Probe {
            http_get: Some(HTTPGetAction {
                path: Some(path.into()),
                port: IntOrString::Int(i32::from(port_number)),
                ..HTTPGetAction::default()
            }),
            ..Probe::default()
        };
        attempt(&http("/ok"), &container, ip, "-", Duration::from_secs(5))
            .await
            .unwrap();
        let err = attempt(&http("/bad"), &container, ip, "-", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.contains("500"), "{err}");
        let missing = Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String("admin".into()),
                host: None,
            }),
            ..Probe::default()
        };
        let err = attempt(&missing, &container, ip, "-", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.contains("no port named"), "{err}");
    }
}
