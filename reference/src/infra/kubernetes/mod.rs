//! Proxies as Kubernetes workloads (`--infra kubernetes`): per Gateway, the objects
//! [`render`] describes, applied server-side with the field manager [`FIELD_MANAGER`], and
//! removed when the Gateway is gone.
//!
//! Each reconcile applies what changed since the last one (a restarted controller applies
//! everything once: server-side apply of an unchanged object is a no-op), then deletes every
//! object carrying this controller's labels whose Gateway it no longer manages. A Gateway
//! that exists but is not accepted (say its GatewayParameters became invalid) keeps the
//! objects it had: its proxy goes on serving the last configuration it accepted. Owner
//! references to the Gateway let the garbage collector remove the objects as well, when the
//! Gateway is deleted while the controller is down.

pub mod render;
mod sidecars;
mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::Gateway;
use crate::api::k8sgateway::gateway_parameters::GatewayParametersSpec;
use crate::model::{ObjectKey, ResourceSet};
pub use render::{ProxyObjects, RenderOptions};

/// The field manager of every object this provider applies.
pub const FIELD_MANAGER: &str = "gatesim";

/// The default `--xds-service`: where the manifests in `deploy/` put the controller's xDS port.
pub const DEFAULT_XDS_SERVICE: &str = "gatesim-xds.gatesim-system";

/// What one Gateway's proxy should be.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredProxy {
    pub gateway: Arc<Gateway>,
    pub parameters: Option<GatewayParametersSpec>,
}

/// What a reconcile is asked to do: deploy `proxies`, and keep the objects of `keep` (Gateways
/// this controller manages) even when they have no entry there.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    pub proxies: BTreeMap<ObjectKey, DesiredProxy>,
    pub keep: BTreeSet<ObjectKey>,
    /// Settings turn the Istio integration on (`translate::parameters::istio_integration`).
    pub istio_integration: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum KubernetesInfraError {
    #[error("--xds-service must be `<name>.<namespace>`, not {0:?}")]
    XdsService(String),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("{action} {kind} {key}: {source}")]
    Api {
        action: &'static str,
        kind: String,
        key: ObjectKey,
        #[source]
        source: Box<kube::Error>,
    },
}

/// What a reconcile did.
#[derive(Debug, Default)]
pub struct Report {
    pub applied: Vec<ObjectKey>,
    /// Objects deleted, as `Kind namespace/name`.
    pub deleted: Vec<String>,
    pub failed: Vec<KubernetesInfraError>,
}

/// `name.namespace` → the key of that Service.
pub fn parse_xds_service(text: &str) -> Result<ObjectKey, KubernetesInfraError> {
    match text.split_once('.') {
        Some((name, namespace))
            if !name.is_empty() && !namespace.is_empty() && !namespace.contains('.') =>
        {
            Ok(ObjectKey::new(namespace, name))
        }
        _ => Err(KubernetesInfraError::XdsService(text.to_string())),
    }
}

/// Each Gateway's address, from its proxy's Service in `set`: the load balancer's ingress
/// when it has one (IP, else hostname), else the ClusterIP. A Gateway whose Service has
/// neither yet has no address (and so is not Programmed).
pub fn addresses<'a>(
    set: &ResourceSet,
    gateways: impl IntoIterator<Item = &'a ObjectKey>,
) -> BTreeMap<ObjectKey, String> {
    gateways
        .into_iter()
        .filter_map(|gw| {
            let svc = set.services.get(gw)?;
            let ours = svc.metadata.labels.as_ref().is_some_and(|l| {
                l.get(render::MANAGED_BY_LABEL).map(String::as_str) == Some(render::MANAGED_BY)
                    && l.get(render::GATEWAY_LABEL) == Some(&gw.name)
            });
            if !ours {
                return None;
            }
            let ingress = svc
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .and_then(|i| i.first())
                .and_then(|i| i.ip.clone().or_else(|| i.hostname.clone()));
            let cluster_ip = svc
                .spec
                .as_ref()
                .and_then(|s| s.cluster_ip.clone())
                .filter(|ip| ip.parse::<IpAddr>().is_ok());
            Some((gw.clone(), ingress.or(cluster_ip)?))
        })
        .collect()
}

/// The Kubernetes infrastructure provider.
pub struct KubernetesInfra {
    client: Client,
    options: RenderOptions,
    /// What was applied last per Gateway: unchanged objects are not sent again.
    applied: Mutex<BTreeMap<ObjectKey, ProxyObjects>>,
    /// The Gateways whose objects were kept at the last complete sweep: the cluster is only
    /// listed again when that set changes (or a sweep failed), not on every translation.
    swept: Mutex<Option<BTreeSet<ObjectKey>>>,
}

impl KubernetesInfra {
    pub fn new(client: Client, options: RenderOptions) -> Self {
        Self {
            client,
            options,
            applied: Mutex::new(BTreeMap::new()),
            swept: Mutex::new(None),
        }
    }

    pub fn options(&self) -> &RenderOptions {
        &self.options
    }

    /// Apply the objects of every desired proxy, then delete those of Gateways no longer
    /// managed. One Gateway's failure does not stop the others; it is retried on the next call.
    pub async fn reconcile(&self, desired: &Desired) -> Report {
        let mut report = Report::default();
        let options = RenderOptions {
            istio_integration: desired.istio_integration,
            ..self.options.clone()
        };
        for (key, proxy) in &desired.proxies {
            let objects = match render::render(&proxy.gateway, proxy.parameters.as_ref(), &options)
            {
                Ok(Some(objects)) => objects,
                // Self-managed: the user runs it; anything applied before goes.
                Ok(None) => continue,
                Err(e) => {
                    report.failed.push(e.into());
                    continue;
                }
            };
            if self.lock().get(key) == Some(&objects) {
                continue;
            }
            match self.apply_all(key, &objects).await {
                Ok(()) => {
                    self.lock().insert(key.clone(), objects);
                    report.applied.push(key.clone());
                }
                Err(e) => {
                    self.lock().remove(key);
                    report.failed.push(e);
                }
            }
        }
        let wanted: BTreeSet<&ObjectKey> = desired
            .keep
            .iter()
            .filter(|k| {
                desired.proxies.get(*k).is_none_or(|p| {
                    p.parameters
                        .as_ref()
                        .is_none_or(|p| p.self_managed.is_none())
                })
            })
            .collect();
        self.lock().retain(|k, _| wanted.contains(k));
        let kept: BTreeSet<ObjectKey> = wanted.iter().map(|k| (*k).clone()).collect();
        let mut swept = self.swept.lock().unwrap_or_else(|e| e.into_inner()).take();
        if swept.as_ref() == Some(&kept) {
            *self.swept.lock().unwrap_or_else(|e| e.into_inner()) = swept;
            return report;
        }
        let sweeps = [
            self.sweep::<Deployment>(&wanted).await,
            self.sweep::<Service>(&wanted).await,
            self.sweep::<ConfigMap>(&wanted).await,
            self.sweep::<ServiceAccount>(&wanted).await,
        ];
        let mut complete = true;
        for sweep in sweeps {
            match sweep {
                Ok(deleted) => report.deleted.extend(deleted),
                Err(e) => {
                    complete = false;
                    report.failed.push(e);
                }
            }
        }
        swept = complete.then_some(kept);
        *self.swept.lock().unwrap_or_else(|e| e.into_inner()) = swept;
        report
    }

    async fn apply_all(
        &self,
        key: &ObjectKey,
        o: &ProxyObjects,
    ) -> Result<(), KubernetesInfraError> {
        // The ConfigMap and ServiceAccount before the Deployment whose pods mount and use them.
        self.apply(key, &o.service_account).await?;
        self.apply(key, &o.config_map).await?;
        let ai_config = format!("{}{}", key.name, sidecars::AI_CONFIG_SUFFIX);
        match &o.ai_config_map {
            Some(c) => self.apply(key, c).await?,
            None => self.remove::<ConfigMap>(&key.namespace, &ai_config).await?,
        }
        self.apply(key, &o.deployment).await?;
        self.apply(key, &o.service).await
    }

    /// Delete one object, if it exists.
    async fn remove<K>(&self, namespace: &str, name: &str) -> Result<(), KubernetesInfraError>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + DeserializeOwned,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(source) => Err(KubernetesInfraError::Api {
                action: "deleting",
                kind: K::kind(&()).into_owned(),
                key: ObjectKey::new(namespace, name),
                source: Box::new(source),
            }),
        }
    }

    async fn apply<K>(&self, key: &ObjectKey, object: &K) -> Result<(), KubernetesInfraError>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + Serialize
            + DeserializeOwned,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), &key.namespace);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let name = object
            .meta()
            .name
            .clone()
            .unwrap_or_else(|| key.name.clone());
        api.patch(&name, &params, &Patch::Apply(object))
            .await
            .map(|_| ())
            .map_err(|source| KubernetesInfraError::Api {
                action: "applying",
                kind: K::kind(&()).into_owned(),
                key: ObjectKey::new(&key.namespace, &name),
                source: Box::new(source),
            })
    }

    /// Delete this controller's objects of kind `K` whose Gateway is not in `wanted`.
    async fn sweep<K>(
        &self,
        wanted: &BTreeSet<&ObjectKey>,
    ) -> Result<Vec<String>, KubernetesInfraError>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + DeserializeOwned,
    {
        let all: Api<K> = Api::all(self.client.clone());
        let selector = format!(
            "{}={},{}={}",
            render::MANAGED_BY_LABEL,
            render::MANAGED_BY,
            render::NAME_LABEL,
            render::PROXY_NAME
        );
        let list = all
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| KubernetesInfraError::Api {
                action: "listing",
                kind: K::kind(&()).into_owned(),
                key: ObjectKey::default(),
                source: Box::new(source),
            })?;
        let mut deleted = Vec::new();
        for object in list.items {
            let meta = object.meta();
            let namespace = meta.namespace.clone().unwrap_or_default();
            let gateway = meta
                .labels
                .as_ref()
                .and_then(|l| l.get(render::GATEWAY_LABEL))
                .cloned()
                .unwrap_or_default();
            if wanted.contains(&ObjectKey::new(&namespace, &gateway)) {
                continue;
            }
            let name = meta.name.clone().unwrap_or_default();
            self.remove::<K>(&namespace, &name).await?;
            deleted.push(format!("{} {namespace}/{name}", K::kind(&())));
        }
        Ok(deleted)
    }

    /// Forget what was applied and swept: the next reconcile applies every object again and
    /// lists the cluster, restoring what was changed or deleted behind the controller's back.
    pub fn forget(&self) {
        self.lock().clear();
        *self.swept.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ObjectKey, ProxyObjects>> {
        self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xds_service_is_name_dot_namespace() {
        assert_eq!(
            parse_xds_service(DEFAULT_XDS_SERVICE).unwrap(),
            ObjectKey::new("gatesim-system", "gatesim-xds")
        );
        for bad in ["gatesim-xds", ".ns", "name.", "a.b.c"] {
            assert!(parse_xds_service(bad).is_err(), "{bad}");
        }
    }
}
