//! The scenario loader on arbitrary text: every input is a scenario or an error that names a
//! position, never a panic.
#![no_main]
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::Arc;

use gatesim_conformance::scenario::{LoadOptions, Loader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Loader::new(LoadOptions::default()).load_text(Path::new("fuzz.yaml"), Arc::from(text));
});
