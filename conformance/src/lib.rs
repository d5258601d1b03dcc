//! gatesim conformance and simulation harness.
#![forbid(unsafe_code)]

pub mod certs;
pub mod echo;
pub mod fuzz;
pub mod oracle;
pub mod outcome;
pub mod probe;
pub mod report;
pub mod run;
pub mod scenario;
pub mod target;
