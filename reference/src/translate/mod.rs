//! Translation: `ResourceSet` in, per-Gateway xDS resources and status updates out.
//!
//! A pure function: no I/O, no clock, no randomness. Output order and names are stable, so the
//! same input always yields byte-identical xDS (golden tests and the xDS cache's content
//! versions depend on it).

mod output;

pub use output::{ObjectRef, ProxyConfig, StatusPatch, StatusUpdate, Translation};

use crate::model::ObjectKey;

/// The xDS node id of a Gateway's proxy. Each Gateway has its own Envoy, identified by this.
pub fn node_id(gateway: &ObjectKey) -> String {
    format!("{}/{}", gateway.namespace, gateway.name)
}
