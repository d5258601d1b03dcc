//! Route-level policies: RouteOption (ExtensionRef filters, then targetRefs) and
//! DirectResponse (ExtensionRef filters) on each rule of each HTTPRoute.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::OptionKind;
use super::invalid;
use super::overrides::{ANNOTATION as OVERRIDES, Overrides};
use super::rank::{Candidate, Combine, Combined, Rank};
use super::status::{Ancestor, Report};
use crate::api::k8sgateway::RouteOptions;
use crate::api::{GATEWAY_GROUP, HttpRoute, RouteOption};
use crate::model::{KeyParts, ObjectKey, ResourceSet};
use crate::translate::conditions::{Problem, reason};
use crate::translate::routes::http::{
    DirectIr, ExtensionKind, HttpRouteIr, HttpRuleIr, RuleAction,
};

/// How RouteOption candidates rank.
const TIERS: &[&str] = &["an ExtensionRef filter on the rule", "a targetRef"];

const DIRECT_RESPONSE: &str = "DirectResponse";

/// What Gateway API filters take over from RouteOption fields. kgateway's rule: the route's
/// own filters win.
const FILTER_WINS: &str = "(Gateway API filters take precedence over RouteOptions)";

/// RouteOption fields that configure forwarding (Envoy's RouteAction), which a rule that
/// redirects or answers directly does not do.
const FORWARDING_FIELDS: &[&str] = &[
    "prefixRewrite",
    "regexRewrite",
    "timeout",
    "idleTimeout",
    "maxStreamDuration",
    "retries",
    "hostRewrite",
    "autoHostRewrite",
    "appendXForwardedHost",
    "lbHash",
    "upgrades",
];

/// The RouteOptions and DirectResponses of a snapshot, indexed for the routes.
pub(crate) struct RoutePolicies<'a> {
    set: &'a ResourceSet,
    /// Valid RouteOptions by the HTTPRoute their targetRefs name.
    by_route: HashMap<&'a str, BTreeMap<&'a str, Vec<&'a ObjectKey>>>,
    /// RouteOptions that contribute nothing (invalid or quarantined).
    invalid: BTreeSet<&'a ObjectKey>,
    /// HTTPRoutes with a parentRef to a Gateway of ours: the only ancestors reported.
    ours: BTreeSet<&'a ObjectKey>,
}

impl<'a> RoutePolicies<'a> {
    /// `ours`: the routes that name a Gateway of ours and those that serve through one of
    /// them by delegation, the only ancestors reported.
    pub fn new(set: &'a ResourceSet, ours: BTreeSet<&'a ObjectKey>, report: &mut Report) -> Self {
        let mut this = Self {
            set,
            by_route: HashMap::new(),
            invalid: BTreeSet::new(),
            ours,
        };
        for (key, ro) in &set.route_options {
            let problem = invalid::option_object(set, key, ro.as_ref());
            if problem.is_some() {
                this.invalid.insert(key);
            }
            report.register(RouteOption::KIND, key, ro.as_ref(), problem);
            for (i, t) in ro.targets().iter().enumerate() {
                let route_key = ObjectKey::new(&key.namespace, t.name);
                if !t.names_kind::<RouteOption>() {
                    // Invalid, and said so; reported to the target as written.
                    let written = Ancestor::new(t.group, t.kind, &route_key, None);
                    report.named(RouteOption::KIND, key, &written);
                    continue;
                }
                let ancestor = Ancestor::route(&route_key);
                match set.http_routes.get_key_value(&route_key) {
                    None => report.not_found(
                        RouteOption::KIND,
                        key,
                        &ancestor,
                        format!("spec.targetRefs[{i}]: HTTPRoute {route_key} does not exist"),
                    ),
                    Some((rk, _)) => {
                        if this.ours.contains(rk) {
                            report.named(RouteOption::KIND, key, &ancestor);
                        }
                        if !this.invalid.contains(key) {
                            this.by_route
                                .entry(rk.namespace.as_str())
                                .or_default()
                                .entry(rk.name.as_str())
                                .or_default()
                                .push(key);
                        }
                    }
                }
            }
        }
        for (key, dr) in &set.direct_responses {
            report.register(DIRECT_RESPONSE, key, dr.as_ref(), None);
        }
        this
    }

    /// Whether no policy applies to route `key` (translated as `ir`): then `apply` changes
    /// nothing and reports nothing.
    pub fn applies_to_none(&self, key: &ObjectKey, ir: &HttpRouteIr) -> bool {
        self.targeting(key).is_empty() && ir.rules.iter().all(|r| r.extension_refs.is_empty())
    }

    /// Resolve the policies of every rule of one route, in place.
    pub fn apply(
        &self,
        key: &ObjectKey,
        route: &HttpRoute,
        ir: &mut HttpRouteIr,
        report: &mut Report,
    ) {
        if self.applies_to_none(key, ir) {
            return;
        }
        let targeting = self.targeting(key);
        let ancestor = Ancestor::route(key);
        let mut sink = Sink {
            report: self.ours.contains(key).then_some(report),
            ancestor: &ancestor,
        };
        let spec_rules = route.spec.rules.as_deref().unwrap_or(&[]);
        let multiple = ir.rules.len() > 1;
        for rule in &mut ir.rules {
            let place = if multiple {
                format!("rule {}", rule.index)
            } else {
                String::new()
            };
            let has_backends = spec_rules
                .get(rule.index)
                .and_then(|r| r.backend_refs.as_ref())
                .is_some_and(|b| !b.is_empty());
            let mut fail = false;
            let candidates = self.candidates(key, rule, targeting, &mut sink, &mut |p| {
                ir.resolved_refs.get_or_insert(p);
                fail = true;
            });
            let direct = self.direct_response(
                key,
                rule,
                has_backends,
                &mut sink,
                &mut ir.resolved_refs,
                &mut ir.rules_problem,
            );
            match direct {
                Err(()) => fail = true,
                Ok(Some(d)) => rule.action = RuleAction::Direct(d),
                Ok(None) => {}
            }
            if fail {
                rule.action = RuleAction::Direct(DirectIr::internal_error());
            }
            if candidates.is_empty() {
                continue;
            }
            let mut combined = Combined::new(candidates, Combine::ShallowMerge, TIERS);
            filters_win(&mut combined, rule);
            for (c, outcome) in combined.outcomes() {
                sink.outcome(RouteOption::KIND, &c.rank.key, &place, &outcome);
            }
            rule.options = combined
                .effective
                .filter(|o| *o != RouteOptions::default())
                .map(Box::new);
        }
    }

    /// The valid RouteOptions whose targetRefs name route `key`.
    fn targeting(&self, key: &ObjectKey) -> &[&'a ObjectKey] {
        self.by_route
            .get(key.namespace.as_str())
            .and_then(|m| m.get(key.name.as_str()))
            .map_or(&[], Vec::as_slice)
    }

    /// The effective RouteOptions of a rule served by delegation: `chain` runs from the route
    /// attached to the Gateway down to the delegatee whose rule is served (its last level).
    /// Every level's RouteOptions compete in one shallow merge, a parent's before its
    /// delegatees' (so the parent wins a field both set), except for the fields a parent's
    /// [`Overrides`] lets its delegatees take. Outcomes are reported to each RouteOption on the
    /// route it attaches to.
    pub fn delegated(&self, chain: &[Level<'_>], report: &mut Report) -> Option<Box<RouteOptions>> {
        let last = chain.last()?;
        let mut candidates = Vec::new();
        let mut tiers = Vec::new();
        let quiet_ancestor = Ancestor::route(last.key);
        let mut quiet = Sink {
            report: None,
            ancestor: &quiet_ancestor,
        };
        for (level, l) in chain.iter().enumerate() {
            let whose = if level + 1 == chain.len() {
                format!("HTTPRoute {}", l.key)
            } else {
                format!("the delegating HTTPRoute {}", l.key)
            };
            tiers.extend(TIERS.iter().map(|t| format!("{t} of {whose}")));
            let targeting = self.targeting(l.key);
            for mut c in self.candidates(l.key, l.rule, targeting, &mut quiet, &mut |_| {}) {
                c.rank.tier += (TIERS.len() * level) as u8;
                candidates.push(c);
            }
        }
        if candidates.is_empty() {
            return None;
        }
        let level_of = |r: &Rank| usize::from(r.tier) / TIERS.len();
        let allowed: Vec<Overrides> = chain.iter().map(|l| Overrides::of(l.route)).collect();
        let names: Vec<&str> = tiers.iter().map(String::as_str).collect();
        let mut combined = Combined::with_overrides(
            candidates,
            Combine::ShallowMerge,
            &names,
            |holder, challenger, field| {
                let h = level_of(holder);
                (level_of(challenger) > h && allowed[h].allows(field)).then(|| {
                    format!(
                        "HTTPRoute {} lets its delegatees override it with {OVERRIDES}",
                        chain[h].key
                    )
                })
            },
        );
        filters_win(&mut combined, last.rule);
        for (c, outcome) in combined.outcomes() {
            let l = &chain[level_of(&c.rank)];
            if self.ours.contains(l.key) {
                let place = format!("rule {}", l.rule.index);
                let ancestor = Ancestor::route(l.key);
                report.outcome(RouteOption::KIND, &c.rank.key, &ancestor, &place, &outcome);
            }
        }
        combined
            .effective
            .filter(|o| *o != RouteOptions::default())
            .map(Box::new)
    }

    /// The RouteOptions competing for one rule: its ExtensionRef filters, then the targetRefs
    /// naming its route. A filter naming a RouteOption that does not exist is reported to
    /// `missing`.
    fn candidates(
        &self,
        route: &ObjectKey,
        rule: &HttpRuleIr,
        targeting: &[&'a ObjectKey],
        sink: &mut Sink<'_, '_>,
        missing: &mut dyn FnMut(Problem),
    ) -> Vec<Candidate<'a, RouteOptions>> {
        let mut out = Vec::new();
        for e in &rule.extension_refs {
            if e.kind != ExtensionKind::RouteOption {
                continue;
            }
            let ro_key = ObjectKey::new(&route.namespace, &e.name);
            let Some((k, ro)) = self.set.route_options.get_key_value(&ro_key) else {
                missing(Problem::new(
                    reason::BACKEND_NOT_FOUND,
                    format!(
                        "spec.rules[{}].filters[{}].extensionRef: RouteOption {ro_key} does not \
                         exist, so the rule answers 500",
                        rule.index, e.position
                    ),
                ));
                continue;
            };
            sink.named(RouteOption::KIND, k);
            if !self.invalid.contains(k) {
                out.push(Candidate {
                    kind: RouteOption::KIND,
                    rank: Rank {
                        tier: 0,
                        position: e.position,
                        created: None,
                        key: k.clone(),
                    },
                    options: ro.options(),
                });
            }
        }
        for k in targeting {
            let ro = &self.set.route_options[*k];
            out.push(Candidate {
                kind: RouteOption::KIND,
                rank: Rank {
                    tier: 1,
                    position: 0,
                    created: ro.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    key: (*k).clone(),
                },
                options: ro.options(),
            });
        }
        out
    }

    /// The DirectResponse a rule answers with: `Ok(None)` when it names none, `Err(())` when
    /// the rule must answer 500 instead (a missing one, several, or one beside backendRefs or
    /// a redirect), with the route's conditions set accordingly.
    fn direct_response(
        &self,
        route: &ObjectKey,
        rule: &HttpRuleIr,
        has_backends: bool,
        sink: &mut Sink<'_, '_>,
        resolved_refs: &mut Option<Problem>,
        rules_problem: &mut Option<Problem>,
    ) -> Result<Option<DirectIr>, ()> {
        let refs: Vec<_> = rule
            .extension_refs
            .iter()
            .filter(|e| e.kind == ExtensionKind::DirectResponse)
            .collect();
        if refs.is_empty() {
            return Ok(None);
        }
        let mut found = Vec::new();
        let mut missing = false;
        for e in &refs {
            let dr_key = ObjectKey::new(&route.namespace, &e.name);
            match self.set.direct_responses.get_key_value(&dr_key) {
                Some((k, dr)) => {
                    sink.named(DIRECT_RESPONSE, k);
                    found.push((k, dr));
                }
                None => {
                    missing = true;
                    resolved_refs.get_or_insert(Problem::new(
                        reason::BACKEND_NOT_FOUND,
                        format!(
                            "spec.rules[{}].filters[{}].extensionRef: DirectResponse {dr_key} \
                             does not exist, so the rule answers 500",
                            rule.index, e.position
                        ),
                    ));
                }
            }
        }
        let conflict = if refs.len() > 1 {
            Some(format!(
                "spec.rules[{}].filters: a rule can name one DirectResponse, this one names {}, \
                 so it answers 500",
                rule.index,
                refs.len()
            ))
        } else if has_backends || matches!(rule.action, RuleAction::Redirect(_)) {
            let other = if has_backends {
                "backendRefs"
            } else {
                "a RequestRedirect filter"
            };
            Some(format!(
                "spec.rules[{}]: a DirectResponse cannot be combined with {other}, so the rule \
                 answers 500",
                rule.index
            ))
        } else {
            None
        };
        if let Some(why) = conflict {
            for (k, _) in &found {
                sink.conflicted(DIRECT_RESPONSE, k, why.clone());
            }
            match rules_problem {
                Some(p) => p.message = format!("{}; {why}", p.message),
                None => *rules_problem = Some(Problem::new(reason::INCOMPATIBLE_FILTERS, why)),
            }
            return Err(());
        }
        if missing {
            return Err(());
        }
        let (k, dr) = found[0];
        sink.applied(DIRECT_RESPONSE, k);
        Ok(Some(DirectIr {
            status: dr.spec.status,
            body: dr.spec.body.clone(),
        }))
    }
}

/// One route of a delegation chain and its rule the traffic goes through.
pub(crate) struct Level<'r> {
    pub key: &'r ObjectKey,
    pub route: &'r HttpRoute,
    pub rule: &'r HttpRuleIr,
}

/// Report calls for one route, made only when the route is ours.
struct Sink<'r, 'a> {
    report: Option<&'r mut Report>,
    ancestor: &'a Ancestor,
}

impl Sink<'_, '_> {
    fn named(&mut self, kind: &'static str, key: &ObjectKey) {
        if let Some(r) = self.report.as_deref_mut() {
            r.named(kind, key, self.ancestor);
        }
    }

    fn conflicted(&mut self, kind: &'static str, key: &ObjectKey, why: String) {
        if let Some(r) = self.report.as_deref_mut() {
            r.conflicted(kind, key, self.ancestor, why);
        }
    }

    fn applied(&mut self, kind: &'static str, key: &ObjectKey) {
        if let Some(r) = self.report.as_deref_mut() {
            r.applied(kind, key, self.ancestor);
        }
    }

    fn outcome(
        &mut self,
        kind: &'static str,
        key: &ObjectKey,
        place: &str,
        outcome: &super::rank::Outcome<'_>,
    ) {
        if let Some(r) = self.report.as_deref_mut() {
            r.outcome(kind, key, self.ancestor, place, outcome);
        }
    }
}

/// The rule's own Gateway API settings win over RouteOption fields that do the same thing,
/// and forwarding fields do nothing on a rule that does not forward.
fn filters_win(combined: &mut Combined<'_, RouteOptions>, rule: &HttpRuleIr) {
    let why = |what: &str| format!("is overridden by the rule's {what} {FILTER_WINS}");
    if rule.rewrite.path.is_some() {
        let w = why("URLRewrite filter (path)");
        combined.override_field("prefixRewrite", None, &w, |o| {
            o.prefix_rewrite.take().is_some()
        });
        combined.override_field("regexRewrite", None, &w, |o| {
            o.regex_rewrite.take().is_some()
        });
    }
    if rule.rewrite.hostname.is_some() {
        let w = why("URLRewrite filter (hostname)");
        combined.override_field("hostRewrite", None, &w, |o| o.host_rewrite.take().is_some());
        combined.override_field("autoHostRewrite", None, &w, |o| {
            o.auto_host_rewrite.take().is_some()
        });
    }
    if !rule.request_headers.is_empty() {
        let w = why("RequestHeaderModifier filter");
        combined.override_field("headerManipulation", Some("requestHeadersTo*"), &w, |o| {
            header_part(o, |h| {
                h.request_headers_to_add.take().is_some()
                    | h.request_headers_to_remove.take().is_some()
            })
        });
    }
    if !rule.response_headers.is_empty() {
        let w = why("ResponseHeaderModifier filter");
        combined.override_field("headerManipulation", Some("responseHeadersTo*"), &w, |o| {
            header_part(o, |h| {
                h.response_headers_to_add.take().is_some()
                    | h.response_headers_to_remove.take().is_some()
            })
        });
    }
    if rule.request_timeout_ms.is_some() {
        let w = why("timeouts.request");
        combined.override_field("timeout", None, &w, |o| o.timeout.take().is_some());
    }
    if rule.backend_timeout_ms.is_some() {
        let w = why("timeouts.backendRequest");
        combined.override_field("retries", Some("perTryTimeout"), &w, |o| {
            o.retries
                .as_mut()
                .is_some_and(|r| r.per_try_timeout.take().is_some())
        });
    }
    let answer = match rule.action {
        RuleAction::Forward { .. } => return,
        RuleAction::Redirect(_) => "has no effect: the rule answers with a redirect",
        RuleAction::Direct(_) => "has no effect: the rule answers directly without forwarding",
    };
    for field in FORWARDING_FIELDS {
        combined.override_field(field, None, answer, |o| remove_field(o, field));
    }
}

/// Take part of `headerManipulation` away; the field goes when nothing of it is left.
fn header_part(
    o: &mut RouteOptions,
    take: impl FnOnce(&mut crate::api::k8sgateway::headers::HeaderManipulation) -> bool,
) -> bool {
    let Some(h) = o.header_manipulation.as_mut() else {
        return false;
    };
    let taken = take(h);
    if *h == Default::default() {
        o.header_manipulation = None;
    }
    taken
}

/// Remove one of [`FORWARDING_FIELDS`] by name.
fn remove_field(o: &mut RouteOptions, field: &str) -> bool {
    match field {
        "prefixRewrite" => o.prefix_rewrite.take().is_some(),
        "regexRewrite" => o.regex_rewrite.take().is_some(),
        "timeout" => o.timeout.take().is_some(),
        "idleTimeout" => o.idle_timeout.take().is_some(),
        "maxStreamDuration" => o.max_stream_duration.take().is_some(),
        "retries" => o.retries.take().is_some(),
        "hostRewrite" => o.host_rewrite.take().is_some(),
        "autoHostRewrite" => o.auto_host_rewrite.take().is_some(),
        "appendXForwardedHost" => o.append_x_forwarded_host.take().is_some(),
        "lbHash" => o.lb_hash.take().is_some(),
        "upgrades" => o.upgrades.take().is_some(),
        _ => false,
    }
}

/// Whether a route has a parentRef to a Gateway this controller manages.
pub(crate) fn names_our_gateway(
    key: &ObjectKey,
    route: &HttpRoute,
    gateways: &BTreeMap<ObjectKey, usize>,
) -> bool {
    route.spec.parent_refs.iter().flatten().any(|p| {
        p.group.as_deref().unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP
            && p.kind.as_deref().unwrap_or("Gateway") == "Gateway"
            && gateways.contains_key(&(
                p.namespace.as_deref().unwrap_or(&key.namespace),
                p.name.as_str(),
            ) as &dyn KeyParts)
    })
}
