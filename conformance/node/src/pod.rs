//! One pod's life on the node, as a task: images mapped to programs, a network namespace with
//! an address, volumes and environment, init containers in order, then the containers,
//! restarted per `restartPolicy`, with status published on every change. Deletion stops the
//! processes gracefully (SIGTERM, SIGKILL after the grace period), removes the namespace and
//! finally deletes the pod with `gracePeriodSeconds: 0`, as the kubelet does.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::{self, ConfigError, PodFacts};
use crate::env;
use crate::images;
use crate::launch::LaunchSpec;
use crate::network;
use crate::shared::Shared;
use crate::slots::{Kind, RunEvent, Slot};
use crate::status::{PodView, State, pod_status};
use crate::volumes;

/// The field manager of everything the node writes.
pub const FIELD_MANAGER: &str = "gatesim-node";
/// How long to wait before trying again to configure or network a pod.
const RETRY: Duration = Duration::from_secs(2);
/// On node shutdown, pods get at most this long to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why the pod's run ended.
enum End {
    /// The API server marked it for deletion: stop within the grace period, then delete it.
    Delete { grace: Duration },
    /// It is gone from the API already.
    Gone,
    /// The node is shutting down.
    Shutdown,
}

/// What woke an idle pod.
enum Wake {
    Changed,
    Timeout,
    Ended(End),
}

/// What [`wait`] saw.
enum Signal {
    Pod(Option<Box<Pod>>),
    Shutdown,
    Timeout,
}

async fn wait(
    pods: &mut watch::Receiver<Option<Pod>>,
    shutdown: &mut watch::Receiver<bool>,
    timeout: Option<Instant>,
) -> Signal {
    let sleep = async {
        match timeout {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        changed = pods.changed() => {
            Signal::Pod(if changed.is_ok() { pods.borrow_and_update().clone().map(Box::new) } else { None })
        }
        _ = shutdown.changed() => Signal::Shutdown,
        () = sleep => Signal::Timeout,
    }
}

struct PodRun {
    shared: Arc<Shared>,
    pod: Pod,
    uid: String,
    namespace: String,
    name: String,
    dir: PathBuf,
    init: Vec<Slot>,
    main: Vec<Slot>,
    initialized: bool,
    init_failed: bool,
    slot: Option<u8>,
    netns: Option<String>,
    pod_ip: Option<Ipv4Addr>,
    start_time: Timestamp,
    events_tx: mpsc::UnboundedSender<RunEvent>,
    events_rx: mpsc::UnboundedReceiver<RunEvent>,
    published: Option<PodStatus>,
    republish_at: Option<Instant>,
    announced: Option<String>,
}

/// Runs a pod until it is deleted or the node stops. `pods` carries the pod's latest version,
/// `None` once it is gone from the API.
pub async fn supervise(
    shared: Arc<Shared>,
    mut pods: watch::Receiver<Option<Pod>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(pod) = pods.borrow().clone() else {
        return;
    };
    let mut run = PodRun::new(shared, pod);
    let end = run.run(&mut pods, &mut shutdown).await;
    run.finish(end).await;
}

fn restarts_before(pod: &Pod, name: &str, init: bool) -> i32 {
    let statuses = pod.status.as_ref().and_then(|s| {
        if init {
            s.init_container_statuses.as_ref()
        } else {
            s.container_statuses.as_ref()
        }
    });
    statuses
        .into_iter()
        .flatten()
        .find(|c| c.name == name)
        .map_or(0, |c| c.restart_count)
}

impl PodRun {
    fn new(shared: Arc<Shared>, pod: Pod) -> PodRun {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let init = spec
            .init_containers
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let restarts = restarts_before(&pod, &c.name, true);
                Slot::new(Kind::Init, i, c, restarts)
            })
            .collect();
        let main = spec
            .containers
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let restarts = restarts_before(&pod, &c.name, false);
                Slot::new(Kind::Main, i, c, restarts)
            })
            .collect();
        let dir = shared.pods_dir.join(format!("{namespace}_{name}_{uid}"));
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        PodRun {
            shared,
            pod,
            uid,
            namespace,
            name,
            dir,
            init,
            main,
            initialized: false,
            init_failed: false,
            slot: None,
            netns: None,
            pod_ip: None,
            start_time: Timestamp::now(),
            events_tx,
            events_rx,
            published: None,
            republish_at: None,
            announced: None,
        }
    }

    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.shared.client.clone(), &self.namespace)
    }

    fn restart_policy(&self) -> String {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".to_owned())
    }

    fn host_network(&self) -> bool {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false)
    }

    fn slots_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.init.iter_mut().chain(self.main.iter_mut())
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.init.iter().chain(self.main.iter())
    }

    /// The pod went terminal in an earlier life of the node: nothing to run again.
    fn already_terminal(&self) -> bool {
        self.pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed")
    }

    fn deletion(&self) -> Option<End> {
        self.pod.metadata.deletion_timestamp.as_ref()?;
        let grace = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(30);
        Some(End::Delete {
            grace: Duration::from_secs(grace),
        })
    }

    /// Waits for a change of the pod, the end of its run, or `timeout`.
    async fn idle(
        &mut self,
        pods: &mut watch::Receiver<Option<Pod>>,
        shutdown: &mut watch::Receiver<bool>,
        timeout: Option<Instant>,
    ) -> Wake {
        if let Some(end) = self.deletion() {
            return Wake::Ended(end);
        }
        let signal = wait(pods, shutdown, timeout).await;
        self.absorb(signal)
    }

    fn absorb(&mut self, signal: Signal) -> Wake {
        match signal {
            Signal::Pod(None) => Wake::Ended(End::Gone),
            Signal::Pod(Some(pod)) => {
                self.pod = *pod;
                match self.deletion() {
                    Some(end) => Wake::Ended(end),
                    None => Wake::Changed,
                }
            }
            Signal::Shutdown => Wake::Ended(End::Shutdown),
            Signal::Timeout => Wake::Timeout,
        }
    }

    async fn run(
        &mut self,
        pods: &mut watch::Receiver<Option<Pod>>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> End {
        if self.already_terminal() {
            loop {
                if let Wake::Ended(end) = self.idle(pods, shutdown, None).await {
                    return end;
                }
            }
        }
        // Images: every container must map to a local program.
        while let Err(failure) = self.resolve_images() {
            self.publish().await;
            if self.announced.as_deref() != Some(failure.as_str()) {
                self.shared
                    .event(&self.pod, true, "Failed", "Pull", failure.clone());
                self.announced = Some(failure);
            }
            if let Wake::Ended(end) = self.idle(pods, shutdown, None).await {
                return end;
            }
        }
        // The sandbox: an address and a network namespace.
        loop {
            match self.create_sandbox().await {
                Ok(()) => break,
                Err(message) => {
                    self.set_waiting("ContainerCreating", Some(message.clone()));
                    self.publish().await;
                    self.shared
                        .event(&self.pod, true, "FailedCreatePodSandBox", "Create", message);
                    if let Wake::Ended(end) = self
                        .idle(pods, shutdown, Some(Instant::now() + RETRY))
                        .await
                    {
                        return end;
                    }
                }
            }
        }
        // Volumes and environment.
        loop {
            match self.configure().await {
                Ok(()) => break,
                Err(e) => {
                    let message = e.to_string();
                    self.set_waiting("CreateContainerConfigError", Some(message.clone()));
                    self.publish().await;
                    if self.announced.as_deref() != Some(message.as_str()) {
                        self.shared.event(
                            &self.pod,
                            true,
                            "Failed",
                            "Configure",
                            format!("Error: {message}"),
                        );
                        self.announced = Some(message);
                    }
                    if let Wake::Ended(end) = self
                        .idle(pods, shutdown, Some(Instant::now() + RETRY))
                        .await
                    {
                        return end;
                    }
                }
            }
        }
        self.set_waiting("PodInitializing", None);
        if self.init.is_empty() {
            self.start_main();
        } else {
            self.start_one(Kind::Init, 0);
        }
        loop {
            self.publish().await;
            let next = self
                .slots()
                .filter_map(|s| s.restart_at)
                .chain(self.republish_at)
                .min();
            if let Some(end) = self.deletion() {
                return end;
            }
            tokio::select! {
                Some(event) = self.events_rx.recv() => self.on_event(event),
                signal = wait(pods, shutdown, next) => match self.absorb(signal) {
                    Wake::Ended(end) => return end,
                    Wake::Changed => {}
                    Wake::Timeout => self.restart_due(),
                },
            }
        }
    }

    fn set_waiting(&mut self, reason: &str, message: Option<String>) {
        for slot in self.slots_mut() {
            slot.view.state = State::waiting(reason, message.clone());
        }
    }

    /// Maps every image; on failure the containers that cannot run wait with `ErrImagePull`.
    fn resolve_images(&mut self) -> Result<(), String> {
        let programs = self.shared.programs.clone();
        let spec = self.pod.spec.clone().unwrap_or_default();
        let mut failures = Vec::new();
        let containers = spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter());
        for (slot, container) in self
            .init
            .iter_mut()
            .chain(self.main.iter_mut())
            .zip(containers)
        {
            slot.spec = container.clone();
            slot.view.image = container.image.clone().unwrap_or_default();
            match images::resolve(container, &programs) {
                Ok(exec) => {
                    slot.view.image_id = format!("gatesim-node://{}", exec.program.display());
                    slot.view.state = State::waiting("ContainerCreating", None);
                    slot.exec = Some(exec);
                }
                Err(e) => {
                    let message = format!(
                        "Failed to pull image {:?}: {e}",
                        container.image.clone().unwrap_or_default()
                    );
                    slot.view.state = State::waiting("ErrImagePull", Some(message.clone()));
                    failures.push(message);
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }

    async fn create_sandbox(&mut self) -> Result<(), String> {
        if self.host_network() {
            self.pod_ip = Some(self.shared.plan.gateway());
            return Ok(());
        }
        let slot = match self.slot {
            Some(slot) => slot,
            None => {
                let slot = self.shared.allocate_address().ok_or_else(|| {
                    format!("no pod address left in {}", self.shared.plan.pod_subnet())
                })?;
                self.slot = Some(slot);
                slot
            }
        };
        let netns = network::create_pod_network(&self.shared.plan, slot)
            .await
            .map_err(|e| format!("setting up the pod's network: {e}"))?;
        self.netns = Some(netns);
        self.pod_ip = Some(self.shared.plan.pod_address(slot));
        Ok(())
    }

    async fn configure(&mut self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ConfigError::Volume {
            volume: "(pod directory)".to_owned(),
            message: format!("creating {}: {e}", self.dir.display()),
        })?;
        let data = config::fetch(&self.shared.client, &self.pod).await?;
        let facts = PodFacts {
            pod_ip: self.pod_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            host_ip: self.shared.plan.gateway(),
            node_name: self.shared.node_name.clone(),
        };
        let sources = volumes::prepare(&self.pod, &facts, &data, &self.dir.join("volumes"))?;
        let pod = self.pod.clone();
        let (netns, dir, hostname) = (self.netns.clone(), self.dir.clone(), self.name.clone());
        let shared = Arc::clone(&self.shared);
        let hosts = (!self.host_network()).then(|| self.shared.hosts.clone());
        for slot in self.slots_mut() {
            let mut environment = env::resolve(&slot.spec, &pod, &facts, &data)?;
            // What the kubelet tells every container about the API server, unless it says
            // otherwise itself.
            if let Some(host) = &data.kubernetes_service {
                for (name, value) in [
                    ("KUBERNETES_SERVICE_HOST", host.as_str()),
                    ("KUBERNETES_SERVICE_PORT", "443"),
                    ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
                ] {
                    if environment.get(name).is_none() {
                        environment.set(name.to_owned(), value.to_owned());
                    }
                }
            }
            let mut mounts = volumes::mounts(&slot.spec, &sources)?;
            // Service names resolve through the node's hosts file (see `services`).
            let etc_hosts = std::path::Path::new("/etc/hosts");
            if let Some(hosts) = &hosts
                && !mounts.iter().any(|m| m.target == etc_hosts)
            {
                mounts.push(volumes::Mount {
                    source: hosts.clone(),
                    target: etc_hosts.to_path_buf(),
                    read_only: true,
                });
            }
            for m in &mounts {
                shared
                    .mount_points
                    .ensure(&m.source, &m.target)
                    .map_err(|e| ConfigError::Volume {
                        volume: m.target.display().to_string(),
                        message: format!("creating the mount point: {e}"),
                    })?;
            }
            let Some(exec) = slot.exec.clone() else {
                continue;
            };
            let mut exec = exec;
            exec.args = env::expand_all(&exec.args, &environment);
            slot.launch = Some(LaunchSpec {
                netns: netns.clone(),
                exec,
                env: environment,
                mounts,
                working_dir: slot.spec.working_dir.clone(),
                hostname: hostname.clone(),
                log: dir.join(format!("{}.log", slot.spec.name)),
            });
        }
        Ok(())
    }

    fn start_one(&mut self, kind: Kind, index: usize) {
        let ip = self.pod_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let tx = self.events_tx.clone();
        let slot = match kind {
            Kind::Init => &mut self.init[index],
            Kind::Main => &mut self.main[index],
        };
        let first = slot.instance == 0;
        slot.start(&tx, ip);
        if first && slot.is_running() {
            let note = format!("Started container {}", slot.spec.name);
            self.shared
                .event(&self.pod, false, "Started", "Start", note);
        }
    }

    fn start_main(&mut self) {
        self.initialized = true;
        for index in 0..self.main.len() {
            self.start_one(Kind::Main, index);
        }
    }

    fn on_event(&mut self, event: RunEvent) {
        match event {
            RunEvent::Readiness {
                index,
                instance,
                ready,
            } => {
                if let Some(slot) = self.main.get_mut(index) {
                    slot.readiness(instance, ready);
                }
            }
            RunEvent::Exited {
                kind,
                index,
                instance,
                code,
                signal,
            } => {
                let policy = self.restart_policy();
                let pod_name = format!("{}_{}({})", self.name, self.namespace, self.uid);
                let slot = match kind {
                    Kind::Init => self.init.get_mut(index),
                    Kind::Main => self.main.get_mut(index),
                };
                let Some(slot) = slot else { return };
                let Some(ended) = slot.exited(instance, code, signal) else {
                    return;
                };
                let succeeded = ended.exit_code == 0;
                match kind {
                    Kind::Init if succeeded => {
                        if index + 1 < self.init.len() {
                            self.start_one(Kind::Init, index + 1);
                        } else {
                            self.start_main();
                        }
                    }
                    Kind::Init if policy == "Never" => self.init_failed = true,
                    Kind::Init => slot.schedule_restart(ended, &pod_name),
                    Kind::Main => {
                        let restart = policy == "Always" || (policy == "OnFailure" && !succeeded);
                        if restart {
                            slot.schedule_restart(ended, &pod_name);
                        }
                    }
                }
            }
        }
    }

    fn restart_due(&mut self) {
        let now = Instant::now();
        let due: Vec<(Kind, usize)> = self
            .slots()
            .filter(|s| s.restart_at.is_some_and(|at| at <= now))
            .map(|s| (s.kind, s.index))
            .collect();
        for (kind, index) in due {
            self.start_one(kind, index);
        }
    }

    fn view(&self) -> PodView {
        let spec = self.pod.spec.as_ref();
        PodView {
            restart_policy: self.restart_policy(),
            init: self.init.iter().map(|s| s.view.clone()).collect(),
            initialized: self.initialized,
            init_failed: self.init_failed,
            sandbox_ready: self.pod_ip.is_some(),
            containers: self.main.iter().map(|s| s.view.clone()).collect(),
            pod_ip: self.pod_ip,
            host_ip: self.shared.plan.gateway(),
            start_time: self.start_time,
            readiness_gates: spec
                .and_then(|s| s.readiness_gates.as_ref())
                .into_iter()
                .flatten()
                .map(|g| g.condition_type.clone())
                .collect(),
        }
    }

    /// Patches the pod's status when it changed. `metadata.uid` in the patch makes it apply
    /// to this pod only, never to a new pod of the same name.
    async fn publish(&mut self) {
        let mut basis = self.pod.clone();
        if let Some(published) = &self.published {
            basis.status = Some(published.clone());
        }
        let status = pod_status(&self.view(), &basis, Timestamp::now());
        if self.published.as_ref() == Some(&status) && self.republish_at.is_none() {
            return;
        }
        let body = json!({"metadata": {"uid": self.uid}, "status": status});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match self
            .api()
            .patch_status(&self.name, &params, &Patch::Merge(&body))
            .await
        {
            Ok(_) => {
                self.published = Some(status);
                self.republish_at = None;
            }
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 || e.code == 422 => {
                // Gone or replaced: the watch will say so.
                self.published = Some(status);
                self.republish_at = None;
            }
            Err(e) => {
                tracing::warn!(pod = %format!("{}/{}", self.namespace, self.name), error = %e, "status update failed; retrying");
                self.republish_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }

    /// Stops every running container: SIGTERM, then SIGKILL after `grace`.
    async fn stop_containers(&mut self, grace: Duration) {
        let running: Vec<u32> = self.slots().filter_map(|s| s.pid).collect();
        if running.is_empty() {
            return;
        }
        let names: Vec<String> = self
            .slots()
            .filter(|s| s.is_running())
            .map(|s| s.spec.name.clone())
            .collect();
        self.shared.event(
            &self.pod,
            false,
            "Killing",
            "Kill",
            format!("Stopping container {}", names.join(", ")),
        );
        for slot in self.slots_mut() {
            slot.restart_at = None;
        }
        for &pid in &running {
            crate::process::signal(pid, crate::process::Signal::Term);
        }
        let deadline = Instant::now() + grace;
        self.collect_exits(deadline).await;
        for pid in self.slots().filter_map(|s| s.pid).collect::<Vec<_>>() {
            crate::process::signal(pid, crate::process::Signal::Kill);
        }
        self.collect_exits(Instant::now() + Duration::from_secs(5))
            .await;
    }

    /// Takes exit reports until no container runs or `deadline` passes; no restarts now.
    async fn collect_exits(&mut self, deadline: Instant) {
        while self.slots().any(Slot::is_running) {
            let event = tokio::time::timeout_at(deadline, self.events_rx.recv()).await;
            match event {
                Ok(Some(RunEvent::Exited {
                    kind,
                    index,
                    instance,
                    code,
                    signal,
                })) => {
                    let slot = match kind {
                        Kind::Init => self.init.get_mut(index),
                        Kind::Main => self.main.get_mut(index),
                    };
                    if let Some(slot) = slot {
                        slot.exited(instance, code, signal);
                    }
                }
                Ok(Some(RunEvent::Readiness { .. })) => {}
                Ok(None) | Err(_) => return,
            }
        }
    }

    async fn finish(mut self, end: End) {
        let grace = match &end {
            End::Delete { grace } => *grace,
            End::Gone => Duration::ZERO,
            End::Shutdown => SHUTDOWN_GRACE,
        };
        self.stop_containers(grace).await;
        if let Some(slot) = self.slot.take() {
            if let Err(e) = network::delete_pod_network(&self.shared.plan, slot).await {
                tracing::warn!(error = %e, "removing a pod's network namespace");
            }
            self.shared.release_address(slot);
        }
        let _ = tokio::fs::remove_dir_all(&self.dir).await;
        if let End::Delete { .. } = end {
            self.publish().await;
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(self.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match self.api().delete(&self.name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => tracing::warn!(
                    pod = %format!("{}/{}", self.namespace, self.name),
                    error = %e,
                    "final delete failed"
                ),
            }
        }
    }
}
