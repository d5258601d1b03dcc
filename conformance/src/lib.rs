#![forbid(unsafe_code)]
pub mod scenario;
