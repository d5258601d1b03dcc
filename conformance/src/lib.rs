//! gatesim conformance and simulation harness.
#![forbid(unsafe_code)]

pub mod certs;
pub mod cluster;
pub mod echo;
pub mod file_error;
pub mod fuzz;
pub mod oracle;
pub mod outcome;
pub mod probe;
pub mod report;
pub mod run;
pub mod scenario;
pub mod target;
pub mod tools;
pub mod upstream;
