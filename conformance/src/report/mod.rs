//! What a run tells its readers: the upstream ConformanceReport (for submission and for comparing
//! with other implementations), JUnit XML (for CI test views) and the terminal output (for the
//! person at the keyboard). All three are pure functions of the runner's `ScenarioResult`s, so
//! each is tested without running anything.

pub mod conformance;
pub(crate) mod failure;
pub mod junit;
pub mod terminal;
mod yaml;

pub use conformance::{
    ApiChannel, ConformanceReport, ExtendedStatus, FeatureSelection, Implementation, ProfileReport,
    ReportOptions, RunResult, Statistics, Status, build,
};

/// Why a report could not be produced or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Upstream refuses to write a report without full implementation details; so do we.
    #[error("implementation {field} must not be empty when writing a ConformanceReport")]
    MissingImplementationField { field: &'static str },
    #[error("cannot convert the report to a document: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("cannot parse a ConformanceReport: {0}")]
    Decode(#[from] serde_yaml::Error),
}
