//! Everything a target does through the Kubernetes API, the same for every target: apply as
//! server-side apply, merge patches, deletes and reads of objects whose kind is resolved by
//! discovery. The `sim` target differs only in the API server it points at, so this is the
//! code every CI run exercises against a real cluster too.

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Client, ResourceExt};
use serde_json::Value;
use tokio::sync::RwLock;

use super::TargetError;
use crate::scenario::{ObjectRef, injected_field};

/// The GatewayClass a run uses and the controller that owns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunClass {
    pub gateway_class: String,
    pub controller_name: String,
}

/// A kind as the API server serves it.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// One object the API server accepted (or removed).
#[derive(Clone, Debug)]
pub struct Written {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The object's `resourceVersion` after the write (a deletion's own version for deletes),
    /// when it is numeric.
    pub resource_version: Option<u64>,
    pub generation: Option<i64>,
    /// `metadata.generation` before the write; `None` when the write created the object.
    pub generation_before: Option<i64>,
    pub deleted: bool,
}

impl Written {
    fn from_object(
        resolved: &Resolved,
        object: &DynamicObject,
        generation_before: Option<i64>,
        deleted: bool,
    ) -> Written {
        Written {
            group: resolved.resource.group.clone(),
            kind: resolved.resource.kind.clone(),
            namespace: object.namespace(),
            name: object.name_any(),
            resource_version: object
                .resource_version()
                .and_then(|v| v.parse::<u64>().ok()),
            generation: object.metadata.generation,
            generation_before,
            deleted,
        }
    }

    /// `Kind namespace/name`, as failures name objects.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The generic half of every target.
pub struct Driver {
    client: Client,
    field_manager: String,
    class: RunClass,
    discovery: RwLock<Discovery>,
}

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// Where an unqualified kind is looked for first when several groups serve it.
const PREFERRED_GROUPS: &[&str] = &[GATEWAY_GROUP, "", "discovery.k8s.io", "apps"];

fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

impl Driver {
    pub async fn connect(
        client: Client,
        field_manager: &str,
        class: RunClass,
    ) -> Result<Driver, TargetError> {
        let discovery = retrying(|| Discovery::new(client.clone()).run())
            .await
            .map_err(|source| TargetError::Discovery {
                source: Box::new(source),
            })?;
        Ok(Driver {
            client,
            field_manager: field_manager.to_owned(),
            class,
            discovery: RwLock::new(discovery),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn class(&self) -> &RunClass {
        &self.class
    }

    /// The served resource for `kind` (in `api_version` when given). Discovery is run again
    /// once on a miss, since a cluster may have gained CRDs since the run started.
    pub async fn resolve(
        &self,
        api_version: Option<&str>,
        kind: &str,
    ) -> Result<Resolved, TargetError> {
        if let Some(found) = self.lookup(api_version, kind).await? {
            return Ok(found);
        }
        let fresh = retrying(|| Discovery::new(self.client.clone()).run())
            .await
            .map_err(|source| TargetError::Discovery {
                source: Box::new(source),
            })?;
        *self.discovery.write().await = fresh;
        self.lookup(api_version, kind)
            .await?
            .ok_or_else(|| TargetError::UnknownKind {
                api_version: api_version.map(str::to_owned),
                kind: kind.to_owned(),
            })
    }

    async fn lookup(
        &self,
        api_version: Option<&str>,
        kind: &str,
    ) -> Result<Option<Resolved>, TargetError> {
        let discovery = self.discovery.read().await;
        let resolved =
            |(resource, caps): (ApiResource, kube::discovery::ApiCapabilities)| Resolved {
                resource,
                namespaced: caps.scope == Scope::Namespaced,
            };
        if let Some(api_version) = api_version {
            let (group, version) = split_api_version(api_version);
            return Ok(discovery.get(group).and_then(|g| {
                g.versioned_resources(version)
                    .into_iter()
                    .find(|(r, _)| r.kind == kind)
                    .map(resolved)
            }));
        }
        let mut found: Vec<Resolved> = discovery
            .groups()
            .filter_map(|g| g.recommended_kind(kind))
            .map(resolved)
            .collect();
        if found.len() > 1 {
            let preferred = PREFERRED_GROUPS
                .iter()
                .find_map(|p| found.iter().position(|r| r.resource.group == *p));
            return match preferred {
                Some(i) => Ok(Some(found.swap_remove(i))),
                None => Err(TargetError::AmbiguousKind {
                    kind: kind.to_owned(),
                    groups: found.into_iter().map(|r| r.resource.group).collect(),
                }),
            };
        }
        Ok(found.pop())
    }

    fn api(&self, resolved: &Resolved, namespace: Option<&str>) -> Api<DynamicObject> {
        if resolved.namespaced {
            Api::namespaced_with(
                self.client.clone(),
                namespace.unwrap_or("default"),
                &resolved.resource,
            )
        } else {
            Api::all_with(self.client.clone(), &resolved.resource)
        }
    }

    /// Sets the run's GatewayClass on Gateways and its controller on GatewayClasses, as
    /// upstream's applier replaces its placeholders.
    fn inject_class(&self, resolved: &Resolved, value: &mut Value) {
        let kind = resolved.resource.kind.as_str();
        let Some(field) = injected_field(&resolved.resource.group, kind) else {
            return;
        };
        let setting = match kind {
            "Gateway" => &self.class.gateway_class,
            _ => &self.class.controller_name,
        };
        if let Some(object) = value.as_object_mut() {
            let spec = object
                .entry("spec")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(spec) = spec.as_object_mut() {
                spec.insert(field.to_owned(), Value::String(setting.clone()));
            }
        }
    }

    async fn generation_of(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
    ) -> Result<Option<i64>, kube::Error> {
        Ok(retrying(|| api.get_opt(name))
            .await?
            .and_then(|object| object.metadata.generation))
    }

    /// Creates or updates `value` by server-side apply (forced: the harness owns what it
    /// applies), so that a re-applied object loses the fields it no longer lists.
    pub async fn apply(&self, value: &Value) -> Result<Written, TargetError> {
        let text = |p: &str| value.pointer(p).and_then(Value::as_str);
        let kind = text("/kind").unwrap_or_default();
        let name = text("/metadata/name").unwrap_or_default().to_owned();
        let resolved = self.resolve(text("/apiVersion"), kind).await?;
        let namespace = resolved
            .namespaced
            .then(|| text("/metadata/namespace").unwrap_or("default").to_owned());
        let describe = describe(kind, namespace.as_deref(), &name);
        let api_error = |source| TargetError::Api {
            action: "apply",
            object: describe.clone(),
            source: Box::new(source),
        };
        let mut body = value.clone();
        self.inject_class(&resolved, &mut body);
        if let (Some(ns), Some(meta)) = (
            &namespace,
            body.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert("namespace".to_owned(), Value::String(ns.clone()));
        }
        let api = self.api(&resolved, namespace.as_deref());
        let before = self.generation_of(&api, &name).await.map_err(api_error)?;
        let params = PatchParams::apply(&self.field_manager).force();
        let patch = Patch::Apply(&body);
        let object = retrying(|| api.patch(&name, &params, &patch))
            .await
            .map_err(api_error)?;
        Ok(Written::from_object(&resolved, &object, before, false))
    }

    /// A JSON merge patch of one object.
    pub async fn patch(&self, target: &ObjectRef, patch: &Value) -> Result<Written, TargetError> {
        let resolved = self
            .resolve(target.api_version.as_deref(), &target.kind)
            .await?;
        let api = self.api(&resolved, target.namespace.as_deref());
        let api_error = |source| TargetError::Api {
            action: "patch",
            object: target.to_string(),
            source: Box::new(source),
        };
        let before = self
            .generation_of(&api, &target.name)
            .await
            .map_err(api_error)?;
        let params = PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        };
        let patch = Patch::Merge(patch);
        let object = retrying(|| api.patch(&target.name, &params, &patch))
            .await
            .map_err(api_error)?;
        Ok(Written::from_object(&resolved, &object, before, false))
    }

    /// A JSON merge patch of the `status` subresource (what a kubelet or a controller writes).
    pub async fn patch_status(
        &self,
        target: &ObjectRef,
        status: &Value,
    ) -> Result<Written, TargetError> {
        let resolved = self
            .resolve(target.api_version.as_deref(), &target.kind)
            .await?;
        let api = self.api(&resolved, target.namespace.as_deref());
        let params = PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        };
        let patch = Patch::Merge(serde_json::json!({ "status": status }));
        let object = retrying(|| api.patch_status(&target.name, &params, &patch))
            .await
            .map_err(|source| TargetError::Api {
                action: "patch status of",
                object: target.to_string(),
                source: Box::new(source),
            })?;
        Ok(Written::from_object(&resolved, &object, None, false))
    }

    /// Deletes one object; `None` when it did not exist.
    pub async fn delete(&self, target: &ObjectRef) -> Result<Option<Written>, TargetError> {
        let resolved = self
            .resolve(target.api_version.as_deref(), &target.kind)
            .await?;
        let api = self.api(&resolved, target.namespace.as_deref());
        let params = DeleteParams::background();
        match retrying(|| api.delete(&target.name, &params)).await {
            Ok(answer) => Ok(Some(match answer.left() {
                Some(object) => Written::from_object(&resolved, &object, None, true),
                // Some servers answer a finished delete with a Status: no version to report.
                None => Written {
                    group: resolved.resource.group.clone(),
                    kind: resolved.resource.kind.clone(),
                    namespace: target.namespace.clone(),
                    name: target.name.clone(),
                    resource_version: None,
                    generation: None,
                    generation_before: None,
                    deleted: true,
                },
            })),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(source) => Err(TargetError::Api {
                action: "delete",
                object: target.to_string(),
                source: Box::new(source),
            }),
        }
    }

    /// The object as the API server has it now; `None` when it does not exist.
    pub async fn get(&self, target: &ObjectRef) -> Result<Option<Value>, TargetError> {
        let resolved = self
            .resolve(target.api_version.as_deref(), &target.kind)
            .await?;
        let api = self.api(&resolved, target.namespace.as_deref());
        let object = retrying(|| api.get_opt(&target.name))
            .await
            .map_err(|source| TargetError::Api {
                action: "get",
                object: target.to_string(),
                source: Box::new(source),
            })?;
        object
            .map(|o| serde_json::to_value(o).map_err(|e| TargetError::Invalid(e.to_string())))
            .transpose()
    }

    /// Every object of a kind in a namespace, optionally filtered by a label selector.
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Vec<Value>, TargetError> {
        self.list_kind(Some(api_version), kind, namespace, labels)
            .await
    }

    /// [`Driver::list`] for a kind whose version may be left to discovery, as an
    /// [`ObjectRef`] may leave it.
    pub async fn list_kind(
        &self,
        api_version: Option<&str>,
        kind: &str,
        namespace: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Vec<Value>, TargetError> {
        let resolved = self.resolve(api_version, kind).await?;
        let api = self.api(&resolved, namespace);
        let mut params = kube::api::ListParams::default();
        if let Some(labels) = labels {
            params = params.labels(labels);
        }
        let list = retrying(|| api.list(&params))
            .await
            .map_err(|source| TargetError::Api {
                action: "list",
                object: format!("{kind} in {}", namespace.unwrap_or("every namespace")),
                source: Box::new(source),
            })?;
        list.items
            .into_iter()
            .map(|o| serde_json::to_value(o).map_err(|e| TargetError::Invalid(e.to_string())))
            .collect()
    }

    /// Waits until `target` no longer exists, polling with short, growing intervals.
    pub async fn wait_gone(
        &self,
        target: &ObjectRef,
        timeout: Duration,
    ) -> Result<(), TargetError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            if self.get(target).await?.is_none() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TargetError::Timeout {
                    what: format!("{target} to be deleted"),
                    after: timeout,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// Errors a real API server returns now and then (throttling, a restarting apiserver, a dropped
/// connection) and that the same request soon gets past.
fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs an idempotent request, again after short pauses while it fails transiently.
async fn retrying<T, F, Fut>(mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut pause = Duration::from_millis(10);
    let mut attempts = 1;
    loop {
        match request().await {
            Err(e) if attempts < RETRY_ATTEMPTS && is_transient(&e) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
                attempts += 1;
            }
            other => return other,
        }
    }
}

const RETRY_ATTEMPTS: u32 = 8;

pub(crate) fn describe(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}
