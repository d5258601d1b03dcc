//! The `simkube` binary: prints its URL, writes a kubeconfig, serves, validates against
//! the CRDs of `--crd-dir`, and exits cleanly on interrupt.

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn the_binary_serves_until_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let crds = dir.path().join("crds");
    std::fs::create_dir(&crds).unwrap();
    std::fs::write(crds.join("routeoptions.yaml"), ROUTE_OPTION_CRD).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_simkube"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--no-gateway-api-crds")
        .arg("--crd-dir")
        .arg(&crds)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("simkube starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("simkube prints its URL")
        .unwrap()
        .unwrap();
    let (url, validated) = first
        .strip_prefix("simkube serving at ")
        .and_then(|rest| rest.split_once(' '))
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let url = url.to_string();
    assert_eq!(validated, "(1 kinds validated against CRD schemas)");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // The kubeconfig line follows once the file is written.
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap();

    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), url);
    let client = kube::Client::try_from(config).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");

    // The CRD of --crd-dir is enforced.
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.solo.io",
        "v1",
        "RouteOption",
    ));
    let options: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let option = |timeout: serde_json::Value| -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.solo.io/v1", "kind": "RouteOption",
            "metadata": {"name": "opt"}, "spec": {"options": {"timeout": timeout}}
        }))
        .unwrap()
    };
    let refused = options
        .create(&PostParams::default(), &option(serde_json::json!(5)))
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("spec.options.timeout: Invalid value: \"integer\""),
        "{refused}"
    );
    options
        .create(&PostParams::default(), &option(serde_json::json!("5s")))
        .await
        .unwrap();

    let pid = child.id().expect("running").to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(sent.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits on interrupt")
        .unwrap();
    assert!(exit.success(), "clean exit: {exit:?}");
}

const ROUTE_OPTION_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: routeoptions.gateway.solo.io
spec:
  group: gateway.solo.io
  names: {kind: RouteOption, plural: routeoptions}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              options:
                type: object
                properties:
                  timeout: {type: string}
"#;
