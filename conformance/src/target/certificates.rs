//! TestCertificates: generated once when applied, remembered for the run (probes trust them,
//! echo backends serve them, issued certificates need their authority), and published the
//! same way on every target: leaves as `kubernetes.io/tls` Secrets, authorities and `ca: true`
//! bundles as ConfigMaps with `ca.crt`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::TargetError;
use crate::certs;
use crate::scenario::{CertificateUsage, TestCertificate};

/// One generated certificate (PEM).
#[derive(Clone, Debug)]
pub struct Generated {
    pub cert_pem: String,
    pub key_pem: String,
    /// The CA that signed it (an authority's own certificate for an authority).
    pub ca_cert_pem: String,
    pub authority: bool,
    pub usage: CertificateUsage,
    /// Signing material, kept for certificates that name this one as `issuer`.
    material: certs::TestCertificate,
}

/// Every TestCertificate of the run, by namespace and name.
#[derive(Default)]
pub struct CertStore {
    certs: Mutex<BTreeMap<(String, String), Arc<Generated>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CertStore {
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Generated>> {
        lock(&self.certs)
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Generates `spec` (replacing any earlier certificate of that name) and returns the
    /// objects that publish it.
    pub fn generate(&self, cert: &TestCertificate) -> Result<Vec<Value>, TargetError> {
        let meta = &cert.metadata;
        let spec = &cert.spec;
        let failed = |e: certs::CertError| TargetError::Certificate {
            name: format!("{}/{}", meta.namespace, meta.name),
            source: e,
        };
        let names: Vec<String> = spec.dns_names.iter().chain(&spec.uris).cloned().collect();
        let issuer = match spec.issuer_ref(&meta.namespace) {
            Some((ns, name)) => Some(self.get(ns, name).ok_or_else(|| {
                TargetError::Invalid(format!(
                    "TestCertificate {}/{}: its issuer {ns}/{name} has not been generated; \
                     list an authority before the certificates it signs",
                    meta.namespace, meta.name
                ))
            })?),
            None => None,
        };
        let generated = if spec.authority {
            let material = certs::TestCertificate::authority().map_err(failed)?;
            Generated {
                cert_pem: material.cert_pem.clone(),
                key_pem: material.key_pem.clone(),
                ca_cert_pem: material.ca_cert_pem.clone(),
                authority: true,
                usage: spec.usage,
                material,
            }
        } else {
            let material = match &issuer {
                Some(issuer) => issuer.material.clone(),
                None => certs::TestCertificate::authority().map_err(failed)?,
            };
            let (cert_pem, key_pem) = match spec.usage {
                CertificateUsage::Client => {
                    let id = material
                        .issue_client_certificate(&meta.name)
                        .map_err(failed)?;
                    (id.cert_pem, id.key_pem)
                }
                CertificateUsage::Server => {
                    let leaf = material.issue(&names).map_err(failed)?;
                    (leaf.cert_pem, leaf.key_pem)
                }
            };
            Generated {
                cert_pem,
                key_pem,
                ca_cert_pem: material.ca_cert_pem.clone(),
                authority: false,
                usage: spec.usage,
                material,
            }
        };
        let objects = publish(cert, &generated);
        lock(&self.certs).insert(
            (meta.namespace.clone(), meta.name.clone()),
            Arc::new(generated),
        );
        Ok(objects)
    }

    pub fn remove(&self, namespace: &str, name: &str) {
        lock(&self.certs).remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// CA bundles of every certificate of the run, without repeats: what an HTTPS probe
    /// trusts unless a case names certificates with `trust`.
    pub fn all_trust(&self) -> Vec<String> {
        let mut pems: Vec<String> = lock(&self.certs)
            .values()
            .map(|c| c.ca_cert_pem.clone())
            .collect();
        pems.sort();
        pems.dedup();
        pems
    }
}

/// The objects that publish a certificate, named as the format says.
pub fn published_refs(cert: &TestCertificate) -> Vec<(&'static str, String)> {
    let name = &cert.metadata.name;
    if cert.spec.authority {
        vec![("ConfigMap", name.clone())]
    } else if cert.spec.ca {
        vec![
            ("Secret", name.clone()),
            ("ConfigMap", format!("{name}-ca")),
        ]
    } else {
        vec![("Secret", name.clone())]
    }
}

fn publish(cert: &TestCertificate, generated: &Generated) -> Vec<Value> {
    let meta = &cert.metadata;
    let metadata = |name: &str| {
        json!({
            "name": name,
            "namespace": meta.namespace,
            "labels": meta.labels,
            "annotations": meta.annotations,
        })
    };
    let ca_bundle = |name: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(name),
            "data": {"ca.crt": generated.ca_cert_pem},
        })
    };
    if generated.authority {
        return vec![ca_bundle(&meta.name)];
    }
    let mut objects = vec![json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(&meta.name),
        "type": "kubernetes.io/tls",
        // `data`, not `stringData`: not every server converts the latter.
        "data": {
            "tls.crt": STANDARD.encode(&generated.cert_pem),
            "tls.key": STANDARD.encode(&generated.key_pem),
        },
    })];
    if cert.spec.ca {
        objects.push(ca_bundle(&format!("{}-ca", meta.name)));
    }
    objects
}
