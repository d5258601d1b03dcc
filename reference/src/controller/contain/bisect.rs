//! Finding the objects that make Envoy reject a configuration, by asking whether
//! configurations with some of them left out are accepted.
//!
//! The candidates are taken as an ordered list, and the search looks for the shortest prefix
//! that is rejected: its last object is an offender, since the prefix before it was accepted.
//! That stays true when an object is bad only together with an earlier one (two routes that
//! clash), where splitting the list into halves and testing each alone would find neither.
//! Each offender costs one binary search, ⌈log₂ n⌉ checks, and one check of all that remains
//! once it is left out; two checks up front tell a reproducible rejection from one that is
//! not and an object's fault from the Gateway's own.
//!
//! Rejection is taken to be monotone: adding objects to a rejected configuration never makes
//! it accepted. The final check of what remains is what the controller will push, so a wrong
//! guess can never lead to pushing a configuration Envoy is known to reject.

/// Envoy's answer about one configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Envoy's message.
    Rejected(String),
}

/// An object that, added to an accepted configuration, made Envoy reject it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offender<T> {
    pub object: T,
    /// Envoy's message for the shortest rejected prefix, which this object completed.
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding<T> {
    /// Leaving these out makes the configuration acceptable.
    Offenders(Vec<Offender<T>>),
    /// Envoy rejects the configuration even with every candidate left out: the fault lies in
    /// what is not a candidate (for a Gateway, its listeners and certificates).
    OwnFault(String),
    /// Envoy accepts the configuration as it is, so there is nothing to find.
    NotReproduced,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bisection<T> {
    pub finding: Finding<T>,
    /// How many configurations were checked.
    pub checks: usize,
}

/// Search `candidates` for offenders. `check` is given the candidates to leave out and says
/// whether the configuration without them is accepted; its errors end the search.
pub fn bisect<T: Clone, E>(
    candidates: &[T],
    check: impl FnMut(&[T]) -> Result<Verdict, E>,
) -> Result<Bisection<T>, E> {
    let mut search = Search {
        candidates,
        check,
        checks: 0,
        offenders: Vec::new(),
    };
    let n = candidates.len();
    let finding = match search.prefix(n)? {
        Verdict::Accepted => Finding::NotReproduced,
        Verdict::Rejected(message) if n == 0 => Finding::OwnFault(message),
        Verdict::Rejected(message) => match search.prefix(0)? {
            Verdict::Rejected(own) => Finding::OwnFault(own),
            Verdict::Accepted => Finding::Offenders(search.offenders_after(message)?),
        },
    };
    Ok(Bisection {
        finding,
        checks: search.checks,
    })
}

struct Search<'a, T, F> {
    candidates: &'a [T],
    check: F,
    checks: usize,
    /// Indexes of the offenders found so far, left out of every later check.
    offenders: Vec<usize>,
}

impl<T: Clone, E, F: FnMut(&[T]) -> Result<Verdict, E>> Search<'_, T, F> {
    /// Check the first `k` candidates without the offenders found so far.
    fn prefix(&mut self, k: usize) -> Result<Verdict, E> {
        self.checks += 1;
        let left_out: Vec<T> = self
            .offenders
            .iter()
            .map(|&i| self.candidates[i].clone())
            .chain(self.candidates[k..].iter().cloned())
            .collect();
        (self.check)(&left_out)
    }

    /// Find every offender, knowing that the empty prefix is accepted and the whole list is
    /// rejected with `message`.
    fn offenders_after(&mut self, mut message: String) -> Result<Vec<Offender<T>>, E> {
        let n = self.candidates.len();
        let mut found = Vec::new();
        let mut accepted = 0;
        loop {
            // The prefix of `accepted` is accepted, that of `rejected` rejected with `message`.
            let mut rejected = n;
            while rejected - accepted > 1 {
                let mid = accepted + (rejected - accepted) / 2;
                match self.prefix(mid)? {
                    Verdict::Accepted => accepted = mid,
                    Verdict::Rejected(m) => {
                        rejected = mid;
                        message = m;
                    }
                }
            }
            let offender = rejected - 1;
            self.offenders.push(offender);
            found.push(Offender {
                object: self.candidates[offender].clone(),
                message,
            });
            // Without the offender, its prefix is the accepted one before it.
            accepted = rejected;
            if accepted == n {
                return Ok(found);
            }
            match self.prefix(n)? {
                Verdict::Accepted => return Ok(found),
                Verdict::Rejected(m) => message = m,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// A validator that rejects any configuration containing one of `bad`, naming the first.
    fn rejecting(bad: &[usize]) -> impl FnMut(&[usize]) -> Result<Verdict, Infallible> + '_ {
        move |left_out| {
            Ok(bad
                .iter()
                .find(|b| !left_out.contains(b))
                .map_or(Verdict::Accepted, |b| Verdict::Rejected(format!("bad {b}"))))
        }
    }

    fn offenders(b: &Bisection<usize>) -> Vec<usize> {
        match &b.finding {
            Finding::Offenders(o) => o.iter().map(|o| o.object).collect(),
            other => panic!("expected offenders, got {other:?}"),
        }
    }

    /// The promised cost: two checks up front, then per offender a binary search and a check
    /// of what remains.
    fn bound(n: usize, offenders: usize) -> usize {
        2 + offenders * (n.next_power_of_two().trailing_zeros() as usize + 1)
    }

    #[test]
    fn one_offender_anywhere_is_found_in_logarithmic_checks() {
        for n in [1, 2, 3, 10, 100, 1000] {
            for bad in [0, n / 3, n / 2, n - 1] {
                let b = bisect(&(0..n).collect::<Vec<_>>(), rejecting(&[bad])).unwrap();
                assert_eq!(offenders(&b), [bad], "n {n}");
                assert!(
                    b.checks <= bound(n, 1),
                    "n {n}, bad {bad}: {} checks",
                    b.checks
                );
            }
        }
        let b = bisect(&(0..1000).collect::<Vec<_>>(), rejecting(&[417])).unwrap();
        assert_eq!(
            b.checks, 13,
            "2 up front, ⌈log₂ 1000⌉ = 10 to find it, 1 for what remains"
        );
        assert_eq!(
            b.finding,
            Finding::Offenders(vec![Offender {
                object: 417,
                message: "bad 417".into()
            }])
        );
    }

    #[test]
    fn every_offender_is_found() {
        let n = 64;
        let candidates: Vec<usize> = (0..n).collect();
        for a in 0..n {
            for c in (a + 1..n).step_by(7) {
                let b = bisect(&candidates, rejecting(&[c, a])).unwrap();
                assert_eq!(offenders(&b), [a, c]);
                assert!(b.checks <= bound(n, 2), "{a}, {c}: {} checks", b.checks);
            }
        }
        let bad = [3, 17, 18, 40, 63];
        let b = bisect(&candidates, rejecting(&bad)).unwrap();
        assert_eq!(offenders(&b), bad);
        assert!(b.checks <= bound(n, bad.len()), "{} checks", b.checks);
        // Each offender carries the message of the check that convicted it.
        let Finding::Offenders(found) = &b.finding else {
            unreachable!()
        };
        for o in found {
            assert_eq!(o.message, format!("bad {}", o.object));
        }
    }

    #[test]
    fn a_rejection_without_any_candidate_is_the_gateways_own() {
        let mut calls = Vec::new();
        let b = bisect(&[1, 2, 3], |left_out: &[i32]| {
            calls.push(left_out.to_vec());
            Ok::<_, Infallible>(Verdict::Rejected("listener: bad certificate".into()))
        })
        .unwrap();
        assert_eq!(
            b.finding,
            Finding::OwnFault("listener: bad certificate".into())
        );
        assert_eq!(calls, [vec![], vec![1, 2, 3]]);
        assert_eq!(b.checks, 2);

        let none: [i32; 0] = [];
        let b = bisect(&none, |_: &[i32]| {
            Ok::<_, Infallible>(Verdict::Rejected("x".into()))
        })
        .unwrap();
        assert_eq!(b.finding, Finding::OwnFault("x".into()));
        assert_eq!(b.checks, 1);
    }

    #[test]
    fn an_accepted_configuration_has_nothing_to_find() {
        let b = bisect(&[1, 2, 3], |_: &[i32]| {
            Ok::<_, Infallible>(Verdict::Accepted)
        })
        .unwrap();
        assert_eq!(b.finding, Finding::NotReproduced);
        assert_eq!(b.checks, 1);
    }

    #[test]
    fn objects_bad_only_together_lose_the_later_one() {
        // 2 and 5 clash; each alone is fine.
        let b = bisect(&(0..8).collect::<Vec<_>>(), |left_out: &[usize]| {
            let both = !left_out.contains(&2) && !left_out.contains(&5);
            Ok::<_, Infallible>(if both {
                Verdict::Rejected("clash".into())
            } else {
                Verdict::Accepted
            })
        })
        .unwrap();
        assert_eq!(offenders(&b), [5]);
    }

    #[test]
    fn a_failing_check_ends_the_search() {
        let mut n = 0;
        let r = bisect(&[1, 2, 3, 4], |_: &[i32]| {
            n += 1;
            match n {
                1 => Ok(Verdict::Rejected("r".into())),
                2 => Ok(Verdict::Accepted),
                _ => Err("envoy did not start"),
            }
        });
        assert_eq!(r, Err("envoy did not start"));
    }
}
