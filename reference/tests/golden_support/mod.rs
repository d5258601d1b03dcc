//! The golden inputs, read the one way every test that uses them reads them: `shared.yaml`
//! plus a case's `input.yaml`, with loopback addresses for its Gateways as a running
//! controller assigns them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gatesim_reference::infra::addresses::AddressAllocator;
use gatesim_reference::model::{ControllerConfig, ResourceSet};
use gatesim_reference::provider::file::load_dir;
use gatesim_reference::translate;

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

/// Merges the objects of `path` into `set`; a file that does not load fails the test with
/// every error it has.
pub fn load(set: &mut ResourceSet, path: &Path) {
    let loaded = load_dir(path, &ControllerConfig::default()).unwrap_or_else(|errors| {
        let list: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        panic!("{}:\n{}", path.display(), list.join("\n"))
    });
    set.merge(loaded);
}

/// The case directories, in name order.
pub fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Loopback addresses for the Gateways, as a running controller assigns them.
pub fn with_addresses(set: &mut ResourceSet) {
    let mut allocator = AddressAllocator::new();
    allocator
        .sync(translate::managed_gateways(set).iter())
        .expect("addresses");
    set.gateway_addresses = allocator.address_strings();
}

/// A case's whole input: `shared.yaml`, its `input.yaml`, and the Gateways' addresses.
pub fn input(dir: &Path) -> ResourceSet {
    let mut set = ResourceSet::default();
    load(&mut set, &golden_dir().join("shared.yaml"));
    load(&mut set, &dir.join("input.yaml"));
    with_addresses(&mut set);
    set
}
