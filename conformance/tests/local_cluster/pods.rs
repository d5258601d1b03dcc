//! The simulated node under the real control plane.

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;

use crate::support::{
    Cluster, check, condition, echo_pod, eventually, is_ready, pod_ip, unreachable, who_answers,
};

const READY: Duration = Duration::from_secs(60);

fn container_status(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// Created, bound, Running and Ready with an address of the node's subnet, answering there
/// under its own name; deleted, it is gone and so is its address.
pub fn pod_lifecycle(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-lifecycle").await?;
        cluster.create_pod(&ns, echo_pod("web", 3000)).await?;
        let pod = cluster
            .wait_pod(&ns, "web", READY, "Ready", is_ready)
            .await?;
        let status = pod.status.as_ref().ok_or("no status")?;
        let plan = cluster.plan();
        let ip = pod_ip(&pod)?;
        check(ip.octets()[..3] == plan.gateway().octets()[..3], || {
            format!("pod IP {ip} is outside {}", plan.pod_subnet())
        })?;
        check(
            status.host_ip.as_deref() == Some(&plan.gateway().to_string()),
            || format!("hostIP {:?}", status.host_ip),
        )?;
        check(phase(&pod) == "Running", || {
            format!("phase {}", phase(&pod))
        })?;
        check(status.start_time.is_some(), || "no startTime".into())?;
        for c in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
            check(condition(&pod, c) == Some("True"), || {
                format!("condition {c}: {:?}", condition(&pod, c))
            })?;
        }
        check(
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
                == Some(cluster.state.node_name.as_str()),
            || "not bound to the node".into(),
        )?;
        let c = container_status(&pod).ok_or("no container status")?;
        check(
            c.ready && c.started == Some(true) && c.restart_count == 0,
            || format!("{c:?}"),
        )?;
        check(
            c.state.as_ref().and_then(|s| s.running.as_ref()).is_some(),
            || format!("not running: {c:?}"),
        )?;
        let addr = SocketAddr::from((ip, 3000));
        let answered = who_answers(addr).await?;
        check(answered == "web", || {
            format!("{addr} answered as {answered:?}")
        })?;

        cluster.delete_pod(&ns, "web", None).await?;
        cluster.wait_pod_gone(&ns, "web", READY).await?;
        check(unreachable(addr).await, || {
            format!("{addr} still answers after deletion")
        })
    })
}

/// Deletion sends SIGTERM first (a trap sees it) and SIGKILL after the grace period (a
/// process ignoring SIGTERM still goes).
pub fn graceful_deletion(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-grace").await?;
        let out = tempfile::tempdir().map_err(|e| e.to_string())?;
        let shell = |name: &str, script: &str, grace: u32| {
            json!({
                "metadata": {"name": name},
                "spec": {
                    "terminationGracePeriodSeconds": grace,
                    "containers": [{"name": "sh", "image": "busybox:1.36", "command": ["sh", "-c", script],
                                    "volumeMounts": [{"name": "out", "mountPath": "/out"}]}],
                    "volumes": [{"name": "out", "hostPath": {"path": out.path().to_string_lossy()}}],
                },
            })
        };
        cluster
            .create_pod(&ns, shell("polite", "trap 'echo got-term > /out/term; exit 0' TERM; echo up > /out/up; while true; do sleep 0.1; done", 30))
            .await?;
        cluster
            .create_pod(&ns, shell("stubborn", "trap '' TERM; echo up > /out/stubborn; while true; do sleep 0.1; done", 2))
            .await?;
        for name in ["polite", "stubborn"] {
            cluster.wait_pod(&ns, name, READY, "Ready", is_ready).await?;
        }
        // The shells are in their loops once they wrote their marker.
        eventually(READY, || async {
            check(out.path().join("up").exists() && out.path().join("stubborn").exists(), || "markers missing".into())
        })
        .await?;
        cluster.delete_pod(&ns, "polite", None).await?;
        cluster.delete_pod(&ns, "stubborn", None).await?;
        // Well inside the polite pod's 30 s: it went because it handled SIGTERM.
        cluster.wait_pod_gone(&ns, "polite", Duration::from_secs(20)).await?;
        let term = std::fs::read_to_string(out.path().join("term")).unwrap_or_default();
        check(term.trim() == "got-term", || format!("the trap did not run: {term:?}"))?;
        cluster.wait_pod_gone(&ns, "stubborn", Duration::from_secs(30)).await
    })
}

/// Deleting a namespace takes its Deployment's pods (and their processes) with it.
pub fn namespace_deletion(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-nsdelete").await?;
        let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns);
        let template = echo_pod("replica", 3000);
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "replica"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "replica"}},
                "template": {"metadata": template["metadata"], "spec": template["spec"]},
            },
        }))
        .map_err(|e| e.to_string())?;
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .map_err(|e| e.to_string())?;
        let pods = cluster.pods(&ns);
        let running = eventually(READY, || async {
            let list = pods
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let ready: Vec<Pod> = list.items.into_iter().filter(is_ready).collect();
            check(ready.len() == 2, || {
                format!("{} of 2 replicas Ready", ready.len())
            })?;
            Ok(ready)
        })
        .await?;
        let mut addrs = Vec::new();
        for pod in &running {
            let addr = SocketAddr::from((pod_ip(pod)?, 3000));
            let name = pod.metadata.name.clone().unwrap_or_default();
            let answered = who_answers(addr).await?;
            check(answered == name, || {
                format!("{addr} answered as {answered}, not {name}")
            })?;
            addrs.push(addr);
        }
        cluster.delete_namespace(&ns).await?;
        let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
        eventually(Duration::from_secs(120), || async {
            let left = namespaces.get_opt(&ns).await.map_err(|e| e.to_string())?;
            check(left.is_none(), || format!("namespace {ns} still exists"))
        })
        .await?;
        for addr in addrs {
            check(unreachable(addr).await, || {
                format!("{addr} still answers after its namespace went")
            })?;
        }
        Ok(())
    })
}

/// Env from values, the downward API, Secrets and ConfigMaps (and envFrom), and Secret and
/// ConfigMap volumes with `items`, each pod seeing its own files at the same mountPath.
pub fn env_and_volumes(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-config").await?;
        let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &ns);
        let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
        for (name, crt) in [("cert-a", "CERT-A"), ("cert-b", "CERT-B")] {
            let secret: Secret = serde_json::from_value(json!({
                "metadata": {"name": name},
                "stringData": {"tls.crt": crt, "tls.key": format!("KEY-{crt}"), "token": format!("token-{name}")},
            }))
            .map_err(|e| e.to_string())?;
            secrets.create(&PostParams::default(), &secret).await.map_err(|e| e.to_string())?;
        }
        let map: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "settings"},
            "data": {"MODE": "fast", "Corefile": ".:53 { whoami }"},
        }))
        .map_err(|e| e.to_string())?;
        maps.create(&PostParams::default(), &map).await.map_err(|e| e.to_string())?;

        let outs = [tempfile::tempdir().map_err(|e| e.to_string())?, tempfile::tempdir().map_err(|e| e.to_string())?];
        let script = "env > /out/env; cat /etc/secret-volume/crt > /out/crt; \
                      cat /etc/secret-volume/key > /out/key; ls /etc/secret-volume > /out/listing; \
                      cat /root/Corefile > /out/corefile; echo done > /out/done; sleep 3600";
        for ((pod, secret), out) in [("reader-a", "cert-a"), ("reader-b", "cert-b")].into_iter().zip(&outs) {
            cluster
                .create_pod(&ns, json!({
                    "metadata": {"name": pod, "labels": {"app": "reader", "tier": pod}},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{
                            "name": "sh",
                            "image": "busybox:1.36",
                            "command": ["sh", "-c", script],
                            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
                            "env": [
                                {"name": "PLAIN", "value": "hello"},
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                                {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                                {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
                                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}}},
                                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
                                {"name": "URL", "value": "http://$(POD_IP):3000"},
                            ],
                            "volumeMounts": [
                                {"name": "secret-volume", "mountPath": "/etc/secret-volume", "readOnly": true},
                                {"name": "config", "mountPath": "/root"},
                                {"name": "out", "mountPath": "/out"},
                            ],
                        }],
                        "volumes": [
                            {"name": "secret-volume", "secret": {"secretName": secret, "items": [
                                {"key": "tls.crt", "path": "crt"}, {"key": "tls.key", "path": "key"}]}},
                            {"name": "config", "configMap": {"name": "settings"}},
                            {"name": "out", "hostPath": {"path": out.path().to_string_lossy()}},
                        ],
                    },
                }))
                .await?;
        }
        for (pod, out) in ["reader-a", "reader-b"].into_iter().zip(&outs) {
            let running = cluster.wait_pod(&ns, pod, READY, "Ready", is_ready).await?;
            eventually(READY, || async { check(out.path().join("done").exists(), || "no /out/done yet".into()) }).await?;
            let read = |f: &str| std::fs::read_to_string(out.path().join(f)).unwrap_or_default();
            let env: std::collections::BTreeMap<String, String> = read("env")
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let ip = pod_ip(&running)?.to_string();
            let uid = running.metadata.uid.clone().unwrap_or_default();
            let secret = if pod == "reader-a" { "cert-a" } else { "cert-b" };
            let expected = [
                ("PLAIN", "hello".to_owned()),
                ("POD_NAME", pod.to_owned()),
                ("NAMESPACE", ns.clone()),
                ("POD_UID", uid),
                ("TIER", pod.to_owned()),
                ("POD_IP", ip.clone()),
                ("NODE", cluster.state.node_name.clone()),
                ("TOKEN", format!("token-{secret}")),
                ("MODE", "fast".to_owned()),
                ("CFG_MODE", "fast".to_owned()),
                ("URL", format!("http://{ip}:3000")),
                ("HOSTNAME", pod.to_owned()),
            ];
            for (name, value) in expected {
                check(env.get(name) == Some(&value), || format!("{pod}: {name}={:?}, expected {value:?}", env.get(name)))?;
            }
            let crt = if pod == "reader-a" { "CERT-A" } else { "CERT-B" };
            check(read("crt") == crt, || format!("{pod}: /etc/secret-volume/crt is {:?}", read("crt")))?;
            check(read("key") == format!("KEY-{crt}"), || format!("{pod}: key {:?}", read("key")))?;
            check(read("listing").split_whitespace().collect::<Vec<_>>() == ["crt", "key"], || {
                format!("{pod}: only the listed items belong in the volume: {:?}", read("listing"))
            })?;
            check(read("corefile") == ".:53 { whoami }", || format!("{pod}: /root/Corefile {:?}", read("corefile")))?;
        }
        // The mounts are the pods' own: the host sees no certificate there.
        let host_view = std::fs::read_dir("/etc/secret-volume").map(|d| d.count()).unwrap_or(0);
        check(host_view == 0, || format!("/etc/secret-volume on the host holds {host_view} entries"))?;
        cluster.delete_namespace(&ns).await
    })
}

/// Each pod is reachable at its own address only: not at another pod's, not on the host's
/// loopback.
pub fn network_isolation(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-isolation").await?;
        cluster.create_pod(&ns, echo_pod("alpha", 3100)).await?;
        cluster.create_pod(&ns, echo_pod("beta", 3101)).await?;
        let alpha = cluster
            .wait_pod(&ns, "alpha", READY, "Ready", is_ready)
            .await?;
        let beta = cluster
            .wait_pod(&ns, "beta", READY, "Ready", is_ready)
            .await?;
        let (a, b) = (pod_ip(&alpha)?, pod_ip(&beta)?);
        check(a != b, || format!("both pods have {a}"))?;
        let answered = who_answers(SocketAddr::from((a, 3100))).await?;
        check(answered == "alpha", || {
            format!("{a}:3100 answered as {answered}")
        })?;
        let answered = who_answers(SocketAddr::from((b, 3101))).await?;
        check(answered == "beta", || {
            format!("{b}:3101 answered as {answered}")
        })?;
        for addr in [
            SocketAddr::from((a, 3101)),
            SocketAddr::from((b, 3100)),
            SocketAddr::from(([127, 0, 0, 1], 3100)),
            SocketAddr::from(([127, 0, 0, 1], 3101)),
        ] {
            check(unreachable(addr).await, || {
                format!("{addr} answers: the pods are not isolated")
            })?;
        }
        cluster.delete_namespace(&ns).await
    })
}

/// An image the node cannot map leaves the pod Pending with ErrImagePull, naming the known
/// images, and an Event says so.
pub fn unknown_image(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-image").await?;
        cluster
            .create_pod(&ns, json!({"metadata": {"name": "nginx"}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}))
            .await?;
        let pod = cluster
            .wait_pod(&ns, "nginx", READY, "waiting with ErrImagePull", |p| {
                container_status(p)
                    .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
                    .as_deref()
                    == Some("ErrImagePull")
            })
            .await?;
        check(phase(&pod) == "Pending", || format!("phase {}", phase(&pod)))?;
        let message = container_status(&pod)
            .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.message.clone())
            .unwrap_or_default();
        check(message.contains("not mapped") && message.contains("registry.k8s.io/gateway-api/echo-basic"), || {
            format!("the message should say it is not mapped and name the known images: {message}")
        })?;
        let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(cluster.client.clone(), &ns);
        eventually(READY, || async {
            let list = events.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
            let found = list.items.iter().any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("nginx")
                    && e.note.as_deref().is_some_and(|n| n.contains("not mapped"))
            });
            check(found, || format!("no event about the unmapped image among {} events", list.items.len()))
        })
        .await?;
        cluster.delete_namespace(&ns).await
    })
}

/// Always restarts (counting, keeping the last exit), Never ends in Succeeded or Failed.
pub fn restart_policy(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-restart").await?;
        let pod = |name: &str, policy: &str, code: u8| {
            json!({"metadata": {"name": name}, "spec": {"restartPolicy": policy, "containers": [
                {"name": "sh", "image": "busybox:1.36", "command": ["sh", "-c", format!("exit {code}")]}]}})
        };
        cluster.create_pod(&ns, pod("crasher", "Always", 3)).await?;
        cluster.create_pod(&ns, pod("done", "Never", 0)).await?;
        cluster.create_pod(&ns, pod("broken", "Never", 2)).await?;
        let crasher = cluster
            .wait_pod(&ns, "crasher", READY, "restarted", |p| container_status(p).is_some_and(|c| c.restart_count >= 1))
            .await?;
        let last = container_status(&crasher)
            .and_then(|c| c.last_state.as_ref()?.terminated.as_ref())
            .map(|t| t.exit_code);
        check(last == Some(3), || format!("lastState.terminated.exitCode {last:?}"))?;
        check(phase(&crasher) == "Running", || format!("a restarting pod is Running, not {}", phase(&crasher)))?;
        cluster.wait_pod(&ns, "done", READY, "Succeeded", |p| phase(p) == "Succeeded").await?;
        let broken = cluster.wait_pod(&ns, "broken", READY, "Failed", |p| phase(p) == "Failed").await?;
        let code = container_status(&broken)
            .and_then(|c| c.state.as_ref()?.terminated.as_ref())
            .map(|t| t.exit_code);
        check(code == Some(2), || format!("terminated exit code {code:?}"))?;
        cluster.delete_namespace(&ns).await
    })
}

/// A readiness probe decides Ready: one that succeeds makes the pod Ready, one that cannot
/// succeed keeps a Running pod unready.
pub fn readiness_probe(cluster: &Cluster) -> Result<(), String> {
    cluster.block_on(async {
        let ns = cluster.namespace("t-probe").await?;
        let mut good = echo_pod("probed", 3000);
        good["spec"]["containers"][0]["readinessProbe"] =
            json!({"httpGet": {"path": "/", "port": 3000}, "periodSeconds": 1});
        let mut bad = echo_pod("unready", 3000);
        bad["spec"]["containers"][0]["readinessProbe"] =
            json!({"tcpSocket": {"port": 4999}, "periodSeconds": 1});
        cluster.create_pod(&ns, good).await?;
        cluster.create_pod(&ns, bad).await?;
        cluster
            .wait_pod(&ns, "probed", READY, "Ready", is_ready)
            .await?;
        // Serving already (its own reply proves it), yet its probe fails: Running, not Ready.
        let unready = cluster
            .wait_pod(&ns, "unready", READY, "Running", |p| phase(p) == "Running")
            .await?;
        let answered = who_answers(SocketAddr::from((pod_ip(&unready)?, 3000))).await?;
        check(answered == "unready", || format!("answered as {answered}"))?;
        let unready = cluster
            .wait_pod(&ns, "unready", READY, "Running", |p| phase(p) == "Running")
            .await?;
        check(
            condition(&unready, "ContainersReady") == Some("False"),
            || {
                format!(
                    "ContainersReady {:?} with a failing probe",
                    condition(&unready, "ContainersReady")
                )
            },
        )?;
        cluster.delete_namespace(&ns).await
    })
}
