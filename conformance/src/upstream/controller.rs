//! The reference controller as a host process for an upstream run: the `gatesim-controller`
//! binary with `--provider kubernetes --infra host`, its proxies on loopback addresses of their
//! own, stopped (with its proxies) when the run ends.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gatesim_node::process::{self, Signal};

use super::UpstreamError;
use crate::file_error::FileError;

pub struct HostController {
    child: tokio::process::Child,
    pub admin: SocketAddr,
    pub log: PathBuf,
}

fn free_addr() -> Result<SocketAddr, UpstreamError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| UpstreamError::Controller(format!("finding a free port: {e}")))
}

impl HostController {
    /// Starts the controller and waits for its admin endpoint.
    pub async fn start(
        binary: &Path,
        kubeconfig: &Path,
        work_dir: &Path,
        log: &Path,
        address_network: u8,
    ) -> Result<HostController, UpstreamError> {
        let (xds, admin) = (free_addr()?, free_addr()?);
        let file =
            std::fs::File::create(log).map_err(FileError::at::<UpstreamError>("creating", log))?;
        let err = file
            .try_clone()
            .map_err(FileError::at::<UpstreamError>("opening", log))?;
        let mut child = tokio::process::Command::new(binary)
            .args(["run", "--provider", "kubernetes", "--infra", "host"])
            .arg(format!("--xds-addr={xds}"))
            .arg(format!("--admin-addr={admin}"))
            .arg(format!("--address-network={address_network}"))
            .arg("--work-dir")
            .arg(work_dir)
            .env("KUBECONFIG", kubeconfig)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| UpstreamError::Spawn {
                binary: binary.to_path_buf(),
                source,
            })?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if tokio::net::TcpStream::connect(admin).await.is_ok() {
                return Ok(HostController {
                    child,
                    admin,
                    log: log.to_path_buf(),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                return Err(UpstreamError::Controller(format!(
                    "exited with {status} before serving; {}:\n{}",
                    log.display(),
                    text.trim_end()
                )));
            }
            if Instant::now() >= deadline {
                return Err(UpstreamError::Controller(format!(
                    "its admin endpoint {admin} did not answer within 60s; see {}",
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM (the controller stops its proxies), SIGKILL after 15 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            process::signal(pid, Signal::Term);
            if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}
