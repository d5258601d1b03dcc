//! gatesim-node: a simulated Kubernetes node for the `local` target.
//!
//! It registers a Ready Node with a real API server, binds unscheduled pods to itself, and runs
//! each pod's containers as processes of this machine: every pod in a network namespace of its
//! own (an address of the node's subnet, a veth to the node's bridge) and every container in a
//! private mount namespace where its volumes appear at their `mountPath`. Images map to local
//! programs through a table ([`images::IMAGES`]); status, restarts and graceful deletion follow
//! the kubelet. Everything it creates on the machine is named after the node's network index,
//! so [`network::teardown`] removes it, also after a crash.
#![forbid(unsafe_code)]

mod agent;
pub mod config;
pub mod env;
pub mod images;
pub mod launch;
pub mod network;
mod pod;
pub mod probe;
pub mod process;
pub mod services;
mod shared;
mod slots;
pub mod status;
pub mod volumes;

pub use agent::{NodeConfig, NodeError, run};
pub use pod::FIELD_MANAGER;
