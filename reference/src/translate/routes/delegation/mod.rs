//! HTTPRoute delegation (K8sGateway): a rule whose backendRef names HTTPRoutes hands the
//! traffic its matches select to those routes' rules.
//!
//! Rules, as K8sGateway defines them (`select` and `bounds` hold the details):
//!
//! - A delegatee either has no parentRefs (any route may delegate to it) or names the
//!   delegating route among them (`group: gateway.networking.k8s.io, kind: HTTPRoute`); a
//!   route whose parentRefs name only other parents is not delegated to.
//! - A delegatee serves the hostnames of the route attached to the Gateway at the top of the
//!   chain; one that sets `spec.hostnames` itself is refused (Accepted=False,
//!   UnsupportedValue, on its status entry for that parent).
//! - Only the delegatee's matches within the delegating rule's matches are served; the others
//!   are dropped, and said so in the delegatee's Accepted message.
//! - Delegation nests; a route met again on its own chain is a cycle: the route that delegates
//!   to it gets ResolvedRefs=False, RefNotPermitted, and that branch serves nothing. The depth
//!   (10 levels) and the delegatee rules one attached route may expand into (10,000) are
//!   bounded, so a lattice of selectors cannot blow up translation.
//! - A delegating backendRef that selects no route gets ResolvedRefs=False, BackendNotFound;
//!   a rule that only delegates has no Envoy route of its own, so what no delegatee matches is
//!   not found (404), as in K8sGateway.
//!
//! The expansion produces a "view" per (attached route, delegatee): the delegatee's rules with
//! their matches narrowed, the RouteOptions of the whole chain merged, attached where the top
//! route is attached. Views go to the Envoy builders beside the routes themselves.

mod bounds;
mod select;

pub(crate) use select::{DelegateRef, delegate_ref};

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use super::attach::ParentOutcome;
use super::http::{HttpMatchIr, HttpRouteIr, HttpRuleIr};
use crate::api::{GATEWAY_GROUP, HttpRoute};
use crate::model::{ObjectKey, ResourceSet};
use crate::translate::conditions::{Problem, reason};
use crate::translate::policy::status::Report;
use crate::translate::policy::{Level, RoutePolicies};

/// Delegation levels expanded below an attached route.
const MAX_DEPTH: usize = 10;
/// Delegatee visits one attached route may expand into.
const MAX_VISITS: usize = 10_000;

/// What delegation adds to a translation.
#[derive(Default)]
pub(crate) struct Expansion {
    /// Delegatee rules as served, each with the outcomes of the attached route above it.
    pub views: Vec<(HttpRouteIr, Vec<ParentOutcome>)>,
    /// Per delegatee, its status entry for each route that delegates to it: accepted (with a
    /// message) or why not.
    pub entries: BTreeMap<ObjectKey, BTreeMap<ObjectKey, Result<String, Problem>>>,
    /// Delegating routes with a reference that resolves to nothing usable.
    pub unresolved: BTreeMap<ObjectKey, Problem>,
}

/// The routes reachable by delegation from `roots` (the routes that name one of our
/// Gateways, with their objects): they are ours too (policy status reports them). Cycles are
/// harmless here, each route is visited once.
pub(crate) fn delegatees<'a>(
    set: &'a ResourceSet,
    roots: &[(&'a ObjectKey, &'a Arc<HttpRoute>)],
) -> BTreeSet<&'a ObjectKey> {
    // The label index and the set of routes seen are built at the first delegating
    // backendRef: most inputs have none, and then this is one pass over the roots.
    let mut queue: VecDeque<(&'a ObjectKey, &'a Arc<HttpRoute>)> = roots.iter().copied().collect();
    let mut index = None;
    let mut seen: Option<BTreeSet<&'a ObjectKey>> = None;
    let mut out = BTreeSet::new();
    while let Some((key, route)) = queue.pop_front() {
        for rule in route.spec.rules.iter().flatten() {
            for (i, br) in rule.backend_refs.iter().flatten().enumerate() {
                let Some(d) = delegate_ref(
                    &key.namespace,
                    i,
                    br.group.as_deref(),
                    br.kind.as_deref(),
                    br.namespace.as_deref(),
                    &br.name,
                ) else {
                    continue;
                };
                let index = index.get_or_insert_with(|| select::Index::new(set));
                let seen = seen.get_or_insert_with(|| roots.iter().map(|(k, _)| *k).collect());
                for child in index.select(&d.selector).unwrap_or_default() {
                    out.insert(child);
                    if seen.insert(child)
                        && let Some(route) = set.http_routes.get(child)
                    {
                        queue.push_back((child, route));
                    }
                }
            }
        }
    }
    out
}

/// Expand the delegation below every attached route of `http`.
pub(crate) fn expand<'a>(
    set: &'a ResourceSet,
    http: &'a [(HttpRouteIr, Vec<ParentOutcome>)],
    policies: &RoutePolicies<'a>,
    report: &mut Report,
) -> Expansion {
    // Most route sets delegate nothing; the index of every route below costs a hashed
    // insert per route on every translation.
    let delegates = |ir: &HttpRouteIr| ir.rules.iter().any(|r| !r.delegations.is_empty());
    if !http.iter().any(|(ir, _)| delegates(ir)) {
        return Expansion::default();
    }
    let mut walk = Walk {
        set,
        http,
        by_key: http
            .iter()
            .enumerate()
            .map(|(i, (ir, _))| (&ir.info.key, i))
            .collect(),
        index: select::Index::new(set),
        policies,
        report,
        out: Expansion::default(),
        outcomes: &[],
        visits: 0,
    };
    for (i, (ir, outcomes)) in http.iter().enumerate() {
        if !delegates(ir) || !outcomes.iter().any(|o| o.result.is_ok()) {
            continue;
        }
        let Some(route) = set.http_routes.get(&ir.info.key) else {
            continue;
        };
        walk.outcomes = outcomes;
        walk.visits = 0;
        for rule in ir.rules.iter().filter(|r| !r.delegations.is_empty()) {
            let mut chain = vec![Level {
                key: &ir.info.key,
                route,
                rule,
            }];
            walk.delegations(&mut chain, i, &rule.matches);
        }
    }
    walk.out
}

struct Walk<'a, 'r> {
    set: &'a ResourceSet,
    http: &'a [(HttpRouteIr, Vec<ParentOutcome>)],
    by_key: HashMap<&'a ObjectKey, usize>,
    index: select::Index<'a>,
    policies: &'r RoutePolicies<'a>,
    report: &'r mut Report,
    out: Expansion,
    /// The outcomes of the attached route being expanded.
    outcomes: &'a [ParentOutcome],
    visits: usize,
}

impl<'a> Walk<'a, '_> {
    /// Follow every delegating backendRef of the last rule of `chain` (route `at` of `http`),
    /// whose traffic is `bounds`.
    fn delegations(&mut self, chain: &mut Vec<Level<'a>>, at: usize, bounds: &[HttpMatchIr]) {
        let http = self.http;
        let parent = &http[at].0.info.key;
        let rule = chain.last().expect("a delegating level").rule;
        for d in &rule.delegations {
            let at_ref = format!("spec.rules[{}].backendRefs[{}]", rule.index, d.position);
            let children = match self.index.select(&d.selector) {
                Ok(c) => c,
                Err(p) => {
                    self.unresolved(parent, p.reason, format!("{at_ref}: {}", p.message));
                    continue;
                }
            };
            for child in children {
                if chain.iter().any(|l| l.key == child) {
                    self.unresolved(
                        parent,
                        reason::REF_NOT_PERMITTED,
                        format!(
                            "{at_ref}: HTTPRoute {child} is already on this delegation chain \
                             ({}): a cycle, so it is not delegated to again",
                            chain
                                .iter()
                                .map(|l| l.key.to_string())
                                .collect::<Vec<_>>()
                                .join(" -> ")
                        ),
                    );
                    continue;
                }
                if chain.len() > MAX_DEPTH {
                    self.unresolved(
                        parent,
                        "MaxDelegationDepthExceeded",
                        format!(
                            "{at_ref}: delegation deeper than {MAX_DEPTH} levels is not expanded"
                        ),
                    );
                    continue;
                }
                self.visits += 1;
                if self.visits > MAX_VISITS {
                    self.unresolved(
                        parent,
                        "MaxDelegatedRoutesExceeded",
                        format!(
                            "{at_ref}: the route attached at the top of this chain expands into \
                             more than {MAX_VISITS} delegatees; the rest are not expanded"
                        ),
                    );
                    return;
                }
                self.child(chain, parent, child, bounds);
            }
        }
    }

    fn child(
        &mut self,
        chain: &mut Vec<Level<'a>>,
        parent: &'a ObjectKey,
        child: &'a ObjectKey,
        bounds: &[HttpMatchIr],
    ) {
        let (Some(&ci), Some(route)) = (self.by_key.get(child), self.set.http_routes.get(child))
        else {
            return;
        };
        let ir = &self.http[ci].0;
        if !ir.info.parent_refs.is_empty()
            && !ir.info.parent_refs.iter().any(|p| {
                p.group() == GATEWAY_GROUP
                    && p.kind() == "HTTPRoute"
                    && p.name == parent.name
                    && p.namespace.as_deref().unwrap_or(&child.namespace) == parent.namespace
            })
        {
            // Its parentRefs name other parents only: it does not accept this one.
            return;
        }
        let refused = if !ir.info.hostnames.is_empty() {
            Some(Problem::new(
                reason::UNSUPPORTED_VALUE,
                "spec.hostnames must be unset on a delegatee route: it serves the hostnames of \
                 the route that delegates to it",
            ))
        } else {
            ir.problem.clone()
        };
        if let Some(p) = refused {
            self.entry(child, parent, Err(p));
            return;
        }

        let mut served = Vec::new();
        let mut dropped = Vec::new();
        for rule in &ir.rules {
            let kept: Vec<HttpMatchIr> = rule
                .matches
                .iter()
                .filter(|m| bounds.iter().any(|b| bounds::contains(b, m)))
                .cloned()
                .collect();
            if kept.len() < rule.matches.len() {
                dropped.push(if kept.is_empty() {
                    format!("rule {}", rule.index)
                } else {
                    let out: Vec<String> = rule
                        .matches
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| !kept.contains(m))
                        .map(|(i, _)| format!("rule {} match {i}", rule.index))
                        .collect();
                    out.join(", ")
                });
            }
            if kept.is_empty() {
                continue;
            }
            chain.push(Level {
                key: child,
                route,
                rule,
            });
            if !rule.delegations.is_empty() {
                self.delegations(chain, ci, &kept);
            }
            if !rule.delegates_only() {
                let options = self.policies.delegated(chain, &mut *self.report);
                served.push(HttpRuleIr {
                    matches: kept,
                    options,
                    ..rule.clone()
                });
            }
            chain.pop();
        }
        let mut message = format!("Route is accepted as a delegatee of HTTPRoute {parent}");
        if !dropped.is_empty() {
            message.push_str(&format!(
                "; not served through it, outside its match: {}",
                dropped.join(", ")
            ));
        }
        self.entry(child, parent, Ok(message));
        if !served.is_empty() {
            self.out.views.push((
                HttpRouteIr {
                    info: ir.info.clone(),
                    rules: served,
                    problem: None,
                    resolved_refs: None,
                    rules_problem: None,
                },
                self.outcomes.to_vec(),
            ));
        }
    }

    /// The first result for a (delegatee, parent) pair stands: every chain through the same
    /// parent judges the delegatee the same way.
    fn entry(&mut self, child: &ObjectKey, parent: &ObjectKey, r: Result<String, Problem>) {
        self.out
            .entries
            .entry(child.clone())
            .or_default()
            .entry(parent.clone())
            .or_insert(r);
    }

    fn unresolved(&mut self, route: &ObjectKey, reason: &'static str, message: String) {
        self.out
            .unresolved
            .entry(route.clone())
            .or_insert(Problem::new(reason, message));
    }
}
