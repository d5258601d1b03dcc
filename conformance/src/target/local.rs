//! The `local` target: the real control plane of `gatesim cluster` on this machine, the
//! reference controller in this process (its Kubernetes provider against the real API server,
//! one Envoy per Gateway on a loopback address), and echo backends as Deployments of the echo
//! image, whose pods the simulated node runs in network namespaces of their own.
//!
//! Everything between the harness and the pods is what the `cluster` target does; what this
//! target adds is starting the cluster (and stopping it again when it started it) and the
//! controller. Convergence is by polling, as on any cluster: the ACK barrier of `sim` needs
//! watch events in resourceVersion order across kinds, which only simkube promises.

use std::path::PathBuf;
use std::time::Duration;

use gatesim_reference::controller::Controller;
use gatesim_reference::infra::ports;

use super::TargetError;
use super::cluster::{ClusterOptions, ClusterTarget};
use super::driver::RunClass;
use super::in_process;
use crate::cluster::{self, Channel, DownOptions, Layout, UpOptions};

pub struct LocalOptions {
    pub class: RunClass,
    /// The cluster's state directory.
    pub layout: Layout,
    /// The program that runs the simulated node when the cluster has to be started.
    pub node_program: PathBuf,
    pub echo_image: String,
    pub envoy: Option<PathBuf>,
    pub envoy_log_level: String,
    /// Second octet of the Gateways' loopback addresses; derived from the process id when
    /// `None`.
    pub address_network: Option<u8>,
    /// Leave the cluster running at shutdown even when this target started it.
    pub keep_cluster: bool,
    pub ready_timeout: Duration,
}

pub struct LocalTarget {
    cluster: ClusterTarget,
    controller: Option<Controller>,
    layout: Layout,
    started_cluster: bool,
    keep_cluster: bool,
    port_offset: u16,
    network: u8,
    work_dir: PathBuf,
}

fn invalid(what: &str) -> impl FnOnce(cluster::ClusterError) -> TargetError + '_ {
    move |e| TargetError::Invalid(format!("{what}: {e}"))
}

impl LocalTarget {
    /// Brings the cluster up if it is not healthy, then starts the controller and the run's
    /// GatewayClass.
    pub async fn start(options: LocalOptions) -> Result<LocalTarget, TargetError> {
        let layout = options.layout.clone();
        let healthy = cluster::status(&layout)
            .await
            .is_ok_and(|parts| parts.iter().all(|p| p.healthy));
        let started_cluster = layout
            .read_state()
            .map_err(invalid("reading the cluster state"))?
            .is_none();
        if !healthy {
            let up = UpOptions {
                layout: layout.clone(),
                channel: Channel::Experimental,
                node_program: options.node_program.clone(),
                extra_crds: Some(cluster::up::repository_crds()),
            };
            let quiet: cluster::up::Progress = std::sync::Arc::new(|line: &str| {
                tracing::info!("{line}");
            });
            cluster::up(&up, quiet)
                .await
                .map_err(invalid("starting the local cluster"))?;
        }
        let client = cluster::admin_client(&layout)
            .await
            .map_err(invalid("connecting to the local cluster"))?;
        let envoy = in_process::envoy(options.envoy.clone()).await?;
        let port_offset = ports::detect().port_offset();
        let network = options
            .address_network
            .unwrap_or_else(|| in_process::default_network(std::process::id()));
        let work_dir = std::env::temp_dir().join(format!("gatesim-local-{}", std::process::id()));
        let controller = in_process::start(in_process::Setup {
            client,
            envoy,
            envoy_image: None,
            envoy_log_level: &options.envoy_log_level,
            work_dir: work_dir.clone(),
            controller_name: &options.class.controller_name,
            port_offset,
            network,
        })
        .await?;
        let cluster = ClusterTarget::connect_with_class(
            ClusterOptions {
                kubeconfig: Some(layout.kubeconfig()),
                gateway_class: options.class.gateway_class.clone(),
                echo_image: options.echo_image.clone(),
                ready_timeout: options.ready_timeout,
            },
            super::gateway_class(
                &options.class.gateway_class,
                &options.class.controller_name,
                "The gatesim local target's GatewayClass.",
            ),
        )
        .await?;
        Ok(LocalTarget {
            cluster,
            controller: Some(controller),
            layout,
            started_cluster,
            keep_cluster: options.keep_cluster,
            port_offset,
            network,
            work_dir,
        })
    }

    pub fn cluster(&self) -> &ClusterTarget {
        &self.cluster
    }

    /// Whether the cluster keeps running after this target shuts down.
    pub fn outlives_run(&self) -> bool {
        !self.started_cluster || self.keep_cluster
    }

    /// `<work dir>/scenarios/<name>`: the proxies run on this host, as on sim.
    pub fn scenario_dir(&self, scenario: &str) -> PathBuf {
        self.work_dir.join("scenarios").join(scenario)
    }

    pub fn port_offset(&self) -> u16 {
        self.port_offset
    }

    pub fn header(&self) -> Vec<(String, String)> {
        let admin = self
            .controller
            .as_ref()
            .map_or_else(|| "-".to_owned(), |c| c.admin_addr().to_string());
        let mut lines = vec![
            (
                "api server".to_owned(),
                format!("local cluster in {}", self.layout.root.display()),
            ),
            (
                "controller".to_owned(),
                format!(
                    "in-process, admin http://{admin}, Gateways on 127.{}.10.x",
                    self.network
                ),
            ),
        ];
        lines.extend(
            self.cluster
                .header()
                .into_iter()
                .filter(|(k, _)| k != "controller"),
        );
        lines
    }

    /// Stops the controller (and its proxies), and the cluster when this target started it.
    pub async fn shutdown(mut self) {
        if let Some(controller) = self.controller.take() {
            controller.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
        if !self.outlives_run() {
            let options = DownOptions {
                layout: self.layout.clone(),
                keep_logs: false,
            };
            if let Err(e) = cluster::down(&options).await {
                tracing::warn!(error = %e, "stopping the local cluster");
            }
        }
    }
}
