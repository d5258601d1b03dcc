//! Semantic checks: what the schema cannot say. Each check knows the YAML path of what it looks
//! at, so its error points at the offending node.

use std::collections::BTreeSet;

use gatesim_reference::model::{KindVisitor, StoredKind, api_group, visit_kind};
use gatesim_reference::provider::file::decode_object;

use super::doc::Doc;
use super::error::{ScenarioError, YamlPath};
use super::expect::StatusExpectation;
use super::object::{
    CertificateUsage, EchoBackend, HARNESS_API_VERSION, HARNESS_GROUP, HarnessObject, Object,
    Scope, TestCertificate, injected_field, scope_of,
};
use super::step::{FillEndpoints, Step};
use super::validate_traffic::{check_access_log, check_http, check_weights};

pub(super) type Checked = Result<(), ScenarioError>;

/// Checks an object's shape, types the harness kinds and records where the object was written.
pub(crate) fn resolve_object(
    doc: Doc<'_>,
    path: &YamlPath,
    object: Object,
) -> Result<Object, ScenarioError> {
    let value = object.value();
    if !value.is_object() {
        return Err(doc.error(
            path,
            "an object must be a mapping with `apiVersion`, `kind` and `metadata`",
        ));
    }
    let text_field = |key: &str| -> Result<(), ScenarioError> {
        match value.get(key) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(()),
            Some(_) => Err(doc.error(
                &path.key(key),
                format!("`{key}` must be a non-empty string"),
            )),
            None => Err(doc.error(path, format!("missing field `{key}`"))),
        }
    };
    text_field("apiVersion")?;
    text_field("kind")?;
    let metadata = path.key("metadata");
    match value.get("metadata") {
        Some(m) if m.is_object() => {}
        Some(_) => return Err(doc.error(&metadata, "`metadata` must be a mapping")),
        None => return Err(doc.error(path, "missing field `metadata`")),
    }
    match value.pointer("/metadata/name") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => {}
        Some(_) => {
            return Err(doc.error(&metadata.key("name"), "`name` must be a non-empty string"));
        }
        None => return Err(doc.error(&metadata, "missing field `name`")),
    }
    match value.pointer("/metadata/namespace") {
        None | Some(serde_json::Value::String(_)) => {}
        Some(_) => {
            return Err(doc.error(&metadata.key("namespace"), "`namespace` must be a string"));
        }
    }
    if scope_of(object.kind()) == Some(Scope::Cluster) && object.namespace().is_some() {
        return Err(doc.error(
            &metadata.key("namespace"),
            format!("{} is cluster-scoped and takes no namespace", object.kind()),
        ));
    }
    let harness = if object.api_version().split('/').next() == Some(HARNESS_GROUP) {
        Some(typed_harness(doc, path, &object)?)
    } else {
        let controller_reads = ControllerDecoding {
            doc,
            path,
            object: &object,
        };
        visit_kind(
            api_group(object.api_version()),
            object.kind(),
            controller_reads,
        )
        .unwrap_or(Ok(()))?;
        None
    };
    let source = doc.source(path);
    Ok(object.resolved(harness, source))
}

/// A kind the reference controller has types for is decoded as the controller decodes it, so
/// a misspelt field is an error here rather than a field the API server drops.
struct ControllerDecoding<'a> {
    doc: Doc<'a>,
    path: &'a YamlPath,
    object: &'a Object,
}

impl KindVisitor for ControllerDecoding<'_> {
    type Output = Checked;

    fn visit<K: StoredKind>(self) -> Checked {
        let doc = self.doc;
        let mut value = self.object.value().clone();
        if let Some(field) = injected_field(&K::group(&()), &K::kind(&()))
            && let Some(object) = value.as_object_mut()
        {
            let spec = object
                .entry("spec")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(spec) = spec.as_object_mut() {
                spec.entry(field)
                    .or_insert_with(|| "filled-in-by-the-harness".into());
            }
        }
        let decoded = decode_object::<K>(
            doc.text,
            doc.document,
            self.path,
            self.object.api_version(),
            Some(value),
        );
        match decoded {
            Ok(_) => Ok(()),
            Err(problems) => Err(ScenarioError::problem(doc.file, &problems[0])),
        }
    }
}

fn typed_harness(
    doc: Doc<'_>,
    path: &YamlPath,
    object: &Object,
) -> Result<HarnessObject, ScenarioError> {
    if object.api_version() != HARNESS_API_VERSION {
        return Err(doc.error(
            &path.key("apiVersion"),
            format!(
                "unsupported apiVersion `{}`, expected `{HARNESS_API_VERSION}`",
                object.api_version()
            ),
        ));
    }
    match object.kind() {
        "EchoBackend" => {
            let backend: EchoBackend = doc.typed(path)?;
            check_echo_backend(doc, &path.key("spec"), &backend)?;
            Ok(HarnessObject::EchoBackend(backend))
        }
        "TestCertificate" => {
            let certificate: TestCertificate = doc.typed(path)?;
            check_certificate(doc, &path.key("spec"), &certificate)?;
            Ok(HarnessObject::TestCertificate(certificate))
        }
        other => Err(doc.error(
            &path.key("kind"),
            format!("unknown {HARNESS_GROUP} kind `{other}`, expected `EchoBackend` or `TestCertificate`"),
        )),
    }
}

fn check_echo_backend(doc: Doc<'_>, spec: &YamlPath, backend: &EchoBackend) -> Checked {
    let s = &backend.spec;
    if s.replicas == 0 {
        return Err(doc.error(
            &spec.key("replicas"),
            "an EchoBackend needs at least one replica",
        ));
    }
    if s.ports.is_empty() {
        return Err(doc.error(&spec.key("ports"), "an EchoBackend needs at least one port"));
    }
    let mut ports = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (i, port) in s.ports.iter().enumerate() {
        let at = spec.key("ports").index(i);
        if port.port == 0 {
            return Err(doc.error(&at.key("port"), "port 0 is not a valid port"));
        }
        if port.target_port == 0 {
            return Err(doc.error(&at.key("targetPort"), "port 0 is not a valid port"));
        }
        if !ports.insert(port.port) {
            return Err(doc.error(
                &at.key("port"),
                format!("port {} is listed twice", port.port),
            ));
        }
        if let Some(name) = &port.name
            && !names.insert(name.as_str())
        {
            return Err(doc.error(&at.key("name"), format!("port name `{name}` is used twice")));
        }
    }
    if let Some(tls) = &s.tls
        && let Some(target_ports) = &tls.target_ports
    {
        for (i, target) in target_ports.iter().enumerate() {
            if !s.ports.iter().any(|p| p.target_port == *target) {
                return Err(doc.error(
                    &spec.key("tls").key("targetPorts").index(i),
                    format!("{target} is not the targetPort of any port of this backend"),
                ));
            }
        }
    }
    Ok(())
}

fn check_certificate(doc: Doc<'_>, spec: &YamlPath, certificate: &TestCertificate) -> Checked {
    let s = &certificate.spec;
    if s.authority {
        let conflicting = [
            ("dnsNames", !s.dns_names.is_empty()),
            ("uris", !s.uris.is_empty()),
            ("issuer", s.issuer.is_some()),
            ("ca", s.ca),
            ("usage", s.usage == CertificateUsage::Client),
        ];
        if let Some((field, _)) = conflicting.iter().find(|(_, set)| *set) {
            return Err(doc.error(
                &spec.key(field),
                "an authority (`authority: true`) is a CA only and takes no names, issuer, `ca` or usage",
            ));
        }
        return Ok(());
    }
    if s.usage == CertificateUsage::Server && s.dns_names.is_empty() && s.uris.is_empty() {
        return Err(doc.error(spec, "a server certificate needs `dnsNames` or `uris`"));
    }
    if let Some(issuer) = &s.issuer {
        let parts: Vec<&str> = issuer.split('/').collect();
        if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(doc.error(
                &spec.key("issuer"),
                format!("expected an authority as `name` or `namespace/name`, got `{issuer}`"),
            ));
        }
    }
    Ok(())
}

/// Every TestCertificate and EchoBackend a scenario can refer to: its base's and its own.
#[derive(Default)]
pub(crate) struct Catalog<'a> {
    certificates: Vec<&'a TestCertificate>,
    backends: Vec<&'a EchoBackend>,
}

impl<'a> Catalog<'a> {
    pub fn add(&mut self, objects: impl IntoIterator<Item = &'a Object>) {
        for object in objects {
            match object.harness() {
                Some(HarnessObject::TestCertificate(c)) => self.certificates.push(c),
                Some(HarnessObject::EchoBackend(b)) => self.backends.push(b),
                None => {}
            }
        }
    }

    /// Certificates a `trust` value names: `namespace/name`, or a bare name in any namespace.
    pub fn certificates_named(&self, reference: &str) -> Vec<&'a TestCertificate> {
        let (namespace, name) = match reference.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, reference),
        };
        self.certificates
            .iter()
            .copied()
            .filter(|c| {
                c.metadata.name == name && namespace.is_none_or(|ns| c.metadata.namespace == ns)
            })
            .collect()
    }

    fn certificate(&self, namespace: &str, name: &str) -> Option<&'a TestCertificate> {
        self.certificates
            .iter()
            .copied()
            .find(|c| c.metadata.namespace == namespace && c.metadata.name == name)
    }

    fn has_backend(&self, namespace: &str, name: &str) -> bool {
        self.backends
            .iter()
            .any(|b| b.metadata.namespace == namespace && b.metadata.name == name)
    }
}

/// Checks the references harness objects make (backend certificates, issuers) and that no object
/// is listed twice.
pub(crate) fn check_object_references<'o>(
    catalog: &Catalog<'_>,
    objects: impl IntoIterator<Item = &'o Object>,
) -> Checked {
    let mut seen = BTreeSet::new();
    for object in objects {
        let source = object.source();
        let group = object.api_version().split_once('/').map_or("", |(g, _)| g);
        if !seen.insert((group, object.kind(), object.namespace(), object.name())) {
            return Err(source.error_at(&[], format!("{object} is listed twice")));
        }
        match object.harness() {
            Some(HarnessObject::EchoBackend(b)) => {
                if let Some(tls) = &b.spec.tls
                    && catalog
                        .certificate(&b.metadata.namespace, &tls.certificate)
                        .is_none()
                {
                    return Err(source.error_at(
                        &["spec", "tls", "certificate"],
                        format!(
                            "no TestCertificate `{}` in namespace `{}`",
                            tls.certificate, b.metadata.namespace
                        ),
                    ));
                }
            }
            Some(HarnessObject::TestCertificate(c)) => {
                if let Some((namespace, name)) = c.spec.issuer_ref(&c.metadata.namespace) {
                    let problem = match catalog.certificate(namespace, name) {
                        Some(issuer) if issuer.spec.authority => None,
                        Some(_) => Some(format!(
                            "TestCertificate `{namespace}/{name}` is not an authority (`authority: true`)"
                        )),
                        None => Some(format!(
                            "no TestCertificate `{name}` in namespace `{namespace}`"
                        )),
                    };
                    if let Some(problem) = problem {
                        return Err(source.error_at(&["spec", "issuer"], problem));
                    }
                }
            }
            None => {}
        }
    }
    Ok(())
}

fn check_namespace(doc: Doc<'_>, path: &YamlPath, kind: &str, namespace: Option<&str>) -> Checked {
    match (scope_of(kind), namespace) {
        (Some(Scope::Cluster), Some(_)) => Err(doc.error(
            &path.key("namespace"),
            format!("{kind} is cluster-scoped and takes no namespace"),
        )),
        (Some(Scope::Namespaced), None) => Err(doc.error(
            path,
            format!("missing field `namespace` ({kind} is namespaced)"),
        )),
        _ => Ok(()),
    }
}

pub(super) fn non_empty<T>(doc: Doc<'_>, path: &YamlPath, list: &[T], what: &str) -> Checked {
    if list.is_empty() {
        return Err(doc.error(path, format!("list at least one {what}")));
    }
    Ok(())
}

/// Checks one step; `path` is the step's own (`steps[3]`).
pub(crate) fn check_step(
    doc: Doc<'_>,
    path: &YamlPath,
    step: &Step,
    catalog: &Catalog<'_>,
) -> Checked {
    let at = path.key(step.key());
    match step {
        Step::Apply(objects) => non_empty(doc, &at, objects, "object"),
        Step::Patch(entries) => {
            non_empty(doc, &at, entries, "patch")?;
            for (i, entry) in entries.iter().enumerate() {
                check_namespace(doc, &at.index(i), &entry.kind, entry.namespace.as_deref())?;
                if !entry.patch.is_object() {
                    return Err(doc.error(
                        &at.index(i).key("patch"),
                        "a JSON merge patch of an object must be a mapping",
                    ));
                }
            }
            Ok(())
        }
        Step::Delete(refs) => {
            non_empty(doc, &at, refs, "object")?;
            for (i, r) in refs.iter().enumerate() {
                check_namespace(doc, &at.index(i), &r.kind, r.namespace.as_deref())?;
            }
            Ok(())
        }
        Step::FillEndpoints(fill) => check_fill(doc, &at, fill, catalog),
        Step::ExpectStatus(entries) => {
            non_empty(doc, &at, entries, "object")?;
            for (i, entry) in entries.iter().enumerate() {
                check_status(doc, &at.index(i), entry)?;
            }
            Ok(())
        }
        Step::ExpectHttp(http) => check_http(doc, &at, http, catalog),
        Step::ExpectWeights(weights) => check_weights(doc, &at, weights, catalog),
        Step::ExpectAccessLog(log) => check_access_log(doc, &at, log),
    }
}

fn check_fill(doc: Doc<'_>, at: &YamlPath, fill: &FillEndpoints, catalog: &Catalog<'_>) -> Checked {
    non_empty(
        doc,
        &at.key("endpointSlices"),
        &fill.endpoint_slices,
        "EndpointSlice",
    )?;
    if !catalog.has_backend(&fill.namespace, &fill.backend) {
        return Err(doc.error(
            &at.key("backend"),
            format!(
                "no EchoBackend `{}` in namespace `{}`",
                fill.backend, fill.namespace
            ),
        ));
    }
    Ok(())
}

fn check_status(doc: Doc<'_>, at: &YamlPath, entry: &StatusExpectation) -> Checked {
    check_namespace(doc, at, &entry.kind, entry.namespace.as_deref())?;
    if entry.exact
        && entry.listeners.is_none()
        && entry.parents.is_none()
        && entry.ancestors.is_none()
    {
        return Err(doc.error(
            &at.key("exact"),
            "`exact` applies to `listeners`, `parents` or `ancestors`; list one of them",
        ));
    }
    let condition_lists = entry
        .conditions
        .iter()
        .map(|c| (at.key("conditions"), c))
        .chain(
            entry
                .parents
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| (at.key("parents").index(i).key("conditions"), &p.conditions)),
        )
        .chain(entry.listeners.iter().flatten().enumerate().map(|(i, l)| {
            (
                at.key("listeners").index(i).key("conditions"),
                &l.conditions,
            )
        }))
        .chain(entry.ancestors.iter().flatten().enumerate().map(|(i, a)| {
            (
                at.key("ancestors").index(i).key("conditions"),
                &a.conditions,
            )
        }));
    for (path, conditions) in condition_lists {
        let mut types = BTreeSet::new();
        for (i, condition) in conditions.iter().enumerate() {
            if !types.insert(condition.type_.as_str()) {
                return Err(doc.error(
                    &path.index(i).key("type"),
                    format!("condition `{}` is listed twice", condition.type_),
                ));
            }
        }
    }
    if let Some(listeners) = &entry.listeners {
        let mut names = BTreeSet::new();
        for (i, listener) in listeners.iter().enumerate() {
            if !names.insert(listener.name.as_str()) {
                return Err(doc.error(
                    &at.key("listeners").index(i).key("name"),
                    format!("listener `{}` is listed twice", listener.name),
                ));
            }
        }
    }
    Ok(())
}
