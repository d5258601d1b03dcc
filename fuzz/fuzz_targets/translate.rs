//! `translate` on arbitrary structure: a generator world built by `arbitrary` from the fuzzer's
//! bytes (any strings, ports, references, lists), rendered as objects, decoded as the
//! providers decode them and translated; the oracle answers requests on it too. Neither may
//! panic, and translation must be deterministic.
#![no_main]
#![forbid(unsafe_code)]

use gatesim_conformance::fuzz::cluster;
use gatesim_conformance::oracle::Model;
use gatesim_generate::{RequestSeed, World, request};
use gatesim_reference::model::{AnyObject, ResourceSet};
use gatesim_reference::translate::translate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (World, Vec<RequestSeed>)| {
    let (world, seeds) = input;
    let Ok(objects) = cluster::objects(&world) else {
        return;
    };
    let mut set = ResourceSet::default();
    for o in objects {
        if let Ok(decoded) = AnyObject::from_value(o) {
            set.insert_any(decoded);
        }
    }
    let first = translate(&set);
    assert!(first == translate(&set), "translation is not deterministic");
    let model = Model::new(&world);
    let _ = model.status();
    for r in request::resolve(&world, &seeds) {
        let _ = model.predict(&r);
    }
});
