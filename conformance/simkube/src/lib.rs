#![forbid(unsafe_code)]
//! A simulated Kubernetes API server on loopback.
//!
//! simkube speaks enough of the Kubernetes REST API (discovery, CRUD, patches including
//! server-side apply, the status subresource, watches with bookmarks and `410 Gone`) for
//! the real `kube` client, kube-runtime watchers and `kubectl` to work against it over
//! plain HTTP, so the harness's `sim` target needs no cluster. It serves a fixed table of
//! kinds ([`kinds::KINDS`]): core and apps basics, every Gateway API kind at every
//! version upstream serves, and the K8sGateway extension kinds.
//!
//! It also misbehaves on request ([`Faults`]): dropped watch streams, compacted history,
//! injected `409`/`410`/`500` answers and latency, so that clients are tested on what real
//! servers do to them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gatesim_simkube::Error> {
//! let server = gatesim_simkube::SimKube::start(Default::default()).await?;
//! server.write_kubeconfig("/tmp/simkube.kubeconfig")?;
//! println!("serving at {}", server.url());
//! server.faults().drop_watches();
//! # Ok(()) }
//! ```

mod defaults;
mod discovery;
mod error;
mod faults;
mod fields;
mod http;
pub mod kinds;
mod managed;
mod meta;
mod openapi;
mod patch;
mod selector;
mod server;
mod store;

pub use error::{ApiError, Error};
pub use faults::{
    ActiveFaults, ErrorFault, Faults, LatencyFault, Matcher, RequestCount, Stats, Verb,
};
pub use server::{Config, SimKube};
