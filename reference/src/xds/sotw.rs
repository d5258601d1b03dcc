//! State-of-the-world ADS: `DiscoveryRequest` in, `DiscoveryResponse` out.
//!
//! Rules: clusters and listeners are subscribed by wildcard (empty names or `*`), endpoints and
//! route configurations by name. A request whose nonce is not the last one sent for its type
//! is stale and ignored (Envoy follows up with a current one). A request with `error_detail`
//! is a NACK: recorded, and the rejected content is not resent. Envoy's first request for a
//! type and any change of its names get a response even when nothing changed.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};

use super::resource::ResourceType;
use super::rollout::{Delivery, Push, Report, Rollout};
use super::snapshot::Snapshot;
use super::stream::Protocol;
use envoy_types::pb::envoy::config::core::v3::Node;

pub(crate) struct SotwStream {
    rollout: Rollout,
}

/// Whether a state-of-the-world request names every resource of its type. Only clusters and
/// listeners have the legacy meaning of an empty list as "everything".
fn is_wildcard(ty: ResourceType, names: &[String]) -> bool {
    names.iter().any(|n| n == "*")
        || (names.is_empty() && matches!(ty, ResourceType::Cluster | ResourceType::Listener))
}

impl Protocol for SotwStream {
    type Request = DiscoveryRequest;
    type Response = DiscoveryResponse;
    const NAME: &'static str = "sotw";

    fn new() -> Self {
        Self {
            rollout: Rollout::new(Delivery::Full),
        }
    }

    fn node(req: &DiscoveryRequest) -> Option<&Node> {
        req.node.as_ref()
    }

    fn set_target(&mut self, snapshot: Option<Snapshot>) {
        self.rollout.set_target(snapshot);
    }

    fn on_request(&mut self, req: DiscoveryRequest, reports: &mut Vec<Report>) {
        let Some(ty) = ResourceType::from_type_url(&req.type_url) else {
            tracing::debug!(
                type_url = req.type_url,
                "ignoring a request for a type this server does not serve"
            );
            return;
        };
        let nonce = req.response_nonce;
        if !nonce.is_empty() {
            if self.rollout.state(ty).last_nonce.as_deref() != Some(nonce.as_str()) {
                tracing::debug!(ty = %ty, nonce, "ignoring a stale request");
                return;
            }
            let report = match req.error_detail {
                Some(err) => self.rollout.nack(ty, &nonce, err.message),
                None => self.rollout.ack(ty, &nonce),
            };
            reports.extend(report);
        }
        let wildcard = is_wildcard(ty, &req.resource_names);
        let names: BTreeSet<String> = if wildcard {
            BTreeSet::new()
        } else {
            req.resource_names.into_iter().collect()
        };
        let st = self.rollout.state_mut(ty);
        if nonce.is_empty() || !st.subscribed || st.wildcard != wildcard || st.names != names {
            st.must_respond = true;
        }
        st.subscribed = true;
        st.wildcard = wildcard;
        st.names = names;
        if !wildcard {
            // What Envoy no longer asks for by name, it no longer holds.
            let names = &st.names;
            st.held.retain(|n, _| names.contains(n));
        }
        self.rollout.forget_if_unwatched(ty);
    }

    fn poll(&mut self, reports: &mut Vec<Report>) -> Vec<DiscoveryResponse> {
        self.rollout
            .poll(reports)
            .into_iter()
            .map(response)
            .collect()
    }
}

#[cfg(test)]
impl SotwStream {
    pub(crate) fn last_nonce(&self, ty: ResourceType) -> Option<String> {
        self.rollout.state(ty).last_nonce.clone()
    }
}

fn response(push: Push) -> DiscoveryResponse {
    DiscoveryResponse {
        version_info: push.version,
        resources: push.resources.iter().map(|r| r.any.clone()).collect(),
        type_url: push.ty.type_url(),
        nonce: push.nonce,
        ..Default::default()
    }
}
