//! The reference controller in the harness's own process, as the sim and local targets run
//! it: its Kubernetes provider against the target's API server, one Envoy per Gateway on a
//! loopback address of this host (a process, or a container on the host's network),
//! Programmed once the proxy took the configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::docker::DockerConfig;
use gatesim_reference::infra::host::HostConfig;
use gatesim_reference::model::ControllerConfig;

use super::TargetError;

/// The Envoy to run: the one given, else found (or installed) by `infra::envoy::locate`.
pub(crate) async fn envoy(given: Option<PathBuf>) -> Result<PathBuf, TargetError> {
    match given {
        Some(path) => Ok(path),
        None => tokio::task::spawn_blocking(gatesim_reference::infra::envoy::locate)
            .await
            .map_err(|e| TargetError::Invalid(format!("finding Envoy: {e}")))?
            .map_err(|e| TargetError::Envoy(e.to_string())),
    }
}

/// 100 to 249, from the process id: clear of the small fixed networks test suites pick.
pub(crate) fn default_network(pid: u32) -> u8 {
    (100 + pid % 150) as u8
}

/// How the controller is started.
pub(crate) struct Setup<'a> {
    pub client: kube::Client,
    pub envoy: PathBuf,
    /// Run the proxies as containers of this image instead (`envoy` is then not used).
    pub envoy_image: Option<String>,
    pub envoy_log_level: &'a str,
    /// Where the proxies keep their files; created here.
    pub work_dir: PathBuf,
    pub controller_name: &'a str,
    pub port_offset: u16,
    /// Gateways get 127.<network>.10.1 and up.
    pub network: u8,
}

pub(crate) async fn start(setup: Setup<'_>) -> Result<Controller, TargetError> {
    std::fs::create_dir_all(&setup.work_dir)
        .map_err(|e| TargetError::Invalid(format!("creating {}: {e}", setup.work_dir.display())))?;
    let mut host = HostConfig::new(
        setup.envoy,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        setup.work_dir,
    );
    host.log_level = setup.envoy_log_level.to_owned();
    let infra = match setup.envoy_image {
        Some(image) => Infra::Docker(Box::new(host), DockerConfig { image }),
        None => Infra::Host(Box::new(host)),
    };
    Controller::start(ControllerOptions {
        source: Source::Kubernetes(setup.client),
        infra,
        xds_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        config: ControllerConfig {
            controller_name: setup.controller_name.to_owned(),
            port_offset: setup.port_offset,
            // Real proxies run here: Programmed means the proxy took the configuration.
            programmed_on_ack: true,
            ..ControllerConfig::default()
        },
        address_network: setup.network,
        envoy: None,
    })
    .await
    .map_err(|e| TargetError::Invalid(format!("starting the reference controller: {e}")))
}
