//! The controller's watches survive objects its types cannot decode: with simkube's schema
//! validation off (as a cluster with a newer CRD, or a hand-edited object, would allow),
//! an HTTPRoute whose backend weight is a string is stored; the controller skips it,
//! reports it on `/errors` and in `/metrics`, and still writes the other objects' status.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::model::ControllerConfig;
use gatesim_simkube::{Config, SchemaSource, SimKube};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONTROLLER: &str = "gatesim.dev/watch-test";

fn api(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        kind,
    ));
    if kind == "GatewayClass" {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), "default", &ar)
    }
}

async fn create(client: &kube::Client, kind: &str, name: &str, spec: Value) {
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap();
    api(client, kind)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {kind} {name}: {e}"));
}

fn route(weight: Value) -> Value {
    json!({"parentRefs": [{"name": "gw"}],
           "rules": [{"backendRefs": [{"name": "svc", "port": 80, "weight": weight}]}]})
}

async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: admin\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn an_undecodable_object_is_skipped_and_the_rest_flows() {
    let simkube = SimKube::start(Config {
        schemas: SchemaSource::none(),
        ..Config::default()
    })
    .await
    .unwrap();
    let client = kube::Client::try_from(kube::Config::new(simkube.url().parse().unwrap())).unwrap();
    create(
        &client,
        "GatewayClass",
        "watch",
        json!({"controllerName": CONTROLLER}),
    )
    .await;
    create(
        &client,
        "Gateway",
        "gw",
        json!({"gatewayClassName": "watch",
        "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}),
    )
    .await;
    create(&client, "HTTPRoute", "broken", route(json!("heavy"))).await;
    create(&client, "HTTPRoute", "good", route(json!(1))).await;

    let controller = Controller::start(ControllerOptions {
        source: Source::Kubernetes(client.clone()),
        infra: Infra::None,
        xds_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        config: ControllerConfig {
            controller_name: CONTROLLER.into(),
            ..ControllerConfig::default()
        },
        address_network: 0,
        envoy: None,
    })
    .await
    .unwrap();

    let routes = api(&client, "HTTPRoute");
    let deadline = Instant::now() + Duration::from_secs(30);
    let accepted = loop {
        let good = routes.get("good").await.unwrap();
        let parents = good.data.pointer("/status/parents").cloned();
        if let Some(Value::Array(p)) = parents
            && !p.is_empty()
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the good route never got a status; /errors: {:?}",
            controller.state().errors()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        accepted[0]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Accepted" && c["status"] == "True"),
        "{accepted:?}"
    );

    let errors = controller.state().errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("HTTPRoute default/broken: cannot decode: "),
        "{errors:?}"
    );
    let served = get(controller.admin_addr(), "/errors").await;
    assert!(served.contains("HTTPRoute default/broken"), "{served}");
    let metrics = get(controller.admin_addr(), "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("gatesim_watch_decode_errors_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    let broken = routes.get("broken").await.unwrap();
    assert!(
        broken
            .data
            .get("status")
            .is_none_or(|s| s.get("parents").is_none()),
        "the skipped route gets no status"
    );

    // Fixing the object clears the error and brings it in.
    let mut fixed = broken.clone();
    fixed.data["spec"] = route(json!(2));
    routes
        .replace("broken", &PostParams::default(), &fixed)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !controller.state().errors().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the fixed object is still reported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    controller.shutdown().await;
}
