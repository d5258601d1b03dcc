//! The file provider's YAML decoding on arbitrary text, and translation of whatever decodes:
//! malformed input is a positioned error, valid input translates, nothing panics.
#![no_main]
#![forbid(unsafe_code)]

use std::path::Path;

use gatesim_reference::provider::file::decode_text;
use gatesim_reference::translate::translate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = decode_text(Path::new("fuzz.yaml"), text) {
        let _ = translate(&set);
    }
});
