//! A generated world as the controller's input, in process: the world's objects plus what the
//! `fuzz` base fixture provides on a live target (the GatewayClass, each echo backend's
//! Service and EndpointSlice, each namespace's serving certificate Secret).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatesim_generate::{World, render, universe};
use gatesim_reference::model::{AnyObject, ControllerConfig, ResourceSet};
use serde_json::{Value, json};

use crate::certs::TestCertificate;

/// The GatewayClass in-process translations use.
pub const CLASS: &str = "gatesim";

/// One certificate for every in-process translation: generating a key per case would cost more
/// than translating it.
fn certificate() -> &'static Result<TestCertificate, String> {
    static CERT: OnceLock<Result<TestCertificate, String>> = OnceLock::new();
    CERT.get_or_init(|| {
        let names: Vec<String> = universe::CERT_DNS_NAMES
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        TestCertificate::generate(&names, false).map_err(|e| e.to_string())
    })
}

/// The objects a live target has besides the world's own.
pub fn universe_objects() -> Result<Vec<Value>, String> {
    let cert = certificate().as_ref().map_err(Clone::clone)?;
    let mut out = vec![json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": CLASS},
        "spec": {"controllerName": ControllerConfig::default().controller_name},
    })];
    let mut address = 0u8;
    for ns in universe::NAMESPACES {
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": universe::CERT_NAME, "namespace": ns},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": STANDARD.encode(&cert.cert_pem),
                "tls.key": STANDARD.encode(&cert.key_pem),
            },
        }));
        for (name, port) in universe::BACKENDS {
            address += 1;
            out.push(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "selector": {"app": name},
                    "ports": [{"name": "http", "port": port, "targetPort": universe::TARGET_PORT}],
                },
            }));
            out.push(json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": format!("{name}-slice"),
                    "namespace": ns,
                    "labels": {"kubernetes.io/service-name": name},
                },
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": universe::TARGET_PORT}],
                "endpoints": [{"addresses": [format!("127.0.30.{address}")], "conditions": {"ready": true}}],
            }));
        }
    }
    Ok(out)
}

/// Every object of the world and the universe, in the order `render` gives them.
pub fn objects(world: &World) -> Result<Vec<Value>, String> {
    let mut out = universe_objects()?;
    out.extend(render::case_objects(world, Some(CLASS)));
    Ok(out)
}

/// Decodes `objects` into a snapshot, inserting them in the order given.
pub fn resource_set(objects: Vec<Value>) -> Result<ResourceSet, String> {
    let mut set = ResourceSet::default();
    for o in objects {
        let decoded = AnyObject::from_value(o).map_err(|e| e.to_string())?;
        set.insert_any(decoded);
    }
    Ok(set)
}

/// The controller's input for `world`.
pub fn world_set(world: &World) -> Result<ResourceSet, String> {
    resource_set(objects(world)?)
}
