#![forbid(unsafe_code)]
//! A simulated Kubernetes API server on loopback.
//!
//! simkube speaks enough of the Kubernetes REST API (discovery, CRUD, patches including
//! server-side apply, the status subresource, watches with bookmarks and `410 Gone`) for
//! the real `kube` client, kube-runtime watchers and `kubectl` to work against it over
//! plain HTTP, so the harness's `sim` target needs no cluster. It serves a fixed table of
//! kinds ([`kinds::KINDS`]): core and apps basics, every Gateway API kind at every
//! version upstream serves, the K8sGateway extension kinds, and CustomResourceDefinitions.
//! Custom kinds named in [`Config::require_crds`] are served only while a
//! CustomResourceDefinition of that name exists, so clients can be tested against a cluster
//! whose CRDs are missing, installed later or removed.
//!
//! It also misbehaves on request ([`Faults`]): dropped watch streams, compacted history,
//! injected `409`/`410`/`500` answers and latency, so that clients are tested on what real
//! servers do to them.
//!
//! # How close to a real server
//!
//! Faithful where controllers and the harness can tell: resource versions are one global
//! sequence; `generation` moves only for changes outside `metadata` and `status`;
//! no-op writes change nothing; finalizers hold deletions; namespaces terminate and
//! take their contents with them (after [`Config::namespace_cleanup_delay`], as a
//! namespace controller would); watches resume from any retained version, send
//! bookmarks and the streaming-list end marker, and answer `410 Expired` past the
//! retained history; errors carry upstream's codes, reasons and wording.
//!
//! Simplified, on purpose:
//! - **Server-side apply** tracks ownership of map fields and treats every list as atomic
//!   (owned and replaced whole) instead of using per-kind list-map keys. Re-applying drops
//!   what the applier no longer lists (unless another manager owns it), another
//!   manager's field with a different value is a conflict unless `force`, and ordinary
//!   writes take ownership of what they change.
//! - **Strategic merge patch** merges lists by key only for a fixed table of well-known
//!   fields (`containers`, `ports`, `conditions`, ...), replaces other lists, and honours
//!   the directives kubectl sends. Custom resources refuse it with `415`, as upstream.
//! - **No schemas**: no validation of unknown fields (`fieldValidation` is accepted),
//!   no conversion between versions (every version of a kind shares one storage and
//!   only `apiVersion` is rewritten). Defaults are a table: the Gateway API CRDs'
//!   declared defaults, Namespaces (name label, phase) and Services (type, cluster IP,
//!   port defaults); K8sGateway kinds get none.
//! - **JSON only**: bodies in protobuf or CBOR get `415`, so typed kubectl generators
//!   (`kubectl create configmap`) fail; `kubectl apply/get/patch/label/delete` work.
//! - **Lists** page by key; a continue token is not a consistent snapshot, and an
//!   `Exact` list is served only when the kind has not changed since that version.
//! - No garbage collection of `ownerReferences` (`propagationPolicy` is accepted and
//!   ignored), no authentication, no admission.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gatesim_simkube::Error> {
//! let server = gatesim_simkube::SimKube::start(Default::default()).await?;
//! server.write_kubeconfig("/tmp/simkube.kubeconfig")?;
//! println!("serving at {}", server.url());
//! server.faults().drop_watches();
//! # Ok(()) }
//! ```

mod crd_defaults;
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
mod schema;
mod selector;
mod server;
mod store;

pub use error::{ApiError, Error};
pub use faults::{
    ActiveFaults, ErrorFault, Faults, LatencyFault, Matcher, RequestCount, Stats, Verb,
};
pub use schema::provision::{GATEWAY_API_VERSION, gateway_api_crds};
pub use schema::{LoadError, Schemas};
pub use server::{Config, SchemaSource, SimKube};
