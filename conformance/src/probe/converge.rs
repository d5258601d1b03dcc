//! Eventual consistency: repeat until N successes in a row, within a bound (upstream's
//! `AwaitConvergence`), polling every 100 ms after a failure as upstream's `main` does.

use std::fmt;
use std::time::{Duration, Instant};

use super::expect::{Expectation, compare};
use super::mismatch::Mismatch;
use super::{ProbeError, ProbeRequest, send};

/// How convergence is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Convergence {
    /// Successes required in a row (upstream `RequiredConsecutiveSuccesses`, 3).
    pub consecutive: u32,
    /// Bound on the whole wait (upstream `MaxTimeToConsistency`, 30 s).
    pub within: Duration,
    /// Pause after a failed attempt; successes are followed at once.
    pub poll_interval: Duration,
}

impl Default for Convergence {
    fn default() -> Self {
        Convergence {
            consecutive: 3,
            within: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// How it went when it converged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converged {
    pub attempts: u32,
    pub elapsed: Duration,
}

/// It did not converge in time; `last` is the most recent failure, if any attempt failed.
#[derive(Debug)]
pub struct NotConverged<E> {
    pub attempts: u32,
    pub elapsed: Duration,
    /// Successes in a row at the end.
    pub successes: u32,
    pub needed: u32,
    pub last: Option<E>,
}

impl<E: fmt::Display> fmt::Display for NotConverged<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not consistent within {:?}: {} attempts, {} of {} successes in a row at the end",
            self.elapsed, self.attempts, self.successes, self.needed
        )?;
        match &self.last {
            Some(last) => write!(f, "; last failure: {last}"),
            None => Ok(()),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for NotConverged<E> {}

/// Runs `attempt` until it succeeds `consecutive` times in a row. The bound is checked
/// before every attempt, so an attempt that started in time finishes (as upstream).
pub async fn await_convergence<F, Fut, E>(
    conv: &Convergence,
    mut attempt: F,
) -> Result<Converged, NotConverged<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let start = Instant::now();
    let deadline = start + conv.within;
    let needed = conv.consecutive.max(1);
    let mut attempts = 0;
    let mut successes = 0;
    let mut last = None;
    loop {
        if Instant::now() >= deadline {
            return Err(NotConverged {
                attempts,
                elapsed: start.elapsed(),
                successes,
                needed,
                last,
            });
        }
        attempts += 1;
        match attempt().await {
            Ok(()) => {
                successes += 1;
                if successes >= needed {
                    return Ok(Converged {
                        attempts,
                        elapsed: start.elapsed(),
                    });
                }
            }
            Err(e) => {
                successes = 0;
                last = Some(e);
                let pause = conv
                    .poll_interval
                    .min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Why one probe attempt failed: no response, or not the expected one.
#[derive(Debug)]
pub enum AttemptFailure {
    Probe(ProbeError),
    Mismatch(Box<Mismatch>),
}

impl fmt::Display for AttemptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptFailure::Probe(e) => write!(f, "request failed: {e}"),
            AttemptFailure::Mismatch(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for AttemptFailure {}

impl From<ProbeError> for AttemptFailure {
    fn from(e: ProbeError) -> Self {
        AttemptFailure::Probe(e)
    }
}

impl From<Mismatch> for AttemptFailure {
    fn from(m: Mismatch) -> Self {
        AttemptFailure::Mismatch(Box::new(m))
    }
}

/// Sends `req` until the response matches `exp` `conv.consecutive` times in a row.
pub async fn await_consistent(
    req: &ProbeRequest,
    exp: &Expectation,
    conv: &Convergence,
) -> Result<Converged, NotConverged<AttemptFailure>> {
    await_convergence(conv, || async {
        let res = send(req).await?;
        compare(exp, req, &res)?;
        Ok::<(), AttemptFailure>(())
    })
    .await
}
