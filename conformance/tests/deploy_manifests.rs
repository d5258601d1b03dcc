//! The installation manifests in deploy/: kubectl accepts them (`apply -k --dry-run=client`
//! against simkube, which serves every kind they hold), the RBAC grants exactly what the
//! controller's Kubernetes provider watches and the status writer patches, and the
//! Deployment runs the image ci/images builds, locked down.
//! Skips loudly without kubectl, unless `GATESIM_REQUIRE_ALL=1`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gatesim_reference::model::{KindVisitorMut, StoredKind, visit_all_kinds};
use serde_yaml::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("deploy")
}

/// Every document of every manifest kustomization.yaml lists.
fn documents() -> Vec<Value> {
    let dir = deploy_dir();
    let kustomization: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let mut docs = Vec::new();
    for file in kustomization["resources"].as_sequence().unwrap() {
        let text = std::fs::read_to_string(dir.join(file.as_str().unwrap())).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            docs.push(<Value as serde::Deserialize>::deserialize(doc).unwrap());
        }
    }
    docs
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/"))
}

fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn kubectl_accepts_the_manifests() {
    let Some(kubectl) = kubectl() else {
        assert!(
            std::env::var("GATESIM_REQUIRE_ALL").as_deref() != Ok("1"),
            "kubectl not found on PATH; GATESIM_REQUIRE_ALL=1 requires it"
        );
        eprintln!("SKIP: kubectl not found; deploy/ was not validated with kubectl");
        return;
    };
    let server = gatesim_simkube::SimKube::start(gatesim_simkube::Config::default())
        .await
        .expect("simkube starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let out = tokio::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .args(["apply", "--dry-run=client", "-k"])
        .arg(deploy_dir())
        .output()
        .await
        .expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl apply --dry-run=client -k deploy/ failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for object in [
        "namespace/gatesim-system",
        "serviceaccount/gatesim-controller",
        "clusterrole.rbac.authorization.k8s.io/gatesim-controller",
        "clusterrolebinding.rbac.authorization.k8s.io/gatesim-controller",
        "deployment.apps/gatesim-controller",
        "service/gatesim-xds",
        "gatewayclass.gateway.networking.k8s.io/gatesim",
        "gatewayparameters.gateway.gloo.solo.io/gatesim",
    ] {
        assert!(stdout.contains(object), "{object} missing from:\n{stdout}");
    }
}

/// `(group, plural)` of every kind the Kubernetes provider watches.
struct Watched(BTreeSet<(String, String)>);

impl KindVisitorMut for Watched {
    fn visit<K: StoredKind>(&mut self) {
        self.0
            .insert((K::group(&()).into_owned(), K::plural(&()).into_owned()));
    }
}

/// `(group, resource)` pairs a ClusterRole grants `verb` on.
fn granted(role: &Value, verb: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_sequence().unwrap() {
        let verbs: Vec<&str> = rule["verbs"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if !verbs.contains(&verb) {
            continue;
        }
        for group in rule["apiGroups"].as_sequence().unwrap() {
            for resource in rule["resources"].as_sequence().unwrap() {
                out.insert((
                    group.as_str().unwrap().to_owned(),
                    resource.as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    out
}

/// `(group, plural)` of the CRDs in reference/crds/ whose status is a PolicyStatus.
fn policy_kinds() -> BTreeSet<(String, String)> {
    let dir = deploy_dir()
        .parent()
        .expect("the workspace root")
        .join("reference/crds");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("reference/crds/") {
        let crd: Value =
            serde_yaml::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        let spec = &crd["spec"];
        let ancestors = spec["versions"].as_sequence().unwrap().iter().any(|v| {
            !v["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["ancestors"]
                .is_null()
        });
        if ancestors {
            out.insert((
                spec["group"].as_str().unwrap().to_owned(),
                spec["names"]["plural"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn rbac_grants_what_the_provider_reads_and_the_status_writer_patches() {
    let docs = documents();
    let role = find(&docs, "ClusterRole", "gatesim-controller");
    let mut watched = Watched(BTreeSet::new());
    visit_all_kinds(&mut watched);
    for verb in ["get", "list", "watch"] {
        assert_eq!(
            granted(role, verb),
            watched.0,
            "{verb}: exactly the watched kinds"
        );
    }
    // Status is written for the Gateway API kinds that have one, and for the K8sGateway kinds
    // whose CRD (reference/crds/) carries Gateway API's PolicyStatus (`status.ancestors`).
    let policies = policy_kinds();
    assert!(!policies.is_empty(), "reference/crds/ holds policy kinds");
    let with_status: BTreeSet<(String, String)> = watched
        .0
        .iter()
        .filter(|(group, plural)| {
            (group == "gateway.networking.k8s.io" && plural != "referencegrants")
                || policies.contains(&(group.clone(), plural.clone()))
        })
        .map(|(g, p)| (g.clone(), format!("{p}/status")))
        .collect();
    assert_eq!(granted(role, "patch"), with_status);
    for verb in [
        "create",
        "update",
        "delete",
        "deletecollection",
        "escalate",
        "bind",
        "*",
    ] {
        assert!(
            granted(role, verb).is_empty(),
            "the provider never does {verb}"
        );
    }
    let secrets = ("".to_owned(), "secrets".to_owned());
    assert!(
        !granted(
            find(&docs, "ClusterRole", "gatesim-controller-proxies"),
            "get"
        )
        .contains(&secrets)
    );
    // --infra kubernetes applies (patch, and create for an apply that creates), lists by label
    // and deletes its four kinds, and no more; Services and ConfigMaps it lists as inputs
    // already.
    let proxies = find(&docs, "ClusterRole", "gatesim-controller-proxies");
    let pair = |g: &str, r: &str| (g.to_owned(), r.to_owned());
    let written = BTreeSet::from([
        pair("apps", "deployments"),
        pair("", "services"),
        pair("", "configmaps"),
        pair("", "serviceaccounts"),
    ]);
    for verb in ["create", "patch", "delete"] {
        assert_eq!(granted(proxies, verb), written, "proxies role: {verb}");
    }
    assert_eq!(
        granted(proxies, "list"),
        BTreeSet::from([pair("apps", "deployments"), pair("", "serviceaccounts")])
    );
    for verb in ["get", "watch", "update", "deletecollection", "*"] {
        assert!(granted(proxies, verb).is_empty(), "proxies role: no {verb}");
    }
}

#[test]
fn the_deployment_runs_the_built_image_locked_down() {
    let docs = documents();
    let deployment = find(&docs, "Deployment", "gatesim-controller");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "gatesim-controller");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"].as_str(),
        Some(format!("gatesim/controller:{}", env!("CARGO_PKG_VERSION")).as_str()),
        "the tag ci/images builds"
    );
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        &args[..5],
        ["run", "--provider", "kubernetes", "--infra", "kubernetes"]
    );
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "admin", "{probe}");
    }
    let class = find(&docs, "GatewayClass", "gatesim");
    assert_eq!(
        class["spec"]["controllerName"],
        gatesim_reference::api::DEFAULT_CONTROLLER_NAME
    );
    // The class's default GatewayParameters is in deploy/, where the class says, and is a
    // valid object of its kind.
    let reference = &class["spec"]["parametersRef"];
    assert_eq!(
        (&reference["group"], &reference["kind"]),
        (
            &Value::from("gateway.gloo.solo.io"),
            &Value::from("GatewayParameters")
        )
    );
    let parameters = find(
        &docs,
        "GatewayParameters",
        reference["name"].as_str().expect("parametersRef.name"),
    );
    assert_eq!(
        parameters["metadata"]["namespace"], reference["namespace"],
        "parametersRef.namespace"
    );
    let spec: gatesim_reference::api::k8sgateway::GatewayParametersSpec =
        serde_yaml::from_value(parameters["spec"].clone()).expect("a GatewayParameters spec");
    assert!(spec.kube.is_some(), "the default deploys proxies");
    let service = find(&docs, "Service", "gatesim-xds");
    assert_eq!(service["spec"]["ports"][0]["port"], 18000);
}
