//! What a pod's containers are configured from: the Secrets and ConfigMaps it names, fetched
//! once per attempt to start it, and the pod's own fields (downward API). Resolving env and
//! volumes from these is pure (see `env` and `volumes`), so its rules are tested without an API
//! server.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use kube::Api;

/// Why a container cannot be configured; the kubelet's reason is
/// `CreateContainerConfigError`, and the pod retries until the data appears.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("secret \"{0}\" not found")]
    SecretNotFound(String),
    #[error("configmap \"{0}\" not found")]
    ConfigMapNotFound(String),
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    KeyNotFound {
        key: String,
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("volume {volume}: {message}")]
    Volume { volume: String, message: String },
    #[error("reading the API: {0}")]
    Api(String),
}

/// Keys to bytes, for Secrets and ConfigMaps alike.
pub type KeyData = BTreeMap<String, Vec<u8>>;

/// The Secrets and ConfigMaps of the pod's namespace that it references, those that exist.
#[derive(Clone, Debug, Default)]
pub struct PodData {
    pub namespace: String,
    pub secrets: BTreeMap<String, KeyData>,
    pub config_maps: BTreeMap<String, KeyData>,
    /// Tokens of the pod's ServiceAccount for its projected `serviceAccountToken` sources, by
    /// (audience, expiration seconds), as the kubelet requests them (TokenRequest, bound to
    /// the pod).
    pub tokens: BTreeMap<(String, i64), String>,
    /// The `kubernetes` Service's ClusterIP, which every container learns as
    /// `KUBERNETES_SERVICE_HOST`.
    pub kubernetes_service: Option<String>,
}

impl PodData {
    pub fn secret(&self, name: &str) -> Result<&KeyData, ConfigError> {
        self.secrets
            .get(name)
            .ok_or_else(|| ConfigError::SecretNotFound(name.to_owned()))
    }

    pub fn config_map(&self, name: &str) -> Result<&KeyData, ConfigError> {
        self.config_maps
            .get(name)
            .ok_or_else(|| ConfigError::ConfigMapNotFound(name.to_owned()))
    }

    /// One key of a Secret or ConfigMap, as UTF-8 (env values).
    pub fn key(
        &self,
        kind: &'static str,
        name: &str,
        key: &str,
    ) -> Result<Option<String>, ConfigError> {
        let data = match kind {
            "Secret" => self.secret(name)?,
            _ => self.config_map(name)?,
        };
        Ok(data
            .get(key)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned()))
    }
}

/// The pod facts the downward API exposes besides its metadata.
#[derive(Clone, Debug)]
pub struct PodFacts {
    pub pod_ip: Ipv4Addr,
    pub host_ip: Ipv4Addr,
    pub node_name: String,
}

/// Names of the Secrets and ConfigMaps a pod references (env, envFrom, volumes).
pub fn referenced(pod: &Pod) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut secrets = BTreeSet::new();
    let mut config_maps = BTreeSet::new();
    let Some(spec) = &pod.spec else {
        return (secrets, config_maps);
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in containers {
        for var in c.env.iter().flatten() {
            let Some(from) = &var.value_from else {
                continue;
            };
            if let Some(s) = &from.secret_key_ref {
                secrets.insert(s.name.clone());
            }
            if let Some(m) = &from.config_map_key_ref {
                config_maps.insert(m.name.clone());
            }
        }
        for from in c.env_from.iter().flatten() {
            if let Some(s) = &from.secret_ref {
                secrets.insert(s.name.clone());
            }
            if let Some(m) = &from.config_map_ref {
                config_maps.insert(m.name.clone());
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.insert(s);
        }
        if let Some(m) = &v.config_map {
            config_maps.insert(m.name.clone());
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &source.secret {
                secrets.insert(s.name.clone());
            }
            if let Some(m) = &source.config_map {
                config_maps.insert(m.name.clone());
            }
        }
    }
    (secrets, config_maps)
}

/// Reads what the pod references; objects that do not exist are left out (whether that is
/// an error depends on `optional` where they are used).
pub async fn fetch(client: &kube::Client, pod: &Pod) -> Result<PodData, ConfigError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let (secret_names, config_map_names) = referenced(pod);
    let mut data = PodData {
        namespace: namespace.clone(),
        ..PodData::default()
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    for name in secret_names {
        let found = secrets
            .get_opt(&name)
            .await
            .map_err(|e| ConfigError::Api(e.to_string()))?;
        if let Some(secret) = found {
            let mut keys: KeyData = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            for (k, v) in secret.string_data.unwrap_or_default() {
                keys.insert(k, v.into_bytes());
            }
            data.secrets.insert(name, keys);
        }
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    for name in config_map_names {
        let found = config_maps
            .get_opt(&name)
            .await
            .map_err(|e| ConfigError::Api(e.to_string()))?;
        if let Some(map) = found {
            let mut keys: KeyData = map
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
            for (k, v) in map.binary_data.unwrap_or_default() {
                keys.insert(k, v.0);
            }
            data.config_maps.insert(name, keys);
        }
    }
    let tokens: BTreeSet<(String, i64)> = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .flat_map(|v| v.projected.iter().flat_map(|p| p.sources.iter().flatten()))
        .filter_map(|s| s.service_account_token.as_ref())
        .map(|t| {
            (
                t.audience.clone().unwrap_or_default(),
                t.expiration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS),
            )
        })
        .collect();
    for (audience, seconds) in tokens {
        let token = request_token(client, pod, &audience, seconds).await?;
        data.tokens.insert((audience, seconds), token);
    }
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    data.kubernetes_service = services
        .get_opt("kubernetes")
        .await
        .map_err(|e| ConfigError::Api(e.to_string()))?
        .and_then(|s| s.spec?.cluster_ip);
    Ok(data)
}

/// The kubelet's default lifetime of a projected token (the API server's maximum warning
/// threshold plus a little).
pub const DEFAULT_TOKEN_SECONDS: i64 = 3607;

/// A token of the pod's ServiceAccount, bound to the pod (so it dies with it).
async fn request_token(
    client: &kube::Client,
    pod: &Pod,
    audience: &str,
    seconds: i64,
) -> Result<String, ConfigError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".to_owned());
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let mut spec = serde_json::json!({
        "expirationSeconds": seconds,
        "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                           "name": pod.metadata.name, "uid": pod.metadata.uid},
    });
    if !audience.is_empty() {
        spec["audiences"] = serde_json::json!([audience]);
    }
    let request = serde_json::json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": spec,
    });
    let answer: serde_json::Value = accounts
        .create_subresource(
            "token",
            &account,
            &kube::api::PostParams::default(),
            &request,
        )
        .await
        .map_err(|e| {
            ConfigError::Api(format!(
                "requesting a token of ServiceAccount {namespace}/{account}: {e}"
            ))
        })?;
    answer["status"]["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::Api("the TokenRequest answer has no token".to_owned()))
}

/// A downward-API field of the pod, as env and `downwardAPI` volumes expose it.
pub fn field(pod: &Pod, facts: &PodFacts, path: &str) -> Result<String, ConfigError> {
    let meta = &pod.metadata;
    let quoted = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("['"))
            .and_then(|rest| rest.strip_suffix("']"))
            .map(str::to_owned)
    };
    let map_lines = |map: &Option<BTreeMap<String, String>>| {
        map.iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => map_lines(&meta.labels),
        "metadata.annotations" => map_lines(&meta.annotations),
        "spec.nodeName" => facts.node_name.clone(),
        "spec.serviceAccountName" => pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.to_string(),
        _ => {
            if let Some(key) = quoted("metadata.labels") {
                meta.labels
                    .as_ref()
                    .and_then(|l| l.get(&key))
                    .cloned()
                    .unwrap_or_default()
            } else if let Some(key) = quoted("metadata.annotations") {
                meta.annotations
                    .as_ref()
                    .and_then(|a| a.get(&key))
                    .cloned()
                    .unwrap_or_default()
            } else {
                return Err(ConfigError::Unsupported(format!(
                    "field path {path:?} is not supported by the simulated node"
                )));
            }
        }
    })
}
