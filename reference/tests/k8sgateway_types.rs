//! The K8sGateway kinds decoded from realistic YAML (`tests/k8sgateway/`: one file per kind,
//! plus `enterprise.yaml` for fields gatesim only accepts). Every object round-trips through
//! the Rust types without loss; between them the examples set every field the types model
//! (checked against the CRD schemas, so a field added to the types without an example fails);
//! and bad values are reported with file, line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gatesim_reference::api::k8sgateway::crd;
use gatesim_reference::model::{
    ControllerConfig, KindVisitor, ObjectKey, ResourceSet, StoredKind, api_group, visit_kind,
};
use gatesim_reference::provider::file::load_dir;
use serde::Deserialize;
use serde_json::Value;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8sgateway")
}

/// Every document of every example file, as written, with the file it came from.
fn documents() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            docs.push((name.clone(), Value::deserialize(doc).unwrap()));
        }
    }
    docs
}

fn load(dir: &Path) -> ResourceSet {
    load_dir(dir, &ControllerConfig::default()).unwrap_or_else(|errors| panic!("{errors}"))
}

/// The stored object of `doc`'s kind, namespace and name, serialized back.
fn stored(set: &ResourceSet, doc: &Value) -> Option<Value> {
    struct Find<'a> {
        set: &'a ResourceSet,
        key: ObjectKey,
    }
    impl KindVisitor for Find<'_> {
        type Output = Option<Value>;
        fn visit<K: StoredKind>(self) -> Option<Value> {
            let obj = self.set.get::<K>(&self.key)?;
            Some(serde_json::to_value(&**obj).unwrap())
        }
    }
    let text = |pointer: &str| doc.pointer(pointer).and_then(Value::as_str).unwrap();
    let key = ObjectKey::new(text("/metadata/namespace"), text("/metadata/name"));
    visit_kind(
        api_group(text("/apiVersion")),
        text("/kind"),
        Find { set, key },
    )?
}

/// Where `got` differs from `want`; numbers compare by value (`50` and `50.0` are one
/// number, written back as the type holds it).
fn differences(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                let here = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(&here, x, y, out),
                    (Some(x), None) => out.push(format!("{here}: lost {x}")),
                    (None, Some(y)) => out.push(format!("{here}: added {y}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if want == got => {}
        _ => out.push(format!("{path}: wrote {want}, read back {got}")),
    }
}

#[test]
fn every_example_round_trips_without_loss() {
    let set = load(&examples());
    let docs = documents();
    assert!(docs.len() >= 30, "only {} example objects", docs.len());
    let mut failures = Vec::new();
    for (file, doc) in &docs {
        let name = format!("{file}: {} {}", doc["kind"], doc["metadata"]["name"]);
        match stored(&set, doc) {
            Some(got) => {
                let mut diffs = Vec::new();
                differences("", doc, &got, &mut diffs);
                if !diffs.is_empty() {
                    failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
                }
            }
            None => failures.push(format!("{name}: not decoded")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(set.len(), docs.len(), "one stored object per document");
}

/// Fields typed with Kubernetes core types (GatewayParameters' containers and pods): their
/// schemas are Kubernetes', not ours to cover field by field.
const KUBERNETES_TYPED: &[&str] = &[
    "securityContext",
    "resources",
    "affinity",
    "tolerations",
    "readinessProbe",
    "livenessProbe",
    "topologySpreadConstraints",
    "imagePullSecrets",
    "customSidecars",
    "env",
];

/// The leaves of a CRD schema: fields without modelled subfields, and objects kept as
/// written. Arrays show as `[]`.
fn schema_leaves(schema: &Value, path: &str, kubernetes_types: bool, out: &mut BTreeSet<String>) {
    let field = path
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches("[]");
    let opaque = schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true)
        || (kubernetes_types && KUBERNETES_TYPED.contains(&field));
    if let (false, Some(properties)) = (opaque, schema["properties"].as_object()) {
        for (name, sub) in properties {
            schema_leaves(sub, &format!("{path}.{name}"), kubernetes_types, out);
        }
    } else if !opaque && schema["items"]["properties"].is_object() {
        schema_leaves(
            &schema["items"],
            &format!("{path}[]"),
            kubernetes_types,
            out,
        );
    } else {
        out.insert(path.to_string());
    }
}

/// Every path a document sets, in the same notation.
fn document_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    out.insert(path.to_string());
    match value {
        Value::Object(map) => {
            for (name, sub) in map {
                document_paths(sub, &format!("{path}.{name}"), out);
            }
        }
        Value::Array(items) => {
            for item in items {
                document_paths(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_examples_set_every_modelled_field() {
    let mut set_paths: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, doc) in documents() {
        let kind = doc["kind"].as_str().unwrap().to_string();
        document_paths(&doc["spec"], "spec", set_paths.entry(kind).or_default());
    }
    let mut missing = Vec::new();
    for definition in crd::crds() {
        let kind = &definition.spec.names.kind;
        let schema = serde_json::to_value(&definition.spec.versions[0].schema).unwrap();
        let mut leaves = BTreeSet::new();
        let kubernetes_types = kind == "GatewayParameters";
        schema_leaves(
            &schema["openAPIV3Schema"]["properties"]["spec"],
            "spec",
            kubernetes_types,
            &mut leaves,
        );
        let empty = BTreeSet::new();
        let seen = set_paths.get(kind).unwrap_or(&empty);
        missing.extend(leaves.difference(seen).map(|path| format!("{kind} {path}")));
    }
    assert!(
        missing.is_empty(),
        "fields no example sets:\n{}",
        missing.join("\n")
    );
}

#[test]
fn enterprise_fields_decode_and_are_kept_by_name() {
    let set = load(&examples());
    let option = &set.route_options[&ObjectKey::new("shop", "members-only")];
    let options = option.spec.options.as_ref().unwrap();
    assert_eq!(
        options.extauth.as_ref().unwrap().0["configRef"]["name"],
        "oidc-members"
    );
    assert!(options.waf.is_some() && options.rbac.is_some() && options.jwt_staged.is_some());
    assert_eq!(options.timeout.as_ref().unwrap().as_str(), "5s");
}

/// One bad value in an otherwise valid object: the error names the file, the line and column
/// of the value, and what was expected.
#[test]
fn bad_values_are_reported_with_file_line_and_column() {
    let cases = [
        (
            "apiVersion: gateway.gloo.solo.io/v1alpha1\nkind: DirectResponse\nmetadata:\n  name: d\nspec:\n  status: 99\n",
            "x.yaml:6:11: spec.status:",
            "status 99 is not an HTTP status code between 200 and 599",
        ),
        (
            &format!(
                "apiVersion: gateway.gloo.solo.io/v1alpha1\nkind: DirectResponse\nmetadata:\n  name: d\nspec:\n  status: 200\n  body: {}\n",
                "x".repeat(4097)
            ),
            "x.yaml:7:9: spec.body:",
            "4097 characters, more than the 4096 allowed",
        ),
        (
            "apiVersion: gateway.solo.io/v1\nkind: RouteOption\nmetadata:\n  name: r\nspec:\n  options:\n    timeout: 10 seconds\n",
            "x.yaml:7:14: spec.options.timeout:",
            "invalid duration `10 seconds`",
        ),
        (
            "apiVersion: gateway.solo.io/v1\nkind: RouteOption\nmetadata:\n  name: r\nspec:\n  options:\n    faults:\n      abort:\n        percentage: 150\n",
            "x.yaml:9:21: spec.options.faults.abort.percentage:",
            "150 is not a percentage between 0 and 100",
        ),
        (
            "apiVersion: gateway.solo.io/v1\nkind: VirtualHostOption\nmetadata:\n  name: v\nspec:\n  options:\n    csrf:\n      filterEnabled:\n        defaultValue: {numerator: 1, denominator: THOUSAND}\n",
            "x.yaml:9:51: spec.options.csrf.filterEnabled.defaultValue.denominator:",
            "unknown value `THOUSAND`, expected one of HUNDRED, TEN_THOUSAND, MILLION",
        ),
        (
            "apiVersion: gateway.solo.io/v1\nkind: ListenerOption\nmetadata:\n  name: l\nspec:\n  options:\n    socketOptions:\n    - level: one\n",
            "x.yaml:8:14: spec.options.socketOptions[0].level:",
            "`one` is not a 64-bit integer",
        ),
        (
            "apiVersion: gateway.gloo.solo.io/v1alpha1\nkind: GatewayParameters\nmetadata:\n  name: g\nspec:\n  kube:\n    envoyContainer:\n      image: {pullPolicy: Sometimes}\n",
            "x.yaml:8:27: spec.kube.envoyContainer.image.pullPolicy:",
            "unknown variant `Sometimes`",
        ),
        (
            "apiVersion: gateway.solo.io/v1\nkind: RouteOption\nmetadata:\n  name: r\nspec:\n  options:\n    timeOut: 10s\n",
            "x.yaml:7:5: spec.options.timeOut:",
            "timeout",
        ),
        (
            "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata:\n  name: u\nspec:\n  static:\n    hosts:\n    - addr: 127.0.0.9\n      port: -1\n",
            "x.yaml:9:13: spec.static.hosts[0].port:",
            "invalid type: integer `-1`, expected u32",
        ),
    ];
    for (yaml, place, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.yaml"), yaml).unwrap();
        let errors = load_dir(dir.path(), &ControllerConfig::default())
            .expect_err("a bad value is an error");
        let text = errors.to_string();
        assert!(
            text.starts_with(place) && text.contains(message),
            "expected {place} ... {message}, got: {text}"
        );
    }
}
