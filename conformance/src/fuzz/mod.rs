//! Property-based checking of a Gateway API implementation with generated resource sets.
//!
//! Cases come from `gatesim-generate`; the expectations from the [`oracle`](crate::oracle).
//! In-process properties check the reference translator directly (never panics, deterministic,
//! independent of input order, status as the oracle allows, accepted by `envoy --mode
//! validate`, no cross-namespace traffic without a grant, listener isolation, one invalid
//! value refused by field without touching anything else); live checks
//! run each case as a scenario on a target, through real Envoy to real echo backends. A
//! failing case shrinks and is written out as a scenario that `gatesim run` replays.

pub mod cluster;
mod contained;
pub mod live;
pub mod properties;
pub mod runner;
pub mod scenario;
mod status;

pub use live::LiveSession;
pub use properties::{Property, Translate};
pub use runner::{Counterexample, FuzzOptions, Progress, Summary};
