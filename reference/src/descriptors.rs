//! The Envoy message descriptors `build.rs` compiles from the protos envoy-types ships.
//!
//! envoy-types has no reflection or serde support; printing resources (`render`) and hashing
//! them canonically (`xds::fingerprint`) both need the descriptors, decoded once per process.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(&include_bytes!(concat!(env!("OUT_DIR"), "/envoy_descriptor.bin"))[..])
        .map_err(|e| {
            tracing::warn!("cannot load the Envoy descriptors: {e}");
            e.to_string()
        })
});

/// The pool, or why it failed to decode (only a broken build can make it fail).
pub fn pool() -> Result<&'static DescriptorPool, &'static str> {
    POOL.as_ref().map_err(String::as_str)
}
