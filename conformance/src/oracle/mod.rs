//! An independent model of Gateway API semantics, for differential testing.
//!
//! Given a generated world and a request, it predicts the response class and the backend (or
//! the weighted set of backends), and for the world as a whole the Gateway, listener and route
//! status conditions. It is written from the specification (the API's field documentation and
//! the conformance suite's semantic rules) and deliberately shares no code with the reference
//! controller's translator: a bug has to be made twice, in two different shapes, to go
//! unnoticed.
//!
//! Where the specification allows several behaviours, the oracle says so instead of picking
//! one: a condition lists every admissible reason, `attachedRoutes` is a range, and a request
//! whose answer depends on an implementation-specific order is [`Expected::Unpredicted`].

mod attach;
mod hostnames;
mod refs;
mod routing;

use gatesim_generate::{GroupKind, HeaderMods, Request, World};

pub use attach::ListenerEval;
pub use hostnames::{matches as host_matches, specificity as host_specificity};
pub use refs::{ResolvedBackend, granted};

/// A condition as the specification allows it: its status, and the reasons it may carry
/// (empty: any reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    pub status: bool,
    pub reasons: Vec<&'static str>,
}

impl Cond {
    pub fn yes(reason: &'static str) -> Cond {
        Cond {
            status: true,
            reasons: vec![reason],
        }
    }

    pub fn no(reasons: Vec<&'static str>) -> Cond {
        Cond {
            status: false,
            reasons,
        }
    }

    /// Whether an observed condition satisfies this one.
    pub fn admits(&self, status: bool, reason: &str) -> bool {
        self.status == status && (self.reasons.is_empty() || self.reasons.contains(&reason))
    }

    /// The one reason to expect, when the specification leaves no choice.
    pub fn single_reason(&self) -> Option<&'static str> {
        match self.reasons.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

/// What the backend must have received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// The Host header, when a filter rewrote it.
    pub host: Option<String>,
    /// Path and query.
    pub path: String,
    /// Headers that must be present with these values.
    pub headers: Vec<(String, String)>,
    /// Headers that must be absent.
    pub absent: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// Backends with a weight above zero.
    pub backends: Vec<ResolvedBackend>,
    /// Total weight of invalid backendRefs: that share of requests gets a 500.
    pub invalid_weight: u32,
    pub request: SeenRequest,
    pub response_headers: HeaderMods,
}

impl Forward {
    /// The backend every request goes to, when there is exactly one and no 500 share.
    pub fn single(&self) -> Option<&ResolvedBackend> {
        match self.backends.as_slice() {
            [one] if self.invalid_weight == 0 => Some(one),
            _ => None,
        }
    }
}

/// The predicted answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// A status with no backend involved (404: no route; 500: no valid backend).
    Status(u16),
    Forward(Forward),
    Redirect {
        status: u16,
        scheme: String,
        host: String,
        /// `None`: the scheme's default port (a Location may name it or not).
        port: Option<u16>,
        path: String,
    },
    /// Outside what the specification decides, or what a probe can observe.
    Unpredicted(String),
}

/// Status the specification requires of one listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerStatus {
    pub name: String,
    pub accepted: bool,
    pub conflicted: Cond,
    pub resolved_refs: Cond,
    /// `attachedRoutes` lies in this range (the specification's two readings).
    pub attached_routes: (usize, usize),
    pub supported_kinds: Vec<GroupKind>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayStatus {
    pub namespace: String,
    pub name: String,
    pub accepted: bool,
    pub listeners: Vec<ListenerStatus>,
}

/// Status of one parentRef of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentStatus {
    /// Index of the parentRef in the route.
    pub parent: usize,
    pub gateway_namespace: String,
    pub gateway_name: String,
    pub accepted: Cond,
    pub resolved_refs: Cond,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteStatus {
    pub namespace: String,
    pub name: String,
    /// One entry per parentRef naming a Gateway of the world; none for others.
    pub parents: Vec<ParentStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldStatus {
    pub gateways: Vec<GatewayStatus>,
    pub routes: Vec<RouteStatus>,
}

/// A world evaluated once, to answer many requests.
pub struct Model<'a> {
    pub world: &'a World,
    listeners: Vec<Vec<ListenerEval>>,
    parents: Vec<Vec<attach::ParentOutcome>>,
}

impl<'a> Model<'a> {
    pub fn new(world: &'a World) -> Model<'a> {
        let listeners: Vec<Vec<ListenerEval>> = world
            .gateways
            .iter()
            .map(|g| attach::evaluate_gateway(world, g))
            .collect();
        let parents = world
            .routes
            .iter()
            .map(|r| attach::parents(world, &listeners, r))
            .collect();
        Model {
            world,
            listeners,
            parents,
        }
    }

    pub fn gateway_accepted(&self, gateway: usize) -> bool {
        attach::gateway_accepted(&self.listeners[gateway])
    }

    /// Whether the data plane serves listener `listener` of Gateway `gateway`.
    pub fn serves(&self, gateway: usize, listener: usize) -> bool {
        self.listeners[gateway][listener].serves()
    }

    pub fn predict(&self, request: &Request) -> Expected {
        routing::predict(self, request)
    }

    /// Whether route `route` is attached to listener `listener` of Gateway `gateway`.
    pub fn attached(&self, route: usize, gateway: usize, listener: usize) -> bool {
        self.parents[route]
            .iter()
            .any(|p| p.gateway == gateway && p.attached.contains(&listener))
    }

    pub fn status(&self) -> WorldStatus {
        let world = self.world;
        let gateways = world
            .gateways
            .iter()
            .enumerate()
            .map(|(g, gw)| {
                let listeners = gw
                    .listeners
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let eval = &self.listeners[g][i];
                        let count = |pick: fn(&attach::ParentOutcome) -> &Vec<usize>| {
                            self.parents
                                .iter()
                                .filter(|ps| {
                                    ps.iter().any(|p| p.gateway == g && pick(p).contains(&i))
                                })
                                .count()
                        };
                        let mut problems: Vec<&'static str> = Vec::new();
                        if eval.invalid_kinds {
                            problems.push("InvalidRouteKinds");
                        }
                        problems.extend(eval.certificate_problem);
                        ListenerStatus {
                            name: l.name.clone(),
                            accepted: eval.valid(),
                            conflicted: match eval.conflict {
                                Some(reason) => Cond::yes(reason),
                                None => Cond::no(vec!["NoConflicts"]),
                            },
                            resolved_refs: if problems.is_empty() {
                                Cond::yes("ResolvedRefs")
                            } else {
                                Cond::no(problems)
                            },
                            attached_routes: (count(|p| &p.attached), count(|p| &p.selected)),
                            supported_kinds: eval.kinds.clone(),
                        }
                    })
                    .collect();
                GatewayStatus {
                    namespace: gw.namespace.clone(),
                    name: gw.name.clone(),
                    accepted: self.gateway_accepted(g),
                    listeners,
                }
            })
            .collect();
        let routes = world
            .routes
            .iter()
            .zip(&self.parents)
            .map(|(route, outcomes)| {
                let resolved = refs::route_resolved_refs(world, route);
                RouteStatus {
                    namespace: route.namespace.clone(),
                    name: route.name.clone(),
                    parents: outcomes
                        .iter()
                        .map(|o| {
                            let gw = &world.gateways[o.gateway];
                            ParentStatus {
                                parent: o.parent,
                                gateway_namespace: gw.namespace.clone(),
                                gateway_name: gw.name.clone(),
                                accepted: match &o.accepted {
                                    Ok(()) => Cond::yes("Accepted"),
                                    Err(reasons) => Cond::no(reasons.clone()),
                                },
                                resolved_refs: resolved.clone(),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        WorldStatus { gateways, routes }
    }
}
