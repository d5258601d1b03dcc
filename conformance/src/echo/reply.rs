//! The echo reply: what a backend saw, in upstream echo-basic's JSON shape.
//!
//! The same type is written by our echo server and parsed by the probe, so it must also
//! read replies of the real echo-basic image (kind and cluster targets): every field is
//! optional on input and unknown fields are ignored, as Go's `json.Unmarshal` does.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::gojson::{GoValue, marshal_indent};

/// One echoed request (`RequestAssertions` upstream).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EchoReply {
    /// The request target as received: raw path plus query (`r.RequestURI`).
    pub path: String,
    /// Host header or `:authority`, port included when the client sent one.
    pub host: String,
    pub method: String,
    /// `HTTP/1.1`, `HTTP/1.0` or `HTTP/2.0`.
    pub proto: String,
    /// Go-canonical names; sorted, since Go marshals map keys in order.
    #[serde(deserialize_with = "null_as_default")]
    pub headers: BTreeMap<String, Vec<String>>,
    #[serde(rename = "httpPort")]
    pub http_port: String,
    pub namespace: String,
    pub ingress: String,
    pub service: String,
    pub pod: String,
    /// Present only for requests that arrived over TLS.
    pub tls: Option<EchoTls>,
    /// This project's addition: which attempt of its `X-Echo-Request-Key` the request was
    /// (1 for the first). Present only when the request named a key, so replies to requests
    /// without one stay byte-identical to echo-basic's.
    pub attempt: Option<u32>,
}

/// The TLS facts of the connection (`TLSAssertions` upstream).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EchoTls {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// Client certificates, PEM, leaf first.
    #[serde(rename = "peerCertificates", deserialize_with = "null_as_default")]
    pub peer_certificates: Vec<String>,
    /// The SNI the client sent (empty when none).
    #[serde(rename = "serverName")]
    pub server_name: String,
    /// The ALPN protocol (empty when none was negotiated).
    #[serde(rename = "negotiatedProtocol")]
    pub negotiated_protocol: String,
    /// As Go's `tls.CipherSuiteName` prints it, e.g. `TLS_AES_128_GCM_SHA256`.
    #[serde(rename = "cipherSuite")]
    pub cipher_suite: String,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl EchoReply {
    /// Parses a reply body; fails on anything that is not a JSON object of this shape.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// The exact bytes echo-basic sends: field order of its struct, one-space indent.
    pub fn to_go_json(&self) -> String {
        let headers = self
            .headers
            .iter()
            .map(|(name, values)| {
                let values = values.iter().map(GoValue::str).collect();
                (name.clone(), GoValue::Array(values))
            })
            .collect();
        marshal_indent(&self.to_go_value(GoValue::Object(headers)))
    }

    /// Builds the Go value around an already built `headers` object, so the server can
    /// pass raw header bytes through (Go replaces each invalid UTF-8 byte on output).
    pub(crate) fn to_go_value(&self, headers: GoValue) -> GoValue {
        let mut members = vec![
            ("path".to_owned(), GoValue::str(&self.path)),
            ("host".to_owned(), GoValue::str(&self.host)),
            ("method".to_owned(), GoValue::str(&self.method)),
            ("proto".to_owned(), GoValue::str(&self.proto)),
            ("headers".to_owned(), headers),
            ("httpPort".to_owned(), GoValue::str(&self.http_port)),
            ("namespace".to_owned(), GoValue::str(&self.namespace)),
            ("ingress".to_owned(), GoValue::str(&self.ingress)),
            ("service".to_owned(), GoValue::str(&self.service)),
            ("pod".to_owned(), GoValue::str(&self.pod)),
        ];
        if let Some(tls) = &self.tls {
            members.push(("tls".to_owned(), tls.to_go_value()));
        }
        if let Some(attempt) = self.attempt {
            members.push(("attempt".to_owned(), GoValue::Uint(u64::from(attempt))));
        }
        GoValue::Object(members)
    }
}

impl EchoTls {
    fn to_go_value(&self) -> GoValue {
        let mut members = vec![("version".to_owned(), GoValue::str(&self.version))];
        if !self.peer_certificates.is_empty() {
            let certs = self.peer_certificates.iter().map(GoValue::str).collect();
            members.push(("peerCertificates".to_owned(), GoValue::Array(certs)));
        }
        members.push(("serverName".to_owned(), GoValue::str(&self.server_name)));
        if !self.negotiated_protocol.is_empty() {
            members.push((
                "negotiatedProtocol".to_owned(),
                GoValue::str(&self.negotiated_protocol),
            ));
        }
        members.push(("cipherSuite".to_owned(), GoValue::str(&self.cipher_suite)));
        GoValue::Object(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_foreign_fields() {
        let mut reply = EchoReply {
            path: "/a?b=1".into(),
            host: "example.com".into(),
            method: "GET".into(),
            proto: "HTTP/1.1".into(),
            pod: "p-1-2".into(),
            ..Default::default()
        };
        reply
            .headers
            .insert("X-A".into(), vec!["1".into(), "2".into()]);
        reply.tls = Some(EchoTls {
            version: "TLSv1.3".into(),
            server_name: "example.com".into(),
            cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
            ..Default::default()
        });
        let text = reply.to_go_json();
        assert!(!text.contains("negotiatedProtocol"), "{text}");
        assert!(!text.contains("peerCertificates"), "{text}");
        assert!(!text.contains("attempt"), "{text}");
        assert_eq!(EchoReply::from_json(text.as_bytes()).unwrap(), reply);
        reply.attempt = Some(3);
        let text = reply.to_go_json();
        assert!(text.ends_with(",\n \"attempt\": 3\n}"), "{text}");
        assert_eq!(EchoReply::from_json(text.as_bytes()).unwrap(), reply);

        let foreign = br#"{"message":"boom","headers":null,"sni":"x"}"#;
        assert_eq!(EchoReply::from_json(foreign).unwrap(), EchoReply::default());
        assert!(EchoReply::from_json(b"[1]").is_err());
    }
}
