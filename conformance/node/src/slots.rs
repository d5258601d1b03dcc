//! One container of a pod on the node: its launch specification, the process of its current
//! instance, its readiness probe, its restart bookkeeping and the state it reports.

use std::net::Ipv4Addr;
use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Container;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::images::Exec;
use crate::launch::{self, LaunchSpec};
use crate::probe::{self, Timing};
use crate::status::{ContainerView, Ended, State};

/// Kubelet's crash-loop back-off: the first restart is immediate, then 10 s doubling to 5 min.
const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A container that ran this long starts its back-off afresh.
const BACKOFF_RESET: Duration = Duration::from_secs(600);
/// How often a readiness probe is retried before its first success.
const FIRST_READY_RETRY: Duration = Duration::from_millis(100);

/// Which list of the pod a container is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Init,
    Main,
}

/// What a container's helpers tell the pod's loop.
#[derive(Debug)]
pub enum RunEvent {
    Exited {
        kind: Kind,
        index: usize,
        instance: u64,
        code: Option<i32>,
        signal: Option<i32>,
    },
    Readiness {
        index: usize,
        instance: u64,
        ready: bool,
    },
}

pub struct Slot {
    pub kind: Kind,
    pub index: usize,
    pub spec: Container,
    pub exec: Option<Exec>,
    pub launch: Option<LaunchSpec>,
    pub instance: u64,
    pub pid: Option<u32>,
    started: Option<Instant>,
    probe: Option<JoinHandle<()>>,
    pub view: ContainerView,
    /// `None`: the next restart is immediate.
    backoff: Option<Duration>,
    pub restart_at: Option<Instant>,
}

impl Slot {
    pub fn new(kind: Kind, index: usize, spec: Container, restarts: i32) -> Slot {
        let image = spec.image.clone().unwrap_or_default();
        Slot {
            kind,
            index,
            view: ContainerView {
                name: spec.name.clone(),
                image: image.clone(),
                image_id: String::new(),
                state: State::waiting("ContainerCreating", None),
                last: None,
                restarts,
                ready: false,
            },
            spec,
            exec: None,
            launch: None,
            instance: 0,
            pid: None,
            started: None,
            probe: None,
            backoff: None,
            restart_at: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.pid.is_some()
    }

    /// Starts a new instance. A failure to start is reported like the runtime does: the
    /// instance ends at once with reason `StartError`.
    pub fn start(&mut self, events: &mpsc::UnboundedSender<RunEvent>, pod_ip: Ipv4Addr) {
        self.restart_at = None;
        let Some(spec) = self.launch.clone() else {
            return;
        };
        if self.instance > 0 {
            self.view.restarts += 1;
        }
        self.instance += 1;
        let started_at = Timestamp::now();
        let spawned = launch::command(&spec).and_then(|mut cmd| cmd.spawn());
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let mut ended = Ended::new(Some(128), None, started_at, String::new());
                ended.reason = "StartError".to_owned();
                ended.message = Some(format!(
                    "starting {} in the pod's namespaces: {e}",
                    spec.exec.program.display()
                ));
                self.view.state = State::Terminated(ended);
                let _ = events.send(RunEvent::Exited {
                    kind: self.kind,
                    index: self.index,
                    instance: self.instance,
                    code: Some(128),
                    signal: None,
                });
                return;
            }
        };
        let pid = child.id().unwrap_or_default();
        self.pid = Some(pid);
        self.started = Some(Instant::now());
        self.view.state = State::Running {
            started_at,
            container_id: format!("gatesim://pid-{pid}"),
        };
        let (kind, index, instance) = (self.kind, self.index, self.instance);
        let tx = events.clone();
        tokio::spawn(async move {
            let (code, signal) = match child.wait().await {
                Ok(status) => (status.code(), status.signal()),
                Err(_) => (None, Some(9)),
            };
            let _ = tx.send(RunEvent::Exited {
                kind,
                index,
                instance,
                code,
                signal,
            });
        });
        match (&self.spec.readiness_probe, self.kind) {
            (Some(probe), Kind::Main) => {
                let (probe, container, tx) = (probe.clone(), self.spec.clone(), events.clone());
                let netns = spec.netns.clone();
                self.probe = Some(tokio::spawn(async move {
                    probe_loop(probe, container, pod_ip, netns, tx, index, instance).await;
                }));
            }
            (None, Kind::Main) => self.view.ready = true,
            (_, Kind::Init) => {}
        }
    }

    /// Records the end of the current instance; returns false for a stale event.
    pub fn exited(
        &mut self,
        instance: u64,
        code: Option<i32>,
        signal: Option<i32>,
    ) -> Option<Ended> {
        if instance != self.instance {
            return None;
        }
        if let Some(probe) = self.probe.take() {
            probe.abort();
        }
        self.pid = None;
        self.view.ready = false;
        let ended = match &self.view.state {
            State::Running {
                started_at,
                container_id,
            } => Ended::new(code, signal, *started_at, container_id.clone()),
            // A start error was recorded when it happened.
            State::Terminated(e) => e.clone(),
            State::Waiting { .. } => Ended::new(code, signal, Timestamp::now(), String::new()),
        };
        if self
            .started
            .take()
            .is_some_and(|s| s.elapsed() >= BACKOFF_RESET)
        {
            self.backoff = None;
        }
        self.view.state = State::Terminated(ended.clone());
        Some(ended)
    }

    /// Arranges the next instance after `ended`: now for the first restart, then with a
    /// growing back-off (`CrashLoopBackOff` while waiting).
    pub fn schedule_restart(&mut self, ended: Ended, pod: &str) {
        self.view.last = Some(ended);
        match self.backoff {
            None => {
                self.restart_at = Some(Instant::now());
                self.backoff = Some(BACKOFF_INITIAL);
            }
            Some(delay) => {
                self.restart_at = Some(Instant::now() + delay);
                self.view.state = State::waiting(
                    "CrashLoopBackOff",
                    Some(format!(
                        "back-off {}s restarting failed container={} pod={pod}",
                        delay.as_secs(),
                        self.spec.name
                    )),
                );
                self.backoff = Some((delay * 2).min(BACKOFF_MAX));
            }
        }
    }

    pub fn readiness(&mut self, instance: u64, ready: bool) {
        if instance == self.instance && self.is_running() {
            self.view.ready = ready;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(probe) = self.probe.take() {
            probe.abort();
        }
    }
}

/// Probes until aborted, reporting each change of the verdict.
async fn probe_loop(
    probe: k8s_openapi::api::core::v1::Probe,
    container: Container,
    pod_ip: Ipv4Addr,
    netns: Option<String>,
    events: mpsc::UnboundedSender<RunEvent>,
    index: usize,
    instance: u64,
) {
    let timing = Timing::of(&probe);
    tokio::time::sleep(timing.initial_delay).await;
    let netns = netns.unwrap_or_default();
    let (mut ready, mut ever_ready) = (false, false);
    let (mut successes, mut failures) = (0u32, 0u32);
    loop {
        let ok = probe::attempt(&probe, &container, pod_ip, &netns, timing.timeout)
            .await
            .is_ok();
        if ok {
            successes += 1;
            failures = 0;
        } else {
            failures += 1;
            successes = 0;
        }
        let verdict = if ready {
            failures < timing.failure_threshold
        } else {
            successes >= timing.success_threshold
        };
        if verdict != ready {
            ready = verdict;
            ever_ready |= ready;
            if events
                .send(RunEvent::Readiness {
                    index,
                    instance,
                    ready,
                })
                .is_err()
            {
                return;
            }
        }
        // Until the first success the kubelet would wait a whole period between attempts;
        // retrying sooner only shortens the time to Ready, never reports Ready early.
        let pause = if ever_ready {
            timing.period
        } else {
            timing.period.min(FIRST_READY_RETRY)
        };
        tokio::time::sleep(pause).await;
    }
}
