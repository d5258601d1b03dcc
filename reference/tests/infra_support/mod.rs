//! Shared by the `infra_*` integration tests: finding Envoy (or skipping), and looking at
//! processes through /proc.

#![allow(dead_code)] // each test file uses a different subset

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Envoy, or `None` after a loud SKIP line; with `GATESIM_REQUIRE_ALL=1` a missing Envoy fails
/// the test instead.
pub fn envoy_or_skip(test: &str) -> Option<PathBuf> {
    gatesim_reference::infra::envoy::locate_or_skip(test)
        .unwrap_or_else(|e| panic!("{test}: Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
}

/// Log what the library logs, interleaved with the test's output.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "gatesim_reference=info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A loopback address where nothing listens: the proxies' xDS cluster points here, so they
/// start and serve their admin endpoint but never get configuration.
pub fn dead_xds_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr")
}

/// Whether `pid` is a live process (a zombie, killed but not yet reaped, counts as dead).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Live processes whose command line mentions `needle` (a test's unique work directory).
pub fn processes_mentioning(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != std::process::id())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .filter(|&pid| alive(pid))
        .collect()
}

/// Poll `cond` (yielding to the runtime) until it holds or `bound` passes.
pub async fn eventually(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < bound {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
