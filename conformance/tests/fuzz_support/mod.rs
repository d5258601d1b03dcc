//! Shared by the fuzz tests: fixed seeds and bounded case counts, so CI runs the same cases
//! every time (`GATESIM_FUZZ_CASES` raises the count for a longer local run).

#![allow(dead_code)]

use gatesim_conformance::fuzz::{FuzzOptions, Property, Summary};

pub const SEED: u64 = 0x6a7e_5171;

pub fn cases(default: u32) -> u32 {
    std::env::var("GATESIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn options(property: Property, cases: u32) -> FuzzOptions {
    FuzzOptions {
        cases,
        seed: SEED,
        properties: vec![property],
        ..FuzzOptions::default()
    }
}

/// Fails with the shrunk counterexample, as a scenario, when the run found one; else checks
/// that every case ran.
pub fn assert_holds(summary: &Summary, cases: u32) {
    if let Some(c) = &summary.failure {
        panic!(
            "property {} fails (seed {}): {}\nshrunk counterexample:\n{}",
            c.property.name(),
            c.seed,
            c.message,
            c.scenario
        );
    }
    assert_eq!(
        summary.cases, cases,
        "every generated case must have been checked"
    );
}
