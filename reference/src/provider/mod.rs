//! Inputs of the controller, and the one output that goes back to them (status).
//!
//! Both providers publish whole `Arc<ResourceSet>` snapshots on a `tokio::sync::watch`
//! channel. A consumer that falls behind only ever sees the latest snapshot, so a burst of
//! changes coalesces into one translation without any queue to drain. Every published
//! snapshot carries a higher `revision` than the one before, deletions included, so the xDS
//! layer can report which input revision each Envoy has applied.
//!
//! - [`file`]: a directory of YAML, reloaded on change (local runs, the `translate` CLI).
//! - [`kubernetes`]: watches and reflectors over the kinds `ResourceSet` stores.
//! - [`status`]: applies the translator's status updates to the API server.

pub mod file;
pub mod kubernetes;
pub mod status;

use std::sync::Arc;

use tokio::sync::watch;

use crate::model::ResourceSet;

/// The receiving end every provider hands out: the latest snapshot wins.
pub type Snapshots = watch::Receiver<Arc<ResourceSet>>;
