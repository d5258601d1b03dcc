//! Attaching routes to Gateway listeners, for every route kind.

use std::collections::BTreeMap;

use super::RouteInfo;
use crate::api::GATEWAY_GROUP;
use crate::model::{KeyParts, ObjectKey, ResourceSet};
use crate::translate::conditions::{Problem, reason};
use crate::translate::gateways::GatewayIr;
use crate::translate::hostnames;

/// A route attached to one listener, with the hostnames it serves there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attachment {
    pub listener: usize,
    pub hostnames: Vec<String>,
}

/// The outcome for one parentRef that names a Gateway of ours.
#[derive(Clone, Debug)]
pub(crate) struct ParentOutcome {
    pub parent: usize,
    pub gateway: usize,
    pub result: Result<Vec<Attachment>, Problem>,
}

/// What `attach` did to the listeners, again, for the route at `position` in this
/// translation's route order, whose outcomes are those of a previous translation.
pub(crate) fn replay(position: usize, outcomes: &[ParentOutcome], gateways: &mut [GatewayIr]) {
    for o in outcomes {
        if let Ok(attachments) = &o.result {
            for a in attachments {
                gateways[o.gateway].listeners[a.listener]
                    .attached_routes
                    .add(position);
            }
        }
    }
}

/// Resolve every parentRef of a route. `route_problem`, when set, is a reason the route as a
/// whole cannot be accepted: each of our parents reports it and nothing attaches.
/// Listener `attached_routes` are updated for the attachments made, the route counted by its
/// `position` in this translation's route order.
pub(crate) fn attach(
    set: &ResourceSet,
    position: usize,
    route: &RouteInfo,
    route_problem: Option<&Problem>,
    gateways: &mut [GatewayIr],
    index: &BTreeMap<ObjectKey, usize>,
) -> Vec<ParentOutcome> {
    let mut outcomes = Vec::new();
    for (i, pref) in route.parent_refs.iter().enumerate() {
        if pref.group() != GATEWAY_GROUP || pref.kind() != "Gateway" {
            continue;
        }
        let ns = pref.namespace.as_deref().unwrap_or(&route.key.namespace);
        let Some(&g) = index.get(&(ns, pref.name.as_str()) as &dyn KeyParts) else {
            continue;
        };
        let result = match route_problem {
            Some(p) => Err(p.clone()),
            None => attach_one(set, route, pref, &gateways[g]),
        };
        if let Ok(attachments) = &result {
            for a in attachments {
                gateways[g].listeners[a.listener]
                    .attached_routes
                    .add(position);
            }
        }
        outcomes.push(ParentOutcome {
            parent: i,
            gateway: g,
            result,
        });
    }
    outcomes
}

fn attach_one(
    set: &ResourceSet,
    route: &RouteInfo,
    pref: &super::ParentRefIr,
    gw: &GatewayIr,
) -> Result<Vec<Attachment>, Problem> {
    if let Err(p) = &gw.accepted {
        return Err(Problem::new(
            reason::PENDING,
            format!("Gateway {} is not accepted: {}", gw.key, p.message),
        ));
    }
    let candidates: Vec<usize> = gw
        .listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| pref.section_name.as_ref().is_none_or(|s| *s == l.name))
        .filter(|(_, l)| pref.port.is_none_or(|p| p == l.port))
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        let what = match (&pref.section_name, pref.port) {
            (Some(s), Some(p)) => format!("named {s} on port {p}"),
            (Some(s), None) => format!("named {s}"),
            (None, Some(p)) => format!("on port {p}"),
            (None, None) => "at all".to_string(),
        };
        return Err(Problem::new(
            reason::NO_MATCHING_PARENT,
            format!("Gateway {} has no listener {what}", gw.key),
        ));
    }
    let allowed: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| {
            let l = &gw.listeners[i];
            l.accepts_routes()
                && l.allows_kind(GATEWAY_GROUP, route.kind)
                && l.allows_namespace(set, &gw.key.namespace, &route.key.namespace)
        })
        .collect();
    if allowed.is_empty() {
        return Err(Problem::new(
            reason::NOT_ALLOWED_BY_LISTENERS,
            format!(
                "no listener of Gateway {} allows {} routes from namespace {}",
                gw.key, route.kind, route.key.namespace
            ),
        ));
    }
    let attachments: Vec<Attachment> = allowed
        .into_iter()
        .filter_map(|i| {
            let h = hostnames::intersect(gw.listeners[i].hostname.as_deref(), &route.hostnames);
            (!h.is_empty()).then_some(Attachment {
                listener: i,
                hostnames: h,
            })
        })
        .collect();
    if attachments.is_empty() {
        return Err(Problem::new(
            reason::NO_MATCHING_LISTENER_HOSTNAME,
            format!(
                "none of the route's hostnames matches a listener hostname of Gateway {}",
                gw.key
            ),
        ));
    }
    Ok(attachments)
}
