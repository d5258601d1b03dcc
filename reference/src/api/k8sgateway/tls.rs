//! TLS towards upstreams (`sslConfig`).

use super::headers::ResourceRef;

message! {
    /// Where the client certificate and trust come from (a Secret, files or SDS: one of
    /// them), and the TLS parameters.
    pub struct UpstreamSslConfig {
        /// A TLS Secret (`tls.crt`, `tls.key`, `ca.crt`).
        secret_ref: ResourceRef,
        ssl_files: SslFiles,
        sds: SdsConfig,
        /// The SNI sent to the upstream.
        sni: String,
        verify_subject_alt_name: Vec<String>,
        parameters: SslParameters,
        alpn_protocols: Vec<String>,
        allow_renegotiation: bool,
        /// Verifies the server only, sending no client certificate.
        one_way_tls: bool,
    }
}

message! {
    /// Paths of certificate files on the proxy.
    pub struct SslFiles {
        tls_cert: String,
        tls_key: String,
        root_ca: String,
        ocsp_staple: String,
    }
}

message! {
    /// Certificates from a secret discovery service.
    pub struct SdsConfig {
        target_uri: String,
        call_credentials: CallCredentials,
        cluster_name: String,
        certificates_secret_name: String,
        validation_context_name: String,
    }
}

message! {
    pub struct CallCredentials {
        file_credential_source: FileCredentialSource,
    }
}

message! {
    pub struct FileCredentialSource {
        token_file_name: String,
        header: String,
    }
}

message! {
    pub struct SslParameters {
        minimum_protocol_version: TlsProtocolVersion,
        maximum_protocol_version: TlsProtocolVersion,
        cipher_suites: Vec<String>,
        ecdh_curves: Vec<String>,
    }
}

proto_enum! {
    pub enum TlsProtocolVersion {
        Auto = ("TLS_AUTO", 0),
        V1_0 = ("TLSv1_0", 1),
        V1_1 = ("TLSv1_1", 2),
        V1_2 = ("TLSv1_2", 3),
        V1_3 = ("TLSv1_3", 4),
    }
}
