//! The file provider: decoding a tree of YAML, its diagnostics, and live reloading.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatesim_reference::api::{Gateway, GatewayClass, Secret, Service};
use gatesim_reference::model::{ControllerConfig, ObjectKey, ResourceSet};
use gatesim_reference::provider::Snapshots;
use gatesim_reference::provider::file::{Diagnostic, FileProvider, Loader, load_dir};

const GATEWAYS: &str = "\
# a class and a gateway
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: gatesim
  namespace: ignored-for-cluster-scoped
spec:
  controllerName: gatesim.dev/reference-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
spec:
  gatewayClassName: gatesim
  listeners:
  - name: http
    port: 80
    protocol: HTTP
---
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
";

const ROUTES: &str = "\
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: web
  namespace: apps
spec:
  parentRefs:
  - name: gw
    namespace: default
...
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80}]
";

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn config() -> ControllerConfig {
    ControllerConfig {
        controller_name: "example.com/test".into(),
        port_offset: 10000,
        ..ControllerConfig::default()
    }
}

fn keys<K>(store: &gatesim_reference::model::Store<K>) -> Vec<String> {
    store.keys().map(ToString::to_string).collect()
}

fn messages(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

#[test]
fn loads_multi_document_files_from_nested_directories() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "gateways.yaml", GATEWAYS);
    write(dir.path(), "apps/web/route.yml", ROUTES);
    write(dir.path(), "apps/notes.txt", "not: [yaml");
    write(dir.path(), "apps/.editor-swap.yaml", "kind: [");
    write(dir.path(), "empty.yaml", "");
    write(
        dir.path(),
        "comments.yml",
        "# nothing here yet\n---\n# nor here\n",
    );

    let set = load_dir(dir.path(), &config()).unwrap();
    assert_eq!(
        keys(&set.gateway_classes),
        ["gatesim"],
        "cluster-scoped objects lose their namespace"
    );
    assert_eq!(
        keys(&set.gateways),
        ["default/gw"],
        "a missing namespace defaults to `default`"
    );
    assert_eq!(
        keys(&set.http_routes),
        ["apps/web"],
        "v1beta1 is read like v1"
    );
    assert_eq!(keys(&set.services), ["default/web"]);
    assert_eq!(set.len(), 4);
    assert_eq!(set.config, config());
    assert_eq!(set.revision, 1);
    let gw = set
        .get::<Gateway>(&ObjectKey::new("default", "gw"))
        .unwrap();
    assert_eq!(gw.spec.listeners[0].port, 80);
    let class = set
        .get::<GatewayClass>(&ObjectKey::cluster("gatesim"))
        .unwrap();
    assert_eq!(
        class.spec.controller_name,
        "gatesim.dev/reference-controller"
    );

    // One file on its own.
    let one = load_dir(dir.path().join("apps/web/route.yml"), &config()).unwrap();
    assert_eq!(keys(&one.http_routes), ["apps/web"]);
    assert_eq!(one.len(), 2);
}

#[test]
fn unknown_kinds_are_skipped_with_a_warning_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "gateways.yaml", GATEWAYS);
    let outcome = Loader::new(dir.path()).load(&config());
    assert_eq!(
        messages(&outcome.warnings),
        [
            "gateways.yaml:23:7: kind: `Widget` of `example.com/v1` is not a kind the controller reads; skipped"
        ]
    );
    assert_eq!(outcome.into_result().unwrap().len(), 2);
}

#[test]
fn errors_name_file_line_column_field_path_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "gateways.yaml", GATEWAYS);
    // The bad value is in the second document: its line counts from the top of the file.
    write(
        dir.path(),
        "routes/a.yaml",
        "\
apiVersion: v1
kind: Service
metadata:
  name: fine
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: typo
spec:
  rules:
  - matches:
    - path:
        type: Prefx
        value: /
---
apiVersion: v1
kind: Service
metadata:
  name: svc
spec:
  ports:
  - port: eighty
",
    );
    write(
        dir.path(),
        "routes/nested/broken.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: x\nspec: {}\n",
    );
    write(
        dir.path(),
        "routes/nested/shapes.yaml",
        "\
apiVersion: v2
kind: Service
metadata:
  name: x
---
kind: Service
metadata:
  name: y
---
- a list
---
apiVersion: v1
kind: Secret
metadata:
  namespace: apps
",
    );
    let err = load_dir(dir.path(), &config()).unwrap_err();
    assert_eq!(
        messages(&err.0),
        [
            "routes/a.yaml:14:15: spec.rules[0].matches[0].path.type: unknown variant `Prefx`, expected one of `Exact`, `PathPrefix`, `RegularExpression`",
            "routes/a.yaml:23:11: spec.ports[0].port: invalid type: string \"eighty\", expected i32",
            "routes/nested/broken.yaml:4:5: did not find expected ',' or '}', while parsing a flow mapping at line 3 column 11",
            "routes/nested/shapes.yaml:1:13: apiVersion: `v2` is not a served version of Service; expected `v1`",
            "routes/nested/shapes.yaml:6:1: missing field `apiVersion`",
            "routes/nested/shapes.yaml:10:1: expected a Kubernetes object (a mapping with `apiVersion` and `kind`)",
            "routes/nested/shapes.yaml:15:3: metadata: missing field `name`",
        ]
    );
    // The whole error, as a CLI prints it.
    assert!(
        err.to_string()
            .starts_with("routes/a.yaml:14:15: spec.rules[0]"),
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 7);
}

#[test]
fn an_object_defined_twice_points_at_both_places() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", ROUTES);
    write(
        dir.path(),
        "b/c.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
    );
    write(
        dir.path(),
        "b/d.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
    );
    let err = load_dir(dir.path(), &config()).unwrap_err();
    assert_eq!(
        messages(&err.0),
        [
            "b/c.yaml:9:9: metadata.name: Service default/web is defined more than once (first at a.yaml:14:18)",
            "b/d.yaml:3:18: metadata.name: Secret default/s is defined more than once (first at b/c.yaml:4:9)",
            "b/d.yaml:7:18: metadata.name: Secret default/s is defined more than once (first at b/d.yaml:3:18)",
        ]
    );
}

#[test]
fn a_missing_directory_is_an_error_not_an_empty_set() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_dir(dir.path().join("nope"), &config()).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(
        err.0[0].message.starts_with("cannot read: "),
        "{}",
        err.0[0]
    );
}

const INVALID: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches:
    - path: {value: /ok}
    - path: {type: Exact, value: api}
    backendRefs: [{name: web, port: 80, weight: -1}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: portless}
spec:
  rules:
  - backendRefs:
    - name: web
";

#[test]
fn invalid_fields_are_reported_at_their_position_and_the_objects_kept() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "routes.yaml", INVALID);
    let outcome = Loader::new(dir.path()).load(&config());
    assert_eq!(
        messages(&outcome.invalid),
        [
            "routes.yaml:15:34: spec.rules[0].matches[1].path.value: \"api\" must start with \"/\"",
            "routes.yaml:16:49: spec.rules[0].backendRefs[0].weight: must be between 0 and 1000000, is -1",
            // The port is missing: the position is that of the backendRef that lacks it.
            "routes.yaml:24:7: spec.rules[0].backendRefs[0].port: is required for a reference to a Service",
        ]
    );
    // The objects stay in the snapshot; translation gives them their status.
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let set = outcome.set;
    assert_eq!(keys(&set.http_routes), ["default/portless", "default/web"]);

    let off = ControllerConfig {
        validate_inputs: false,
        ..config()
    };
    let outcome = Loader::new(dir.path()).load(&off);
    assert!(outcome.invalid.is_empty(), "validation is off");
}

#[test]
fn reloading_decodes_only_what_changed_and_reports_changes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", ROUTES);
    let mut loader = Loader::new(dir.path());
    assert!(loader.load(&config()).changed);
    assert!(!loader.load(&config()).changed, "nothing changed");
    write(
        dir.path(),
        "a.yaml",
        &ROUTES.replace("port: 80", "port: 81"),
    );
    let outcome = loader.load(&config());
    assert!(outcome.changed);
    let set = outcome.into_result().unwrap();
    let svc = set
        .get::<Service>(&ObjectKey::new("default", "web"))
        .unwrap();
    assert_eq!(
        svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port,
        81
    );
    std::fs::remove_file(dir.path().join("a.yaml")).unwrap();
    let outcome = loader.load(&config());
    assert!(outcome.changed, "a removal is a change");
    assert!(outcome.into_result().unwrap().is_empty());
}

#[test]
fn a_reload_of_written_files_reads_only_those_and_falls_back_to_a_full_load() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &secret("a", "1"));
    write(dir.path(), "b.yaml", &secret("b", "1"));
    let mut loader = Loader::new(dir.path());
    loader.load(&config());
    write(dir.path(), "a.yaml", &secret("a", "2"));
    write(dir.path(), "b.yaml", &secret("b", "2"));
    let only_a: HashSet<PathBuf> = [dir.path().join("a.yaml")].into();
    let outcome = loader.load_written(&config(), &only_a);
    assert!(outcome.changed);
    let set = outcome.into_result().unwrap();
    assert_eq!(secret_value(&set, "a").as_deref(), Some("2"));
    assert_eq!(
        secret_value(&set, "b").as_deref(),
        Some("1"),
        "a file not named is not read again"
    );
    assert!(
        !loader.load_written(&config(), &only_a).changed,
        "the same content again is no change"
    );

    // A path the last load did not read: everything is read again.
    write(dir.path(), "c.yaml", &secret("c", "1"));
    let only_c: HashSet<PathBuf> = [dir.path().join("c.yaml")].into();
    let set = loader
        .load_written(&config(), &only_c)
        .into_result()
        .unwrap();
    assert_eq!(secret_value(&set, "b").as_deref(), Some("2"));
    assert_eq!(secret_value(&set, "c").as_deref(), Some("1"));

    // A written file that is gone meanwhile: a full load sees the removal.
    std::fs::remove_file(dir.path().join("a.yaml")).unwrap();
    let only_a: HashSet<PathBuf> = [dir.path().join("a.yaml")].into();
    let set = loader
        .load_written(&config(), &only_a)
        .into_result()
        .unwrap();
    assert_eq!(secret_value(&set, "a"), None);
    assert_eq!(secret_value(&set, "b").as_deref(), Some("2"));
}

// ---- live watching ----

const WAIT: Duration = Duration::from_secs(5);

/// The next snapshot, failing the test if none arrives in time.
async fn next(rx: &mut Snapshots) -> Arc<ResourceSet> {
    tokio::time::timeout(WAIT, rx.changed())
        .await
        .expect("a new snapshot")
        .unwrap();
    rx.borrow_and_update().clone()
}

/// Asserts that no snapshot is published for a while.
async fn quiet(rx: &mut Snapshots) {
    let waited = tokio::time::timeout(Duration::from_millis(300), rx.changed()).await;
    assert!(
        waited.is_err(),
        "unexpected snapshot, revision {}",
        rx.borrow().revision
    );
}

fn secret(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: apps\nstringData:\n  v: {value}\n"
    )
}

fn secret_value(set: &ResourceSet, name: &str) -> Option<String> {
    let secret = set.get::<Secret>(&ObjectKey::new("apps", name))?;
    secret.string_data.as_ref()?.get("v").cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_publishes_every_change_with_a_higher_revision() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &secret("a", "one"));
    let (mut rx, provider) = FileProvider::start(dir.path(), config()).unwrap();
    let first = rx.borrow_and_update().clone();
    assert_eq!(first.revision, 1);
    assert_eq!(secret_value(&first, "a").as_deref(), Some("one"));
    assert_eq!(first.config, config());

    // Added, in a new subdirectory.
    write(dir.path(), "more/b.yaml", &secret("b", "two"));
    let added = next(&mut rx).await;
    assert!(added.revision > first.revision);
    assert_eq!(secret_value(&added, "b").as_deref(), Some("two"));

    // Edited in place.
    write(dir.path(), "a.yaml", &secret("a", "edited"));
    let edited = next(&mut rx).await;
    assert!(edited.revision > added.revision);
    assert_eq!(secret_value(&edited, "a").as_deref(), Some("edited"));

    // Saved the way many editors do: a new file renamed over the old one.
    write(dir.path(), ".a.yaml.tmp", &secret("a", "renamed"));
    std::fs::rename(dir.path().join(".a.yaml.tmp"), dir.path().join("a.yaml")).unwrap();
    let renamed = next(&mut rx).await;
    assert!(renamed.revision > edited.revision);
    assert_eq!(secret_value(&renamed, "a").as_deref(), Some("renamed"));

    // Moved to another name.
    std::fs::rename(
        dir.path().join("more/b.yaml"),
        dir.path().join("more/c.yaml"),
    )
    .unwrap();
    let moved = next(&mut rx).await;
    assert!(moved.revision > renamed.revision);
    assert_eq!(secret_value(&moved, "b").as_deref(), Some("two"));

    // Removed.
    std::fs::remove_file(dir.path().join("more/c.yaml")).unwrap();
    let removed = next(&mut rx).await;
    assert!(removed.revision > moved.revision);
    assert_eq!(secret_value(&removed, "b"), None);
    assert_eq!(removed.len(), 1);

    // Touching a file without changing it publishes nothing.
    write(dir.path(), "a.yaml", &secret("a", "renamed"));
    quiet(&mut rx).await;
    assert!(provider.errors().borrow().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_edit_keeps_the_last_good_snapshot_until_fixed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &secret("a", "good"));
    let (mut rx, provider) = FileProvider::start(dir.path(), config()).unwrap();
    let mut errors = provider.errors();
    let good = rx.borrow_and_update().clone();

    write(
        dir.path(),
        "a.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: apps\nstringData: [\n",
    );
    tokio::time::timeout(WAIT, errors.wait_for(|e| !e.is_empty()))
        .await
        .expect("errors reported")
        .unwrap();
    assert_eq!(
        messages(&errors.borrow()),
        ["a.yaml:7:1: did not find expected node content, while parsing a flow node"]
    );
    quiet(&mut rx).await;
    assert_eq!(
        rx.borrow().revision,
        good.revision,
        "the last good snapshot keeps serving"
    );
    assert_eq!(secret_value(&rx.borrow(), "a").as_deref(), Some("good"));

    write(dir.path(), "a.yaml", &secret("a", "fixed"));
    let fixed = next(&mut rx).await;
    assert!(fixed.revision > good.revision);
    assert_eq!(secret_value(&fixed, "a").as_deref(), Some("fixed"));
    assert!(
        errors.borrow_and_update().is_empty(),
        "errors clear once fixed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_with_errors_serves_what_has_none_until_fixed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "kind: [\n");
    write(dir.path(), "b.yaml", &secret("b", "fine"));
    let (mut rx, provider) = FileProvider::start(dir.path(), config()).unwrap();
    let first = rx.borrow_and_update().clone();
    assert_eq!(first.revision, 1);
    assert_eq!(secret_value(&first, "b").as_deref(), Some("fine"));
    assert_eq!(secret_value(&first, "a"), None);
    assert_eq!(provider.errors().borrow().len(), 1);
    write(dir.path(), "a.yaml", &secret("a", "ok"));
    let fixed = next(&mut rx).await;
    assert_eq!(fixed.revision, 2);
    assert_eq!(secret_value(&fixed, "a").as_deref(), Some("ok"));
    assert!(provider.errors().borrow().is_empty());
}

/// An edit that makes one object invalid: the file keeps serving its previous version (so the
/// object keeps its traffic), other files take their edits, and the error names the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_field_keeps_the_file_at_its_previous_version_and_others_moving() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &secret("a", "one"));
    write(dir.path(), "b.yaml", &secret("b", "one"));
    let (mut rx, provider) = FileProvider::start(dir.path(), config()).unwrap();
    rx.borrow_and_update();
    let mut errors = provider.errors();
    write(
        dir.path(),
        "a.yaml",
        &secret("a", "two").replace("stringData:", "stringDatta:"),
    );
    tokio::time::timeout(WAIT, errors.wait_for(|e| !e.is_empty()))
        .await
        .expect("errors reported")
        .unwrap();
    assert_eq!(
        messages(&errors.borrow()),
        [
            "a.yaml:6:1: stringDatta: unknown field; expected one of apiVersion, kind, data, immutable, metadata, stringData, type; did you mean `stringData`?"
        ]
    );
    write(dir.path(), "b.yaml", &secret("b", "two"));
    let set = next(&mut rx).await;
    assert_eq!(secret_value(&set, "a").as_deref(), Some("one"));
    assert_eq!(secret_value(&set, "b").as_deref(), Some("two"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_a_single_file_follows_rename_saves() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one.yaml", &secret("a", "v1"));
    let (mut rx, _provider) = FileProvider::start(dir.path().join("one.yaml"), config()).unwrap();
    for value in ["v2", "v3"] {
        write(dir.path(), "one.yaml.new", &secret("a", value));
        std::fs::rename(dir.path().join("one.yaml.new"), dir.path().join("one.yaml")).unwrap();
        let set = next(&mut rx).await;
        assert_eq!(secret_value(&set, "a").as_deref(), Some(value));
    }
}

/// A mounted ConfigMap: the files are symlinks through `..data`, which the kubelet swaps
/// atomically to a new directory. Only hidden names change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_volume_swaps_are_picked_up() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "..v1/a.yaml", &secret("a", "one"));
    symlink("..v1", root.join("..data")).unwrap();
    symlink("..data/a.yaml", root.join("a.yaml")).unwrap();
    let (mut rx, _provider) = FileProvider::start(root, config()).unwrap();
    assert_eq!(
        secret_value(&rx.borrow_and_update(), "a").as_deref(),
        Some("one")
    );

    write(root, "..v2/a.yaml", &secret("a", "two"));
    symlink("..v2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    let swapped = next(&mut rx).await;
    assert_eq!(secret_value(&swapped, "a").as_deref(), Some("two"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_provider_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &secret("a", "one"));
    let (mut rx, provider) = FileProvider::start(dir.path(), config()).unwrap();
    rx.borrow_and_update();
    drop(provider);
    let closed = tokio::time::timeout(WAIT, rx.changed())
        .await
        .expect("the channel closes");
    assert!(closed.is_err(), "no more snapshots once dropped");
}

#[test]
fn starting_on_a_missing_path_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = FileProvider::start(dir.path().join("missing"), config()).unwrap_err();
    assert!(err.to_string().starts_with("cannot watch "), "{err}");
}

/// Every write reaches a snapshot, and how long that takes (printed with `--nocapture`; the
/// whole path to Envoy is measured by `cargo bench --bench propagation`, not asserted here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_to_snapshot_latency() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        write(
            dir.path(),
            &format!("routes/r{i}.yaml"),
            &ROUTES.replace("name: web", &format!("name: web{i}")),
        );
    }
    write(dir.path(), "a.yaml", &secret("a", "0"));
    let (mut rx, _provider) = FileProvider::start(dir.path(), config()).unwrap();
    rx.borrow_and_update();
    let mut samples = Vec::new();
    for round in 1..=60 {
        let value = round.to_string();
        let started = Instant::now();
        write(dir.path(), "a.yaml", &secret("a", &value));
        loop {
            let set = next(&mut rx).await;
            if secret_value(&set, "a").as_deref() == Some(value.as_str()) {
                break;
            }
        }
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples.sort();
    let p50 = samples[samples.len() / 2];
    let p95 = samples[samples.len() * 95 / 100];
    println!(
        "file change -> snapshot over {} edits: p50 {p50:?}, p95 {p95:?}, max {:?}",
        samples.len(),
        samples.last().unwrap()
    );
}

// ---- strict decoding ----

/// A misspelt field or a repeated key is an error at the key, naming the path and what the
/// kind knows there; the object is left out and the rest of the file still loads.
#[rstest::rstest]
#[case::unknown_field_in_a_rule(
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n  rules:\n  - matchez:\n    - path: {value: /}\n",
    "routes.yaml:7:5: spec.rules[0].matchez: unknown field; expected one of backendRefs, filters, matches, name, retry, sessionPersistence, timeouts; did you mean `matches`?"
)]
#[case::unknown_top_level_field(
    "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspek: {}\n",
    "routes.yaml:4:1: spek: unknown field; expected one of apiVersion, kind, metadata, spec, status; did you mean `spec`?"
)]
#[case::duplicate_key_in_metadata(
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  name: other\n",
    "routes.yaml:5:3: metadata.name: duplicate key; a mapping gives each key once (first at 4:3)"
)]
#[case::duplicate_label(
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: a, app: b}\n",
    "routes.yaml:5:20: metadata.labels.app: duplicate key; a mapping gives each key once (first at 5:12)"
)]
fn strict_decoding_errors(#[case] bad: &str, #[case] expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let fine = "apiVersion: v1\nkind: Service\nmetadata: {name: fine}\n";
    write(dir.path(), "routes.yaml", &format!("{bad}---\n{fine}"));
    let outcome = Loader::new(dir.path()).load(&config());
    assert_eq!(messages(&outcome.errors), [expected]);
    assert_eq!(keys(&outcome.set.services), ["default/fine"]);
    assert!(outcome.set.http_routes.is_empty());
}

const UNKNOWN_ALIAS: &str = "unknown alias: no anchor (`&name`) earlier in this document \
    defines the name this alias (`*name`) refers to; nothing after it in the file is read";

/// An alias to an anchor its document never defines is an error at the alias. libyaml goes on
/// from the middle of that document, so nothing after it is read (serde_yaml panicked on it:
/// found by `ci/fuzz-smoke`); the documents before it load.
#[rstest::rstest]
#[case::in_a_block_list(
    "spec:\n  parentRefs:\n  - port: 80\n    name: *quickstart\n  hostnames: [a.example]\n",
    "11:11"
)]
#[case::in_a_flow_list("spec: {hostnames: [*web, a.example]}\n", "8:20")]
#[case::as_a_key("spec:\n  *key: 1\n  other: 2\n", "9:3")]
#[case::after_a_duplicate_key("metadata: {name: web}\nspec:\n  x: [*web]\n", "10:7")]
fn an_unknown_alias_is_an_error_and_ends_the_file(#[case] body: &str, #[case] at: &str) {
    let dir = tempfile::tempdir().unwrap();
    let fine = |name: &str| format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n");
    let bad = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: bad}}\n{body}");
    let text = format!("{}---\n{bad}---\n{}", fine("before"), fine("after"));
    write(dir.path(), "services.yaml", &text);
    let outcome = Loader::new(dir.path()).load(&config());
    let shown = messages(&outcome.errors);
    assert!(
        shown
            .iter()
            .any(|m| *m == format!("services.yaml:{at}: {UNKNOWN_ALIAS}")),
        "{shown:?}"
    );
    assert_eq!(keys(&outcome.set.services), ["default/before"]);
}
