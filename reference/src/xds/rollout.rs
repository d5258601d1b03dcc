//! The make-before-break rollout of a snapshot over one stream, shared by both protocols.
//!
//! A new snapshot is rolled out type by type in [`ResourceType::ALL`] order, and a type is sent
//! only once every type before it is *settled*: Envoy has ACKed exactly what it should hold of
//! it. So clusters are in place before the endpoints they load, both before the listeners and
//! routes that send traffic to them. Clusters and endpoints the snapshot drops are kept
//! (*Make* stage) until the new listeners and routes are ACKed; only then are they removed
//! (*Break* stage), so no route Envoy holds ever points at a cluster it no longer has.
//!
//! One response per type is in flight at a time; the next waits for its ACK or NACK. That keeps
//! the server's picture of what Envoy holds exact, and a NACKed content is never resent: the
//! rollout stops at the rejected type until a new snapshot arrives, leaving Envoy on its last
//! consistent configuration.
//!
//! The protocols differ only in how a push is delivered: state-of-the-world sends the whole set
//! a type should hold, delta sends the changes against what Envoy holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::fingerprint::set_version;
use super::resource::{Resource, ResourceType};
use super::snapshot::Snapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// State of the world: every response carries all the resources of its type.
    Full,
    /// Delta: responses carry changed resources and the names of removed ones.
    Diff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Adding and changing; dropped clusters and endpoints are kept.
    Make,
    /// The new listeners and routes are ACKed; dropped clusters and endpoints go.
    Break,
}

/// A resource Envoy holds, as far as this stream knows. The content is unknown for what a
/// reconnecting delta client declared in `initial_resource_versions`.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub(crate) version: String,
    pub(crate) resource: Option<Arc<Resource>>,
}

impl Held {
    fn of(r: &Arc<Resource>) -> Self {
        Self {
            version: r.version.clone(),
            resource: Some(Arc::clone(r)),
        }
    }
}

#[derive(Debug)]
struct InFlight {
    nonce: String,
    version: String,
    upserts: Vec<Arc<Resource>>,
    removes: Vec<String>,
}

/// What one stream has asked for and holds of one type.
#[derive(Debug, Default)]
pub(crate) struct TypeState {
    /// Envoy has asked for this type on this stream.
    pub(crate) subscribed: bool,
    pub(crate) wildcard: bool,
    pub(crate) names: BTreeSet<String>,
    /// What Envoy has ACKed.
    pub(crate) held: BTreeMap<String, Held>,
    /// Envoy asked and waits for a response even if nothing changed.
    pub(crate) must_respond: bool,
    /// The nonce of the last response of this type (state-of-the-world stale detection).
    pub(crate) last_nonce: Option<String>,
    in_flight: Option<InFlight>,
    /// Version of the content Envoy last rejected; it is not sent again.
    rejected: Option<String>,
    /// Resources to send again although Envoy holds them: the endpoints of a cluster whose
    /// configuration changed. Envoy re-creates such a cluster, and the new one waits (up to
    /// the initial fetch timeout, 15 s by default) for an EDS response naming its endpoints.
    refresh: BTreeSet<String>,
}

impl TypeState {
    fn covers(&self, name: &str) -> bool {
        self.wildcard || self.names.contains(name)
    }
}

/// One response to send.
#[derive(Debug)]
pub(crate) struct Push {
    pub(crate) ty: ResourceType,
    pub(crate) nonce: String,
    /// Version of the whole set of this type the stream holds once the push is ACKed.
    pub(crate) version: String,
    /// Full delivery: everything; diff delivery: what changed.
    pub(crate) resources: Vec<Arc<Resource>>,
    /// Diff delivery only.
    pub(crate) removed: Vec<String>,
}

/// Progress worth telling the cache about.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Report {
    Pushed {
        ty: ResourceType,
        version: String,
    },
    Acked {
        ty: ResourceType,
        version: String,
        resources: usize,
    },
    Nacked {
        ty: ResourceType,
        version: String,
        message: String,
        snapshot_version: String,
    },
    /// Every type of the snapshot with this content is ACKed, removals included.
    Complete {
        version: String,
        revision: u64,
    },
}

/// The entry for one resource a type should hold now.
struct Want<'a> {
    version: &'a str,
    resource: Option<&'a Arc<Resource>>,
}

pub(crate) struct Rollout {
    delivery: Delivery,
    target: Option<Snapshot>,
    stage: Stage,
    completed: bool,
    types: [TypeState; 4],
    next_nonce: u64,
}

impl Rollout {
    pub(crate) fn new(delivery: Delivery) -> Self {
        Self {
            delivery,
            target: None,
            stage: Stage::Make,
            completed: false,
            types: Default::default(),
            next_nonce: 0,
        }
    }

    /// Start rolling out a new snapshot (or stop pushing, with `None`).
    pub(crate) fn set_target(&mut self, target: Option<Snapshot>) {
        self.target = target;
        self.stage = Stage::Make;
        self.completed = false;
    }

    pub(crate) fn state(&self, ty: ResourceType) -> &TypeState {
        &self.types[ty.index()]
    }

    pub(crate) fn state_mut(&mut self, ty: ResourceType) -> &mut TypeState {
        &mut self.types[ty.index()]
    }

    /// Envoy has stopped watching every resource of `ty` (an empty by-name subscription, as it
    /// sends for endpoints once its last EDS cluster is gone). It holds none of them, and it
    /// neither needs nor acknowledges a response for a type it no longer watches: answering,
    /// or waiting for the answer in flight to be ACKed, would stall the stream for good.
    pub(crate) fn forget_if_unwatched(&mut self, ty: ResourceType) {
        let st = self.state_mut(ty);
        if st.subscribed && !st.wildcard && st.names.is_empty() {
            st.held.clear();
            st.in_flight = None;
            st.must_respond = false;
            st.refresh.clear();
        }
    }

    /// Envoy accepted the response with `nonce`; `None` when that is not the one in flight.
    pub(crate) fn ack(&mut self, ty: ResourceType, nonce: &str) -> Option<Report> {
        let delivery = self.delivery;
        let st = self.state_mut(ty);
        let flight = st.in_flight.take_if(|f| f.nonce == nonce)?;
        match delivery {
            Delivery::Full => {
                st.held = flight
                    .upserts
                    .iter()
                    .map(|r| (r.name.clone(), Held::of(r)))
                    .collect();
            }
            Delivery::Diff => {
                // Something unsubscribed meanwhile was dropped by Envoy, whatever we sent.
                for r in &flight.upserts {
                    if st.covers(&r.name) {
                        st.held.insert(r.name.clone(), Held::of(r));
                    }
                }
                for name in &flight.removes {
                    st.held.remove(name);
                }
            }
        }
        st.rejected = None;
        Some(Report::Acked {
            ty,
            version: flight.version,
            resources: st.held.len(),
        })
    }

    /// Envoy rejected the response with `nonce`; `None` when that is not the one in flight.
    pub(crate) fn nack(
        &mut self,
        ty: ResourceType,
        nonce: &str,
        message: String,
    ) -> Option<Report> {
        let snapshot_version = self
            .target
            .as_ref()
            .map(|t| t.version().to_string())
            .unwrap_or_default();
        let st = self.state_mut(ty);
        let flight = st.in_flight.take_if(|f| f.nonce == nonce)?;
        st.rejected = Some(flight.version.clone());
        Some(Report::Nacked {
            ty,
            version: flight.version,
            message,
            snapshot_version,
        })
    }

    /// The responses due now, in push order; records them as in flight.
    pub(crate) fn poll(&mut self, reports: &mut Vec<Report>) -> Vec<Push> {
        let mut pushes = Vec::new();
        if self.target.is_none() {
            return pushes;
        }
        loop {
            for ty in ResourceType::ALL {
                if !self.released(ty) {
                    break;
                }
                if let Some(push) = self.plan(ty) {
                    reports.push(Report::Pushed {
                        ty,
                        version: push.version.clone(),
                    });
                    pushes.push(push);
                }
            }
            if self.stage == Stage::Make && self.all_settled() {
                self.stage = Stage::Break;
                continue;
            }
            break;
        }
        if self.stage == Stage::Break && !self.completed && self.all_settled() {
            self.completed = true;
            if let Some(t) = &self.target {
                reports.push(Report::Complete {
                    version: t.version().to_string(),
                    revision: t.revision(),
                });
            }
        }
        pushes
    }

    /// Whether `ty` may be sent now. Endpoints are never held back: Envoy asks for them by
    /// name only for clusters it holds or is warming, and it ACKs a cluster update only once
    /// those clusters have their endpoints, so waiting for the cluster ACK first would leave
    /// both sides waiting until Envoy's initial fetch timeout (15 s), for instance when a new
    /// snapshot arrives while a cluster push is still in flight. Listeners wait for both ACKs
    /// (every cluster warm, so a new route never meets a cluster still warming), routes for
    /// the listeners'.
    fn released(&self, ty: ResourceType) -> bool {
        match ty {
            ResourceType::Cluster | ResourceType::Endpoint => true,
            ResourceType::Listener | ResourceType::Route => ResourceType::ALL
                .iter()
                .take_while(|t| **t != ty)
                .all(|t| self.settled(*t)),
        }
    }

    fn all_settled(&self) -> bool {
        ResourceType::ALL.into_iter().all(|t| self.settled(t))
    }

    /// What the stream should hold of `ty` in the current stage, subscription aside.
    fn wanted<'a>(&'a self, ty: ResourceType) -> BTreeMap<&'a str, Want<'a>> {
        let Some(target) = &self.target else {
            return BTreeMap::new();
        };
        let st = self.state(ty);
        let mut want: BTreeMap<&str, Want> = target
            .resources(ty)
            .iter()
            .map(|(n, r)| {
                (
                    n.as_str(),
                    Want {
                        version: &r.version,
                        resource: Some(r),
                    },
                )
            })
            .collect();
        if self.stage == Stage::Make && ty.defers_removal() {
            for (n, h) in &st.held {
                want.entry(n.as_str()).or_insert(Want {
                    version: &h.version,
                    resource: h.resource.as_ref(),
                });
            }
        }
        want
    }

    /// Mark for resending the endpoints of the clusters in `pushed` that Envoy holds in
    /// another version.
    fn refresh_endpoints_of_changed(&mut self, pushed: &[Arc<Resource>]) {
        let Some(target) = &self.target else { return };
        let held = &self.types[ResourceType::Cluster.index()].held;
        let endpoints = &self.types[ResourceType::Endpoint.index()];
        let changed: Vec<String> = pushed
            .iter()
            .filter(|r| held.get(&r.name).is_some_and(|h| h.version != r.version))
            .filter_map(|r| target.eds_name(&r.name))
            .filter(|eds| endpoints.covers(eds))
            .map(str::to_string)
            .collect();
        self.types[ResourceType::Endpoint.index()]
            .refresh
            .extend(changed);
    }

    fn subscribed_part<'w, 'a>(
        st: &TypeState,
        want: &'w BTreeMap<&'a str, Want<'a>>,
    ) -> (Vec<(&'a str, &'w Want<'a>)>, String) {
        let visible: Vec<(&str, &Want)> = want
            .iter()
            .filter(|(n, _)| st.covers(n))
            .map(|(n, w)| (*n, w))
            .collect();
        let version = set_version(visible.iter().map(|(n, w)| (*n, w.version)));
        (visible, version)
    }

    /// Envoy holds exactly what it should of `ty`, and nothing is in flight.
    fn settled(&self, ty: ResourceType) -> bool {
        let st = self.state(ty);
        if st.in_flight.is_some() || self.target.is_none() {
            return false;
        }
        if st.refresh.iter().any(|n| st.covers(n)) {
            return false;
        }
        let want = self.wanted(ty);
        want.iter()
            .all(|(n, w)| st.held.get(*n).is_some_and(|h| h.version == w.version))
            && (!st.wildcard || st.held.keys().all(|n| want.contains_key(n.as_str())))
    }

    fn plan(&mut self, ty: ResourceType) -> Option<Push> {
        let st = self.state(ty);
        if !st.subscribed || st.in_flight.is_some() || self.target.is_none() {
            return None;
        }
        let want = self.wanted(ty);
        let (visible, version) = Self::subscribed_part(st, &want);
        if st.rejected.as_deref() == Some(version.as_str()) {
            return None;
        }
        let differs = |n: &str, w: &Want| {
            st.held.get(n).is_none_or(|h| h.version != w.version) || st.refresh.contains(n)
        };
        let stale: Vec<String> = st
            .held
            .keys()
            .filter(|n| !want.contains_key(n.as_str()))
            .cloned()
            .collect();
        // Only a wildcard subscription must be told about removals; a resource subscribed by
        // name goes when Envoy unsubscribes it, which it does once nothing refers to it.
        let due = st.must_respond
            || visible.iter().any(|(n, w)| differs(n, w))
            || (st.wildcard && !stale.is_empty());
        if !due {
            return None;
        }
        let (resources, removed): (Vec<Arc<Resource>>, Vec<String>) = match self.delivery {
            Delivery::Full => (
                visible
                    .iter()
                    .filter_map(|(_, w)| w.resource.cloned())
                    .collect(),
                Vec::new(),
            ),
            Delivery::Diff => {
                let upserts = visible
                    .iter()
                    .filter(|(n, w)| differs(n, w))
                    .filter_map(|(_, w)| w.resource.cloned());
                (upserts.collect(), stale)
            }
        };
        if ty == ResourceType::Cluster {
            self.refresh_endpoints_of_changed(&resources);
        }
        self.next_nonce += 1;
        let nonce = self.next_nonce.to_string();
        let st = self.state_mut(ty);
        st.must_respond = false;
        st.refresh.clear();
        st.last_nonce = Some(nonce.clone());
        st.in_flight = Some(InFlight {
            nonce: nonce.clone(),
            version: version.clone(),
            upserts: resources.clone(),
            removes: removed.clone(),
        });
        Some(Push {
            ty,
            nonce,
            version,
            resources,
            removed,
        })
    }
}
