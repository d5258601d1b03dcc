//! Weighted traffic checks (upstream's `weight.TestWeightedDistribution`): send a batch
//! at fixed concurrency, attribute each reply to a backend by its pod name, compare the
//! shares with the expected weights, and retry whole batches to absorb variance. The same
//! sampling checks shares of status codes (faults that abort a percentage of requests):
//! status shares are of all replies, backend shares of the replies that came from a backend.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::task::JoinSet;

use super::converge::AttemptFailure;
use super::expect::{Expectation, compare};
use super::{ProbeRequest, send};

/// What to sample and how strictly.
#[derive(Debug, Clone)]
pub struct WeightSampling {
    /// Backend name -> expected share (0.0 ..= 1.0) of the replies from a backend; empty: any
    /// backend may answer and backends are not counted.
    pub distribution: BTreeMap<String, f64>,
    /// Status code -> expected share of all replies; empty: statuses are not counted.
    pub statuses: BTreeMap<u16, f64>,
    pub samples: usize,
    pub concurrency: usize,
    /// Absolute, per backend.
    pub tolerance: f64,
    /// Whole batches tried before failing.
    pub attempts: u32,
}

impl WeightSampling {
    /// Upstream's figures: 500 samples, concurrency 10, ±0.05, 10 attempts.
    pub fn new(distribution: BTreeMap<String, f64>) -> Self {
        WeightSampling {
            distribution,
            statuses: BTreeMap::new(),
            samples: 500,
            concurrency: 10,
            tolerance: 0.05,
            attempts: 10,
        }
    }
}

/// Upstream's pod-to-backend mapping: drop the Deployment and pod hash suffixes.
pub fn backend_of_pod(pod: &str) -> &str {
    let mut cuts = pod.rmatch_indices('-');
    match (cuts.next(), cuts.next()) {
        (Some(_), Some((i, _))) => &pod[..i],
        _ => pod,
    }
}

/// The shares one batch produced.
#[derive(Debug, Clone)]
pub struct WeightReport {
    /// Which batch (1-based).
    pub attempt: u32,
    pub samples: usize,
    pub tolerance: f64,
    pub expected: BTreeMap<String, f64>,
    pub counts: BTreeMap<String, usize>,
    /// Replies that came from a backend (the denominator of backend shares).
    pub backend_replies: usize,
    pub expected_statuses: BTreeMap<u16, f64>,
    pub status_counts: BTreeMap<u16, usize>,
    /// Empty when the batch is within tolerance.
    pub problems: Vec<String>,
}

/// Upstream's rules for one kind of share: exactly the listed keys with a positive share
/// receive replies, each within the tolerance.
fn evaluate_shares<K: Ord + fmt::Debug>(
    (what, plural): (&str, &str),
    expected: &BTreeMap<K, f64>,
    counts: &BTreeMap<K, usize>,
    total: usize,
    tolerance: f64,
    problems: &mut Vec<String>,
) {
    let active = expected.values().filter(|w| **w > 0.0).count();
    if counts.len() != active {
        problems.push(format!(
            "expected {active} {plural} to receive traffic, got {}",
            counts.len()
        ));
    }
    for (key, want) in expected {
        let got = counts.get(key).copied().unwrap_or(0) as f64 / total.max(1) as f64;
        if !counts.contains_key(key) && *want > 0.0 {
            problems.push(format!("{what} {key:?} received no traffic"));
        } else if (got - want).abs() > tolerance {
            problems.push(format!(
                "{what} {key:?} got {got:.3}, expected {want:.3} ±{tolerance}"
            ));
        }
    }
}

impl WeightReport {
    pub fn share(&self, backend: &str) -> f64 {
        self.counts.get(backend).copied().unwrap_or(0) as f64 / self.backend_replies.max(1) as f64
    }

    pub fn status_share(&self, status: u16) -> f64 {
        self.status_counts.get(&status).copied().unwrap_or(0) as f64 / self.samples.max(1) as f64
    }

    fn evaluate(&mut self) {
        if !self.expected.is_empty() {
            evaluate_shares(
                ("backend", "backends"),
                &self.expected,
                &self.counts,
                self.backend_replies,
                self.tolerance,
                &mut self.problems,
            );
        }
        if !self.expected_statuses.is_empty() {
            evaluate_shares(
                ("status", "statuses"),
                &self.expected_statuses,
                &self.status_counts,
                self.samples,
                self.tolerance,
                &mut self.problems,
            );
        }
    }
}

impl fmt::Display for WeightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "batch {}: {} samples, tolerance ±{}",
            self.attempt, self.samples, self.tolerance
        )?;
        if !self.expected.is_empty() {
            writeln!(
                f,
                "  {:<32} {:>8} {:>8} {:>6}",
                "backend", "expected", "observed", "count"
            )?;
            for (backend, want) in &self.expected {
                let count = self.counts.get(backend).copied().unwrap_or(0);
                writeln!(
                    f,
                    "  {backend:<32} {want:>8.3} {:>8.3} {count:>6}",
                    self.share(backend)
                )?;
            }
        }
        if !self.expected_statuses.is_empty() {
            writeln!(
                f,
                "  {:<32} {:>8} {:>8} {:>6}",
                "status", "expected", "observed", "count"
            )?;
            let seen = self
                .status_counts
                .keys()
                .filter(|s| !self.expected_statuses.contains_key(s));
            let rows = self.expected_statuses.keys().chain(seen);
            for status in rows {
                let want = self.expected_statuses.get(status).copied().unwrap_or(0.0);
                let count = self.status_counts.get(status).copied().unwrap_or(0);
                writeln!(
                    f,
                    "  {status:<32} {want:>8.3} {:>8.3} {count:>6}",
                    self.status_share(*status)
                )?;
            }
        }
        for problem in &self.problems {
            writeln!(f, "  ! {problem}")?;
        }
        Ok(())
    }
}

/// Why one batch failed.
#[derive(Debug)]
pub enum SampleFailure {
    /// A request failed or its reply did not match the expectation.
    Request(AttemptFailure),
    /// A reply came from a pod of a backend not in the distribution.
    UnexpectedBackend { pod: String, backend: String },
    /// All replies were fine but the shares are off.
    Distribution(WeightReport),
}

impl fmt::Display for SampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleFailure::Request(e) => write!(f, "{e}"),
            SampleFailure::UnexpectedBackend { pod, backend } => write!(
                f,
                "reply from pod {pod:?} of backend {backend:?}, which is not in the distribution"
            ),
            SampleFailure::Distribution(report) => write!(f, "{report}"),
        }
    }
}

/// Every batch failed; `last` says how the final one did.
#[derive(Debug, thiserror::Error)]
#[error("weighted distribution not met after {attempts} batches; last batch: {last}")]
pub struct WeightError {
    pub attempts: u32,
    pub last: SampleFailure,
}

/// Samples until one batch matches the distribution, up to `spec.attempts` batches.
/// Every reply must also satisfy `check` (upstream compares each with the case's
/// expectation, e.g. status 200 and namespace).
pub async fn sample_weights(
    req: &ProbeRequest,
    check: &Expectation,
    spec: &WeightSampling,
) -> Result<WeightReport, WeightError> {
    let req = Arc::new(req.clone());
    let check = Arc::new(check.clone());
    let attempts = spec.attempts.max(1);
    let mut last = None;
    for attempt in 1..=attempts {
        match sample_once(&req, &check, spec, attempt).await {
            Ok(report) => return Ok(report),
            Err(failure) => last = Some(failure),
        }
    }
    Err(WeightError {
        attempts,
        last: last.unwrap_or_else(|| {
            SampleFailure::Request(AttemptFailure::Probe(super::ProbeError::Unsupported(
                "no batch was run".into(),
            )))
        }),
    })
}

async fn sample_once(
    req: &Arc<ProbeRequest>,
    check: &Arc<Expectation>,
    spec: &WeightSampling,
    attempt: u32,
) -> Result<WeightReport, SampleFailure> {
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = JoinSet::new();
    for _ in 0..spec.concurrency.clamp(1, spec.samples.max(1)) {
        let (req, check, next, stop) = (req.clone(), check.clone(), next.clone(), stop.clone());
        let samples = spec.samples;
        // Spawned, not joined in place, so TLS and parsing use every core.
        workers.spawn(async move {
            let mut replies = Vec::new();
            while !stop.load(Ordering::Relaxed) && next.fetch_add(1, Ordering::Relaxed) < samples {
                let outcome = match send(&req).await {
                    Ok(res) => match compare(&check, &req, &res) {
                        Ok(()) => Ok((res.status, res.echo.map(|e| e.pod))),
                        Err(m) => Err(AttemptFailure::from(m)),
                    },
                    Err(e) => Err(AttemptFailure::from(e)),
                };
                match outcome {
                    Ok(reply) => replies.push(reply),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            Ok(replies)
        });
    }

    let mut report = WeightReport {
        attempt,
        samples: spec.samples,
        tolerance: spec.tolerance,
        expected: spec.distribution.clone(),
        counts: BTreeMap::new(),
        backend_replies: 0,
        expected_statuses: spec.statuses.clone(),
        status_counts: BTreeMap::new(),
        problems: Vec::new(),
    };
    let mut first_error = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(replies)) => {
                for (status, pod) in replies {
                    *report.status_counts.entry(status).or_default() += 1;
                    let Some(pod) = pod else { continue };
                    let backend = backend_of_pod(&pod).to_owned();
                    if !spec.distribution.is_empty() && !spec.distribution.contains_key(&backend) {
                        first_error
                            .get_or_insert(SampleFailure::UnexpectedBackend { pod, backend });
                        continue;
                    }
                    report.backend_replies += 1;
                    *report.counts.entry(backend).or_default() += 1;
                }
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(SampleFailure::Request(e));
            }
            Err(join) => {
                first_error.get_or_insert(SampleFailure::Request(AttemptFailure::Probe(
                    super::ProbeError::Unsupported(format!("sampling task failed: {join}")),
                )));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    report.evaluate();
    if report.problems.is_empty() {
        Ok(report)
    } else {
        Err(SampleFailure::Distribution(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_map_to_backends() {
        assert_eq!(
            backend_of_pod("infra-backend-v1-7d9c8-abcde"),
            "infra-backend-v1"
        );
        assert_eq!(backend_of_pod("a-b-c"), "a");
        assert_eq!(backend_of_pod("a-b"), "a-b");
        assert_eq!(backend_of_pod("pod"), "pod");
    }

    #[test]
    fn evaluation_follows_upstream() {
        let mut report = WeightReport {
            attempt: 1,
            samples: 100,
            tolerance: 0.05,
            expected: [
                ("a".to_owned(), 0.7),
                ("b".to_owned(), 0.3),
                ("c".to_owned(), 0.0),
            ]
            .into(),
            counts: [("a".to_owned(), 72), ("b".to_owned(), 28)].into(),
            backend_replies: 100,
            expected_statuses: BTreeMap::new(),
            status_counts: [(200, 100)].into(),
            problems: Vec::new(),
        };
        report.evaluate();
        assert!(report.problems.is_empty(), "{report}");

        report.counts = [
            ("a".to_owned(), 60),
            ("b".to_owned(), 38),
            ("c".to_owned(), 2),
        ]
        .into();
        report.problems.clear();
        report.evaluate();
        let text = report.to_string();
        assert!(
            text.contains("expected 2 backends to receive traffic, got 3"),
            "{text}"
        );
        assert!(
            text.contains("backend \"a\" got 0.600, expected 0.700"),
            "{text}"
        );
        assert!(
            text.contains("backend \"b\" got 0.380, expected 0.300"),
            "{text}"
        );
    }

    #[test]
    fn status_shares_are_of_all_replies_and_backend_shares_of_backend_replies() {
        let mut report = WeightReport {
            attempt: 1,
            samples: 100,
            tolerance: 0.05,
            expected: [("a".to_owned(), 1.0)].into(),
            counts: [("a".to_owned(), 52)].into(),
            backend_replies: 52,
            expected_statuses: [(200, 0.5), (503, 0.5)].into(),
            status_counts: [(200, 52), (503, 48)].into(),
            problems: Vec::new(),
        };
        report.evaluate();
        assert!(report.problems.is_empty(), "{report}");

        report.status_counts = [(200, 70), (503, 25), (500, 5)].into();
        report.evaluate();
        let text = report.to_string();
        assert!(
            text.contains("expected 2 statuses to receive traffic, got 3"),
            "{text}"
        );
        assert!(
            text.contains("status 200 got 0.700, expected 0.500"),
            "{text}"
        );
        assert!(
            text.contains("status 503 got 0.250, expected 0.500"),
            "{text}"
        );
        assert!(
            text.contains("  500 "),
            "unexpected statuses are shown: {text}"
        );
    }
}
