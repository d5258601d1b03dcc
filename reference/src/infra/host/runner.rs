//! How a proxy runs: an Envoy process, or Envoy in a Docker container. The supervisor treats
//! both alike through [`Proxy`]: start it, wait for it to end, kill it, clean up after it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::process::Child;

use super::launch::ProxyFiles;
use super::{HostConfig, HostError};
use crate::infra::docker::{Container, Containers};
use crate::model::ObjectKey;

#[derive(Clone)]
pub(super) enum Runner {
    /// A child process, under `setpriv` when parent-death signals are wanted and it works.
    Process {
        setpriv: Option<PathBuf>,
    },
    Container(Arc<Containers>),
}

/// One running proxy.
pub(super) enum Proxy {
    Process(Child),
    Container(Container),
}

impl Runner {
    pub async fn launch(
        &self,
        config: &HostConfig,
        gateway: &ObjectKey,
        files: &ProxyFiles,
    ) -> Result<Proxy, HostError> {
        files.clear_admin_address()?;
        match self {
            Runner::Process { setpriv } => {
                let mut cmd = files.command(config, setpriv.as_deref())?;
                cmd.spawn()
                    .map(Proxy::Process)
                    .map_err(|source| HostError::Io {
                        path: config.envoy.clone(),
                        source,
                    })
            }
            Runner::Container(containers) => {
                let args = files
                    .envoy_args()
                    .into_iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                containers
                    .start(gateway, &files.dir, args, &files.stdio)
                    .await
                    .map(Proxy::Container)
                    .map_err(|source| HostError::Docker {
                        gateway: gateway.clone(),
                        source,
                    })
            }
        }
    }
}

impl Proxy {
    pub fn pid(&self) -> Option<u32> {
        match self {
            Proxy::Process(child) => child.id(),
            Proxy::Container(_) => None,
        }
    }

    pub fn container(&self) -> Option<String> {
        match self {
            Proxy::Process(_) => None,
            Proxy::Container(c) => Some(c.id().to_string()),
        }
    }

    /// Resolves when the proxy has ended, with how.
    pub async fn wait(&mut self) -> String {
        match self {
            Proxy::Process(child) => match child.wait().await {
                Ok(status) => format!("Envoy exited ({status})"),
                Err(e) => format!("waiting for Envoy failed: {e}"),
            },
            Proxy::Container(c) => c.wait().await,
        }
    }

    pub async fn kill(&mut self) -> Result<(), String> {
        match self {
            Proxy::Process(child) => child.kill().await.map_err(|e| e.to_string()),
            Proxy::Container(c) => c.kill().await.map_err(|e| e.to_string()),
        }
    }

    /// Clean up after a proxy that has ended: a container is removed (its output is already
    /// in the proxy's directory).
    pub async fn finish(self) {
        match self {
            Proxy::Process(_) => {}
            Proxy::Container(c) => c.remove().await,
        }
    }
}
