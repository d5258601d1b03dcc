//! Gateway-level policies (VirtualHostOption, ListenerOption, HttpListenerOption): which apply
//! to each listener of each Gateway, through one generic resolution per kind.

use std::collections::BTreeMap;

use super::OptionKind;
use super::invalid;
use super::rank::{Candidate, Combined, Rank};
use super::status::{Ancestor, Report};
use crate::api::k8sgateway::{HttpListenerOptions, ListenerOptions, VirtualHostOptions};
use crate::model::{ObjectKey, ResourceSet};
use crate::translate::gateways::GatewayIr;

/// How Gateway-level policy candidates rank.
const TIERS: &[&str] = &[
    "a targetRef with sectionName",
    "a targetRef to the whole Gateway",
];

/// The effective Gateway-level options of one Gateway listener.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListenerPolicies {
    /// Applied to every virtual host the listener owns.
    pub virtual_host: Option<VirtualHostOptions>,
    /// For the listener builder (`envoy::listener`); not translated to Envoy yet.
    pub listener: Option<ListenerOptions>,
    /// For the HTTP connection manager builder (`envoy::listener`); not translated to Envoy
    /// yet.
    pub http_listener: Option<HttpListenerOptions>,
}

/// The effective options of every listener of one Gateway, by listener index.
#[derive(Clone, Debug, Default)]
pub(crate) struct GatewayPolicies {
    pub listeners: Vec<ListenerPolicies>,
}

/// Resolve the three Gateway-level kinds for every Gateway (`gateways`, indexed by `index`).
pub(crate) fn resolve(
    set: &ResourceSet,
    gateways: &[GatewayIr],
    index: &BTreeMap<ObjectKey, usize>,
    report: &mut Report,
) -> Vec<GatewayPolicies> {
    let mut out: Vec<GatewayPolicies> = gateways
        .iter()
        .map(|g| GatewayPolicies {
            listeners: vec![ListenerPolicies::default(); g.listeners.len()],
        })
        .collect();
    let mut r = Resolver {
        set,
        gateways,
        index,
        report,
        out: &mut out,
    };
    r.kind::<crate::api::VirtualHostOption>(|l| &mut l.virtual_host);
    r.kind::<crate::api::ListenerOption>(|l| &mut l.listener);
    r.kind::<crate::api::HttpListenerOption>(|l| &mut l.http_listener);
    out
}

struct Resolver<'a, 'r> {
    set: &'a ResourceSet,
    gateways: &'a [GatewayIr],
    index: &'a BTreeMap<ObjectKey, usize>,
    report: &'r mut Report,
    out: &'r mut Vec<GatewayPolicies>,
}

impl<'a> Resolver<'a, '_> {
    fn kind<K: OptionKind>(
        &mut self,
        slot: impl Fn(&mut ListenerPolicies) -> &mut Option<K::Options>,
    ) {
        // Candidates per (Gateway, listener).
        let mut competitions: BTreeMap<(usize, usize), Vec<Candidate<'a, K::Options>>> =
            BTreeMap::new();
        for (key, obj) in K::store(self.set) {
            let problem = invalid::option_object(self.set, key, obj.as_ref());
            let valid = problem.is_none();
            let caveat = (!K::TRANSLATED)
                .then_some("this version of gatesim does not translate its options to Envoy yet");
            self.report
                .register(K::KIND, key, obj.as_ref(), problem, caveat);
            let created = obj.meta().creation_timestamp.as_ref().map(|t| t.0);
            for (i, t) in obj.targets().iter().enumerate() {
                let gw_key = ObjectKey::new(&key.namespace, t.name);
                if !t.names_kind::<K>() {
                    // Invalid, and said so; reported to the target as written.
                    let written = Ancestor::new(t.group, t.kind, &gw_key, t.section_name);
                    self.report.named(K::KIND, key, &written);
                    continue;
                }
                let ancestor = Ancestor::gateway(&gw_key, t.section_name);
                let Some(&g) = self.index.get(&gw_key) else {
                    // A Gateway of another controller is none of our business.
                    if !self.set.gateways.contains_key(&gw_key) {
                        self.report.not_found(
                            K::KIND,
                            key,
                            &ancestor,
                            format!("spec.targetRefs[{i}]: Gateway {gw_key} does not exist"),
                        );
                    }
                    continue;
                };
                let gw = &self.gateways[g];
                let listeners: Vec<usize> = match t.section_name {
                    Some(s) => gw
                        .listeners
                        .iter()
                        .position(|l| l.name == s)
                        .into_iter()
                        .collect(),
                    None => (0..gw.listeners.len()).collect(),
                };
                if let (Some(s), true) = (t.section_name, listeners.is_empty()) {
                    self.report.not_found(
                        K::KIND,
                        key,
                        &ancestor,
                        format!("spec.targetRefs[{i}]: Gateway {gw_key} has no listener named {s}"),
                    );
                    continue;
                }
                self.report.named(K::KIND, key, &ancestor);
                if !valid {
                    continue;
                }
                for l in listeners {
                    competitions.entry((g, l)).or_default().push(Candidate {
                        kind: K::KIND,
                        rank: Rank {
                            tier: u8::from(t.section_name.is_none()),
                            position: 0,
                            created,
                            key: key.clone(),
                        },
                        options: obj.options(),
                    });
                }
            }
        }
        for ((g, l), candidates) in competitions {
            let gw = &self.gateways[g];
            let listener = &gw.listeners[l].name;
            let combined = Combined::new(candidates, K::COMBINE, TIERS);
            for (c, outcome) in combined.outcomes() {
                let whole = c.rank.tier == 1;
                let ancestor = Ancestor::gateway(&gw.key, (!whole).then_some(listener.as_str()));
                let place = if whole {
                    format!("listener {listener}")
                } else {
                    String::new()
                };
                self.report
                    .outcome(K::KIND, &c.rank.key, &ancestor, &place, &outcome);
            }
            *slot(&mut self.out[g].listeners[l]) = combined.effective;
        }
    }
}
