//! Checking TLS material before it reaches Envoy.
//!
//! Envoy rejects a whole listener update (a NACK) when one certificate is unusable, which would
//! take every other listener of the Gateway down with it. So a certificate is checked here as
//! strictly as Envoy would: PEM that decodes, a parseable end-entity certificate, a private key
//! of a supported type, and a key that belongs to the certificate.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A Secret's value under `key`, from `data` or `stringData`.
pub(crate) fn secret_value(secret: &crate::api::Secret, key: &str) -> Option<Vec<u8>> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
        })
}

pub(crate) fn check_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.crt is not valid PEM: {e}"))?;
    if chain.is_empty() {
        return Err("tls.crt holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("tls.key is not a valid PEM private key: {e}"))?;
    let provider = rustls::crypto::ring::default_provider();
    rustls::sign::CertifiedKey::from_der(chain, key, &provider)
        .map(|_| ())
        .map_err(|e| format!("tls.crt and tls.key are not a usable pair: {e}"))
}

#[cfg(test)]
mod tests {
    use super::check_pair;

    #[test]
    fn garbage_is_rejected() {
        let err = check_pair(b"Hello world\n", b"Hello world\n").unwrap_err();
        assert!(err.contains("tls.crt"), "{err}");
    }
}
