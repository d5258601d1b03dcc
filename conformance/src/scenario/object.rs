//! Objects of a scenario. Kubernetes objects stay untyped (`serde_json::Value`): a scenario may
//! carry any kind, and the API server, not the parser, is the judge of their schema. The two
//! harness kinds (group `gatesim.dev`) are typed and strict, since every target materializes them.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

use super::error::Source;

pub const HARNESS_GROUP: &str = "gatesim.dev";
pub const HARNESS_API_VERSION: &str = "gatesim.dev/v1alpha1";

/// One object as written in `resources`, a resource file, a base fixture or an `apply` step.
#[derive(Clone, Debug)]
pub struct Object {
    value: serde_json::Value,
    harness: Option<HarnessObject>,
    source: Source,
}

/// Replaces `placeholder` by `text` in every string of `value`.
pub fn replace_text(value: &mut serde_json::Value, placeholder: &str, text: &str) {
    match value {
        serde_json::Value::String(s) if s.contains(placeholder) => {
            *s = s.replace(placeholder, text);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                replace_text(item, placeholder, text);
            }
        }
        serde_json::Value::Object(members) => {
            for member in members.values_mut() {
                replace_text(member, placeholder, text);
            }
        }
        _ => {}
    }
}

/// The prefix of a `${BACKEND_ADDRESS:<namespace>/<name>}` placeholder: the address of the
/// first replica of an EchoBackend the run started, for objects that name hosts by address (a
/// K8sGateway Upstream's static hosts). Only addresses the run owns can be named this way.
pub const BACKEND_ADDRESS: &str = "${BACKEND_ADDRESS:";

/// Every `${BACKEND_ADDRESS:...}` placeholder in the strings of `value`, as `(placeholder,
/// namespace, name)`; a malformed one is `Err` with the text.
pub fn backend_addresses(
    value: &serde_json::Value,
) -> Result<Vec<(String, String, String)>, String> {
    let mut found = Vec::new();
    let mut strings = vec![value];
    while let Some(v) = strings.pop() {
        match v {
            serde_json::Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(start) = rest.find(BACKEND_ADDRESS) {
                    let after = &rest[start + BACKEND_ADDRESS.len()..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| format!("{s:?}: {BACKEND_ADDRESS} is not closed by }}"))?;
                    let inner = &after[..end];
                    let (ns, name) = inner.split_once('/').filter(|(n, m)| !n.is_empty() && !m.is_empty()).ok_or_else(|| {
                        format!("{BACKEND_ADDRESS}{inner}}}: expected <namespace>/<EchoBackend name>")
                    })?;
                    let placeholder = format!("{BACKEND_ADDRESS}{inner}}}");
                    if !found.iter().any(|(p, _, _)| *p == placeholder) {
                        found.push((placeholder, ns.to_owned(), name.to_owned()));
                    }
                    rest = &after[end + 1..];
                }
            }
            serde_json::Value::Array(items) => strings.extend(items),
            serde_json::Value::Object(members) => strings.extend(members.values()),
            _ => {}
        }
    }
    Ok(found)
}

/// Whether any string of `value` contains `text`.
pub fn mentions(value: &serde_json::Value, text: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains(text),
        serde_json::Value::Array(items) => items.iter().any(|v| mentions(v, text)),
        serde_json::Value::Object(members) => members.values().any(|v| mentions(v, text)),
        _ => false,
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Shape checks and typing of harness kinds need the object's path for exact error
        // positions; the loader does them right after parsing (see `load::resolve_object`).
        Ok(Object {
            value: serde_json::Value::deserialize(deserializer)?,
            harness: None,
            source: Source::unknown(),
        })
    }
}

impl Object {
    pub(crate) fn resolved(mut self, harness: Option<HarnessObject>, source: Source) -> Object {
        self.harness = harness;
        self.source = source;
        self
    }

    /// The object exactly as written.
    pub fn value(&self) -> &serde_json::Value {
        &self.value
    }

    /// The same object with `placeholder` replaced by `text` in every string value.
    pub fn with_text_replaced(&self, placeholder: &str, text: &str) -> Object {
        let mut copy = self.clone();
        replace_text(&mut copy.value, placeholder, text);
        copy
    }

    pub fn into_value(self) -> serde_json::Value {
        self.value
    }

    fn text(&self, pointer: &str) -> Option<&str> {
        self.value
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
    }

    pub fn api_version(&self) -> &str {
        self.text("/apiVersion").unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.text("/kind").unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.text("/metadata/name").unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.text("/metadata/namespace")
    }

    /// The typed object, for the harness kinds (EchoBackend, TestCertificate).
    pub fn harness(&self) -> Option<&HarnessObject> {
        self.harness.as_ref()
    }

    /// Where the object was written.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// A reference to this object, as `patch`, `delete` and `expect-status` name objects.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            api_version: Some(self.api_version().to_owned()),
            kind: self.kind().to_owned(),
            namespace: self.namespace().map(str::to_owned),
            name: self.name().to_owned(),
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.namespace() {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind(), self.name()),
            None => write!(f, "{} {}", self.kind(), self.name()),
        }
    }
}

/// The typed harness kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum HarnessObject {
    EchoBackend(EchoBackend),
    TestCertificate(TestCertificate),
}

impl HarnessObject {
    pub fn metadata(&self) -> &HarnessMetadata {
        match self {
            HarnessObject::EchoBackend(b) => &b.metadata,
            HarnessObject::TestCertificate(c) => &c.metadata,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessMetadata {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A Service with pods answering like upstream's echo-basic.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EchoBackend {
    pub api_version: String,
    pub kind: String,
    pub metadata: HarnessMetadata,
    pub spec: EchoBackendSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EchoBackendSpec {
    #[serde(default = "one")]
    pub replicas: u32,
    #[serde(default)]
    pub mode: EchoMode,
    pub ports: Vec<EchoPort>,
    #[serde(default)]
    pub tls: Option<EchoTls>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EchoMode {
    #[default]
    Http,
    Grpc,
    Tcp,
}

/// A Service port and the port the echo replicas listen on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EchoPort {
    #[serde(default)]
    pub name: Option<String>,
    pub port: u16,
    pub target_port: u16,
    /// `kubernetes.io/h2c` makes the replica serve cleartext HTTP/2 on this target port (upstream's
    /// echo-basic serves h2c on 3001); `kubernetes.io/ws` only labels the Service port.
    #[serde(default)]
    pub app_protocol: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EchoTls {
    /// A TestCertificate in the backend's namespace.
    pub certificate: String,
    /// Addition to the format: the target ports served with TLS; all of them when absent. Lets one
    /// backend serve plaintext and TLS side by side, as upstream's tcp-backend does (3000, 8443).
    #[serde(default)]
    pub target_ports: Option<Vec<u16>>,
}

/// A certificate generated at run time.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestCertificate {
    pub api_version: String,
    pub kind: String,
    pub metadata: HarnessMetadata,
    pub spec: TestCertificateSpec,
}

/// `dnsNames` and `ca` are the format's; `uris`, `authority`, `issuer` and `usage` are additions
/// that let a fixture express upstream's CA-signed and client certificates (see scenarios/README.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestCertificateSpec {
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// URI subject alternative names (`spiffe://...`).
    #[serde(default)]
    pub uris: Vec<String>,
    /// Also publish the issuing CA as ConfigMap `<name>-ca` (key `ca.crt`).
    #[serde(default)]
    pub ca: bool,
    /// This certificate is a CA: published as ConfigMap `<name>` with key `ca.crt` (as upstream's
    /// CA ConfigMaps), not as a Secret, and other certificates may name it as `issuer`.
    #[serde(default)]
    pub authority: bool,
    /// The authority that signs this certificate: `name` (same namespace) or `namespace/name`.
    /// Without one the certificate is self-signed.
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub usage: CertificateUsage,
}

impl TestCertificateSpec {
    /// The issuer as (namespace, name), resolving a bare name against `own_namespace`.
    pub fn issuer_ref<'a>(&'a self, own_namespace: &'a str) -> Option<(&'a str, &'a str)> {
        self.issuer
            .as_deref()
            .map(|issuer| issuer.split_once('/').unwrap_or((own_namespace, issuer)))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateUsage {
    #[default]
    Server,
    Client,
}

/// An object named by `patch`, `delete` or `expect-status`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectRef {
    /// Needed only when the kind name alone is ambiguous.
    #[serde(default)]
    pub api_version: Option<String>,
    pub kind: String,
    /// Left out for cluster-scoped kinds.
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// The spec field the harness sets on every object of this kind before applying it, as
/// upstream's applier replaces its placeholders: the run's GatewayClass on Gateways and its
/// controller on GatewayClasses. Scenarios leave these fields out.
pub fn injected_field(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        (gatesim_reference::api::GATEWAY_GROUP, "Gateway") => Some("gatewayClassName"),
        (gatesim_reference::api::GATEWAY_GROUP, "GatewayClass") => Some("controllerName"),
        _ => None,
    }
}

/// Whether a kind lives in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// The scope of kinds whose scope is known; `None` for anything else (custom resources the
/// parser has never heard of), which is then not checked.
pub fn scope_of(kind: &str) -> Option<Scope> {
    const CLUSTER: &[&str] = &[
        "GatewayClass",
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "IngressClass",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ];
    const NAMESPACED: &[&str] = &[
        "Gateway",
        "HTTPRoute",
        "GRPCRoute",
        "TLSRoute",
        "TCPRoute",
        "UDPRoute",
        "ReferenceGrant",
        "BackendTLSPolicy",
        "ListenerSet",
        "XListenerSet",
        "XBackendTrafficPolicy",
        "Service",
        "Secret",
        "ConfigMap",
        "EndpointSlice",
        "Endpoints",
        "Pod",
        "Deployment",
        "ServiceAccount",
        "EchoBackend",
        "TestCertificate",
        "RouteOption",
        "VirtualHostOption",
        "ListenerOption",
        "HttpListenerOption",
        "DirectResponse",
        "Upstream",
        "GatewayParameters",
        "Settings",
    ];
    if CLUSTER.contains(&kind) {
        Some(Scope::Cluster)
    } else if NAMESPACED.contains(&kind) {
        Some(Scope::Namespaced)
    } else {
        None
    }
}
