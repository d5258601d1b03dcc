//! Upstreams (`gloo.solo.io/v1`): whether one can be served (its fields, the Service or Secret
//! it names), what a backendRef to it resolves to, and its status.
//!
//! An Upstream that cannot be served reports why on its own status (`Accepted=False`,
//! `Invalid`, naming the field) and on every route that sends traffic to it
//! (`ResolvedRefs=False`), whose share of requests gets a 500, as for a missing Service. It
//! never reaches Envoy, so it can never make Envoy refuse another object's configuration.

use serde_json::json;

use super::backends::ServicePort;
use super::conditions::{Problem, condition, kind, reason};
use super::output::{ObjectRef, StatusPatch, StatusUpdate};
use super::tls::{check_pair, secret_value};
use crate::api::Upstream;
use crate::api::k8sgateway::headers::ResourceRef;
use crate::api::k8sgateway::upstream::KubeUpstream;
use crate::model::{ObjectKey, ResourceSet};
use crate::validate;

pub(crate) const GROUP: &str = "gloo.solo.io";
pub(crate) const KIND: &str = "Upstream";

/// The client certificate and trust an Upstream's `sslConfig.secretRef` names.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsMaterial {
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
    pub ca_pem: Option<Vec<u8>>,
}

/// Whether the Upstream can be served, and the Service port behind it for a `kube` one;
/// `Err` says why not, naming the field.
pub(crate) fn check(
    set: &ResourceSet,
    key: &ObjectKey,
    upstream: &Upstream,
) -> Result<Option<ServicePort>, String> {
    if set.config.validate_inputs {
        let errors = validate::upstream(upstream);
        if !errors.is_empty() {
            return Err(validate::describe(&errors));
        }
    }
    let material = tls_material(set, key, upstream)?;
    if let Some(aws) = &upstream.spec.aws {
        super::lambda::credentials(set, key, aws)?;
    }
    if let Some(ssl) = &upstream.spec.ssl_config
        && ssl
            .verify_subject_alt_name
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    {
        let file_ca = ssl
            .ssl_files
            .as_ref()
            .and_then(|f| f.root_ca.as_deref())
            .is_some_and(|p| !p.is_empty());
        let secret_ca = material.as_ref().is_some_and(|m| m.ca_pem.is_some());
        if !file_ca && !secret_ca {
            return Err(
                "spec.sslConfig.verifySubjectAltName: needs a CA to verify the server \
                        against (ca.crt in the Secret, or sslFiles.rootCa)"
                    .to_string(),
            );
        }
    }
    upstream
        .spec
        .kube
        .as_ref()
        .map(|k| service_port(set, key, k))
        .transpose()
}

/// The Secret of `sslConfig.secretRef` (in the Upstream's namespace unless it names one, as
/// K8sGateway reads it), checked as Envoy would: a usable pair unless `oneWayTls`, and a CA
/// when one is given.
pub(crate) fn tls_material(
    set: &ResourceSet,
    key: &ObjectKey,
    upstream: &Upstream,
) -> Result<Option<TlsMaterial>, String> {
    let Some(ssl) = &upstream.spec.ssl_config else {
        return Ok(None);
    };
    let Some(r) = &ssl.secret_ref else {
        return Ok(None);
    };
    let at = "spec.sslConfig.secretRef";
    let (
        secret,
        ObjectKey {
            namespace: ns,
            name,
        },
    ) = referenced_secret(set, key, r, at)?;
    let material = TlsMaterial {
        cert_pem: secret_value(secret, "tls.crt"),
        key_pem: secret_value(secret, "tls.key"),
        ca_pem: secret_value(secret, "ca.crt"),
    };
    let one_way = ssl.one_way_tls == Some(true);
    match (&material.cert_pem, &material.key_pem) {
        (Some(cert), Some(key)) if !one_way => {
            check_pair(cert, key).map_err(|e| format!("{at}: Secret {ns}/{name}: {e}"))?
        }
        (None, None) if material.ca_pem.is_some() => {}
        _ if one_way && material.ca_pem.is_some() => {}
        _ => {
            return Err(format!(
                "{at}: Secret {ns}/{name} needs tls.crt and tls.key (or, with oneWayTls, ca.crt)"
            ));
        }
    }
    if let Some(ca) = &material.ca_pem {
        check_ca(ca).map_err(|e| format!("{at}: Secret {ns}/{name}: ca.crt {e}"))?;
    }
    Ok(Some(material))
}

/// The Secret a solo-kit `ResourceRef` at `at` names, in the Upstream's namespace unless the
/// reference names one, as K8sGateway reads it.
pub(crate) fn referenced_secret<'a>(
    set: &'a ResourceSet,
    key: &ObjectKey,
    r: &ResourceRef,
    at: &str,
) -> Result<(&'a crate::api::Secret, ObjectKey), String> {
    let name = r.name.as_deref().unwrap_or_default();
    let ns = r
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&key.namespace);
    let secret_key = ObjectKey::new(ns, name);
    let secret = set
        .secrets
        .get(&secret_key)
        .ok_or_else(|| format!("{at}: Secret {ns}/{name} does not exist"))?;
    Ok((secret, secret_key))
}

fn check_ca(pem: &[u8]) -> Result<(), String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate".into());
    }
    Ok(())
}

/// The Service port a `kube` Upstream names (in the Upstream's namespace unless it names
/// one), narrowed to the Pods its `selector` picks. K8sGateway needs no ReferenceGrant here:
/// Upstreams are written by operators. A selector that picks no Pod is not an error (the
/// Pods may come later): the cluster has no endpoints and Envoy answers 503, as in
/// K8sGateway.
fn service_port(
    set: &ResourceSet,
    key: &ObjectKey,
    k: &KubeUpstream,
) -> Result<ServicePort, String> {
    let name = k.service_name.as_deref().unwrap_or_default();
    let ns = k
        .service_namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&key.namespace);
    let port = k.service_port.unwrap_or_default();
    let svc_key = ObjectKey::new(ns, name);
    let svc = set
        .services
        .get(&svc_key)
        .ok_or_else(|| format!("spec.kube.serviceName: Service {ns}/{name} does not exist"))?;
    let sp = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|ports| ports.iter().find(|p| i64::from(p.port) == i64::from(port)))
        .ok_or_else(|| format!("spec.kube.servicePort: Service {ns}/{name} has no port {port}"))?;
    Ok(ServicePort {
        key: svc_key,
        port: sp.port,
        port_name: sp.name.clone().filter(|n| !n.is_empty()),
        app_protocol: sp.app_protocol.clone(),
        pod_selector: k.selector.clone().unwrap_or_default(),
    })
}

/// The whole status of a K8sGateway kind that is not a policy (Upstream, Settings): one
/// `Accepted` condition, True or False with the problem.
pub(crate) fn acceptance(
    api_version: &str,
    kind_name: &str,
    key: &ObjectKey,
    generation: Option<i64>,
    problem: Option<&Problem>,
    accepted_message: &str,
) -> StatusUpdate {
    let accepted = condition(
        kind::ACCEPTED,
        problem.map_or(Ok(reason::ACCEPTED), Err),
        accepted_message,
        generation,
    );
    StatusUpdate {
        target: ObjectRef {
            api_version: api_version.to_string(),
            kind: kind_name.to_string(),
            namespace: Some(key.namespace.clone()),
            name: key.name.clone(),
        },
        patch: StatusPatch::Whole(json!({
            "observedGeneration": generation,
            "conditions": [accepted],
        })),
    }
}

/// Every Upstream's status: `Accepted`, or why it cannot be served.
pub(crate) fn statuses(set: &ResourceSet, out: &mut Vec<StatusUpdate>) {
    for (key, upstream) in &set.upstreams {
        let generation = upstream.metadata.generation;
        let problem = check(set, key, upstream)
            .err()
            .map(|why| Problem::new(reason::INVALID, why));
        out.push(acceptance(
            &format!("{GROUP}/v1"),
            KIND,
            key,
            generation,
            problem.as_ref(),
            "the Upstream is valid",
        ));
    }
}
