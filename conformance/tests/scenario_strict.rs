//! Strict decoding in the scenario loader: objects of every kind the reference controller has
//! types for are decoded as the controller decodes them, wherever they are written, and no
//! mapping of any scenario file may repeat a key.

use gatesim_conformance::scenario::{LoadOptions, Scenario};

const HEAD: &str = "name: Strict\ndescription: d\nfeatures: [Gateway]\n";
const STEP: &str = "steps:\n- delete: [{kind: Namespace, name: a}]\n";

/// An HTTPRoute whose only rule misspells `matches`: dropped, the rule would match everything.
const ROUTE: &str = "\
- apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata: {name: web, namespace: ns}
  spec:
    rules:
    - matchez:
      - path: {value: /}
";

const EXPECTED_FIELDS: &str = "unknown field; expected one of backendRefs, filters, matches, \
                               name, retry, sessionPersistence, timeouts; did you mean `matches`?";

/// Writes `files` into a scratch directory (with `base/` as the base directory), loads
/// `s.yaml` and returns the error with the directory shown as `<dir>`.
fn error_of(files: &[(&str, String)]) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir_all(dir.path().join("base")).expect("base directory");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let options = LoadOptions {
        base_dir: Some(dir.path().join("base")),
    };
    match Scenario::load_with(dir.path().join("s.yaml"), &options) {
        Ok(_) => panic!("loaded: {files:?}"),
        Err(e) => e
            .to_string()
            .replace(&dir.path().display().to_string(), "<dir>"),
    }
}

/// `text` with every line led by `by`.
fn indented(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

#[rstest::rstest]
#[case::resources(
    vec![("s.yaml", format!("{HEAD}resources:\n{ROUTE}{STEP}").to_string())],
    format!("<dir>/s.yaml:10:7: resources[0].spec.rules[0].matchez: {EXPECTED_FIELDS}")
)]
#[case::apply_step(
    vec![("s.yaml", format!("{HEAD}steps:\n- apply:\n{}", indented(ROUTE, "  ")).to_string())],
    format!("<dir>/s.yaml:11:9: steps[0].apply[0].spec.rules[0].matchez: {EXPECTED_FIELDS}")
)]
#[case::resource_file(
    vec![
        ("s.yaml", format!("{HEAD}resourceFiles: [more.yaml]\n{STEP}").to_string()),
        ("more.yaml", format!("---\n{}", indented(ROUTE, "")).replace("- apiVersion", "apiVersion").replace("\n  ", "\n")),
    ],
    format!("<dir>/more.yaml:7:5: spec.rules[0].matchez: {EXPECTED_FIELDS}")
)]
#[case::base_file(
    vec![("s.yaml", format!("{HEAD}base: b\n{STEP}").to_string()), ("base/b.yaml", ROUTE.to_string())],
    format!("<dir>/base/b.yaml:6:7: [0].spec.rules[0].matchez: {EXPECTED_FIELDS}")
)]
#[case::unknown_metadata_field(
    vec![("s.yaml", format!("{HEAD}resources:\n- apiVersion: v1\n  kind: Service\n  metadata: {{name: s, namespace: ns, lables: {{}}}}\n{STEP}").to_string())],
    "<dir>/s.yaml:7:38: resources[0].metadata.lables: unknown field; expected one of annotations, \
     creationTimestamp, deletionGracePeriodSeconds, deletionTimestamp, finalizers, generateName, \
     generation, labels, managedFields, name, namespace, ownerReferences, resourceVersion, selfLink, \
     uid; did you mean `labels`?".to_string()
)]
#[case::duplicate_key_in_metadata(
    vec![("s.yaml", format!("{HEAD}resources:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: a\n    name: b\n{STEP}").to_string())],
    "<dir>/s.yaml:9:5: resources[0].metadata.name: duplicate key; a mapping gives each key once (first at 8:5)"
)]
#[case::duplicate_scenario_key(
    vec![("s.yaml", format!("{HEAD}description: again\n{STEP}").to_string())],
    "<dir>/s.yaml:4:1: description: duplicate key; a mapping gives each key once (first at 2:1)"
)]
#[case::duplicate_key_in_a_step(
    vec![("s.yaml", format!("{HEAD}steps:\n- delete: [{{kind: Namespace, name: a, name: b}}]\n").to_string())],
    "<dir>/s.yaml:5:39: steps[0].delete[0].name: duplicate key; a mapping gives each key once (first at 5:30)"
)]
#[case::duplicate_key_in_a_resource_file(
    vec![
        ("s.yaml", format!("{HEAD}resourceFiles: [more.yaml]\n{STEP}").to_string()),
        ("more.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nkind: Namespace\nmetadata: {name: b}\n".to_string()),
    ],
    "<dir>/more.yaml:7:1: kind: duplicate key; a mapping gives each key once (first at 6:1)"
)]
fn strict_errors(#[case] files: Vec<(&str, String)>, #[case] expected: String) {
    assert_eq!(error_of(&files), expected);
}

#[test]
fn kinds_the_controller_does_not_read_and_fields_the_harness_fills_pass() {
    let text = format!(
        "{HEAD}resources:\n\
         - apiVersion: example.com/v1\n  kind: Widget\n  metadata: {{name: w, namespace: ns}}\n  spec: {{anything: 1}}\n\
         - apiVersion: gateway.networking.k8s.io/v1\n  kind: Gateway\n  metadata: {{name: g, namespace: ns}}\n  spec:\n    listeners: [{{name: http, port: 80, protocol: HTTP}}]\n\
         {STEP}"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("s.yaml"), text).expect("write");
    Scenario::load(dir.path().join("s.yaml")).unwrap_or_else(|e| panic!("{e}"));
}
