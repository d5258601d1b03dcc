//! Attempt counting for retry checks: a request that names `X-Echo-Request-Key` is counted
//! under that key, and with `X-Echo-Fail-Times: N` its first N attempts fail. A retrying proxy
//! sends every attempt of one client request with the same headers, so the count a reply
//! reports is the number of tries the proxy made.
//!
//! One ledger is shared by every replica of a backend (the sim target hands the same one to
//! each), so attempts count per backend however the proxy spreads its retries. Where a backend
//! runs as separate pods (kind, cluster), each pod counts on its own: scenarios that check
//! attempt numbers there need a backend with one replica.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many keys a ledger remembers; the oldest is forgotten first. Keys are per request,
/// so only a long run ever reaches this.
const KEY_LIMIT: usize = 65_536;

/// Attempts seen per request key.
#[derive(Debug, Default)]
pub struct AttemptLedger {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    by_key: HashMap<String, u32>,
    order: VecDeque<String>,
}

impl AttemptLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one more attempt under `key` and returns its number (1 for the first).
    pub fn record(&self, key: &str) -> u32 {
        let mut counts = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.by_key.get_mut(key) {
            *n = n.saturating_add(1);
            return *n;
        }
        if counts.order.len() == KEY_LIMIT
            && let Some(oldest) = counts.order.pop_front()
        {
            counts.by_key.remove(&oldest);
        }
        counts.order.push_back(key.to_owned());
        counts.by_key.insert(key.to_owned(), 1);
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key() {
        let ledger = AttemptLedger::new();
        assert_eq!(ledger.record("a"), 1);
        assert_eq!(ledger.record("a"), 2);
        assert_eq!(ledger.record("b"), 1);
        assert_eq!(ledger.record("a"), 3);
    }
}
