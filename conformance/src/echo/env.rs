//! The environment upstream's echo-basic reads, turned into an [`EchoConfig`], so that the
//! `gatesim-echo` binary can stand in for echo-basic in any pod spec written for it.
//!
//! As with Go's `os.Getenv`, a variable set to the empty string counts as unset.

use std::net::IpAddr;
use std::path::PathBuf;

use super::{EchoConfig, TlsIdentity};

pub const DEFAULT_HTTP_PORT: u16 = 3000;
pub const DEFAULT_H2C_PORT: u16 = 3001;
pub const DEFAULT_HTTPS_PORT: u16 = 8443;

/// Every variable read, for `--help` and the README.
pub const VARIABLES: &[(&str, &str)] = &[
    ("POD_NAME", "reported as `pod`"),
    ("NAMESPACE", "reported as `namespace`"),
    ("SERVICE_NAME", "reported as `service`"),
    ("INGRESS_NAME", "reported as `ingress`"),
    (
        "HTTP_PORT",
        "HTTP/1.1 and h2c port, reported as `httpPort` (default 3000)",
    ),
    (
        "H2C_PORT",
        "second plain port, h2c or HTTP/1.1 (default 3001)",
    ),
    (
        "HTTPS_PORT",
        "TLS port, served when both TLS_SERVER_* are set (default 8443)",
    ),
    (
        "TLS_SERVER_CERT",
        "PEM file: certificate (chain) of the TLS port",
    ),
    ("TLS_SERVER_PRIVKEY", "PEM file: its private key"),
    (
        "TLS_CLIENT_CACERTS",
        "PEM file: CA that offered client certificates are verified against",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("{var}={value:?} is not a port number (1-65535)")]
    BadPort { var: &'static str, value: String },
    #[error("{var}={path}: cannot read it: {source}")]
    Read {
        var: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "TLS_SERVER_CERT and TLS_SERVER_PRIVKEY go together: only {set} is set, so the TLS \
         port could not be served"
    )]
    HalfTls { set: &'static str },
}

/// The replica echo-basic would run with these variables (`get` looks one up), listening on
/// `address`.
pub fn config_from_env(
    get: impl Fn(&str) -> Option<String>,
    address: IpAddr,
) -> Result<EchoConfig, EnvError> {
    let var = |name: &str| get(name).filter(|v| !v.is_empty());
    let port = |name: &'static str, default: u16| -> Result<u16, EnvError> {
        match var(name) {
            None => Ok(default),
            Some(value) => value
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(EnvError::BadPort { var: name, value }),
        }
    };
    let read = |name: &'static str| -> Result<Option<String>, EnvError> {
        var(name)
            .map(|path| {
                std::fs::read_to_string(&path).map_err(|source| EnvError::Read {
                    var: name,
                    path: PathBuf::from(path),
                    source,
                })
            })
            .transpose()
    };

    let http = port("HTTP_PORT", DEFAULT_HTTP_PORT)?;
    let h2c = port("H2C_PORT", DEFAULT_H2C_PORT)?;
    let https = port("HTTPS_PORT", DEFAULT_HTTPS_PORT)?;
    let mut ports = vec![http];
    if h2c != http {
        ports.push(h2c);
    }
    let tls = match (read("TLS_SERVER_CERT")?, read("TLS_SERVER_PRIVKEY")?) {
        (Some(cert_pem), Some(key_pem)) => Some(TlsIdentity {
            cert_pem,
            key_pem,
            client_ca_pem: read("TLS_CLIENT_CACERTS")?,
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(EnvError::HalfTls {
                set: "TLS_SERVER_CERT",
            });
        }
        (None, Some(_)) => {
            return Err(EnvError::HalfTls {
                set: "TLS_SERVER_PRIVKEY",
            });
        }
    };
    Ok(EchoConfig {
        ip: address,
        ports,
        tls_ports: if tls.is_some() {
            vec![https]
        } else {
            Vec::new()
        },
        tls,
        pod: var("POD_NAME").unwrap_or_default(),
        namespace: var("NAMESPACE").unwrap_or_default(),
        service: var("SERVICE_NAME").unwrap_or_default(),
        ingress: var("INGRESS_NAME").unwrap_or_default(),
        http_port: Some(http.to_string()),
        healthz: true,
        // A pod counts its own attempts (see `AttemptLedger`).
        attempts: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<EchoConfig, EnvError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config_from_env(|k| map.get(k).cloned(), IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    #[test]
    fn defaults_are_echo_basics() {
        let c = config(&[]).unwrap();
        assert_eq!(c.ports, vec![3000, 3001]);
        assert!(c.tls_ports.is_empty() && c.tls.is_none());
        assert_eq!(c.http_port.as_deref(), Some("3000"));
        assert_eq!(c.pod, "");
        assert!(c.healthz);
    }

    #[test]
    fn identity_and_ports_come_from_the_environment() {
        let c = config(&[
            ("POD_NAME", "infra-backend-v1-abc"),
            ("NAMESPACE", "gateway-conformance-infra"),
            ("SERVICE_NAME", "infra-backend-v1"),
            ("HTTP_PORT", "8080"),
            ("H2C_PORT", "8080"),
            ("HTTPS_PORT", ""),
        ])
        .unwrap();
        assert_eq!(c.pod, "infra-backend-v1-abc");
        assert_eq!(c.namespace, "gateway-conformance-infra");
        assert_eq!(c.service, "infra-backend-v1");
        assert_eq!(c.ports, vec![8080], "one listener when both ports agree");
        assert_eq!(c.http_port.as_deref(), Some("8080"));
    }

    #[test]
    fn tls_files_are_read_and_enable_the_https_port() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("crt");
        let key = dir.path().join("key");
        std::fs::write(&cert, "CERT").unwrap();
        std::fs::write(&key, "KEY").unwrap();
        let c = config(&[
            ("TLS_SERVER_CERT", cert.to_str().unwrap()),
            ("TLS_SERVER_PRIVKEY", key.to_str().unwrap()),
            ("HTTPS_PORT", "9443"),
        ])
        .unwrap();
        assert_eq!(c.tls_ports, vec![9443]);
        let tls = c.tls.unwrap();
        assert_eq!(
            (tls.cert_pem.as_str(), tls.key_pem.as_str()),
            ("CERT", "KEY")
        );
        assert!(tls.client_ca_pem.is_none());
    }

    #[test]
    fn mistakes_name_the_variable() {
        let err = config(&[("HTTP_PORT", "http")]).unwrap_err().to_string();
        assert!(err.contains("HTTP_PORT=\"http\""), "{err}");
        let err = config(&[("H2C_PORT", "0")]).unwrap_err().to_string();
        assert!(err.contains("H2C_PORT"), "{err}");
        let err = config(&[("TLS_SERVER_CERT", "/nonexistent/crt")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS_SERVER_CERT=/nonexistent/crt"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("crt");
        std::fs::write(&cert, "CERT").unwrap();
        let err = config(&[("TLS_SERVER_CERT", cert.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("only TLS_SERVER_CERT is set"), "{err}");
    }
}
