//! The task that owns one proxy process: start, watch, restart with backoff, stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::Child;
use tokio::sync::{oneshot, watch};

use super::launch::ProxyFiles;
use super::{HostConfig, HostError, ProxyInfo, ProxySpec, ProxyState};
use crate::infra::admin;
use crate::model::ObjectKey;

/// How long `POST /quitquitquit` may take; the stop grace period follows it.
const QUIT_TIMEOUT: Duration = Duration::from_millis(500);

/// What the supervisor publishes after every change.
#[derive(Clone, Debug)]
pub(super) struct Status {
    pub state: ProxyState,
    pub pid: Option<u32>,
    pub admin_address: Option<SocketAddr>,
    pub restarts: u32,
    pub last_exit: Option<String>,
    pub startup: Option<Duration>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: ProxyState::Starting,
            pid: None,
            admin_address: None,
            restarts: 0,
            last_exit: None,
            startup: None,
        }
    }
}

impl Status {
    pub fn to_info(&self, gateway: &ObjectKey, spec: &ProxySpec, dir: &Path) -> ProxyInfo {
        ProxyInfo {
            gateway: gateway.clone(),
            node_id: spec.node_id.clone(),
            address: spec.address.clone(),
            admin_address: self.admin_address,
            pid: self.pid,
            restarts: self.restarts,
            state: self.state,
            last_exit: self.last_exit.clone(),
            startup_ms: self.startup.map(|d| d.as_secs_f64() * 1000.0),
            dir: dir.to_path_buf(),
        }
    }
}

/// How one process's life ended.
enum Ending {
    /// Stopped on request; the supervisor is done.
    Stopped,
    /// Died, failed to start, or hung while starting: restart it.
    Died(String),
}

pub(super) struct Supervisor {
    pub config: Arc<HostConfig>,
    pub gateway: ObjectKey,
    pub files: ProxyFiles,
    pub setpriv: Option<PathBuf>,
    pub status: watch::Sender<Status>,
}

impl Supervisor {
    /// Keep the proxy running until `stop` fires (or its sender is dropped).
    pub async fn run(self, mut stop: oneshot::Receiver<()>) {
        let mut delay = self.config.restart_backoff_initial;
        loop {
            let spawned = Instant::now();
            let reason = match self.run_once(&mut stop).await {
                Ending::Stopped => return self.publish_stopped(),
                Ending::Died(reason) => reason,
            };
            if spawned.elapsed() >= self.config.restart_backoff_reset_after {
                delay = self.config.restart_backoff_initial;
            }
            tracing::warn!(gateway = %self.gateway, "proxy ended: {reason}\nrestarting in {delay:?}");
            self.status.send_modify(|s| {
                s.state = ProxyState::Backoff;
                s.pid = None;
                s.admin_address = None;
                s.restarts += 1;
                s.last_exit = Some(reason);
            });
            tokio::select! {
                _ = &mut stop => return self.publish_stopped(),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(self.config.restart_backoff_max);
        }
    }

    /// One process, from spawn to exit.
    async fn run_once(&self, stop: &mut oneshot::Receiver<()>) -> Ending {
        let mut child = match self.spawn() {
            Ok(child) => child,
            Err(e) => return Ending::Died(format!("could not start Envoy: {e}")),
        };
        let spawned = Instant::now();
        self.status.send_modify(|s| {
            s.state = ProxyState::Starting;
            s.pid = child.id();
            s.admin_address = None;
            s.startup = None;
        });

        let admin = tokio::select! {
            _ = &mut *stop => {
                self.terminate(&mut child, None).await;
                return Ending::Stopped;
            }
            exit = child.wait() => return Ending::Died(self.describe_exit(exit)),
            found = tokio::time::timeout(self.config.start_timeout, self.files.admin_address()) => {
                match found {
                    Ok(addr) => addr,
                    Err(_) => {
                        let _ = child.kill().await;
                        return Ending::Died(format!(
                            "no admin address within {:?} of starting\n{}",
                            self.config.start_timeout,
                            self.files.log_tail()
                        ));
                    }
                }
            }
        };
        let startup = spawned.elapsed();
        tracing::info!(
            gateway = %self.gateway,
            pid = child.id(),
            %admin,
            startup_ms = startup.as_secs_f64() * 1000.0,
            "proxy up"
        );
        self.status.send_modify(|s| {
            s.state = ProxyState::Running;
            s.admin_address = Some(admin);
            s.startup = Some(startup);
        });

        tokio::select! {
            _ = &mut *stop => {
                self.terminate(&mut child, Some(admin)).await;
                Ending::Stopped
            }
            exit = child.wait() => Ending::Died(self.describe_exit(exit)),
        }
    }

    fn spawn(&self) -> Result<Child, HostError> {
        self.files.clear_admin_address()?;
        let mut cmd = self.files.command(&self.config, self.setpriv.as_deref())?;
        cmd.spawn().map_err(|source| HostError::Io {
            path: self.config.envoy.clone(),
            source,
        })
    }

    /// Graceful stop: ask Envoy to quit, give it the grace period, then kill it. A proxy whose
    /// admin endpoint is not up yet has no graceful path and is killed at once.
    async fn terminate(&self, child: &mut Child, admin: Option<SocketAddr>) {
        self.status.send_modify(|s| s.state = ProxyState::Stopping);
        if let Some(addr) = admin
            && let Err(e) =
                admin::request(addr, http::Method::POST, "/quitquitquit", QUIT_TIMEOUT).await
        {
            tracing::debug!(gateway = %self.gateway, "quitquitquit: {e}");
        }
        let graceful = admin.is_some()
            && tokio::time::timeout(self.config.stop_grace, child.wait())
                .await
                .is_ok();
        if !graceful {
            if admin.is_some() {
                tracing::warn!(gateway = %self.gateway, "proxy ignored quitquitquit; killing it");
            }
            if let Err(e) = child.kill().await {
                tracing::error!(gateway = %self.gateway, "killing proxy: {e}");
            }
        }
    }

    fn describe_exit(&self, exit: std::io::Result<std::process::ExitStatus>) -> String {
        let how = match exit {
            Ok(status) => format!("Envoy exited ({status})"),
            Err(e) => format!("waiting for Envoy failed: {e}"),
        };
        format!("{how}\n{}", self.files.log_tail())
    }

    fn publish_stopped(&self) {
        self.status.send_modify(|s| {
            s.state = ProxyState::Stopped;
            s.pid = None;
            s.admin_address = None;
        });
    }
}
