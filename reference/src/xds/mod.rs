//! The xDS side of the controller: per-node snapshots served over ADS to Envoy.
//!
//! - [`Snapshot`]: the resources one Envoy should hold, packed once, versioned by content.
//! - [`SnapshotCache`]: the snapshot per node, and how far each node's Envoy has ACKed
//!   (`acked_revision`, `wait_acked`), with ACK/NACK counters for `/xds` and `/metrics`.
//! - [`serve`] / [`service`]: the ADS gRPC server, state-of-the-world and delta, both rolling
//!   snapshots out make-before-break (see `rollout`).
//!
//! A snapshot must be self-consistent: every endpoints resource is loaded by an EDS cluster and
//! every route configuration is named by a listener's RDS, and the other way round.
//! `Snapshot::new` refuses anything else, because Envoy requests those resources by name and
//! an unrequested one would keep the snapshot from ever counting as ACKed.
//!
//! `acked_revision` is what a harness waits on: the highest `Snapshot::revision` whose content
//! every connected stream of the node has ACKed in full, removals included. Setting the same
//! content again under a higher revision pushes nothing and raises it at once.

mod cache;
mod delta;
mod fingerprint;
mod resource;
mod rollout;
mod server;
mod snapshot;
mod sotw;
mod stream;
mod tracking;

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod delta_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod sotw_tests;

pub use cache::{SnapshotCache, WaitError};
pub use resource::{Resource, ResourceType};
pub use server::{AdsService, ServeError, ServerHandle, serve, service};
pub use snapshot::{Snapshot, SnapshotError};
pub use tracking::{Nack, NodeStatus, Rejection, TypeStatus};
