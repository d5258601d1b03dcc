//! Test certificates generated at run time, and the rustls configurations built from them.
//!
//! Every certificate is a leaf signed by its own throw-away CA, so a probe trusts it by
//! trusting the CA and a backend TLS policy can reference the CA alone. Names are sorted
//! into SAN kinds the way upstream's suite does it (IP, DNS with an optional `*.` prefix,
//! otherwise URI), which is why `*` works: it becomes a URI SAN, as upstream's does,
//! instead of a malformed DNS name that verifiers would reject.
//!
//! All configurations use the ring provider explicitly, so they never depend on which
//! process-wide rustls provider other crates installed.
//!
//! Client configurations verify chains with webpki but match host names as Go's
//! `crypto/x509` does, because upstream's probe is Go: webpki refuses a wildcard directly
//! above a top-level label (`*.org` for `example.org`), which upstream's HTTPS listener
//! test relies on.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

mod go_verify;

use go_verify::GoHostnameVerifier;

/// Why a certificate or TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("a test certificate needs at least one name")]
    NoNames,
    #[error("name {0:?} is neither an IP address, a DNS name nor a URI")]
    BadName(String),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{what}: no certificate in PEM")]
    NoCertificate { what: &'static str },
    #[error("{what}: unreadable PEM: {detail}")]
    Pem { what: &'static str, detail: String },
    #[error("{what}: certificate not usable as a trust anchor: {detail}")]
    TrustAnchor { what: &'static str, detail: String },
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

/// A leaf certificate, its key, and the CA that signed it (all PEM).
#[derive(Debug, Clone)]
pub struct TestCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_cert_pem: String,
    /// Whether the run publishes the CA (`ca: true` in a scenario: ConfigMap `<name>-ca`).
    /// Generation is the same either way, so any probe can trust any test certificate.
    pub ca: bool,
    ca_params: CertificateParams,
    ca_key_pem: String,
}

/// A client certificate and key (PEM) for mutual TLS.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Upstream's `validateHost`: a DNS-1123 subdomain after an optional `*.` prefix.
fn is_dns_name(name: &str) -> bool {
    let host = name.strip_prefix("*.").unwrap_or(name);
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    host.split('.').all(|label| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    })
}

fn san_for(name: &str) -> Result<SanType, CertError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let ia5 = |s: &str| s.try_into().map_err(|_| CertError::BadName(s.to_owned()));
    if is_dns_name(name) {
        return Ok(SanType::DnsName(ia5(name)?));
    }
    // Go's url.Parse accepts nearly any string; it refuses control characters and spaces.
    if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(CertError::BadName(name.to_owned()));
    }
    Ok(SanType::URI(ia5(name)?))
}

/// CA parameters; the subject names the key so that every CA is distinct and a wrong
/// trust anchor reads as an unknown issuer, not as a bad signature.
fn ca_params(key: &KeyPair) -> Result<CertificateParams, CertError> {
    let raw = key.public_key_raw();
    let tag: String = raw[raw.len().saturating_sub(6)..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "gatesim");
    params
        .distinguished_name
        .push(DnType::CommonName, format!("gatesim test CA {tag}"));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    Ok(params)
}

impl TestCertificate {
    /// A fresh CA and a server leaf for `dns_names` (IPs and URIs allowed too).
    pub fn generate(dns_names: &[String], ca: bool) -> Result<Self, CertError> {
        if dns_names.is_empty() {
            return Err(CertError::NoNames);
        }
        let mut authority = TestCertificate::authority()?;
        let leaf = authority.issue(dns_names)?;
        authority.cert_pem = leaf.cert_pem;
        authority.key_pem = leaf.key_pem;
        authority.ca = ca;
        Ok(authority)
    }

    /// A certificate authority alone: `cert_pem` and `key_pem` are the CA's own, so it can be
    /// published as a CA bundle and named as the issuer of other certificates.
    pub fn authority() -> Result<Self, CertError> {
        let ca_key = KeyPair::generate()?;
        let ca_params = ca_params(&ca_key)?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca_key_pem = ca_key.serialize_pem();
        Ok(TestCertificate {
            cert_pem: ca_cert.pem(),
            key_pem: ca_key_pem.clone(),
            ca_cert_pem: ca_cert.pem(),
            ca: false,
            ca_params,
            ca_key_pem,
        })
    }

    /// A server leaf for `names`, signed by this certificate's CA (which it shares, so the
    /// same trust anchor verifies both).
    pub fn issue(&self, names: &[String]) -> Result<TestCertificate, CertError> {
        if names.is_empty() {
            return Err(CertError::NoNames);
        }
        let ca_key = KeyPair::from_pem(&self.ca_key_pem)?;
        let issuer = Issuer::new(self.ca_params.clone(), ca_key);
        let mut leaf = CertificateParams::new(Vec::<String>::new())?;
        leaf.subject_alt_names = names.iter().map(|n| san_for(n)).collect::<Result<_, _>>()?;
        leaf.distinguished_name
            .push(DnType::OrganizationName, "gatesim");
        leaf.distinguished_name
            .push(DnType::CommonName, names[0].as_str());
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        let leaf_key = KeyPair::generate()?;
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
        Ok(TestCertificate {
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
            ca_cert_pem: self.ca_cert_pem.clone(),
            ca: false,
            ca_params: self.ca_params.clone(),
            ca_key_pem: self.ca_key_pem.clone(),
        })
    }

    /// A client certificate signed by this certificate's CA, for mutual-TLS cases.
    pub fn issue_client_certificate(&self, common_name: &str) -> Result<ClientIdentity, CertError> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem)?;
        let issuer = Issuer::new(self.ca_params.clone(), ca_key);
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(ClientIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A server configuration presenting this leaf, offering `alpn` in order.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<ServerConfig, CertError> {
        server_config(&self.cert_pem, &self.key_pem, alpn, None)
    }
}

/// The provider every configuration here is built with.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parses every certificate in a PEM bundle.
pub fn parse_certificates(
    pem: &str,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Pem {
            what,
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate { what });
    }
    Ok(certs)
}

fn parse_key(pem: &str, what: &'static str) -> Result<PrivateKeyDer<'static>, CertError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| CertError::Pem {
        what,
        detail: e.to_string(),
    })
}

fn roots(pems: &[String], what: &'static str) -> Result<RootCertStore, CertError> {
    let mut store = RootCertStore::empty();
    for pem in pems {
        for cert in parse_certificates(pem, what)? {
            store.add(cert).map_err(|e| CertError::TrustAnchor {
                what,
                detail: e.to_string(),
            })?;
        }
    }
    Ok(store)
}

/// A TLS server configuration: `cert_pem` may hold a chain (leaf first). With
/// `client_ca_pem`, client certificates are verified when offered but not required
/// (Go's `VerifyClientCertIfGiven`, as echo-basic uses).
pub fn server_config(
    cert_pem: &str,
    key_pem: &str,
    alpn: &[&[u8]],
    client_ca_pem: Option<&str>,
) -> Result<ServerConfig, CertError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca_pem {
        Some(ca) => {
            let store = roots(&[ca.to_owned()], "client CA")?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
                .allow_unauthenticated()
                .build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(
        parse_certificates(cert_pem, "server certificate")?,
        parse_key(key_pem, "server key")?,
    )?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// A TLS client configuration trusting exactly the CAs in `trust` (PEM bundles).
pub fn client_config(
    trust: &[String],
    alpn: &[&[u8]],
    identity: Option<&ClientIdentity>,
) -> Result<ClientConfig, CertError> {
    let provider = provider();
    let webpki = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots(trust, "trusted CA")?),
        provider.clone(),
    )
    .build()?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(GoHostnameVerifier { webpki }));
    let mut config = match identity {
        Some(id) => builder.with_client_auth_cert(
            parse_certificates(&id.cert_pem, "client certificate")?,
            parse_key(&id.key_pem, "client key")?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The name to verify and (for DNS names) send as SNI; IP addresses are sent without SNI.
pub fn server_name(name: &str) -> Result<ServerName<'static>, CertError> {
    ServerName::try_from(name.to_owned()).map_err(|_| CertError::ServerName(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_names_into_san_kinds() {
        assert!(matches!(san_for("*.wildcard.org"), Ok(SanType::DnsName(_))));
        assert!(matches!(
            san_for("abc.example.com"),
            Ok(SanType::DnsName(_))
        ));
        assert!(matches!(san_for("*"), Ok(SanType::URI(_))));
        assert!(matches!(san_for("spiffe://a/b"), Ok(SanType::URI(_))));
        assert!(matches!(san_for("127.0.0.1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(san_for("::1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(san_for("a b"), Err(CertError::BadName(_))));
        assert!(matches!(
            TestCertificate::generate(&[], false),
            Err(CertError::NoNames)
        ));
    }
}
