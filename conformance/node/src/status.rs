//! A pod's status as the kubelet reports it, computed from what the node knows about its
//! containers: phase (the kubelet's rules), conditions with their transition times, pod and
//! host addresses, and one status per container.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How a container instance ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub container_id: String,
}

impl Ended {
    pub fn new(
        code: Option<i32>,
        signal: Option<i32>,
        started_at: Timestamp,
        container_id: String,
    ) -> Ended {
        // A process killed by a signal exits with 128 + the signal, as shells and the
        // container runtimes report it.
        let exit_code = code.unwrap_or_else(|| 128 + signal.unwrap_or(0));
        Ended {
            exit_code,
            signal,
            reason: if exit_code == 0 { "Completed" } else { "Error" }.to_owned(),
            message: None,
            started_at,
            finished_at: Timestamp::now(),
            container_id,
        }
    }
}

/// The state of one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
        container_id: String,
    },
    Terminated(Ended),
}

impl State {
    pub fn waiting(reason: &str, message: Option<String>) -> State {
        State::Waiting {
            reason: reason.to_owned(),
            message,
        }
    }

    fn to_api(&self) -> ContainerState {
        match self {
            State::Waiting { reason, message } => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: message.clone(),
                }),
                ..ContainerState::default()
            },
            State::Running { started_at, .. } => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(*started_at)),
                }),
                ..ContainerState::default()
            },
            State::Terminated(ended) => ContainerState {
                terminated: Some(terminated(ended)),
                ..ContainerState::default()
            },
        }
    }
}

fn terminated(ended: &Ended) -> ContainerStateTerminated {
    ContainerStateTerminated {
        container_id: Some(ended.container_id.clone()),
        exit_code: ended.exit_code,
        finished_at: Some(Time(ended.finished_at)),
        message: ended.message.clone(),
        reason: Some(ended.reason.clone()),
        signal: ended.signal,
        started_at: Some(Time(ended.started_at)),
    }
}

/// What the node knows of one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub state: State,
    pub last: Option<Ended>,
    pub restarts: i32,
    pub ready: bool,
}

impl ContainerView {
    fn to_api(&self) -> ContainerStatus {
        let container_id = match &self.state {
            State::Running { container_id, .. } => Some(container_id.clone()),
            State::Terminated(e) => Some(e.container_id.clone()),
            State::Waiting { .. } => None,
        };
        ContainerStatus {
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: self.image_id.clone(),
            container_id,
            ready: self.ready,
            started: Some(matches!(self.state, State::Running { .. })),
            restart_count: self.restarts,
            state: Some(self.state.to_api()),
            last_state: Some(match &self.last {
                Some(ended) => ContainerState {
                    terminated: Some(terminated(ended)),
                    ..ContainerState::default()
                },
                None => ContainerState::default(),
            }),
            ..ContainerStatus::default()
        }
    }
}

/// The whole pod as the node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    pub restart_policy: String,
    pub init: Vec<ContainerView>,
    pub initialized: bool,
    /// An init container failed and `restartPolicy: Never` forbids another try.
    pub init_failed: bool,
    pub sandbox_ready: bool,
    pub containers: Vec<ContainerView>,
    pub pod_ip: Option<Ipv4Addr>,
    pub host_ip: Ipv4Addr,
    pub start_time: Timestamp,
    /// Conditions the pod must also have True to be Ready (`spec.readinessGates`).
    pub readiness_gates: Vec<String>,
}

/// The kubelet's phase rules (`getPhase`): a container waiting for its first start keeps the
/// pod Pending; one waiting to restart counts as stopped.
pub fn phase(view: &PodView) -> &'static str {
    if view.init_failed {
        return "Failed";
    }
    if !view.initialized {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in &view.containers {
        match &c.state {
            State::Running { .. } => running += 1,
            State::Terminated(e) => {
                stopped += 1;
                if e.exit_code == 0 {
                    succeeded += 1;
                }
            }
            State::Waiting { .. } if c.last.is_some() => stopped += 1,
            State::Waiting { .. } => waiting += 1,
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        if view.restart_policy == "Always" {
            "Running"
        } else if stopped == succeeded {
            "Succeeded"
        } else if view.restart_policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else {
        "Pending"
    }
}

/// Condition types to (status, reason, message), before transition times.
fn conditions(
    view: &PodView,
    phase: &str,
    current: &Pod,
) -> Vec<(String, bool, Option<String>, Option<String>)> {
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let unready: Vec<&str> = view
        .containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let containers_ready = unready.is_empty() && !terminal;
    let not_ready = |reason: &str| {
        if terminal {
            (Some("PodCompleted".to_owned()), None)
        } else {
            (
                Some(reason.to_owned()),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            )
        }
    };
    let gates_open = view.readiness_gates.iter().all(|gate| {
        current
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| &c.type_ == gate && c.status == "True"))
    });
    let mut out = vec![("PodScheduled".to_owned(), true, None, None)];
    out.push((
        "PodReadyToStartContainers".to_owned(),
        view.sandbox_ready && !terminal,
        None,
        None,
    ));
    let uninitialized: Vec<&str> = view
        .init
        .iter()
        .filter(|c| !matches!(&c.state, State::Terminated(e) if e.exit_code == 0))
        .map(|c| c.name.as_str())
        .collect();
    out.push(if view.initialized || terminal {
        (
            "Initialized".to_owned(),
            true,
            terminal
                .then(|| "PodCompleted".to_owned())
                .filter(|_| !view.init.is_empty()),
            None,
        )
    } else {
        (
            "Initialized".to_owned(),
            false,
            Some("ContainersNotInitialized".to_owned()),
            Some(format!(
                "containers with incomplete status: [{}]",
                uninitialized.join(" ")
            )),
        )
    });
    let (reason, message) = if containers_ready {
        (None, None)
    } else {
        not_ready("ContainersNotReady")
    };
    out.push((
        "ContainersReady".to_owned(),
        containers_ready,
        reason,
        message,
    ));
    let ready = containers_ready && gates_open;
    let (reason, message) = if ready {
        (None, None)
    } else if containers_ready {
        (
            Some("ReadinessGatesNotReady".to_owned()),
            Some("the status of pod readiness gates is not \"True\"".to_owned()),
        )
    } else {
        not_ready("ContainersNotReady")
    };
    out.push(("Ready".to_owned(), ready, reason, message));
    out
}

/// The status to publish. Transition times are kept from `current` where the status of a
/// condition did not change; `now` stamps those that did.
pub fn pod_status(view: &PodView, current: &Pod, now: Timestamp) -> PodStatus {
    let phase = phase(view);
    let previous: BTreeMap<&str, &PodCondition> = current
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| (c.type_.as_str(), c))
        .collect();
    let mut conditions: Vec<PodCondition> = conditions(view, phase, current)
        .into_iter()
        .map(|(type_, status, reason, message)| {
            let status = if status { "True" } else { "False" }.to_owned();
            let since = previous
                .get(type_.as_str())
                .filter(|p| p.status == status)
                .and_then(|p| p.last_transition_time.clone())
                .unwrap_or(Time(now));
            PodCondition {
                type_,
                status,
                reason,
                message,
                last_transition_time: Some(since),
                ..PodCondition::default()
            }
        })
        .collect();
    // Conditions others own (readiness gates, DisruptionTarget) stay as they are.
    for (type_, condition) in &previous {
        if !conditions.iter().any(|c| c.type_ == *type_) {
            conditions.push((*condition).clone());
        }
    }
    let pod_ip = view.pod_ip.map(|ip| ip.to_string());
    PodStatus {
        phase: Some(phase.to_owned()),
        conditions: Some(conditions),
        host_ip: Some(view.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: view.host_ip.to_string(),
        }]),
        pod_ip: pod_ip.clone(),
        pod_ips: pod_ip.map(|ip| vec![PodIP { ip }]),
        start_time: Some(Time(view.start_time)),
        init_container_statuses: (!view.init.is_empty())
            .then(|| view.init.iter().map(ContainerView::to_api).collect()),
        container_statuses: Some(view.containers.iter().map(ContainerView::to_api).collect()),
        ..PodStatus::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, state: State, last: Option<Ended>, ready: bool) -> ContainerView {
        ContainerView {
            name: name.into(),
            image: "img".into(),
            image_id: "id".into(),
            state,
            last,
            restarts: 0,
            ready,
        }
    }

    fn running() -> State {
        State::Running {
            started_at: Timestamp::UNIX_EPOCH,
            container_id: "gatesim://1".into(),
        }
    }

    fn ended(code: i32) -> Ended {
        Ended::new(
            Some(code),
            None,
            Timestamp::UNIX_EPOCH,
            "gatesim://1".into(),
        )
    }

    fn view(policy: &str, containers: Vec<ContainerView>) -> PodView {
        PodView {
            restart_policy: policy.into(),
            init: vec![],
            initialized: true,
            init_failed: false,
            sandbox_ready: true,
            containers,
            pod_ip: Some(Ipv4Addr::new(10, 213, 0, 2)),
            host_ip: Ipv4Addr::new(10, 213, 0, 1),
            start_time: Timestamp::UNIX_EPOCH,
            readiness_gates: vec![],
        }
    }

    #[test]
    fn phases_follow_the_kubelet() {
        let waiting = State::waiting("ErrImagePull", None);
        assert_eq!(
            phase(&view(
                "Always",
                vec![container("a", waiting.clone(), None, false)]
            )),
            "Pending"
        );
        assert_eq!(
            phase(&view("Always", vec![container("a", running(), None, true)])),
            "Running"
        );
        // Waiting to restart counts as stopped, and Always keeps the pod Running.
        assert_eq!(
            phase(&view(
                "Always",
                vec![container(
                    "a",
                    State::waiting("CrashLoopBackOff", None),
                    Some(ended(1)),
                    false
                )]
            )),
            "Running"
        );
        assert_eq!(
            phase(&view(
                "Never",
                vec![container("a", State::Terminated(ended(0)), None, false)]
            )),
            "Succeeded"
        );
        assert_eq!(
            phase(&view(
                "Never",
                vec![
                    container("a", State::Terminated(ended(0)), None, false),
                    container("b", State::Terminated(ended(2)), None, false),
                ]
            )),
            "Failed"
        );
        assert_eq!(
            phase(&view(
                "OnFailure",
                vec![container("a", State::Terminated(ended(2)), None, false)]
            )),
            "Running"
        );
        let mut v = view("Always", vec![container("a", running(), None, true)]);
        v.initialized = false;
        assert_eq!(phase(&v), "Pending");
    }

    #[test]
    fn ready_needs_every_container_ready_and_keeps_transition_times() {
        let now = Timestamp::from_second(1_000).unwrap();
        let v = view(
            "Always",
            vec![
                container("a", running(), None, true),
                container("b", running(), None, false),
            ],
        );
        let status = pod_status(&v, &Pod::default(), now);
        let cond = |s: &PodStatus, t: &str| {
            s.conditions
                .as_ref()
                .unwrap()
                .iter()
                .find(|c| c.type_ == t)
                .cloned()
                .unwrap()
        };
        assert_eq!(cond(&status, "Ready").status, "False");
        assert_eq!(
            cond(&status, "Ready").message.as_deref(),
            Some("containers with unready status: [b]")
        );
        assert_eq!(cond(&status, "PodScheduled").status, "True");
        assert_eq!(status.pod_ips.as_ref().unwrap()[0].ip, "10.213.0.2");

        let current = Pod {
            status: Some(status),
            ..Pod::default()
        };
        let later = Timestamp::from_second(2_000).unwrap();
        let v = view(
            "Always",
            vec![
                container("a", running(), None, true),
                container("b", running(), None, true),
            ],
        );
        let next = pod_status(&v, &current, later);
        assert_eq!(cond(&next, "Ready").status, "True");
        assert_eq!(cond(&next, "Ready").last_transition_time, Some(Time(later)));
        assert_eq!(
            cond(&next, "PodScheduled").last_transition_time,
            Some(Time(now))
        );
    }

    #[test]
    fn readiness_gates_hold_ready_back() {
        let mut v = view("Always", vec![container("a", running(), None, true)]);
        v.readiness_gates = vec!["example.com/gate".into()];
        let status = pod_status(&v, &Pod::default(), Timestamp::UNIX_EPOCH);
        let ready = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("ReadinessGatesNotReady"))
        );
    }

    #[test]
    fn signals_become_exit_codes_above_128() {
        let e = Ended::new(None, Some(15), Timestamp::UNIX_EPOCH, String::new());
        assert_eq!((e.exit_code, e.reason.as_str()), (143, "Error"));
    }
}
