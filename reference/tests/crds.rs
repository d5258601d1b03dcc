//! The CRDs of the K8sGateway kinds. The copies under `reference/crds/` are what the types
//! generate (`GATESIM_UPDATE_CRDS=1` rewrites them, then review the diff), and what
//! `gatesim-controller crds` prints; the schemas are structural; names, scope and subresources
//! agree with simkube's kind table; and kubectl applies the files.

mod k8sgateway_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use gatesim_reference::api::k8sgateway::crd;
use gatesim_simkube::kinds::KindTable;
use gatesim_simkube::{Config, SchemaSource, SimKube};
use k8s_openapi::api::core::v1::Namespace;
use k8sgateway_support::simkube_without_k8sgateway_crds;
use kube::Client;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
    ValidationDirective,
};
use serde_json::{Value, json};

fn crds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crds")
}

fn controller() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatesim-controller"))
}

#[test]
fn checked_in_crds_are_current() {
    let update = std::env::var_os("GATESIM_UPDATE_CRDS").is_some();
    let mut expected_files = Vec::new();
    let mut stale = Vec::new();
    for definition in crd::crds() {
        let name = crd::file_name(&definition);
        let path = crds_dir().join(&name);
        let yaml = crd::to_yaml(&definition).unwrap();
        if update {
            std::fs::create_dir_all(crds_dir()).unwrap();
            std::fs::write(&path, &yaml).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
            stale.push(name.clone());
        }
        expected_files.push(name);
    }
    let mut present: Vec<String> = std::fs::read_dir(crds_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    expected_files.sort();
    assert_eq!(present, expected_files, "one file per kind, nothing else");
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run with GATESIM_UPDATE_CRDS=1 and review the diff"
    );
}

#[test]
fn the_cli_prints_and_writes_the_crds() {
    let out = controller().arg("crds").output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed, crd::all_to_yaml().unwrap());
    let names: Vec<String> = serde_yaml::Deserializer::from_str(&printed)
        .map(|doc| {
            let v = <Value as serde::Deserialize>::deserialize(doc).unwrap();
            v["metadata"]["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"routeoptions.gateway.solo.io".to_string()));

    let dir = tempfile::tempdir().unwrap();
    let out = controller()
        .args(["crds", "--output"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for definition in crd::crds() {
        let name = crd::file_name(&definition);
        let written = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        let checked_in = std::fs::read_to_string(crds_dir().join(&name)).unwrap();
        assert!(
            written == checked_in,
            "{name} differs from the checked-in copy"
        );
    }

    let help = controller().args(["crds", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("--output <DIR>"), "{help}");
    let top = controller().arg("--help").output().unwrap();
    assert!(String::from_utf8(top.stdout).unwrap().contains("crds"));
}

/// Kubernetes' structural schema rules, and `x-kubernetes-preserve-unknown-fields` only where
/// the types keep unmodelled fields as written.
fn check_structural(schema: &Value, path: &str, problems: &mut Vec<String>) {
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true);
    let int_or_string = schema["x-kubernetes-int-or-string"] == Value::Bool(true);
    if schema.get("type").is_none() && !int_or_string && !preserve {
        problems.push(format!("{path}: no type"));
    }
    if schema.get("properties").is_some() && schema.get("additionalProperties").is_some() {
        problems.push(format!("{path}: properties and additionalProperties"));
    }
    for junctor in ["anyOf", "oneOf", "allOf", "not"] {
        if schema.get(junctor).is_some() {
            problems.push(format!("{path}: {junctor}"));
        }
    }
    // Open by design: protobuf Structs, and selfManaged (upstream keeps it open too).
    let open_by_design = [".jsonFormat", ".selfManaged"]
        .iter()
        .any(|field| path.ends_with(field));
    if preserve && !open_by_design {
        let documented = schema["description"]
            .as_str()
            .is_some_and(|d| d.contains("Accepted by the schema, not implemented by gatesim"));
        // Items and values of kept lists and maps inherit their parent's description.
        let inside_kept = path.ends_with("[]") || path.ends_with("{}");
        if !documented && !inside_kept {
            problems.push(format!(
                "{path}: kept as written but not documented as such"
            ));
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, sub) in properties {
            check_structural(sub, &format!("{path}.{name}"), problems);
        }
    }
    if schema.get("items").is_some() {
        check_structural(&schema["items"], &format!("{path}[]"), problems);
    }
    if schema["additionalProperties"].is_object() {
        check_structural(
            &schema["additionalProperties"],
            &format!("{path}{{}}"),
            problems,
        );
    }
}

#[test]
fn schemas_are_structural() {
    let mut problems = Vec::new();
    for definition in crd::crds() {
        assert_eq!(definition.spec.versions.len(), 1);
        let version = &definition.spec.versions[0];
        assert!(version.served && version.storage);
        assert!(
            version
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some()),
            "{}: status subresource",
            definition.spec.names.kind
        );
        let schema = serde_json::to_value(&version.schema).unwrap();
        check_structural(
            &schema["openAPIV3Schema"],
            &definition.spec.names.kind,
            &mut problems,
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn names_agree_with_simkube() {
    let table = KindTable::new();
    for definition in crd::crds() {
        let names = &definition.spec.names;
        let id = table
            .by_kind(&definition.spec.group, &names.kind)
            .unwrap_or_else(|| panic!("simkube does not serve {}", names.kind));
        let spec = table.spec(id);
        assert_eq!(spec.plural, names.plural);
        assert_eq!(Some(spec.singular), names.singular.as_deref());
        let short: Vec<&str> = names
            .short_names
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        assert_eq!(spec.short_names, short.as_slice(), "{}", names.kind);
        assert_eq!(spec.namespaced, definition.spec.scope == "Namespaced");
        assert!(spec.status_subresource && spec.custom);
        assert_eq!(
            spec.versions,
            [definition.spec.versions[0].name.as_str()],
            "{}",
            names.kind
        );
    }
}

/// simkube checking writes against the checked-in CRDs as kube-apiserver does (pruning,
/// OpenAPI validation, `422 Invalid` naming the field), and a client for it.
async fn simkube_validating_the_crds() -> (SimKube, Client) {
    let server = SimKube::start(Config {
        schemas: SchemaSource {
            gateway_api: false,
            crd_dirs: vec![crds_dir()],
        },
        ..Config::default()
    })
    .await
    .expect("simkube starts");
    assert_eq!(server.validated_kinds(), 8, "simkube loaded the eight CRDs");
    let client = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    (server, client)
}

/// The API resource of `kind`, its plural as the CRD names it (not guessed: `settings`).
fn resource(kind: &str) -> ApiResource {
    let definition = crd::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD of kind {kind}"));
    let gvk = GroupVersionKind::gvk(
        &definition.spec.group,
        &definition.spec.versions[0].name,
        kind,
    );
    ApiResource::from_gvk_with_plural(&gvk, &definition.spec.names.plural)
}

/// Server-side apply with `fieldValidation=Strict`: a field the schema does not declare is an
/// error, not a silent drop (kube-apiserver answers that one with a 500, the rest with 422).
async fn apply(client: &Client, doc: &Value) -> Result<DynamicObject, kube::Error> {
    let namespace = doc["metadata"]["namespace"].as_str().unwrap_or("default");
    // Every K8sGateway kind is namespaced.
    let api = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource(doc["kind"].as_str().unwrap()),
    );
    let params = PatchParams::apply("gatesim-test").validation(ValidationDirective::Strict);
    let name = doc["metadata"]["name"].as_str().unwrap();
    api.patch(name, &params, &Patch::Apply(doc)).await
}

/// What users write (the examples, written from K8sGateway's documentation) passes the API
/// server's checks of the CRDs and is stored unchanged (nothing pruned); each kind of mistake
/// the schemas are meant to stop is refused, naming the field.
#[tokio::test]
async fn the_schemas_accept_the_examples_and_refuse_bad_values() {
    let (_server, client) = simkube_validating_the_crds().await;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8sgateway");
    let mut namespaces = std::collections::BTreeSet::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc = <Value as serde::Deserialize>::deserialize(doc).unwrap();
            let namespace = doc["metadata"]["namespace"].as_str().unwrap_or("default");
            if namespaces.insert(namespace.to_string()) && namespace != "default" {
                let api: Api<Namespace> = Api::all(client.clone());
                let ns = serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap();
                api.create(&PostParams::default(), &ns).await.unwrap();
            }
            let what = format!(
                "{} {} {}",
                path.display(),
                doc["kind"],
                doc["metadata"]["name"]
            );
            let stored = apply(&client, &doc)
                .await
                .unwrap_or_else(|e| panic!("{what}: refused: {e}"));
            assert_eq!(stored.data["spec"], doc["spec"], "{what}: stored changed");
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} examples");

    let refused = [
        ("DirectResponse", json!({ "status": 99 }), "spec.status"),
        (
            "DirectResponse",
            json!({ "status": 200, "body": "x".repeat(4097) }),
            "spec.body",
        ),
        (
            "DirectResponse",
            json!({ "body": "no status" }),
            "spec.status",
        ),
        (
            "RouteOption",
            json!({ "options": { "timeout": "10 seconds" } }),
            "spec.options.timeout",
        ),
        (
            "RouteOption",
            json!({ "options": { "timeOut": "10s" } }),
            "spec.options.timeOut",
        ),
        (
            "RouteOption",
            json!({ "options": { "faults": { "abort": { "percentage": 150 } } } }),
            "spec.options.faults.abort.percentage",
        ),
        (
            "RouteOption",
            json!({ "targetRefs": [{ "kind": "HTTPRoute" }] }),
            "spec.targetRefs[0].name",
        ),
        (
            "VirtualHostOption",
            json!({ "options": { "csrf": { "filterEnabled": { "defaultValue": { "denominator": "THOUSAND" } } } } }),
            "spec.options.csrf.filterEnabled.defaultValue.denominator",
        ),
        (
            "Upstream",
            json!({ "static": { "hosts": [{ "addr": "a", "port": 70000 }] } }),
            "spec.static.hosts[0].port",
        ),
        (
            "GatewayParameters",
            json!({ "kube": { "service": { "type": "Headless" } } }),
            "spec.kube.service.type",
        ),
        (
            "GatewayParameters",
            json!({ "kube": { "deployment": { "replicas": 0 } } }),
            "spec.kube.deployment.replicas",
        ),
    ];
    for (i, (kind, spec, field)) in refused.into_iter().enumerate() {
        let doc = json!({
            "apiVersion": resource(kind).api_version, "kind": kind,
            "metadata": { "name": format!("bad-{i}"), "namespace": "default" },
            "spec": spec,
        });
        match apply(&client, &doc).await {
            Err(kube::Error::Api(status)) => assert!(
                status.code >= 400 && status.message.contains(field),
                "{kind} {spec}: expected a refusal naming {field}, got {status:?}"
            ),
            other => panic!("{kind} {spec} passed the schema: {other:?}"),
        }
    }
}

/// kubectl from `$KUBECTL` or `PATH`, or `None` after a loud SKIP (a failure when
/// `GATESIM_REQUIRE_ALL=1`).
fn kubectl_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("KUBECTL").map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join("kubectl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("GATESIM_REQUIRE_ALL").as_deref() != Ok("1"),
            "{test}: kubectl is required (GATESIM_REQUIRE_ALL=1)"
        );
        eprintln!("SKIP: {test}: kubectl not found (set KUBECTL or put it on PATH)");
    }
    found
}

#[tokio::test]
async fn kubectl_applies_the_crds_and_then_the_kinds() {
    let Some(kubectl) = kubectl_or_skip("kubectl_applies_the_crds_and_then_the_kinds") else {
        return;
    };
    let server = simkube_without_k8sgateway_crds().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let run = |args: &[&str]| {
        let kubectl = kubectl.clone();
        let kubeconfig = kubeconfig.clone();
        let cache = dir.path().join("cache");
        let args: Vec<String> = args.iter().map(ToString::to_string).collect();
        async move {
            let out = tokio::process::Command::new(kubectl)
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .arg("--cache-dir")
                .arg(cache)
                .args(&args)
                .output()
                .await
                .unwrap();
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            (out.status.success(), text(&out.stdout), text(&out.stderr))
        }
    };
    let crds = crds_dir().to_string_lossy().into_owned();

    let (ok, out, err) = run(&["apply", "--dry-run=client", "-f", &crds]).await;
    assert!(ok, "{err}");
    assert_eq!(out.matches("created (dry run)").count(), 8, "{out}");

    // Before the CRDs are installed, the kinds do not exist.
    let (ok, _, err) = run(&["get", "rto", "-A"]).await;
    assert!(!ok, "RouteOption must not be served yet");
    assert!(err.contains("rto"), "{err}");

    let (ok, out, err) = run(&["apply", "-f", &crds]).await;
    assert!(ok, "{err}");
    assert_eq!(out.matches(" created").count(), 8, "{out}");

    let manifest = dir.path().join("objects.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n",
    )
    .unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8sgateway");
    let (ok, _, err) = run(&["apply", "-f", &manifest.to_string_lossy()]).await;
    assert!(ok, "{err}");
    for example in ["routeoption.yaml", "directresponse.yaml"] {
        let (ok, _, err) = run(&["apply", "-f", &examples.join(example).to_string_lossy()]).await;
        assert!(ok, "{example}: {err}");
    }
    let (ok, out, err) = run(&["get", "rto,dr", "-n", "shop", "-o", "name"]).await;
    assert!(ok, "{err}");
    for name in [
        "routeoption.gateway.solo.io/checkout",
        "directresponse.gateway.gloo.solo.io/robots-txt",
    ] {
        assert!(out.contains(name), "{out}");
    }
}
