//! `gatesim run --target kind` around the `kind` CLI. No kind cluster can run here, so a fake
//! `kind` on PATH records the commands the target issues (and writes a kubeconfig for a
//! server that is not there, so that installing fails at the first kubectl step, as it
//! would on a cluster that died). The cluster configurations in kind-config/ are checked
//! against kind's v1alpha4 schema rules.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// A directory holding a `kind` that appends its arguments to `calls.log`, lists the
/// clusters named in `clusters` for `get clusters`, and writes a kubeconfig for `export`.
fn fake_kind(dir: &Path, existing: &[&str]) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(dir.join("clusters"), existing.join("\n")).unwrap();
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> "{log}"
case "$1 $2" in
  "get clusters") cat "{clusters}" ;;
  "export kubeconfig")
    while [ $# -gt 0 ]; do [ "$1" = --kubeconfig ] && out=$2; shift; done
    cat > "$out" <<EOF
apiVersion: v1
kind: Config
clusters: [{{name: k, cluster: {{server: "http://127.0.0.1:9"}}}}]
users: [{{name: k, user: {{}}}}]
contexts: [{{name: k, context: {{cluster: k, user: k}}}}]
current-context: k
EOF
    ;;
esac
"#,
        log = dir.join("calls.log").display(),
        clusters = dir.join("clusters").display(),
    );
    let kind = bin.join("kind");
    std::fs::write(&kind, script).unwrap();
    Command::new("chmod").arg("+x").arg(&kind).status().unwrap();
    bin
}

/// Runs `gatesim run --target kind ARGS` with the fake kind first on PATH; returns the
/// recorded kind calls and gatesim's output.
fn run_kind(dir: &Path, existing: &[&str], args: &[&str]) -> (Vec<String>, String, bool) {
    let bin = fake_kind(dir, existing);
    // A CRD file of our own: nothing is fetched from the internet.
    let crds = dir.join("crds.yaml");
    std::fs::write(&crds, "# no CRDs\n").unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gatesim"))
        .args(["run", "--target", "kind", "--gateway-api-crds"])
        .arg(&crds)
        .args(args)
        .env("PATH", path)
        .env("TMPDIR", dir)
        .output()
        .expect("gatesim runs");
    let calls = std::fs::read_to_string(dir.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (calls, text, out.status.success())
}

fn images() -> String {
    let v = env!("CARGO_PKG_VERSION");
    format!("gatesim/controller:{v} gatesim/echo:{v} gatesim/envoy:1.40.0")
}

#[test]
fn a_new_cluster_is_created_loaded_and_deleted_when_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let config = root().join("kind-config/multi-node.yaml");
    let (calls, text, ok) = run_kind(
        dir.path(),
        &["someone-elses"],
        &[
            "--kind-config",
            config.to_str().unwrap(),
            "--cluster-name",
            "gs-test",
        ],
    );
    assert!(!ok, "installing against a dead API server fails:\n{text}");
    assert!(
        text.contains("installing gatesim into the kind cluster"),
        "{text}"
    );
    assert_eq!(calls.len(), 5, "{calls:#?}");
    assert_eq!(calls[0], "get clusters");
    assert_eq!(
        calls[1],
        format!(
            "create cluster --name gs-test --config {} --wait 180s",
            config.display()
        )
    );
    assert!(
        calls[2].starts_with("export kubeconfig --name gs-test --kubeconfig ")
            && calls[2].ends_with("kind-gs-test.kubeconfig"),
        "{}",
        calls[2]
    );
    assert_eq!(
        calls[3],
        format!("load docker-image --name gs-test {}", images())
    );
    assert_eq!(calls[4], "delete cluster --name gs-test");
}

#[test]
fn keep_leaves_a_created_cluster_running() {
    let dir = tempfile::tempdir().unwrap();
    let (calls, text, ok) = run_kind(dir.path(), &[], &["--keep"]);
    assert!(!ok, "{text}");
    let default_config = root().join("kind-config/single-node.yaml");
    assert_eq!(
        calls[1],
        format!(
            "create cluster --name gatesim --config {} --wait 180s",
            default_config.display()
        )
    );
    assert!(
        !calls.iter().any(|c| c.starts_with("delete")),
        "--keep: {calls:#?}"
    );
}

#[test]
fn an_existing_cluster_is_reused_and_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (calls, text, ok) = run_kind(dir.path(), &["other", "mine"], &["--cluster-name", "mine"]);
    assert!(!ok, "{text}");
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert_eq!(calls[0], "get clusters");
    assert!(
        calls[1].starts_with("export kubeconfig --name mine "),
        "{calls:#?}"
    );
    assert_eq!(
        calls[2],
        format!("load docker-image --name mine {}", images())
    );
}

/// kind's v1alpha4 rules for what we use: the header, node roles, one control plane, and
/// port mappings that are valid, distinct and bound to loopback only.
#[test]
fn kind_configs_follow_the_v1alpha4_schema() {
    let dir = root().join("kind-config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let at = path.display();
        assert_eq!(doc["kind"], "Cluster", "{at}");
        assert_eq!(doc["apiVersion"], "kind.x-k8s.io/v1alpha4", "{at}");
        let nodes = doc["nodes"].as_sequence().expect("nodes");
        let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
        assert!(
            roles
                .iter()
                .all(|r| matches!(*r, "control-plane" | "worker")),
            "{at}: {roles:?}"
        );
        assert_eq!(
            roles.iter().filter(|r| **r == "control-plane").count(),
            1,
            "{at}"
        );
        let mut host_ports = Vec::new();
        for node in nodes {
            let mapping = node.as_mapping().unwrap();
            for key in mapping.keys() {
                assert!(
                    matches!(
                        key.as_str(),
                        Some("role" | "extraPortMappings" | "image" | "labels")
                    ),
                    "{at}: unknown node field {key:?}"
                );
            }
            for m in node["extraPortMappings"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                let port = |k: &str| m[k].as_u64().unwrap_or(0);
                assert!((1..=65535).contains(&port("containerPort")), "{at}: {m:?}");
                assert!((1..=65535).contains(&port("hostPort")), "{at}: {m:?}");
                assert_eq!(m["listenAddress"], "127.0.0.1", "{at}: loopback only");
                assert!(matches!(
                    m["protocol"].as_str(),
                    Some("TCP" | "UDP" | "SCTP")
                ));
                host_ports.push(port("hostPort"));
            }
        }
        let unique: std::collections::BTreeSet<_> = host_ports.iter().collect();
        assert_eq!(unique.len(), host_ports.len(), "{at}: host ports repeat");
        checked += 1;
    }
    assert!(checked >= 2, "single-node and multi-node are there");
}
