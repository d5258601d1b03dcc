//! Server certificate verification with Go's host-name rules.
//!
//! Chains, signatures and validity are webpki's; only the name match follows Go's
//! `crypto/x509` (`*` as the whole first label, any number of labels after it), because
//! upstream's probe is Go and its HTTPS listener test expects `*.org` to cover
//! `example.org`, which webpki refuses.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// Go's `matchHostnames`: same number of labels, `*` allowed as the whole first label.
fn go_hostname_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let host: Vec<&str> = host.split('.').collect();
    pattern.len() == host.len()
        && pattern
            .iter()
            .zip(&host)
            .enumerate()
            .all(|(i, (p, h))| (i == 0 && *p == "*") || p == h)
}

/// One DER element: (tag, contents, rest of input).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn der_children(mut input: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, value, rest)) = der_element(input) {
        out.push((tag, value));
        input = rest;
    }
    out
}

/// The dNSName entries of a certificate's subjectAltName, whatever their syntax (webpki
/// drops the wildcard forms Go accepts, so it cannot list them for us).
fn dns_sans(cert_der: &[u8]) -> Vec<String> {
    const SEQUENCE: u8 = 0x30;
    const EXTENSIONS: u8 = 0xa3;
    const OID: u8 = 0x06;
    const OCTET_STRING: u8 = 0x04;
    const DNS_NAME: u8 = 0x82;
    const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

    let Some((SEQUENCE, cert, _)) = der_element(cert_der) else {
        return Vec::new();
    };
    let Some((SEQUENCE, tbs, _)) = der_element(cert) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for (tag, value) in der_children(tbs) {
        if tag != EXTENSIONS {
            continue;
        }
        let Some((SEQUENCE, extensions, _)) = der_element(value) else {
            continue;
        };
        for (_, extension) in der_children(extensions) {
            let fields = der_children(extension);
            let is_san = fields.first() == Some(&(OID, SUBJECT_ALT_NAME));
            let Some(&(OCTET_STRING, wrapped)) = fields.last() else {
                continue;
            };
            let Some((SEQUENCE, general_names, _)) = der_element(wrapped).filter(|_| is_san) else {
                continue;
            };
            names.extend(
                der_children(general_names)
                    .into_iter()
                    .filter(|(tag, _)| *tag == DNS_NAME)
                    .map(|(_, name)| String::from_utf8_lossy(name).into_owned()),
            );
        }
    }
    names
}

/// webpki for the chain, signatures and everything else; Go's rules for the name.
#[derive(Debug)]
pub(super) struct GoHostnameVerifier {
    pub(super) webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for GoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        // webpki reports a name mismatch only after the chain verified, so the chain is
        // trusted here and only the name rule differs.
        let name_rejected = matches!(
            verdict,
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        );
        if let (true, ServerName::DnsName(host)) = (name_rejected, server_name)
            && dns_sans(end_entity.as_ref())
                .iter()
                .any(|pattern| go_hostname_matches(pattern, host.as_ref()))
        {
            return Ok(ServerCertVerified::assertion());
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{TestCertificate, parse_certificates};

    #[test]
    fn reads_dns_sans_from_der() {
        let cert = TestCertificate::generate(
            &[
                "*".into(),
                "*.org".into(),
                "10.0.0.1".into(),
                "a.example".into(),
            ],
            false,
        )
        .unwrap();
        let der = parse_certificates(&cert.cert_pem, "test").unwrap();
        assert_eq!(dns_sans(der[0].as_ref()), vec!["*.org", "a.example"]);
        assert!(dns_sans(b"\x30\x03\x02\x01").is_empty());
    }

    #[test]
    fn host_names_match_as_in_go() {
        assert!(go_hostname_matches("*.org", "example.org"));
        assert!(go_hostname_matches(
            "*.wildcard.org",
            "Fourth-Example.wildcard.org."
        ));
        assert!(!go_hostname_matches("*.wildcard.org", "a.b.wildcard.org"));
        assert!(!go_hostname_matches("*", "example.org"));
        assert!(!go_hostname_matches("a*.org", "ab.org"));
        assert!(go_hostname_matches("abc.example.com", "ABC.example.com"));
    }
}
