//! The real kubectl against simkube: apply (client- and server-side), get, patch, delete.
//! Skips loudly when kubectl is absent, unless `GATESIM_REQUIRE_ALL=1`.

mod common;

use std::path::{Path, PathBuf};

use common::{start, status};
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use serde_json::Value;

/// kubectl from `$KUBECTL`, `PATH` or `/usr/bin/kubectl`.
fn find_kubectl() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
    {
        return Some(p);
    }
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    });
    from_path.or_else(|| Some(PathBuf::from("/usr/bin/kubectl")).filter(|p| p.is_file()))
}

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    /// Runs kubectl; returns stdout, panicking with stderr on failure.
    async fn run(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .output()
            .await
            .expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: kc
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: kc
  labels:
    team: edge
spec:
  gatewayClassName: sim
  listeners:
  - name: http
    port: 80
    protocol: HTTP
  - name: other
    port: 8080
    protocol: HTTP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route
  namespace: kc
spec:
  parentRefs:
  - name: gw
  hostnames: ["a.example"]
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: kc
spec:
  ports:
  - port: 80
"#;

#[tokio::test]
async fn kubectl_apply_get_patch_delete() {
    let Some(bin) = find_kubectl() else {
        assert!(
            std::env::var("GATESIM_REQUIRE_ALL").as_deref() != Ok("1"),
            "kubectl not found (set KUBECTL or put it on PATH); GATESIM_REQUIRE_ALL=1 requires it"
        );
        eprintln!("SKIP: kubectl not found; kubectl_apply_get_patch_delete did not run");
        return;
    };
    let (server, client) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let kubectl = Kubectl {
        bin,
        kubeconfig,
        cache: dir.path().join("cache"),
    };

    // Client-side apply creates everything.
    let manifest = write(dir.path(), "m.yaml", MANIFEST);
    let out = kubectl.run(&["apply", "-f", &manifest]).await;
    assert!(
        out.contains("gateway.gateway.networking.k8s.io/gw created"),
        "{out}"
    );
    let gws: Api<Gateway> = Api::namespaced(client.clone(), "kc");
    assert_eq!(gws.get("gw").await.unwrap().spec.listeners.len(), 2);

    // get -o yaml, short names, and another served version.
    let yaml = kubectl
        .run(&["get", "gtw", "gw", "-n", "kc", "-o", "yaml"])
        .await;
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(doc["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(doc["spec"]["gatewayClassName"], "sim");
    assert_eq!(doc["metadata"]["labels"]["team"], "edge");
    let beta = kubectl
        .run(&[
            "get",
            "gateways.v1beta1.gateway.networking.k8s.io",
            "gw",
            "-n",
            "kc",
            "-o",
            "jsonpath={.apiVersion}",
        ])
        .await;
    assert_eq!(beta, "gateway.networking.k8s.io/v1beta1");
    let table = kubectl.run(&["get", "httproutes,svc", "-n", "kc"]).await;
    assert!(table.contains("route") && table.contains("echo"), "{table}");

    // Re-apply without a listener: kubectl's three-way merge removes it.
    let trimmed = MANIFEST.replace("  - name: other\n    port: 8080\n    protocol: HTTP\n", "");
    let out = kubectl
        .run(&["apply", "-f", &write(dir.path(), "m2.yaml", &trimmed)])
        .await;
    assert!(
        out.contains("gateway.gateway.networking.k8s.io/gw configured"),
        "{out}"
    );
    let gw = gws.get("gw").await.unwrap();
    assert_eq!(gw.spec.listeners.len(), 1);
    assert_eq!(gw.metadata.generation, Some(2));

    // Server-side apply and patches.
    let out = kubectl
        .run(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &manifest,
        ])
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(gws.get("gw").await.unwrap().spec.listeners.len(), 2);
    kubectl
        .run(&[
            "patch",
            "httproute",
            "route",
            "-n",
            "kc",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"hostnames":["b.example"]}}"#,
        ])
        .await;
    let routes: Api<HttpRoute> = Api::namespaced(client.clone(), "kc");
    assert_eq!(
        routes.get("route").await.unwrap().spec.hostnames,
        Some(vec!["b.example".to_string()])
    );
    kubectl
        .run(&["label", "svc", "echo", "-n", "kc", "tier=backend"])
        .await;
    let labelled = kubectl
        .run(&["get", "svc", "-n", "kc", "-l", "tier=backend", "-o", "name"])
        .await;
    assert_eq!(labelled.trim(), "service/echo");

    // Delete everything, namespace included (kubectl waits for the deletions).
    kubectl.run(&["delete", "-f", &manifest]).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert_eq!(status(namespaces.get("kc").await).reason, "NotFound");
    assert_eq!(status(routes.get("route").await).reason, "NotFound");
}

const UNKNOWN_FIELD: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: typo
  namespace: default
spec:
  hostnames: ["a.example"]
  rules:
  - matchez: []
    backendRefs:
    - name: svc
      port: 80
"#;

/// kubectl's own wording against a real cluster: its default (`--validate=strict`) refuses
/// an unknown field, `--validate=warn` stores the object without it and prints a warning.
#[tokio::test]
async fn kubectl_reports_unknown_fields_as_against_a_real_cluster() {
    let Some(bin) = find_kubectl() else {
        assert!(
            std::env::var("GATESIM_REQUIRE_ALL").as_deref() != Ok("1"),
            "kubectl not found (set KUBECTL or put it on PATH); GATESIM_REQUIRE_ALL=1 requires it"
        );
        eprintln!(
            "SKIP: kubectl not found; kubectl_reports_unknown_fields_as_against_a_real_cluster did not run"
        );
        return;
    };
    let (server, _client) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let manifest = write(dir.path(), "typo.yaml", UNKNOWN_FIELD);
    let run = |extra: &'static [&'static str]| {
        let (bin, kubeconfig, cache, manifest) = (
            bin.clone(),
            kubeconfig.clone(),
            dir.path().join("cache"),
            manifest.clone(),
        );
        async move {
            tokio::process::Command::new(&bin)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--cache-dir")
                .arg(&cache)
                .args(["apply", "-f", &manifest])
                .args(extra)
                .output()
                .await
                .expect("kubectl runs")
        }
    };
    let strict = run(&[]).await;
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        !strict.status.success(),
        "strict validation refuses: {stderr}"
    );
    assert!(
        stderr.contains(r#"Error from server (BadRequest): error when creating"#)
            && stderr.contains(r#"HTTPRoute in version "v1" cannot be handled as a HTTPRoute: strict decoding error: unknown field "spec.rules[0].matchez""#),
        "{stderr}"
    );
    let warn = run(&["--validate=warn"]).await;
    let stderr = String::from_utf8_lossy(&warn.stderr);
    assert!(warn.status.success(), "{stderr}");
    assert!(
        stderr.contains(r#"Warning: unknown field "spec.rules[0].matchez""#),
        "{stderr}"
    );
}
