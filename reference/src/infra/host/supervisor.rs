//! The task that owns one proxy process: start, watch, restart with backoff, stop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::launch::ProxyFiles;
use super::runner::{Proxy, Runner};
use super::{HostConfig, ProxyInfo, ProxySpec, ProxyState};
use crate::infra::admin;
use crate::model::ObjectKey;

/// How long `POST /quitquitquit` may take; the stop grace period follows it.
const QUIT_TIMEOUT: Duration = Duration::from_millis(500);

/// Consecutive unanswered `/ready` checks after which a running proxy counts as dead.
const HEALTH_MISSES: u32 = 3;

/// What the supervisor publishes after every change.
#[derive(Clone, Debug)]
pub(super) struct Status {
    pub state: ProxyState,
    pub pid: Option<u32>,
    pub container: Option<String>,
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
            container: None,
            admin_address: None,
            restarts: 0,
            last_exit: None,
            startup: None,
        }
    }
}

impl Status {
    pub fn to_info(
        &self,
        gateway: &ObjectKey,
        replica: u32,
        spec: &ProxySpec,
        dir: &Path,
    ) -> ProxyInfo {
        ProxyInfo {
            gateway: gateway.clone(),
            replica,
            node_id: spec.node_id.clone(),
            address: spec.address.clone(),
            admin_address: self.admin_address,
            pid: self.pid,
            container: self.container.clone(),
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
    pub runner: Runner,
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
                s.container = None;
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

    /// One proxy, from launch to its end; a container is removed once it has ended.
    async fn run_once(&self, stop: &mut oneshot::Receiver<()>) -> Ending {
        let mut proxy = match self
            .runner
            .launch(&self.config, &self.gateway, &self.files)
            .await
        {
            Ok(proxy) => proxy,
            Err(e) => return Ending::Died(format!("could not start Envoy: {e}")),
        };
        let ending = self.watch(&mut proxy, stop).await;
        proxy.finish().await;
        ending
    }

    async fn watch(&self, proxy: &mut Proxy, stop: &mut oneshot::Receiver<()>) -> Ending {
        let spawned = Instant::now();
        self.status.send_modify(|s| {
            s.state = ProxyState::Starting;
            s.pid = proxy.pid();
            s.container = proxy.container();
            s.admin_address = None;
            s.startup = None;
        });

        let admin = tokio::select! {
            _ = &mut *stop => {
                self.terminate(proxy, None).await;
                return Ending::Stopped;
            }
            how = proxy.wait() => return Ending::Died(self.describe_exit(how)),
            found = tokio::time::timeout(self.config.start_timeout, self.files.admin_address()) => {
                match found {
                    Ok(addr) => addr,
                    Err(_) => {
                        let _ = proxy.kill().await;
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
            pid = proxy.pid(),
            container = proxy.container(),
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
                self.terminate(proxy, Some(admin)).await;
                Ending::Stopped
            }
            how = proxy.wait() => Ending::Died(self.describe_exit(how)),
            why = unhealthy(admin, self.config.health_interval) => {
                let _ = proxy.kill().await;
                Ending::Died(format!("{why}\n{}", self.files.log_tail()))
            }
        }
    }

    /// Graceful stop: ask Envoy to quit, give it the grace period, then kill it. A proxy whose
    /// admin endpoint is not up yet has no graceful path and is killed at once.
    async fn terminate(&self, proxy: &mut Proxy, admin: Option<SocketAddr>) {
        self.status.send_modify(|s| s.state = ProxyState::Stopping);
        if let Some(addr) = admin
            && let Err(e) =
                admin::request(addr, http::Method::POST, "/quitquitquit", QUIT_TIMEOUT).await
        {
            tracing::debug!(gateway = %self.gateway, "quitquitquit: {e}");
        }
        let graceful = admin.is_some()
            && tokio::time::timeout(self.config.stop_grace, proxy.wait())
                .await
                .is_ok();
        if !graceful {
            if admin.is_some() {
                tracing::warn!(gateway = %self.gateway, "proxy ignored quitquitquit; killing it");
            }
            if let Err(e) = proxy.kill().await {
                tracing::error!(gateway = %self.gateway, "killing proxy: {e}");
            }
        }
    }

    fn describe_exit(&self, how: String) -> String {
        format!("{how}\n{}", self.files.log_tail())
    }

    fn publish_stopped(&self) {
        self.status.send_modify(|s| {
            s.state = ProxyState::Stopped;
            s.pid = None;
            s.container = None;
            s.admin_address = None;
        });
    }
}

/// Resolves when the proxy's admin endpoint has left `/ready` unanswered (no answer at all:
/// 503 while Envoy initializes is an answer) `HEALTH_MISSES` times in a row; never without an
/// interval.
async fn unhealthy(admin: SocketAddr, interval: Option<Duration>) -> String {
    let Some(interval) = interval else {
        return std::future::pending().await;
    };
    let mut misses = 0;
    loop {
        tokio::time::sleep(interval).await;
        match admin::get(admin, "/ready").await {
            Ok(_) => misses = 0,
            Err(e) => {
                misses += 1;
                if misses >= HEALTH_MISSES {
                    return format!("admin /ready unanswered {misses} times in a row: {e}");
                }
            }
        }
    }
}
