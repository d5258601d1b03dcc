//! Shared helpers: a running simkube with a real `kube::Client` pointed at it.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::time::{Duration, Instant};

use gatesim_simkube::{Config, SimKube};
use gateway_api::gateways::Gateway;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::{Client, Error};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A server with default settings and a client for it.
pub async fn start() -> (SimKube, Client) {
    start_with(Config::default()).await
}

/// A server with `config` and a client for it.
pub async fn start_with(config: Config) -> (SimKube, Client) {
    let server = SimKube::start(config).await.expect("simkube starts");
    let client = client_for(&server);
    (server, client)
}

/// A `kube::Client` built the way any caller builds one: from a `kube::Config` whose
/// cluster URL is the server's.
pub fn client_for(server: &SimKube) -> Client {
    let url = server.url().parse().expect("server URL parses");
    let config = kube::Config::new(url);
    Client::try_from(config).expect("client builds")
}

/// Creates a namespace.
pub async fn namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
}

/// The `Status` of an API error; panics on any other error.
pub fn status(result: Result<impl std::fmt::Debug, Error>) -> kube::core::Status {
    match result {
        Err(Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls `check` until it returns `Some`, failing with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A typed object from JSON.
pub fn obj<K: DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).expect("test object deserializes")
}

/// A Gateway of class `sim` with HTTP listeners on port 80.
pub fn gateway(name: &str, listeners: &[&str]) -> Gateway {
    // Listeners on one port and protocol need distinct hostnames (a CEL rule of the CRD).
    let listeners: Vec<Value> = listeners
        .iter()
        .map(|l| json!({"name": l, "port": 80, "protocol": "HTTP", "hostname": format!("{l}.example")}))
        .collect();
    obj(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name},
        "spec": {"gatewayClassName": "sim", "listeners": listeners}
    }))
}
