//! Every invalid object of the validation tables at once, beside valid routes on one Gateway,
//! through the file provider, the controller and a real Envoy: the valid routes answer from
//! the backends they name, Envoy never rejects a configuration, the Gateway is programmed,
//! each invalid object has its condition and its position in `/errors`, and a later edit of a
//! valid route still reaches Envoy.

mod e2e_support;
mod validate_support;

use std::net::SocketAddr;

use anyhow::{Context, Result, ensure};
use e2e_support::{
    Backend, Call, Reply, WAIT, endpoint_slice, eventually, expect, gateway_addr, start_controller,
    wait_acked,
};
use gatesim_reference::controller::Controller;
use gatesim_reference::model::ControllerConfig;
use serde_json::{Value, json};

/// A valid route for `host` to Service `svc`, with header values Envoy would read as format
/// strings if they reached it unescaped.
fn good_route(name: &str, host: &str, svc: &str) -> Value {
    validate_support::route(
        name,
        &json!({
            "hostnames": [host],
            "rules": [{
                "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
                    "set": [{"name": "x-percent", "value": "100%"},
                            {"name": "x-literal", "value": "%REQ(host)%"}]}}],
                "backendRefs": [{"name": svc, "port": 8080}],
            }],
        }),
    )
}

/// The objects as one multi-document YAML file, with the Services of the backends.
fn yaml(objects: &[Value], services: &str) -> Result<String> {
    let mut docs: Vec<String> = objects
        .iter()
        .map(serde_yaml::to_string)
        .collect::<Result<_, _>>()?;
    docs.push(services.to_string());
    Ok(docs.join("---\n"))
}

async fn expect_backend(addr: SocketAddr, host: &str, backend: &str) -> Result<Reply> {
    expect(
        addr,
        Call::get(host, "/"),
        |r| r.status == 200 && r.backend().as_deref() == Some(backend),
        &format!("{host} answered by {backend}"),
    )
    .await
}

/// No proxy has rejected any configuration (the cache counts NACKs per resource type).
fn nacks(controller: &Controller) -> Vec<String> {
    controller
        .cache()
        .nodes()
        .iter()
        .flat_map(|n| {
            let rejected = n
                .rejected
                .as_ref()
                .map(|r| format!("{}: {}", n.node_id, r.message));
            let counted = n
                .types
                .iter()
                .filter(|(_, t)| t.nacks > 0)
                .map(|(ty, t)| format!("{}: {} NACKs of {ty}", n.node_id, t.nacks));
            rejected.into_iter().chain(counted).collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_stay_out_of_envoy_and_everything_else_serves() -> Result<()> {
    let cases = validate_support::all()?;
    let a = Backend::start("a-0", "127.0.43.1", 0).await?;
    let b = Backend::start("b-0", "127.0.43.2", 0).await?;
    // The base Services get endpoints: a grant probe reaches `other/echo` once permitted.
    let services = [
        endpoint_slice("echo", &[&a]),
        endpoint_slice("echo", &[&a]).replace("namespace: default", "namespace: other"),
        endpoint_slice("svc-a", &[&a]),
        endpoint_slice("svc-b", &[&b]),
    ]
    .join("---\n");

    let mut objects = validate_support::base();
    objects.retain(|o| o["kind"] != "Service");
    objects.push(good_route("good-a", "a.example.com", "svc-a"));
    objects.push(good_route("good-b", "b.example.com", "svc-b"));
    for case in &cases {
        case.apply(&case.invalid, &mut objects);
    }

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config)?;
    std::fs::write(config.join("all.yaml"), yaml(&objects, &services)?)?;

    let Some(controller) = start_controller(dir.path(), 43, ControllerConfig::default()).await?
    else {
        return Ok(());
    };
    let http = SocketAddr::new(gateway_addr(&controller).await?, 80);

    // The valid routes serve, with their header values as literal text.
    let r = expect_backend(http, "a.example.com", "a-0").await?;
    ensure!(
        r.seen_header("x-percent").as_deref() == Some("100%")
            && r.seen_header("x-literal").as_deref() == Some("%REQ(host)%"),
        "header values reach the backend literally: {:?}",
        r.seen()
    );
    expect_backend(http, "b.example.com", "b-0").await?;

    // Envoy holds the whole current configuration and never rejected one.
    wait_acked(&controller).await?;
    ensure!(
        nacks(&controller).is_empty(),
        "NACKs: {:?}",
        nacks(&controller)
    );

    // The Gateway is programmed; every invalid object has its condition.
    let statuses = eventually(WAIT, "the Gateway reports Programmed", || {
        let statuses = controller.state().statuses();
        async move {
            let gw = statuses
                .iter()
                .find(|s| s["kind"] == "Gateway" && s["name"] == "gw")
                .context("no Gateway status")?;
            let programmed = gw["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Programmed" && c["status"] == "True")
            });
            Ok(programmed.then_some(statuses))
        }
    })
    .await?;
    let mut wrong = Vec::new();
    for case in &cases {
        let want = &case.expect;
        match validate_support::condition(case, &case.invalid, &statuses, &want.condition) {
            Ok(c) if c["status"] == want.status.as_str() && c["reason"] == want.reason.as_str() => {
            }
            Ok(c) => wrong.push(format!("{} / {}: {c}", case.file, case.name)),
            Err(e) => wrong.push(format!("{} / {}: {e:#}", case.file, case.name)),
        }
    }
    ensure!(wrong.is_empty(), "conditions:\n{}", wrong.join("\n"));

    // /errors points at every invalid object in the file.
    let errors = controller.state().errors();
    ensure!(
        errors.len() >= cases.len()
            && errors.iter().all(|e| {
                e.starts_with("all.yaml:")
                    && e.split(':')
                        .nth(3)
                        .is_some_and(|rest| rest.trim_start().starts_with("spec"))
            }),
        "/errors: {errors:#?}"
    );

    // An edit of a valid route reaches Envoy.
    let edited: Vec<Value> = objects
        .into_iter()
        .map(|o| {
            if o["metadata"]["name"] == "good-b" {
                good_route("good-b", "b.example.com", "svc-a")
            } else {
                o
            }
        })
        .collect();
    std::fs::write(config.join("all.yaml"), yaml(&edited, &services)?)?;
    expect_backend(http, "b.example.com", "a-0").await?;
    ensure!(
        nacks(&controller).is_empty(),
        "NACKs: {:?}",
        nacks(&controller)
    );

    controller.shutdown().await;
    Ok(())
}
