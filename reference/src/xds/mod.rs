//! The xDS side of the controller: per-node snapshots served over ADS to Envoy.
//!
//! - [`Snapshot`]: the resources one Envoy should hold, packed once, versioned by content.
//! - [`SnapshotCache`]: the snapshot per node, and how far each node's Envoy has ACKed
//!   (`acked_revision`, `wait_acked`), with ACK/NACK counters for `/xds` and `/metrics`.
//! - [`serve`] / [`service`]: the ADS gRPC server, state-of-the-world and delta, both rolling
//!   snapshots out make-before-break (see `rollout`).

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
