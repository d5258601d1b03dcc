//! Golden tests of the Kubernetes objects `--infra kubernetes` applies: each directory under
//! `tests/kubernetes/` holds an `input.yaml` (GatewayClasses, Gateways, GatewayParameters),
//! translated as the controller does (which resolves and merges the parameters), and the
//! `expected.yaml` every proxy's objects render to. Every bootstrap is also handed to
//! `envoy --mode validate`. `GATESIM_UPDATE_GOLDEN=1` rewrites the expectations.

use std::path::{Path, PathBuf};

use gatesim_reference::infra::kubernetes::render::{self, RenderOptions};
use gatesim_reference::infra::{envoy, ports};
use gatesim_reference::model::{ControllerConfig, ResourceSet};
use gatesim_reference::provider::file::load_dir;
use gatesim_reference::translate;
use serde_json::{Value, json};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubernetes");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/kubernetes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn options() -> RenderOptions {
    let options = RenderOptions::default();
    assert_eq!(
        (options.image.as_str(), options.port_offset),
        ("gatesim/envoy:1.40.0", ports::PRIVILEGED_PORT_OFFSET),
        "the golden files are written for the CLI's defaults"
    );
    options
}

/// Every Gateway's objects, as the provider would apply them, in Gateway order.
fn render_case(dir: &Path) -> (Value, Vec<String>) {
    let config = ControllerConfig {
        bind_any_address: true,
        port_offset: ports::PRIVILEGED_PORT_OFFSET,
        ..ControllerConfig::default()
    };
    let set: ResourceSet = load_dir(dir.join("input.yaml"), &config).unwrap_or_else(|e| {
        let list: Vec<String> = e.0.iter().map(ToString::to_string).collect();
        panic!("{}:\n{}", dir.display(), list.join("\n"))
    });
    let translation = translate::translate(&set);
    let options = RenderOptions {
        istio_integration: translate::parameters::istio_integration(&set),
        ..options()
    };
    let mut out = serde_json::Map::new();
    let mut bootstraps = Vec::new();
    for (key, proxy) in &translation.proxies {
        let gateway = &set.gateways[key];
        let rendered = render::render(gateway, proxy.parameters.as_ref(), &options)
            .unwrap_or_else(|e| panic!("{}: {key}: {e}", dir.display()));
        assert_eq!(
            rendered,
            render::render(gateway, proxy.parameters.as_ref(), &options).unwrap(),
            "{}: {key}: rendering is not deterministic",
            dir.display()
        );
        let value = match rendered {
            None => json!("selfManaged: nothing is deployed"),
            Some(o) => {
                let data = o.config_map.data.as_ref().expect("ConfigMap data");
                bootstraps.push(data["envoy.yaml"].clone());
                let mut objects = json!([o.service_account, o.config_map, o.deployment, o.service]);
                if let Some(ai) = o.ai_config_map {
                    objects.as_array_mut().expect("a list").push(json!(ai));
                }
                objects
            }
        };
        out.insert(key.to_string(), value);
    }
    (Value::Object(out), bootstraps)
}

#[test]
fn golden_kubernetes_objects() {
    let update = std::env::var_os("GATESIM_UPDATE_GOLDEN").is_some();
    let cases = cases();
    assert!(
        cases.len() >= 2,
        "expected golden cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for dir in &cases {
        let got = serde_yaml::to_string(&render_case(dir).0).expect("yaml");
        let path = dir.join("expected.yaml");
        if update {
            std::fs::write(&path, &got).expect("write expected.yaml");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != got {
            let line = expected
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(expected.lines().count().min(got.lines().count()));
            failures.push(format!(
                "{}: differs from expected.yaml at line {} (rerun with GATESIM_UPDATE_GOLDEN=1 \
                 and review the diff)\nexpected: {:?}\ngot:      {:?}",
                dir.display(),
                line + 1,
                expected.lines().nth(line),
                got.lines().nth(line)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The facts the golden files hold, said once more where a reader looks for them: what the
/// Deployment and Service of a merged GatewayParameters must carry.
#[test]
fn merged_parameters_reach_the_objects() {
    let dir = cases()
        .into_iter()
        .find(|d| d.ends_with("parameters"))
        .expect("tests/kubernetes/parameters");
    let (all, _) = render_case(&dir);
    let api = &all["shop/api"];
    let (deployment, service) = (&api[2], &api[3]);
    assert_eq!(deployment["spec"]["replicas"], 3, "the Gateway's replicas");
    let pod = &deployment["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["team"], "edge",
        "class label kept"
    );
    assert_eq!(
        pod["metadata"]["labels"]["tier"], "api",
        "Gateway label added"
    );
    assert_eq!(
        pod["metadata"]["labels"]["app.kubernetes.io/name"], "gatesim-proxy",
        "the selector label is never overridden"
    );
    let envoy = &pod["spec"]["containers"][0];
    assert_eq!(
        envoy["image"],
        "registry.example.com/proxies/envoy@sha256:0123456789abcdef"
    );
    let args: Vec<&str> = envoy["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["--log-level", "debug"]),
        "{args:?}"
    );
    assert!(
        args.windows(2)
            .any(|w| w == ["--component-log-level", "http:debug,upstream:trace"]),
        "{args:?}"
    );
    assert_eq!(envoy["readinessProbe"]["periodSeconds"], 7);
    assert_eq!(pod["spec"]["nodeSelector"]["kubernetes.io/os"], "linux");
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    assert_eq!(service["spec"]["externalTrafficPolicy"], "Local");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 18080);
    assert_eq!(
        deployment["metadata"]["ownerReferences"][0]["uid"],
        "66666666-7777-8888-9999-000000000000"
    );
    assert_eq!(
        all["shop/byo"], "selfManaged: nothing is deployed",
        "a self-managed Gateway gets no objects"
    );
    let class_only = &all["shop/class-only"];
    assert_eq!(class_only[2]["spec"]["replicas"], 2);
    assert_eq!(class_only[3]["spec"]["ports"][0]["nodePort"], 30080);
}

/// Envoy accepts every bootstrap the ConfigMaps carry.
#[test]
fn envoy_accepts_every_bootstrap() {
    let Some(envoy) = envoy::locate_or_skip("Kubernetes bootstraps through envoy --mode validate")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for dir in cases() {
        for (i, bootstrap) in render_case(&dir).1.into_iter().enumerate() {
            let path = work.path().join(format!("{i}.yaml"));
            std::fs::write(&path, &bootstrap).unwrap();
            let out = std::process::Command::new(&envoy)
                .args(["--mode", "validate", "-c"])
                .arg(&path)
                .output()
                .expect("envoy runs");
            assert!(
                out.status.success(),
                "{}: Envoy rejects bootstrap {i}:\n{}\n{bootstrap}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} bootstraps were validated");
}
