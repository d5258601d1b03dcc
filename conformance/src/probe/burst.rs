//! Bursts: requests sent back to back and judged as one sequence, for rate limits. A token
//! bucket lets a fixed number of requests through and then refuses the rest, which no single
//! request (and no "N successes in a row" rule) can show: the whole sequence is the evidence.

use std::fmt;

use super::expect::{Expectation, compare};
use super::mismatch::Mismatch;
use super::{ProbeRequest, send};

/// How the statuses of a burst are judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BurstJudge {
    /// Exactly these statuses, in this order.
    Sequence(Vec<u16>),
    /// First between `min` and `max` replies that pass the expectation's statuses, then only
    /// `then`.
    Passing { min: u32, max: u32, then: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurstSpec {
    pub requests: u32,
    pub judge: BurstJudge,
    /// All requests in flight together; replies are then judged passing ones first.
    pub concurrent: bool,
}

/// How a burst went wrong: the statuses seen and why they do not do.
#[derive(Debug)]
pub struct BurstFailure {
    pub statuses: Vec<u16>,
    pub problem: String,
    /// The first reply with a passing status that failed the rest of the expectation.
    pub mismatch: Option<(usize, Box<Mismatch>)>,
}

impl fmt::Display for BurstFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "burst: {}", self.problem)?;
        if let Some((index, mismatch)) = &self.mismatch {
            write!(f, "\nreply {} of the burst: {mismatch}", index + 1)?;
        }
        Ok(())
    }
}

fn list(statuses: &[u16]) -> String {
    let items: Vec<String> = statuses.iter().map(u16::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// Judges a burst's statuses; `passing` are the statuses the case's expectation allows.
pub fn judge_burst(judge: &BurstJudge, passing: &[u16], observed: &[u16]) -> Result<(), String> {
    match judge {
        BurstJudge::Sequence(expected) => {
            if expected == observed {
                Ok(())
            } else {
                Err(format!(
                    "statuses in order: expected {}, got {}",
                    list(expected),
                    list(observed)
                ))
            }
        }
        BurstJudge::Passing { min, max, then } => {
            let leading = observed.iter().take_while(|s| passing.contains(s)).count();
            let expected = format!(
                "{min} to {max} replies with status {} first, then only {then}",
                list(passing)
            );
            if leading < *min as usize || leading > *max as usize {
                return Err(format!(
                    "expected {expected}; got {} ({leading} passing first)",
                    list(observed)
                ));
            }
            match observed[leading..].iter().position(|s| s != then) {
                None => Ok(()),
                Some(i) => Err(format!(
                    "expected {expected}; got {} (reply {} is {})",
                    list(observed),
                    leading + i + 1,
                    observed[leading + i]
                )),
            }
        }
    }
}

/// Sends the burst, each request on its own connection: one after another, or all at once
/// when `concurrent`. Replies whose status the expectation allows are compared in full; the
/// others by status only.
pub async fn send_burst(
    req: &ProbeRequest,
    exp: &Expectation,
    spec: &BurstSpec,
) -> Result<(), BurstFailure> {
    let passing: Vec<u16> = if exp.statuses.is_empty() {
        vec![200]
    } else {
        exp.statuses.clone()
    };
    let mut statuses = Vec::with_capacity(spec.requests as usize);
    let mut mismatch = None;
    let mut replies = Vec::with_capacity(spec.requests as usize);
    if spec.concurrent {
        let all = (0..spec.requests).map(|_| send(req));
        replies = futures::future::join_all(all).await;
        // Concurrent replies have no order of their own: passing ones first, as judged.
        replies.sort_by_key(|r| match r {
            Ok(res) => !passing.contains(&res.status),
            Err(_) => true,
        });
    } else {
        for _ in 0..spec.requests {
            let reply = send(req).await;
            let failed = reply.is_err();
            replies.push(reply);
            if failed {
                break;
            }
        }
    }
    for (index, reply) in replies.into_iter().enumerate() {
        let res = match reply {
            Ok(res) => res,
            Err(e) => {
                return Err(BurstFailure {
                    problem: format!(
                        "request {} of {} got no response: {e}",
                        index + 1,
                        spec.requests
                    ),
                    statuses,
                    mismatch,
                });
            }
        };
        statuses.push(res.status);
        if mismatch.is_none()
            && passing.contains(&res.status)
            && let Err(m) = compare(exp, req, &res)
        {
            mismatch = Some((index, Box::new(m)));
        }
    }
    let judged = judge_burst(&spec.judge, &passing, &statuses);
    match (judged, mismatch) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(m)) => Err(BurstFailure {
            problem: format!(
                "statuses {} as expected, but a passing reply differs",
                list(&statuses)
            ),
            statuses,
            mismatch: Some(m),
        }),
        (Err(problem), mismatch) => Err(BurstFailure {
            statuses,
            problem,
            mismatch,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_match_exactly() {
        let judge = BurstJudge::Sequence(vec![200, 200, 429]);
        assert!(judge_burst(&judge, &[200], &[200, 200, 429]).is_ok());
        assert_eq!(
            judge_burst(&judge, &[200], &[200, 429, 429]).unwrap_err(),
            "statuses in order: expected [200, 200, 429], got [200, 429, 429]"
        );
    }

    #[test]
    fn passing_counts_lead_and_the_rest_is_limited() {
        let judge = BurstJudge::Passing {
            min: 1,
            max: 2,
            then: 429,
        };
        assert!(judge_burst(&judge, &[200], &[200, 200, 429, 429]).is_ok());
        assert!(judge_burst(&judge, &[200], &[200, 429, 429, 429]).is_ok());
        assert_eq!(
            judge_burst(&judge, &[200], &[200, 200, 200, 429]).unwrap_err(),
            "expected 1 to 2 replies with status [200] first, then only 429; got [200, 200, 200, 429] (3 passing first)"
        );
        assert_eq!(
            judge_burst(&judge, &[200], &[429, 429, 429, 429]).unwrap_err(),
            "expected 1 to 2 replies with status [200] first, then only 429; got [429, 429, 429, 429] (0 passing first)"
        );
        assert_eq!(
            judge_burst(&judge, &[200], &[200, 429, 200, 429]).unwrap_err(),
            "expected 1 to 2 replies with status [200] first, then only 429; got [200, 429, 200, 429] (reply 3 is 200)"
        );
    }
}
