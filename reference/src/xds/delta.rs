//! Delta (incremental) ADS: `DeltaDiscoveryRequest` in, `DeltaDiscoveryResponse` out.
//!
//! Subscriptions change by increments and are applied from every request, ACK or not. The
//! first request of a type may carry `initial_resource_versions` (a reconnecting Envoy says
//! what it holds); those count as held, so unchanged resources are not sent again and
//! resources the snapshot no longer has are removed (after the usual make-before-break wait).
//! Responses carry changed resources with their own versions and the names of removed ones.

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource as DeltaResource,
};

use super::resource::ResourceType;
use super::rollout::{Delivery, Held, Push, Report, Rollout};
use super::snapshot::Snapshot;
use super::stream::Protocol;
use envoy_types::pb::envoy::config::core::v3::Node;

pub(crate) struct DeltaStream {
    rollout: Rollout,
}

impl Protocol for DeltaStream {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;
    const NAME: &'static str = "delta";

    fn new() -> Self {
        Self {
            rollout: Rollout::new(Delivery::Diff),
        }
    }

    fn node(req: &DeltaDiscoveryRequest) -> Option<&Node> {
        req.node.as_ref()
    }

    fn set_target(&mut self, snapshot: Option<Snapshot>) {
        self.rollout.set_target(snapshot);
    }

    fn on_request(&mut self, req: DeltaDiscoveryRequest, reports: &mut Vec<Report>) {
        let Some(ty) = ResourceType::from_type_url(&req.type_url) else {
            tracing::debug!(
                type_url = req.type_url,
                "ignoring a request for a type this server does not serve"
            );
            return;
        };
        let st = self.rollout.state_mut(ty);
        let first = !st.subscribed;
        if first {
            st.subscribed = true;
            st.must_respond = true;
            // An empty first subscription is the legacy form of a wildcard one.
            st.wildcard = req.resource_names_subscribe.is_empty()
                && matches!(ty, ResourceType::Cluster | ResourceType::Listener);
            st.held = req
                .initial_resource_versions
                .into_iter()
                .map(|(name, version)| {
                    (
                        name,
                        Held {
                            version,
                            resource: None,
                        },
                    )
                })
                .collect();
        }
        for name in req.resource_names_subscribe {
            if name == "*" {
                st.wildcard = true;
            } else {
                // A fresh subscription means Envoy lacks the resource (unless it said otherwise
                // in its initial versions): send it again.
                if !first {
                    st.held.remove(&name);
                }
                st.names.insert(name);
            }
        }
        for name in req.resource_names_unsubscribe {
            if name == "*" {
                st.wildcard = false;
                let names = &st.names;
                st.held.retain(|n, _| names.contains(n));
            } else {
                st.names.remove(&name);
                if !st.wildcard {
                    st.held.remove(&name);
                }
            }
        }
        if !req.response_nonce.is_empty() {
            let report = match req.error_detail {
                Some(err) => self.rollout.nack(ty, &req.response_nonce, err.message),
                None => self.rollout.ack(ty, &req.response_nonce),
            };
            if report.is_none() {
                tracing::debug!(ty = %ty, nonce = req.response_nonce, "ignoring a stale ACK/NACK");
            }
            reports.extend(report);
        }
        self.rollout.forget_if_unwatched(ty);
    }

    fn poll(&mut self, reports: &mut Vec<Report>) -> Vec<DeltaDiscoveryResponse> {
        self.rollout
            .poll(reports)
            .into_iter()
            .map(response)
            .collect()
    }
}

fn response(push: Push) -> DeltaDiscoveryResponse {
    DeltaDiscoveryResponse {
        system_version_info: push.version,
        resources: push
            .resources
            .iter()
            .map(|r| DeltaResource {
                name: r.name.clone(),
                version: r.version.clone(),
                resource: Some(r.any.clone()),
                ..Default::default()
            })
            .collect(),
        type_url: push.ty.type_url(),
        removed_resources: push.removed,
        nonce: push.nonce,
        ..Default::default()
    }
}
