//! The API server's view of objects, through the real `kube` client: apply YAML as a user
//! would, and wait for the status the controller writes back.

#![allow(dead_code)] // each test file uses a different subset

use anyhow::{Context, Result};
use gatesim_reference::model::{KindVisitor, StoredKind, api_group, visit_kind};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::e2e_support::{HTTP_GATEWAY, WAIT, eventually};

pub struct Cluster {
    pub client: kube::Client,
}

impl Cluster {
    fn api(&self, value: &Value) -> Result<(Api<DynamicObject>, String)> {
        struct Resource;
        impl KindVisitor for Resource {
            type Output = (ApiResource, bool);
            fn visit<K: StoredKind>(self) -> Self::Output {
                (ApiResource::erase::<K>(&()), K::NAMESPACED)
            }
        }
        let api_version = value["apiVersion"].as_str().context("apiVersion")?;
        let kind = value["kind"].as_str().context("kind")?;
        let (resource, namespaced) = visit_kind(api_group(api_version), kind, Resource)
            .with_context(|| format!("{kind} is not a stored kind"))?;
        let name = value["metadata"]["name"].as_str().context("name")?;
        let api = if namespaced {
            let ns = value["metadata"]["namespace"].as_str().unwrap_or("default");
            Api::namespaced_with(self.client.clone(), ns, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        Ok((api, name.to_string()))
    }

    /// Server-side apply every document of `yaml`.
    pub async fn apply(&self, yaml: &str) -> Result<()> {
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let value: Value = serde::Deserialize::deserialize(doc)?;
            if value.is_null() {
                continue;
            }
            let (api, name) = self.api(&value)?;
            api.patch(
                &name,
                &PatchParams::apply("gatesim-test").force(),
                &Patch::Apply(&value),
            )
            .await
            .with_context(|| format!("applying {name}"))?;
        }
        Ok(())
    }

    /// The object `yaml` describes, as the API server holds it.
    pub async fn get(&self, yaml: &str) -> Result<Value> {
        let value: Value = serde_yaml::from_str(yaml)?;
        let (api, name) = self.api(&value)?;
        Ok(serde_json::to_value(api.get(&name).await?)?)
    }

    /// The status of the object `yaml` describes, as the API server holds it.
    pub async fn status(&self, yaml: &str) -> Result<Value> {
        Ok(self.get(yaml).await?["status"].clone())
    }

    /// Wait until route `yaml`'s Accepted condition passes `check`; the condition.
    pub async fn route_accepted(
        &self,
        yaml: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        eventually(WAIT, what, || async {
            let status = self.status(yaml).await?;
            let accepted = status["parents"][0]["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Accepted").cloned());
            Ok(accepted.filter(|c| check(c)))
        })
        .await
    }

    /// Wait until route `yaml` is Accepted with resolved references for its current
    /// generation, as its parent Gateway's controller reports it.
    pub async fn route_ready(&self, yaml: &str) -> Result<()> {
        let what = "the route is Accepted with ResolvedRefs for its generation";
        eventually(WAIT, what, || async {
            let route = self.get(yaml).await?;
            let generation = &route["metadata"]["generation"];
            let ready = route["status"]["parents"][0]["conditions"]
                .as_array()
                .is_some_and(|conditions| {
                    ["Accepted", "ResolvedRefs"].iter().all(|kind| {
                        conditions.iter().any(|c| {
                            c["type"] == *kind
                                && c["status"] == "True"
                                && c["observedGeneration"] == *generation
                        })
                    })
                });
            Ok(ready.then_some(()))
        })
        .await
    }

    pub async fn quarantined(&self, yaml: &str, envoy_says: &str) -> Result<Value> {
        let what = format!("quarantined with {envoy_says:?} in the API server");
        self.route_accepted(yaml, &what, |c| {
            c["status"] == "False"
                && c["reason"] == "UnsupportedValue"
                && c["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(envoy_says))
        })
        .await
    }

    /// Wait until the Gateway of `gateway_yaml` passes `check` on its status.
    async fn gateway_status(
        &self,
        gateway_yaml: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Result<()> {
        eventually(WAIT, what, || async {
            let status = self.status(gateway_yaml).await?;
            if check(&status) {
                Ok(Some(()))
            } else {
                anyhow::bail!("status {status}")
            }
        })
        .await
    }

    /// Wait until the Gateway of `gateway_yaml` is Accepted and its first listener Programmed
    /// with `routes` routes attached: what a controller whose proxies someone else runs
    /// (`--infra none`, no address to report, so never `Programmed` as a whole) says once it
    /// has taken a change in.
    pub async fn gateway_listening(&self, gateway_yaml: &str, routes: u64) -> Result<()> {
        let what = format!("the Gateway is Accepted, its listener Programmed with {routes} routes");
        self.gateway_status(gateway_yaml, &what, |status| {
            let has = |conditions: &Value, kind: &str| {
                conditions
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == kind && c["status"] == "True"))
            };
            let listener = &status["listeners"][0];
            has(&status["conditions"], "Accepted")
                && has(&listener["conditions"], "Programmed")
                && listener["attachedRoutes"].as_u64() == Some(routes)
        })
        .await
    }

    pub async fn gateway_programmed(&self) -> Result<()> {
        let gateway = HTTP_GATEWAY
            .split("---")
            .nth(1)
            .context("the Gateway document")?;
        self.gateway_status(
            gateway,
            "the Gateway is Programmed in the API server",
            |status| {
                status["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Programmed" && c["status"] == "True")
                })
            },
        )
        .await
    }
}
