//! Says early when one of the suite's own pods cannot run. Upstream's tests wait minutes for
//! their namespaces to be ready before failing with "context deadline exceeded"; a pod that
//! crash-loops (as coredns once did on our node) made a CI run sit 30 minutes in timeouts
//! with nothing on the screen saying why.

use std::collections::HashSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::task::JoinHandle;

/// The namespaces the suite creates all start with this.
const SUITE_NAMESPACES: &str = "gateway-conformance";

/// Waiting reasons that mean the container will not start by itself.
const STUCK: &[&str] = &[
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerError",
    "CreateContainerConfigError",
    "RunContainerError",
];

/// Why `pod` will not become ready without help, if it will not: a container stuck in one of
/// the reasons above (a crash loop only after a few restarts), or Pending longer than
/// `patience`.
pub fn stuck(pod: &Pod, pending_for: Duration, patience: Duration) -> Option<String> {
    let status = pod.status.as_ref()?;
    for c in status.container_statuses.iter().flatten() {
        let Some(reason) = c
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref())
        else {
            continue;
        };
        if !STUCK.contains(&reason) || (reason == "CrashLoopBackOff" && c.restart_count < 3) {
            continue;
        }
        let exit = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| format!(", last exit code {}", t.exit_code))
            .unwrap_or_default();
        return Some(format!(
            "container {} {reason} after {} restarts{exit}",
            c.name, c.restart_count
        ));
    }
    (status.phase.as_deref() == Some("Pending") && pending_for >= patience)
        .then(|| format!("Pending for {}s", pending_for.as_secs()))
}

/// Polls the suite's pods every few seconds and calls `warn` once per stuck pod with a line
/// that names it and says why. Abort the handle when the suite ends.
pub fn spawn(client: kube::Client, warn: impl Fn(String) + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::all(client);
        let mut told = HashSet::new();
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let Ok(list) = pods.list(&ListParams::default()).await else {
                continue;
            };
            let now = jiff::Timestamp::now();
            for pod in list.items {
                let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                if !namespace.starts_with(SUITE_NAMESPACES) {
                    continue;
                }
                let name = format!(
                    "{namespace}/{}",
                    pod.metadata.name.clone().unwrap_or_default()
                );
                let age = pod
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .and_then(|t| now.duration_since(t.0).try_into().ok())
                    .unwrap_or_default();
                if let Some(why) = stuck(&pod, age, Duration::from_secs(120))
                    && told.insert(name.clone())
                {
                    warn(format!(
                        "pod {name} cannot run ({why}): the suite's tests wait for it and will \
                         time out; see `kubectl -n {namespace} describe pod` and the node's log"
                    ));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": status})).unwrap()
    }

    #[test]
    fn a_crash_loop_is_stuck_after_three_restarts_and_says_its_exit_code() {
        let looping = |restarts: i32| {
            pod(json!({"phase": "Running", "containerStatuses": [{
                "name": "coredns", "image": "i", "imageID": "", "ready": false,
                "restartCount": restarts,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 32}}
            }]}))
        };
        let patience = Duration::from_secs(120);
        assert_eq!(stuck(&looping(1), Duration::ZERO, patience), None);
        assert_eq!(
            stuck(&looping(7), Duration::ZERO, patience).as_deref(),
            Some("container coredns CrashLoopBackOff after 7 restarts, last exit code 32")
        );
    }

    #[test]
    fn pending_is_stuck_only_past_patience_and_running_never() {
        let patience = Duration::from_secs(120);
        let pending = pod(json!({"phase": "Pending"}));
        assert_eq!(stuck(&pending, Duration::from_secs(10), patience), None);
        assert_eq!(
            stuck(&pending, Duration::from_secs(130), patience).as_deref(),
            Some("Pending for 130s")
        );
        let running = pod(json!({"phase": "Running", "containerStatuses": [{
            "name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {}}
        }]}));
        assert_eq!(stuck(&running, Duration::from_secs(999), patience), None);
    }
}
