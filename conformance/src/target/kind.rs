//! The `kind` target's cluster: created from a `kind-config/` file (or reused when a cluster
//! of that name exists), given the project's images with `kind load docker-image`, the CRDs
//! and the reference controller installed with kubectl; the scenarios then run through the
//! `cluster` target. Teardown deletes the cluster only if this run created it and `keep` is
//! off.
//!
//! Gateways get their addresses from cloud-provider-kind, which gives LoadBalancer Services
//! addresses on kind's Docker network: when it is on PATH the run starts it and stops it at
//! teardown; otherwise whatever the cluster has (MetalLB, a provider started by the user)
//! must do that.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::TargetError;

/// The load-balancer controller started beside the cluster when it is on PATH.
pub const CLOUD_PROVIDER_KIND: &str = "cloud-provider-kind";

#[derive(Clone, Debug)]
pub struct KindOptions {
    /// The kind binary.
    pub kind: PathBuf,
    pub kubectl: PathBuf,
    pub cluster_name: String,
    /// The cluster configuration (`kind-config/single-node.yaml` by default).
    pub config: PathBuf,
    /// Leave the cluster running after the run.
    pub keep: bool,
    /// Loaded into the cluster's nodes.
    pub images: Vec<String>,
    /// The Gateway API CRDs: a URL or a file of upstream's release.
    pub gateway_api_crds: String,
    /// The K8sGateway CRDs (`reference/crds/`), applied when the directory exists.
    pub k8sgateway_crds: PathBuf,
    /// The controller's manifests (`deploy/`, applied with `kubectl apply -k`).
    pub deploy: PathBuf,
    /// Where the cluster's kubeconfig is written.
    pub work_dir: PathBuf,
    /// Bound on the controller's rollout.
    pub rollout_timeout_secs: u64,
}

/// The Gateway API CRDs installed by default: upstream's release of the version gatesim's
/// types follow, experimental channel (it holds the standard one).
pub const GATEWAY_API_CRDS: &str = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/experimental-install.yaml";

/// The repository checkout this binary was built from (its `deploy/`, `kind-config/`,
/// `reference/crds/`).
pub fn project_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The images a kind cluster gets: what `ci/images` builds.
pub fn project_images() -> Vec<String> {
    let version = env!("CARGO_PKG_VERSION");
    vec![
        format!("gatesim/controller:{version}"),
        format!("gatesim/echo:{version}"),
        format!(
            "gatesim/envoy:{}",
            gatesim_reference::infra::envoy::ENVOY_VERSION
        ),
    ]
}

impl KindOptions {
    /// The project's defaults: `kind` and `kubectl` from PATH, `kind-config/single-node.yaml`,
    /// the project's images, CRDs and manifests.
    pub fn new(cluster_name: impl Into<String>) -> KindOptions {
        let root = project_root();
        KindOptions {
            kind: PathBuf::from("kind"),
            kubectl: PathBuf::from("kubectl"),
            cluster_name: cluster_name.into(),
            config: root.join("kind-config").join("single-node.yaml"),
            keep: false,
            images: project_images(),
            gateway_api_crds: GATEWAY_API_CRDS.to_owned(),
            k8sgateway_crds: root.join("reference").join("crds"),
            deploy: root.join("deploy"),
            work_dir: std::env::temp_dir().join(format!("gatesim-kind-{}", std::process::id())),
            rollout_timeout_secs: 180,
        }
    }
}

/// A kind cluster this run uses.
pub struct KindCluster {
    options: KindOptions,
    created: bool,
    kubeconfig: PathBuf,
    load_balancer: Option<Child>,
}

impl KindCluster {
    /// Create the cluster (or find it), write its kubeconfig and load the images.
    pub async fn up(options: KindOptions) -> Result<KindCluster, TargetError> {
        std::fs::create_dir_all(&options.work_dir).map_err(|e| {
            TargetError::Invalid(format!("creating {}: {e}", options.work_dir.display()))
        })?;
        let name = options.cluster_name.clone();
        let name = name.as_str();
        let existing = run(&options.kind, &["get", "clusters"]).await?;
        let created = !existing.lines().any(|line| line.trim() == name);
        if created {
            let config = options.config.to_string_lossy();
            run(
                &options.kind,
                &[
                    "create", "cluster", "--name", name, "--config", &config, "--wait", "180s",
                ],
            )
            .await?;
        }
        let kubeconfig = options.work_dir.join(format!("kind-{name}.kubeconfig"));
        let mut cluster = KindCluster {
            created,
            kubeconfig,
            load_balancer: None,
            options,
        };
        let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
        run(
            &cluster.options.kind,
            &[
                "export",
                "kubeconfig",
                "--name",
                name,
                "--kubeconfig",
                &kubeconfig,
            ],
        )
        .await?;
        let mut load = vec!["load", "docker-image", "--name", name];
        load.extend(cluster.options.images.iter().map(String::as_str));
        run(&cluster.options.kind, &load).await?;
        cluster.load_balancer = start_load_balancer();
        Ok(cluster)
    }

    /// Apply the CRDs and the controller, and wait for its rollout.
    pub async fn install(&self) -> Result<(), TargetError> {
        self.kubectl(&[
            "apply",
            "--server-side",
            "-f",
            &self.options.gateway_api_crds,
        ])
        .await?;
        if self.options.k8sgateway_crds.is_dir() {
            let crds = self.options.k8sgateway_crds.to_string_lossy();
            self.kubectl(&["apply", "--server-side", "-f", &crds])
                .await?;
        }
        let deploy = self.options.deploy.to_string_lossy();
        self.kubectl(&["apply", "-k", &deploy]).await?;
        let timeout = format!("--timeout={}s", self.options.rollout_timeout_secs);
        self.kubectl(&[
            "-n",
            "gatesim-system",
            "rollout",
            "status",
            "deployment/gatesim-controller",
            &timeout,
        ])
        .await?;
        Ok(())
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn created(&self) -> bool {
        self.created
    }

    pub fn header(&self) -> Vec<(String, String)> {
        let how = if self.created { "created" } else { "reused" };
        let lb = if self.load_balancer.is_some() {
            "cloud-provider-kind (started by this run)"
        } else {
            "none started (cloud-provider-kind not on PATH)"
        };
        vec![
            (
                "kind cluster".to_owned(),
                format!("{} ({how})", self.options.cluster_name),
            ),
            ("load balancer".to_owned(), lb.to_owned()),
        ]
    }

    /// Stop the load balancer; delete the cluster if this run created it and may.
    pub async fn down(mut self) -> Result<(), TargetError> {
        if let Some(mut lb) = self.load_balancer.take() {
            let _ = lb.kill().await;
        }
        if self.created && !self.options.keep {
            run(
                &self.options.kind,
                &["delete", "cluster", "--name", &self.options.cluster_name],
            )
            .await?;
        }
        Ok(())
    }

    async fn kubectl(&self, args: &[&str]) -> Result<String, TargetError> {
        let kubeconfig = self.kubeconfig.to_string_lossy();
        let mut all = vec!["--kubeconfig", &kubeconfig];
        all.extend_from_slice(args);
        run(&self.options.kubectl, &all).await
    }
}

/// cloud-provider-kind, when it is on PATH: it watches every kind cluster of this host.
fn start_load_balancer() -> Option<Child> {
    let path = std::env::var_os("PATH")?;
    let binary = std::env::split_paths(&path)
        .map(|d| d.join(CLOUD_PROVIDER_KIND))
        .find(|p| p.is_file())?;
    match Command::new(&binary)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => Some(child),
        Err(e) => {
            tracing::warn!("starting {}: {e}", binary.display());
            None
        }
    }
}

/// Run a command to its end; its stdout, or an error with its stderr.
async fn run(program: &Path, args: &[&str]) -> Result<String, TargetError> {
    let shown = format!("{} {}", program.display(), args.join(" "));
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| TargetError::Invalid(format!("running {shown}: {e}")))?;
    if !out.status.success() {
        return Err(TargetError::Invalid(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
