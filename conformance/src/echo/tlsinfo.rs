//! TLS connection facts, named the way Go's `crypto/tls` prints them.

use base64::Engine as _;
use rustls::{ProtocolVersion, ServerConnection};

use super::reply::EchoTls;

/// Go's `tls.CipherSuiteName` for the suites rustls (ring) can negotiate; anything else is
/// printed as Go prints unknown suites (`0x%04X`).
fn go_cipher_suite_name(id: u16) -> String {
    let name = match id {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        other => return format!("0x{other:04X}"),
    };
    name.to_owned()
}

fn go_version_name(version: Option<ProtocolVersion>) -> String {
    match version {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
        Some(ProtocolVersion::TLSv1_1) => "TLSv1.1",
        Some(ProtocolVersion::TLSv1_0) => "TLSv1.0",
        _ => "",
    }
    .to_owned()
}

/// Go's `pem.Encode` of one certificate: 64-column base64 and a trailing newline.
pub(crate) fn go_pem_certificate(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// What echo-basic reports for a finished handshake.
pub(crate) fn tls_facts(conn: &ServerConnection) -> EchoTls {
    EchoTls {
        version: go_version_name(conn.protocol_version()),
        peer_certificates: conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| go_pem_certificate(c.as_ref()))
            .collect(),
        server_name: conn.server_name().unwrap_or_default().to_owned(),
        negotiated_protocol: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default(),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| go_cipher_suite_name(u16::from(s.suite())))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_pem_follow_go() {
        assert_eq!(go_cipher_suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(go_cipher_suite_name(0x00ff), "0x00FF");
        let pem = go_pem_certificate(&[0u8; 60]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].len(), 64);
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
    }
}
