//! `--infra kubernetes` against simkube, through the real `kube` client: the controller applies
//! a Gateway's Deployment, Service, ServiceAccount and bootstrap ConfigMap as its
//! GatewayParameters say, owned by the Gateway and under the field manager `gatesim`; takes
//! the Gateway's address from the Service; follows a change of the parameters; keeps the
//! objects of a Gateway whose parameters turn invalid (which reports InvalidParameters); and
//! deletes them with the Gateway. The Gateway's `spec.infrastructure` works the same way: its
//! parametersRef names the parameters, its labels reach every object, and the AI extension's
//! ConfigMap comes and goes with `aiExtension.enabled`. No pod runs here (simkube has no node): the proxies' traffic
//! is checked on the local control plane (conformance/tests/local_cluster).

mod e2e_support;

use anyhow::{Context, Result, ensure};
use e2e_support::eventually;
use gatesim_reference::api::{Gateway, GatewayClass, GatewayParameters};
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::kubernetes::FIELD_MANAGER;
use gatesim_reference::infra::ports;
use gatesim_reference::model::ControllerConfig;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn parameters(replicas: u32) -> Value {
    json!({
        "apiVersion": "gateway.gloo.solo.io/v1alpha1",
        "kind": "GatewayParameters",
        "metadata": {"name": "web-params", "namespace": "default"},
        "spec": {"kube": {
            "deployment": {"replicas": replicas},
            "envoyContainer": {"bootstrap": {"logLevel": "debug"}},
            "service": {"type": "ClusterIP"},
        }},
    })
}

fn gateway(parameters_name: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "annotations": {"gateway.gloo.solo.io/gateway-parameters-name": parameters_name},
        },
        "spec": {
            "gatewayClassName": "gatesim",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
        },
    })
}

async fn apply<K>(api: &Api<K>, value: &Value) -> Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = value["metadata"]["name"].as_str().context("name")?;
    api.patch(
        name,
        &PatchParams::apply("infra-test").force(),
        &Patch::Apply(value),
    )
    .await
    .with_context(|| format!("applying {name}"))?;
    Ok(())
}

/// The GatewayClass `gatesim`, of this controller, without parameters.
async fn apply_class(client: &kube::Client) -> Result<()> {
    let classes: Api<GatewayClass> = Api::all(client.clone());
    apply(
        &classes,
        &json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "gatesim"},
            "spec": {"controllerName": gatesim_reference::api::DEFAULT_CONTROLLER_NAME},
        }),
    )
    .await
}

/// The controller reading simkube through `client` and deploying proxies there.
async fn start(client: &kube::Client) -> Result<Controller> {
    Ok(Controller::start(ControllerOptions {
        source: Source::Kubernetes(client.clone()),
        infra: Infra::Kubernetes(Box::default()),
        xds_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        config: ControllerConfig {
            port_offset: ports::PRIVILEGED_PORT_OFFSET,
            ..ControllerConfig::default()
        },
        address_network: 0,
        envoy: None,
    })
    .await?)
}

/// The condition `kind` of the Gateway's status.
fn condition(gw: &Gateway, kind: &str) -> Option<Value> {
    let status = serde_json::to_value(gw.status.as_ref()?).ok()?;
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_are_applied_addressed_updated_kept_and_deleted() -> Result<()> {
    let simkube = gatesim_simkube::SimKube::start(gatesim_simkube::Config::default()).await?;
    let client = kube::Client::try_from(kube::Config::new(simkube.url().parse()?))?;
    let params: Api<GatewayParameters> = Api::namespaced(client.clone(), "default");
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    apply_class(&client).await?;
    apply(&params, &parameters(2)).await?;
    apply(&gateways, &gateway("web-params")).await?;

    let controller = start(&client).await?;

    // Applied as the parameters say, owned by the Gateway, by our field manager.
    let uid = gateways.get("web").await?.metadata.uid.context("uid")?;
    let deployment = eventually(WAIT, "the Deployment with 2 replicas", || async {
        Ok(deployments
            .get_opt("web")
            .await?
            .filter(|d| d.spec.as_ref().and_then(|s| s.replicas) == Some(2)))
    })
    .await?;
    let owner = &deployment
        .metadata
        .owner_references
        .as_ref()
        .context("owners")?[0];
    ensure!(owner.kind == "Gateway" && owner.uid == uid && owner.controller == Some(true));
    let managers: Vec<String> = deployment
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    ensure!(
        managers.iter().any(|m| m == FIELD_MANAGER),
        "applied by {managers:?}"
    );
    let args = serde_json::to_value(&deployment.spec.as_ref().context("spec")?.template)?
        ["spec"]["containers"][0]["args"]
        .clone();
    ensure!(
        args.as_array().is_some_and(|a| a
            .windows(2)
            .any(|w| w[0] == "--log-level" && w[1] == "debug")),
        "the parameters' log level: {args}"
    );
    ensure!(accounts.get_opt("web").await?.is_some(), "ServiceAccount");
    let bootstrap = config_maps.get("web").await?.data.context("data")?["envoy.yaml"].clone();
    ensure!(
        bootstrap.contains("gatesim-xds.gatesim-system.svc.cluster.local")
            && bootstrap.contains("id: default/web"),
        "the bootstrap points at the xDS Service with the node id the controller serves:\n{bootstrap}"
    );

    // The Gateway's address is its Service's ClusterIP, then its load balancer's.
    let service = services.get("web").await?;
    ensure!(service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ClusterIP"));
    let cluster_ip = service
        .spec
        .and_then(|s| s.cluster_ip)
        .context("clusterIP")?;
    let address = |want: String| {
        let gateways = gateways.clone();
        async move {
            eventually(WAIT, &format!("Gateway address {want}"), || async {
                let gw = gateways.get("web").await?;
                let addrs = serde_json::to_value(gw.status.as_ref())?["addresses"].clone();
                Ok((addrs[0]["value"] == want.as_str()).then_some(addrs))
            })
            .await
        }
    };
    address(cluster_ip.clone()).await?;
    services
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"loadBalancer": {"ingress": [{"hostname": "web.lb.example"}]}}}),
            ),
        )
        .await?;
    let addrs = address("web.lb.example".into()).await?;
    ensure!(addrs[0]["type"] == "Hostname", "{addrs}");

    // A change of the parameters reaches the Deployment.
    apply(&params, &parameters(4)).await?;
    eventually(WAIT, "the Deployment scaled to 4", || async {
        Ok(deployments
            .get("web")
            .await?
            .spec
            .and_then(|s| s.replicas)
            .filter(|r| *r == 4))
    })
    .await?;

    // Parameters that name nothing: InvalidParameters, and the proxy stays as it was.
    apply(&gateways, &gateway("web-parms")).await?;
    let accepted = eventually(WAIT, "Accepted=False InvalidParameters", || async {
        let gw = gateways.get("web").await?;
        Ok(condition(&gw, "Accepted").filter(|c| c["reason"] == "InvalidParameters"))
    })
    .await?;
    ensure!(
        accepted["status"] == "False"
            && accepted["message"]
                .as_str()
                .is_some_and(|m| m.contains("GatewayParameters default/web-parms not found")),
        "{accepted}"
    );
    ensure!(
        deployments.get("web").await?.spec.and_then(|s| s.replicas) == Some(4),
        "the last good Deployment is kept"
    );

    // Deleting the Gateway deletes every object of its proxy.
    gateways.delete("web", &DeleteParams::default()).await?;
    eventually(WAIT, "the proxy's objects deleted", || async {
        let left = [
            deployments.get_opt("web").await?.is_some(),
            services.get_opt("web").await?.is_some(),
            accounts.get_opt("web").await?.is_some(),
            config_maps.get_opt("web").await?.is_some(),
        ];
        Ok((!left.contains(&true)).then_some(()))
    })
    .await?;
    controller.shutdown().await;
    Ok(())
}

/// `--infra kubernetes` needs the cluster the Kubernetes provider watches.
fn ai_parameters(replicas: u32, ai: bool) -> Value {
    json!({
        "apiVersion": "gateway.gloo.solo.io/v1alpha1",
        "kind": "GatewayParameters",
        "metadata": {"name": "edge-params", "namespace": "default"},
        "spec": {"kube": {
            "deployment": {"replicas": replicas},
            "aiExtension": {
                "enabled": ai,
                "image": {"repository": "example.com/ai-extension", "tag": "1"},
                "stats": {"customLabels": [{"name": "subject", "metadataKey": "principal:sub"}]},
            },
        }},
    })
}

fn edge_gateway(group: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "edge", "namespace": "default"},
        "spec": {
            "gatewayClassName": "gatesim",
            "infrastructure": {
                "parametersRef": {"group": group, "kind": "GatewayParameters", "name": "edge-params"},
                "labels": {"team": "edge"},
            },
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_parameters_ref_labels_and_the_ai_config_map() -> Result<()> {
    let simkube = gatesim_simkube::SimKube::start(gatesim_simkube::Config::default()).await?;
    let client = kube::Client::try_from(kube::Config::new(simkube.url().parse()?))?;
    let params: Api<GatewayParameters> = Api::namespaced(client.clone(), "default");
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    apply_class(&client).await?;
    apply(&params, &ai_parameters(2, true)).await?;
    apply(&gateways, &edge_gateway("gateway.gloo.solo.io")).await?;
    let controller = start(&client).await?;

    // The referenced parameters apply, the infrastructure labels reach the objects, and the
    // AI extension gets its container and ConfigMap.
    let deployment = eventually(WAIT, "the Deployment with 2 replicas", || async {
        Ok(deployments
            .get_opt("edge")
            .await?
            .filter(|d| d.spec.as_ref().and_then(|s| s.replicas) == Some(2)))
    })
    .await?;
    let labels = deployment.metadata.labels.clone().unwrap_or_default();
    ensure!(
        labels.get("team").map(String::as_str) == Some("edge"),
        "{labels:?}"
    );
    let pod = serde_json::to_value(&deployment.spec.as_ref().context("spec")?.template)?;
    ensure!(pod["metadata"]["labels"]["team"] == "edge", "{pod}");
    ensure!(
        pod["spec"]["containers"][1]["name"] == "gloo-ai-extension",
        "{pod}"
    );
    let ai = config_maps.get("edge-ai-stats-config").await?;
    let stats = ai.data.context("data")?["stats.json"].clone();
    ensure!(stats.contains("principal:sub"), "{stats}");

    // Turned off: the container goes, and so does the ConfigMap.
    apply(&params, &ai_parameters(3, false)).await?;
    eventually(WAIT, "the AI ConfigMap deleted, 3 replicas", || async {
        let d = deployments.get("edge").await?;
        let gone = config_maps.get_opt("edge-ai-stats-config").await?.is_none();
        Ok((gone && d.spec.and_then(|s| s.replicas) == Some(3)).then_some(()))
    })
    .await?;

    // A reference to another group: InvalidParameters naming the field, objects kept.
    apply(&gateways, &edge_gateway("example.com")).await?;
    let accepted = eventually(WAIT, "Accepted=False InvalidParameters", || async {
        let gw = gateways.get("edge").await?;
        Ok(condition(&gw, "Accepted").filter(|c| c["reason"] == "InvalidParameters"))
    })
    .await?;
    ensure!(
        accepted["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.infrastructure.parametersRef: example.com/GatewayParameters edge-params is not supported")),
        "{accepted}"
    );
    ensure!(
        deployments.get("edge").await?.spec.and_then(|s| s.replicas) == Some(3),
        "the last good Deployment is kept"
    );
    controller.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn kubernetes_infra_refuses_the_file_provider() {
    let dir = tempfile::tempdir().unwrap();
    let started = Controller::start(ControllerOptions {
        source: Source::File(dir.path().to_path_buf()),
        infra: Infra::Kubernetes(Box::default()),
        xds_addr: "127.0.0.1:0".parse().unwrap(),
        admin_addr: "127.0.0.1:0".parse().unwrap(),
        config: ControllerConfig::default(),
        address_network: 0,
        envoy: None,
    })
    .await;
    let err = started.err().expect("refused").to_string();
    assert!(err.contains("--provider kubernetes"), "{err}");
}
