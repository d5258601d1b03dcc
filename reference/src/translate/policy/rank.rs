//! The one precedence-and-merge mechanism every policy kind goes through.
//!
//! Candidates for one target (a route rule, a Gateway listener) are ranked, then combined in
//! one of two ways: a shallow merge per top-level field of `options`, where a field set by a
//! higher-ranked object is never overridden (RouteOption, VirtualHostOption), or first wins
//! with no merge at all (ListenerOption, HttpListenerOption). The merge works on the options'
//! JSON form, so it is the same code for every kind and its notion of "field" is exactly the
//! one users write and read in status messages.
//!
//! Besides the effective options, the combination says for every candidate what it lost and
//! to whom, which is what policy status reports.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::model::ObjectKey;

/// How candidates of a kind combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Combine {
    ShallowMerge,
    FirstWins,
}

/// Where a candidate stands: its tier (how it attaches; lower first), then its position
/// within the tier when the tier is ordered (ExtensionRef filters, in filter order), then its
/// age (older first; objects without a creation time, from files, after those with one), then
/// namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rank {
    pub tier: u8,
    pub position: usize,
    pub created: Option<jiff::Timestamp>,
    pub key: ObjectKey,
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        self.tier
            .cmp(&other.tier)
            .then(self.position.cmp(&other.position))
            .then_with(|| match (self.created, other.created) {
                (Some(a), Some(b)) => a.cmp(&b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then_with(|| self.key.cmp(&other.key))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Rank {
    /// Why `self` ranks before `other`, in words, given the names of the tiers.
    pub fn why_before(&self, other: &Rank, tiers: &[&str]) -> String {
        let tier = |t: u8| tiers.get(usize::from(t)).copied().unwrap_or("another tier");
        if self.tier != other.tier {
            format!("{} before {}", tier(self.tier), tier(other.tier))
        } else if self.position != other.position {
            "an earlier filter".to_string()
        } else if self.created != other.created {
            "older".to_string()
        } else {
            "same age, first by namespace and name".to_string()
        }
    }
}

/// One object competing for a target.
pub(crate) struct Candidate<'a, O> {
    pub kind: &'static str,
    pub rank: Rank,
    pub options: Option<&'a O>,
}

/// What one candidate got out of the combination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Share {
    /// Its fields that are not in effect, each with why (`options.retries is set by ...`).
    pub lost: Vec<String>,
    /// Set when the candidate was not applied at all because another one wins outright
    /// (first-wins kinds).
    pub conflicted: Option<String>,
}

/// The effective options of one target and every candidate's share, in rank order.
pub(crate) struct Combined<'a, O> {
    pub effective: Option<O>,
    pub shares: Vec<Share>,
    candidates: Vec<Candidate<'a, O>>,
    /// Which candidate each effective field came from; `None` while that is simply the first
    /// candidate for every field (a single candidate, or first wins), which spares the common
    /// case any JSON work.
    owners: Option<BTreeMap<String, usize>>,
}

impl<'a, O: Clone + Default + Serialize + DeserializeOwned> Combined<'a, O> {
    /// Rank `candidates` and combine them as `how` says. `tiers` names the tiers for status
    /// messages.
    pub fn new(candidates: Vec<Candidate<'a, O>>, how: Combine, tiers: &[&str]) -> Self {
        Self::with_overrides(candidates, how, tiers, |_, _, _| None)
    }

    /// As [`Combined::new`], except that in a shallow merge a lower-ranked candidate takes a
    /// field from the one that holds it when `overrides(holder, challenger, field)` says why
    /// (a delegating route that lets its delegatees override its RouteOptions).
    pub fn with_overrides(
        mut candidates: Vec<Candidate<'a, O>>,
        how: Combine,
        tiers: &[&str],
        overrides: impl Fn(&Rank, &Rank, &str) -> Option<String>,
    ) -> Self {
        candidates.sort_by(|a, b| a.rank.cmp(&b.rank));
        // An object that reaches the same target twice (an ExtensionRef and a targetRef, a
        // whole-Gateway and a sectionName reference) competes once, at its best rank.
        if candidates.len() > 1 {
            let mut seen = std::collections::BTreeSet::new();
            candidates.retain(|c| seen.insert(c.rank.key.clone()));
        }
        let mut shares = vec![Share::default(); candidates.len()];
        let mut owners = None;
        let effective = match (candidates.len(), how) {
            (0, _) => None,
            (1, _) | (_, Combine::FirstWins) => {
                let first = &candidates[0];
                for (i, c) in candidates.iter().enumerate().skip(1) {
                    shares[i].conflicted = Some(format!(
                        "{} {} takes precedence ({}); {}s do not merge",
                        first.kind,
                        first.rank.key,
                        first.rank.why_before(&c.rank, tiers),
                        c.kind
                    ));
                }
                Some(first.options.cloned().unwrap_or_default())
            }
            (_, Combine::ShallowMerge) => {
                let mut merged = Map::new();
                let mut own = BTreeMap::new();
                for (i, c) in candidates.iter().enumerate() {
                    for (field, value) in fields(c.options) {
                        let taken: Option<(usize, String)> =
                            own.get(&field).and_then(|&w: &usize| {
                                let holder: &Candidate<'_, O> = &candidates[w];
                                overrides(&holder.rank, &c.rank, &field).map(|why| (w, why))
                            });
                        if let Some((w, why)) = taken {
                            shares[w].lost.push(format!(
                                "options.{field} is overridden by {} {} ({why})",
                                c.kind, c.rank.key
                            ));
                            own.insert(field.clone(), i);
                            merged.insert(field, value);
                            continue;
                        }
                        match own.get(&field) {
                            Some(&w) => {
                                let winner: &Candidate<'_, O> = &candidates[w];
                                shares[i].lost.push(format!(
                                    "options.{field} is set by {} {} ({})",
                                    winner.kind,
                                    winner.rank.key,
                                    winner.rank.why_before(&c.rank, tiers)
                                ));
                            }
                            None => {
                                own.insert(field.clone(), i);
                                merged.insert(field, value);
                            }
                        }
                    }
                }
                owners = Some(own);
                // Every field came from a value of type O, so the merge is one too.
                serde_json::from_value(Value::Object(merged)).ok()
            }
        };
        Self {
            effective,
            shares,
            candidates,
            owners,
        }
    }

    /// The effective field `field` (JSON name) is not applied, for `why`: `remove` takes it
    /// (or the part of it that is overridden) out of the effective options and says whether
    /// there was anything to take, and if so the candidate it came from learns why. `part`
    /// names that part in the message when it is not the whole field.
    pub fn override_field(
        &mut self,
        field: &str,
        part: Option<&str>,
        why: &str,
        remove: impl FnOnce(&mut O) -> bool,
    ) {
        let Some(effective) = self.effective.as_mut() else {
            return;
        };
        if !remove(effective) {
            return;
        }
        let owner = self
            .owners
            .as_ref()
            .map_or(Some(0), |o| o.get(field).copied());
        if let Some(i) = owner {
            let what = match part {
                Some(p) => format!("options.{field}.{p}"),
                None => format!("options.{field}"),
            };
            self.shares[i].lost.push(format!("{what} {why}"));
        }
    }

    /// Each candidate with its share, in rank order.
    pub fn outcomes(&self) -> impl Iterator<Item = (&Candidate<'a, O>, Outcome<'_>)> {
        self.candidates
            .iter()
            .zip(&self.shares)
            .enumerate()
            .map(|(i, (c, s))| {
                let applied = s.conflicted.is_none() && (s.lost.is_empty() || self.keeps_any(i));
                (c, Outcome { share: s, applied })
            })
    }

    /// Whether candidate `i` still provides some effective field.
    fn keeps_any(&self, i: usize) -> bool {
        let Some(effective) = &self.effective else {
            return false;
        };
        let present: Vec<String> = fields(Some(effective)).map(|(f, _)| f).collect();
        match &self.owners {
            Some(o) => present.iter().any(|f| o.get(f) == Some(&i)),
            None => i == 0 && !present.is_empty(),
        }
    }
}

/// A candidate's outcome, for status.
pub(crate) struct Outcome<'s> {
    pub share: &'s Share,
    /// Some of its fields are in effect.
    pub applied: bool,
}

/// The top-level fields an options object sets, by JSON name.
fn fields<O: Serialize>(options: Option<&O>) -> impl Iterator<Item = (String, Value)> {
    let map = match options.map(serde_json::to_value) {
        Some(Ok(Value::Object(m))) => m,
        _ => Map::new(),
    };
    map.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::k8sgateway::RouteOptions;

    fn options(yaml: &str) -> RouteOptions {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn rank(tier: u8, position: usize, created: Option<&str>, name: &str) -> Rank {
        Rank {
            tier,
            position,
            created: created.map(|c| c.parse().unwrap()),
            key: ObjectKey::new("default", name),
        }
    }

    const TIERS: &[&str] = &["an ExtensionRef", "a targetRef"];

    #[test]
    fn shallow_merge_keeps_the_first_value_of_each_field_and_says_who_won() {
        let a = options("{timeout: 1s, prefixRewrite: /a}");
        let b = options("{timeout: 2s, hostRewrite: b.example}");
        let c = options("{timeout: 3s}");
        let combined = Combined::new(
            vec![
                Candidate {
                    kind: "RouteOption",
                    rank: rank(1, 0, Some("2024-01-02T00:00:00Z"), "newer"),
                    options: Some(&c),
                },
                Candidate {
                    kind: "RouteOption",
                    rank: rank(0, 0, None, "ext"),
                    options: Some(&a),
                },
                Candidate {
                    kind: "RouteOption",
                    rank: rank(1, 0, Some("2024-01-01T00:00:00Z"), "older"),
                    options: Some(&b),
                },
            ],
            Combine::ShallowMerge,
            TIERS,
        );
        let effective = combined.effective.clone().unwrap();
        assert_eq!(effective.timeout.unwrap().as_str(), "1s");
        assert_eq!(effective.prefix_rewrite.as_deref(), Some("/a"));
        assert_eq!(effective.host_rewrite.as_deref(), Some("b.example"));
        let outcomes: Vec<(String, bool, Vec<String>)> = combined
            .outcomes()
            .map(|(c, o)| (c.rank.key.name.clone(), o.applied, o.share.lost.clone()))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("ext".to_string(), true, vec![]),
                (
                    "older".to_string(),
                    true,
                    vec![
                        "options.timeout is set by RouteOption default/ext (an ExtensionRef before a targetRef)"
                            .to_string()
                    ]
                ),
                (
                    "newer".to_string(),
                    false,
                    vec![
                        "options.timeout is set by RouteOption default/ext (an ExtensionRef before a targetRef)"
                            .to_string()
                    ]
                ),
            ]
        );
    }

    #[test]
    fn first_wins_applies_one_object_and_names_it_to_the_others() {
        let a = options("{timeout: 1s}");
        let b = options("{prefixRewrite: /b}");
        let combined = Combined::new(
            vec![
                Candidate {
                    kind: "ListenerOption",
                    rank: rank(1, 0, Some("2024-01-01T00:00:00Z"), "whole"),
                    options: Some(&b),
                },
                Candidate {
                    kind: "ListenerOption",
                    rank: rank(0, 0, Some("2024-02-01T00:00:00Z"), "section"),
                    options: Some(&a),
                },
            ],
            Combine::FirstWins,
            &["sectionName", "whole Gateway"],
        );
        assert_eq!(combined.effective, Some(a.clone()));
        let conflicted: Vec<Option<String>> = combined
            .outcomes()
            .map(|(_, o)| o.share.conflicted.clone())
            .collect();
        assert_eq!(
            conflicted,
            [
                None,
                Some(
                    "ListenerOption default/section takes precedence (sectionName before whole Gateway); ListenerOptions do not merge"
                        .to_string()
                )
            ]
        );
    }

    #[test]
    fn an_overridden_field_is_charged_to_the_object_it_came_from() {
        let a = options("{prefixRewrite: /a}");
        let mut combined = Combined::new(
            vec![Candidate {
                kind: "RouteOption",
                rank: rank(1, 0, None, "only"),
                options: Some(&a),
            }],
            Combine::ShallowMerge,
            TIERS,
        );
        combined.override_field(
            "prefixRewrite",
            None,
            "is overridden by the rule's URLRewrite filter",
            |o| o.prefix_rewrite.take().is_some(),
        );
        let (_, outcome) = combined.outcomes().next().unwrap();
        assert!(!outcome.applied, "nothing of it is left");
        assert_eq!(
            outcome.share.lost,
            ["options.prefixRewrite is overridden by the rule's URLRewrite filter"]
        );
        assert_eq!(combined.effective, Some(RouteOptions::default()));
    }

    #[test]
    fn an_allowed_override_moves_a_field_to_the_lower_ranked_candidate() {
        let parent = options("{timeout: 1s, prefixRewrite: /p}");
        let child = options("{timeout: 2s, prefixRewrite: /c}");
        let combined = Combined::with_overrides(
            vec![
                Candidate {
                    kind: "RouteOption",
                    rank: rank(0, 0, None, "parent"),
                    options: Some(&parent),
                },
                Candidate {
                    kind: "RouteOption",
                    rank: rank(1, 0, None, "child"),
                    options: Some(&child),
                },
            ],
            Combine::ShallowMerge,
            TIERS,
            |holder, _, field| {
                (holder.key.name == "parent" && field == "timeout").then(|| "allowed".to_string())
            },
        );
        let effective = combined.effective.clone().unwrap();
        assert_eq!(effective.timeout.unwrap().as_str(), "2s");
        assert_eq!(effective.prefix_rewrite.as_deref(), Some("/p"));
        let lost: Vec<Vec<String>> = combined
            .outcomes()
            .map(|(_, o)| o.share.lost.clone())
            .collect();
        assert_eq!(
            lost,
            [
                vec!["options.timeout is overridden by RouteOption default/child (allowed)".to_string()],
                vec!["options.prefixRewrite is set by RouteOption default/parent (an ExtensionRef before a targetRef)".to_string()],
            ]
        );
    }

    #[test]
    fn age_then_name_orders_candidates_of_one_tier() {
        let older = rank(1, 0, Some("2024-01-01T00:00:00Z"), "b");
        let newer = rank(1, 0, Some("2024-06-01T00:00:00Z"), "a");
        let undated = rank(1, 0, None, "0");
        assert!(older < newer && newer < undated);
        assert_eq!(older.why_before(&newer, TIERS), "older");
        let same = rank(1, 0, Some("2024-01-01T00:00:00Z"), "c");
        assert_eq!(
            older.why_before(&same, TIERS),
            "same age, first by namespace and name"
        );
    }
}
