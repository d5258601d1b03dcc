//! Steady traffic at a stable route while a fault happens: real HTTP through the real Envoy,
//! a fresh connection per request, paced at a fixed rate whatever the answers take, each
//! answer checked for a 2xx from the expected echo backend.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::e2e_support::{Call, send};

/// 200 requests a second, twice the rate the fault suite promises.
const PERIOD: Duration = Duration::from_millis(5);
/// The promise: what a probe must have sustained over its whole run.
const MIN_RATE: f64 = 100.0;
/// The shortest run: a fault that is over quickly still gets a second of traffic around it.
const MIN_RUN: Duration = Duration::from_secs(1);
/// Requests in flight at once; a tick that finds them all busy is late, and the rate shows it.
const IN_FLIGHT: usize = 64;

/// Whether a request that failed below HTTP (refused, reset before an answer) is sent again,
/// up to [`RETRIES`] times [`RETRY_AFTER`] apart. Only where the fault is the death of one of
/// several Envoy processes: a connection the dying process had accepted, or a SYN the kernel
/// gave its closing sockets, can only fail, and a client (or load balancer) retries it on a
/// new connection, which goes to a live process once the dead one's sockets are gone. A
/// request that got an HTTP answer is never retried; every retry is counted and printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Never,
    ConnectionErrors,
}

const RETRIES: usize = 3;
const RETRY_AFTER: Duration = Duration::from_millis(25);

#[derive(Default)]
struct Tally {
    sent: usize,
    good: Vec<Instant>,
    bad: Vec<String>,
    retried: usize,
}

pub struct Probe {
    tally: Arc<Mutex<Tally>>,
    slots: Arc<Semaphore>,
    task: JoinHandle<()>,
    started: Instant,
}

impl Probe {
    /// Probe `http` with `call`, expecting answers from a backend whose name starts with
    /// `backend`.
    pub fn start(http: SocketAddr, call: Call, backend: &str, retry: Retry) -> Self {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let shared = Arc::clone(&tally);
        let backend: Arc<str> = Arc::from(backend);
        let started = Instant::now();
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let taken = Arc::clone(&slots);
        let task = tokio::spawn(async move {
            let slots = taken;
            let mut ticks = tokio::time::interval(PERIOD);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                ticks.tick().await;
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (tally, call, backend) =
                    (Arc::clone(&shared), call.clone(), Arc::clone(&backend));
                tokio::spawn(async move {
                    let sent = started.elapsed().as_millis();
                    let (verdict, retried) = one(http, &call, &backend, retry).await;
                    let verdict = verdict.map_err(|e| format!("{e} (sent {sent} ms into the run)"));
                    let mut t = tally.lock().expect("tally");
                    t.sent += 1;
                    t.retried += retried;
                    match verdict {
                        Ok(()) => t.good.push(Instant::now()),
                        Err(e) => t.bad.push(e),
                    }
                    drop(slot);
                });
            }
        });
        Self {
            tally,
            slots,
            task,
            started,
        }
    }

    /// Stop and check the run: not one bad answer, at least [`MIN_RATE`] requests a second
    /// over the whole run, and good answers inside `fault` (from the fault's start to the
    /// end of convergence), so the probe provably ran through it. Prints the figures.
    pub async fn stop(self, name: &str, fault: (Instant, Instant)) -> Result<()> {
        tokio::time::sleep_until((self.started + MIN_RUN).into()).await;
        self.task.abort();
        let elapsed = self.started.elapsed();
        // Requests still in flight end within the client's own timeouts; count them too.
        let _all = self.slots.acquire_many(IN_FLIGHT as u32).await?;
        let t = std::mem::take(&mut *self.tally.lock().expect("tally"));
        let rate = t.sent as f64 / elapsed.as_secs_f64();
        let during = t
            .good
            .iter()
            .filter(|at| **at >= fault.0 && **at <= fault.1)
            .count();
        let mut gaps = t.good.clone();
        gaps.sort();
        let longest_gap = gaps
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        eprintln!(
            "fault {name}: probe sent {} requests in {:.1} s ({rate:.0} req/s), {} good, \
             {during} of them during the fault, {} bad, {} retries after connection errors, \
             longest gap between good answers {} ms",
            t.sent,
            elapsed.as_secs_f64(),
            t.good.len(),
            t.bad.len(),
            t.retried,
            longest_gap.as_millis()
        );
        ensure!(
            t.bad.is_empty(),
            "{name}: {} requests to a stable route were not answered by its backend: {:?}",
            t.bad.len(),
            &t.bad[..t.bad.len().min(10)]
        );
        ensure!(
            rate >= MIN_RATE,
            "{name}: the probe managed {rate:.0} req/s, below {MIN_RATE}"
        );
        ensure!(
            during > 0,
            "{name}: no good answer arrived during the fault"
        );
        Ok(())
    }
}

/// One request; `Err` says what was wrong with it, and how many times it was retried.
async fn one(
    http: SocketAddr,
    call: &Call,
    backend: &str,
    retry: Retry,
) -> (Result<(), String>, usize) {
    let mut reply = send(http, call).await;
    let mut retried = 0;
    while reply.is_err() && retry == Retry::ConnectionErrors && retried < RETRIES {
        tokio::time::sleep(RETRY_AFTER).await;
        retried += 1;
        reply = send(http, call).await;
    }
    let verdict = match reply {
        Ok(r)
            if (200..300).contains(&r.status)
                && r.backend().is_some_and(|b| b.starts_with(backend)) =>
        {
            Ok(())
        }
        Ok(r) => Err(format!(
            "status {}, body {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )),
        Err(e) => Err(format!("{e:#}")),
    };
    (verdict, retried)
}
