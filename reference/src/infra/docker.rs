//! Envoy in Docker containers, one per Gateway, beside (not instead of) host processes.
//!
//! Only *how a proxy runs* differs from `infra::host`: the supervisor, the bootstrap, the
//! addresses and the admin-address handshake are the host provider's. Each container uses the
//! host's network, so its listeners bind the Gateway's loopback address exactly as a process
//! would, and gets the proxy's work directory mounted at the same path, so the bootstrap, the
//! admin address file and Envoy's log are where the supervisor looks for them. The container
//! runs as the owner of that directory, so that what Envoy writes there belongs to the
//! controller's user. Its stdout and stderr are copied into the directory's `stdio.log` (and
//! stay available through `docker logs` while the container exists).
//!
//! Every container is labelled with the work directory; a controller that starts on the same
//! directory first removes what an earlier one (killed before it could clean up) left behind.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bollard::errors::Error as ApiError;
use bollard::models::{ContainerCreateBody, HostConfig as ContainerHostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::{ClientVersion, Docker};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use crate::model::ObjectKey;

/// The image `ci/images` builds.
pub const DEFAULT_IMAGE: &str = "gatesim/envoy:1.40.0";

/// Labels on every proxy container.
pub const LABEL_WORK_DIR: &str = "dev.gatesim.work-dir";
pub const LABEL_GATEWAY: &str = "dev.gatesim.gateway";

/// The oldest Engine API this module needs; every Docker from 20.10 serves it. Docker 29 and
/// later no longer do, and get the client's own newest version instead.
const FALLBACK_API: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// Bound on one Engine API call (bollard's unit: seconds).
const API_TIMEOUT_SECS: u64 = 60;

#[derive(Clone, Debug)]
pub struct DockerConfig {
    /// The Envoy image; its entrypoint must be Envoy.
    pub image: String,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            image: DEFAULT_IMAGE.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker daemon at {socket} (is dockerd running?): {source}")]
    Connect {
        socket: String,
        /// Boxed: bollard's error is large, and every `HostError` would carry its size.
        #[source]
        source: Box<ApiError>,
    },
    #[error(
        "the image {image} is not in the local Docker; build it with ci/images (or choose \
         another with --envoy-image)"
    )]
    MissingImage { image: String },
    #[error("docker: {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: Box<ApiError>,
    },
    #[error("reading the owner of {path}: {source}")]
    Owner {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The Docker daemon and what every proxy container shares.
pub struct Containers {
    client: Docker,
    image: String,
    work_dir: PathBuf,
    /// `uid:gid` of the work directory's owner.
    user: String,
}

impl Containers {
    /// Connect to the daemon (`$DOCKER_HOST` if it names a unix socket, else the default
    /// socket), check that the image is there, and remove containers an earlier controller
    /// left behind on `work_dir`.
    pub async fn connect(config: &DockerConfig, work_dir: &Path) -> Result<Self, DockerError> {
        let client = connect(&socket()).await?;
        check_image(&client, &config.image).await?;
        let meta = std::fs::metadata(work_dir).map_err(|source| DockerError::Owner {
            path: work_dir.to_path_buf(),
            source,
        })?;
        let containers = Self {
            client,
            image: config.image.clone(),
            work_dir: work_dir.to_path_buf(),
            user: format!("{}:{}", meta.uid(), meta.gid()),
        };
        containers.remove_leftovers().await?;
        Ok(containers)
    }

    pub fn image(&self) -> &str {
        &self.image
    }

    /// The ids of the containers this controller's work directory has, running or not.
    pub async fn list(&self) -> Result<Vec<String>, DockerError> {
        let filter = format!("{LABEL_WORK_DIR}={}", self.work_dir.display());
        let filters = HashMap::from([("label", vec![filter.as_str()])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|e| api("listing containers".to_string(), e))?;
        Ok(found.into_iter().filter_map(|c| c.id).collect())
    }

    async fn remove_leftovers(&self) -> Result<(), DockerError> {
        for id in self.list().await? {
            tracing::warn!(container = %id, "removing a proxy container an earlier controller left");
            remove(&self.client, &id).await;
        }
        Ok(())
    }

    /// Create and start the proxy container of `gateway`: Envoy with `args`, the proxy's
    /// directory `dir` mounted at the same path, its output appended to `stdio`.
    pub async fn start(
        &self,
        gateway: &ObjectKey,
        dir: &Path,
        args: Vec<String>,
        stdio: &Path,
    ) -> Result<Container, DockerError> {
        let dir_text = dir.display().to_string();
        let labels = HashMap::from([
            (
                LABEL_WORK_DIR.to_string(),
                self.work_dir.display().to_string(),
            ),
            (LABEL_GATEWAY.to_string(), gateway.to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(args),
            user: Some(self.user.clone()),
            labels: Some(labels),
            host_config: Some(ContainerHostConfig {
                network_mode: Some("host".to_string()),
                binds: Some(vec![format!("{dir_text}:{dir_text}")]),
                readonly_rootfs: Some(true),
                security_opt: Some(vec!["no-new-privileges".to_string()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = container_name(gateway, dir);
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let created = match self
            .client
            .create_container(Some(options.clone()), body.clone())
            .await
        {
            Ok(created) => created,
            // A container of that name outlived its supervisor (a stop that could not reach
            // the daemon): it is ours, so replace it.
            Err(ApiError::DockerResponseServerError {
                status_code: 409, ..
            }) => {
                remove(&self.client, &name).await;
                self.client
                    .create_container(Some(options), body)
                    .await
                    .map_err(|e| api(format!("creating {name}"), e))?
            }
            Err(e) => return Err(api(format!("creating {name}"), e)),
        };
        let mut container = Container {
            client: self.client.clone(),
            id: created.id,
            logs: None,
            removed: false,
        };
        self.client
            .start_container(&container.id, None)
            .await
            .map_err(|e| api(format!("starting {name}"), e))?;
        container.logs = Some(tokio::spawn(copy_logs(
            self.client.clone(),
            container.id.clone(),
            stdio.to_path_buf(),
        )));
        Ok(container)
    }
}

/// For test suites: whether Docker answers and has `image`, or `false` after a loud `SKIP:`
/// line naming `what` needed it. With `GATESIM_REQUIRE_ALL=1` (as CI sets it) that is an error
/// instead, so a machine without Docker can never pass the suite silently.
pub async fn image_or_skip(what: &str, image: &str) -> Result<bool, DockerError> {
    let found = match connect(&socket()).await {
        Ok(client) => check_image(&client, image).await,
        Err(e) => Err(e),
    };
    match found {
        Ok(()) => Ok(true),
        Err(e) if std::env::var("GATESIM_REQUIRE_ALL").as_deref() == Ok("1") => Err(e),
        Err(e) => {
            eprintln!("SKIP: {what}: Docker is unavailable: {e}");
            Ok(false)
        }
    }
}

/// One proxy container. Dropping it removes the container (from a thread of its own, since
/// drop cannot await).
pub struct Container {
    client: Docker,
    id: String,
    logs: Option<JoinHandle<()>>,
    removed: bool,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Resolves when the container has stopped, with how.
    pub async fn wait(&self) -> String {
        let mut waits = self.client.wait_container(&self.id, None);
        match waits.next().await {
            Some(Ok(r)) => format!("container exited with status {}", r.status_code),
            Some(Err(ApiError::DockerContainerWaitError { code, error })) if error.is_empty() => {
                format!("container exited with status {code}")
            }
            Some(Err(ApiError::DockerContainerWaitError { code, error })) => {
                format!("container exited with status {code}: {error}")
            }
            Some(Err(e)) => format!("waiting for the container failed: {e}"),
            None => "the container's wait stream ended".to_string(),
        }
    }

    pub async fn kill(&self) -> Result<(), DockerError> {
        let options = KillContainerOptionsBuilder::new().signal("KILL").build();
        match self.client.kill_container(&self.id, Some(options)).await {
            // 409: not running any more, which is what was wanted.
            Ok(())
            | Err(ApiError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(api(format!("killing {}", self.id), e)),
        }
    }

    /// Remove the (stopped or running) container, once its output has been copied.
    pub async fn remove(mut self) {
        if let Some(logs) = self.logs.take() {
            // The log stream ends with the container; a hung daemon does not hold us.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), logs).await;
        }
        remove(&self.client, &self.id).await;
        self.removed = true;
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Some(logs) = self.logs.take() {
            logs.abort();
        }
        if self.removed {
            return;
        }
        let (client, id) = (self.client.clone(), self.id.clone());
        // The caller's runtime may be shutting down; a runtime of our own is not.
        let removal =
            std::thread::spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(remove(&client, &id)),
                    Err(e) => tracing::error!(container = %id, "cannot remove container: {e}"),
                }
            });
        let _ = removal.join();
    }
}

/// `gatesim-<namespace>_<name>-<hash of the proxy's directory>`: the supervisor keeps one
/// container per proxy directory at a time (one per Gateway replica), and the hash keeps
/// replicas, and controllers with different work directories (tests in one process, say),
/// apart.
fn container_name(gateway: &ObjectKey, proxy_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    proxy_dir.hash(&mut hasher);
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!(
        "gatesim-{}_{}-{:08x}",
        clean(&gateway.namespace),
        clean(&gateway.name),
        hasher.finish() as u32
    )
}

/// `$DOCKER_HOST` when it names a unix socket, else Docker's default socket.
fn socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| h.starts_with("unix://"))
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

async fn check_image(client: &Docker, image: &str) -> Result<(), DockerError> {
    match client.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(ApiError::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(DockerError::MissingImage {
            image: image.to_string(),
        }),
        Err(source) => Err(api(format!("inspecting image {image}"), source)),
    }
}

async fn connect(socket: &str) -> Result<Docker, DockerError> {
    let connect_err = |source| DockerError::Connect {
        socket: socket.to_string(),
        source: Box::new(source),
    };
    let mut last = None;
    for version in [&FALLBACK_API, bollard::API_DEFAULT_VERSION] {
        let client =
            Docker::connect_with_socket(socket, API_TIMEOUT_SECS, version).map_err(connect_err)?;
        match client.version().await {
            Ok(_) => return Ok(client),
            // "client version 1.41 is too old": the daemon is Docker 29 or later.
            Err(ApiError::DockerResponseServerError {
                status_code: 400,
                message,
            }) => {
                last = Some(ApiError::DockerResponseServerError {
                    status_code: 400,
                    message,
                })
            }
            Err(e) => return Err(connect_err(e)),
        }
    }
    Err(connect_err(last.expect("the loop ran at least once")))
}

async fn remove(client: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    match client.remove_container(id, Some(options)).await {
        Ok(())
        | Err(ApiError::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => tracing::error!(container = %id, "removing container: {e}"),
    }
}

/// Append the container's stdout and stderr to `path` until the container ends.
async fn copy_logs(client: Docker, id: String, path: PathBuf) {
    let mut file = match tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(container = %id, path = %path.display(), "cannot keep the container's output: {e}");
            return;
        }
    };
    let options = LogsOptionsBuilder::new()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = client.logs(&id, Some(options));
    while let Some(Ok(chunk)) = logs.next().await {
        if file.write_all(&chunk.into_bytes()).await.is_err() {
            return;
        }
    }
    let _ = file.flush().await;
}

fn api(action: String, source: ApiError) -> DockerError {
    DockerError::Api {
        action,
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_are_docker_names() {
        let gw = ObjectKey::new("gateway-conformance-infra", "same_ns");
        let name = container_name(&gw, Path::new("/tmp/a"));
        assert!(
            name.starts_with("gatesim-gateway-conformance-infra_same-ns-"),
            "{name}"
        );
        assert_ne!(name, container_name(&gw, Path::new("/tmp/b")));
        assert_eq!(name, container_name(&gw, Path::new("/tmp/a")));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        );
    }
}
