//! The properties every generated case must have, each checked on its own.
//!
//! The in-process ones take the translator as a parameter, so that a test can wrap the real
//! one with a planted bug and show that the properties notice.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use envoy_types::pb::envoy::config::route::v3::{route, route_action};
use gatesim_generate::{Corruption, World};
use gatesim_reference::model::ResourceSet;
use gatesim_reference::translate::{StatusPatch, Translation};

use super::cluster;
use super::contained;
use super::status;
use crate::oracle::{self, Model};

/// A translator: the real `translate`, or a test's wrapper around it.
pub type Translate<'a> = &'a (dyn Fn(&ResourceSet) -> Translation + Sync);

/// The properties, by the name regression scenarios carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Property {
    /// Translation returns, whatever the input.
    NoPanic,
    /// The same input gives the same output.
    Deterministic,
    /// The order objects arrive in, and the order of lists whose order carries no meaning,
    /// change nothing.
    OrderIndependent,
    /// Gateway, listener and route status are what the oracle allows.
    StatusMatchesOracle,
    /// Envoy accepts every configuration (`envoy --mode validate`).
    EnvoyAccepts,
    /// No route sends to a Service in another namespace without a ReferenceGrant.
    NoCrossNamespaceWithoutGrant,
    /// A virtual host only holds routes attached to the listener that owns its hostname.
    ListenerIsolation,
    /// One field of one object set to a value the API or Envoy forbids is refused by field,
    /// and everything else is configured and reported exactly as without that object.
    InvalidValueContained,
    /// Live: every request gets the response and backend the oracle predicts (0 NACKs on the
    /// way, or the barrier fails).
    RoutingMatchesOracle,
    /// Live: deleting the grants removes the traffic they allowed.
    GrantRevocation,
}

impl Property {
    pub const IN_PROCESS: [Property; 8] = [
        Property::NoPanic,
        Property::Deterministic,
        Property::OrderIndependent,
        Property::StatusMatchesOracle,
        Property::EnvoyAccepts,
        Property::NoCrossNamespaceWithoutGrant,
        Property::ListenerIsolation,
        Property::InvalidValueContained,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Property::NoPanic => "no-panic",
            Property::Deterministic => "deterministic",
            Property::OrderIndependent => "order-independent",
            Property::StatusMatchesOracle => "status-matches-oracle",
            Property::EnvoyAccepts => "envoy-accepts",
            Property::NoCrossNamespaceWithoutGrant => "no-cross-namespace-without-grant",
            Property::ListenerIsolation => "listener-isolation",
            Property::InvalidValueContained => "invalid-value-contained",
            Property::RoutingMatchesOracle => "routing-matches-oracle",
            Property::GrantRevocation => "grant-revocation",
        }
    }

    pub fn from_name(name: &str) -> Option<Property> {
        Property::IN_PROCESS
            .into_iter()
            .chain([Property::RoutingMatchesOracle, Property::GrantRevocation])
            .find(|p| p.name() == name)
    }
}

/// A world translated once, for the in-process properties to inspect.
pub struct Translated<'w> {
    pub world: &'w World,
    /// The invalid value `invalid-value-contained` tries on the world.
    pub corruption: Option<Corruption>,
    pub set: ResourceSet,
    pub translation: Translation,
}

pub(super) fn translate_guarded(
    translate: Translate<'_>,
    set: &ResourceSet,
) -> Result<Translation, String> {
    catch_unwind(AssertUnwindSafe(|| translate(set))).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "(no message)".to_owned());
        format!("translate panicked: {message}")
    })
}

/// Builds the world's input and translates it; a panic is the `no-panic` failure.
pub fn translate_world<'w>(
    translate: Translate<'_>,
    world: &'w World,
    corruption: Option<Corruption>,
) -> Result<Translated<'w>, (Property, String)> {
    let set = cluster::world_set(world).map_err(|e| (Property::NoPanic, e))?;
    let translation = translate_guarded(translate, &set).map_err(|e| (Property::NoPanic, e))?;
    Ok(Translated {
        world,
        corruption,
        set,
        translation,
    })
}

/// Checks one in-process property (`NoPanic` holds once `translate_world` returned).
pub fn check(
    property: Property,
    translate: Translate<'_>,
    t: &Translated<'_>,
    envoy: Option<&Path>,
) -> Result<(), String> {
    match property {
        Property::NoPanic => Ok(()),
        Property::Deterministic => {
            let again = translate_guarded(translate, &t.set)?;
            let rebuilt = translate_guarded(translate, &cluster::world_set(t.world)?)?;
            if again != t.translation || rebuilt != t.translation {
                return Err("two translations of the same input differ".to_owned());
            }
            Ok(())
        }
        Property::OrderIndependent => order_independent(translate, t),
        Property::StatusMatchesOracle => {
            let problems = status::compare(&t.translation, &Model::new(t.world).status());
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("\n"))
            }
        }
        Property::EnvoyAccepts => {
            let Some(envoy) = envoy else {
                return Err("no Envoy to validate with".to_owned());
            };
            for (gw, proxy) in &t.translation.proxies {
                gatesim_reference::infra::validate::validate_proxy(envoy, proxy)
                    .map_err(|e| format!("Envoy rejects the configuration of Gateway {gw}: {e}"))?;
            }
            Ok(())
        }
        Property::NoCrossNamespaceWithoutGrant => no_cross_namespace(t),
        Property::ListenerIsolation => listener_isolation(t),
        Property::InvalidValueContained => contained::check(translate, t, envoy),
        Property::RoutingMatchesOracle | Property::GrantRevocation => Err(format!(
            "{} is checked live, not in process",
            property.name()
        )),
    }
}

/// The same world with every order that carries no meaning reversed, inserted in reverse.
fn order_independent(translate: Translate<'_>, t: &Translated<'_>) -> Result<(), String> {
    let mut shuffled = t.world.clone();
    for r in &mut shuffled.routes {
        r.hostnames.reverse();
        r.parents.reverse();
    }
    for g in &mut shuffled.grants {
        g.from.reverse();
        g.to.reverse();
    }
    let mut objects = cluster::objects(&shuffled)?;
    objects.reverse();
    let other = translate_guarded(translate, &cluster::resource_set(objects)?)?;
    if other.proxies != t.translation.proxies {
        return Err("reordering the input changes the proxy configuration".to_owned());
    }
    if normalized(&other) != normalized(&t.translation) {
        return Err("reordering the input changes the status".to_owned());
    }
    Ok(())
}

/// Statuses with each route's parent entries sorted (their order follows the parentRefs).
fn normalized(t: &Translation) -> Vec<String> {
    t.statuses
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if let StatusPatch::RouteParents { parents, .. } = &mut s.patch {
                std::sync::Arc::make_mut(parents).sort_by_key(|p| p.to_string());
            }
            serde_json::to_string(&s).unwrap_or_default()
        })
        .collect()
}

/// Every (Envoy route name, cluster name) of a Gateway's configuration, by route
/// configuration and virtual host domain.
fn route_clusters(t: &Translated<'_>) -> Vec<(String, String, String, String, Vec<String>)> {
    let mut out = Vec::new();
    for (gw, proxy) in &t.translation.proxies {
        for rc in &proxy.routes {
            for vh in &rc.virtual_hosts {
                for r in &vh.routes {
                    let clusters = match &r.action {
                        Some(route::Action::Route(a)) => match &a.cluster_specifier {
                            Some(route_action::ClusterSpecifier::Cluster(c)) => vec![c.clone()],
                            Some(route_action::ClusterSpecifier::WeightedClusters(w)) => {
                                w.clusters.iter().map(|c| c.name.clone()).collect()
                            }
                            _ => Vec::new(),
                        },
                        _ => Vec::new(),
                    };
                    for d in &vh.domains {
                        out.push((
                            gw.to_string(),
                            rc.name.clone(),
                            d.clone(),
                            r.name.clone(),
                            clusters.clone(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// `httproute/<namespace>/<name>/rule/..` (docs/xds-names.md) to (namespace, name).
fn route_key(name: &str) -> Option<(&str, &str)> {
    let mut parts = name.split('/');
    (parts.next()? == "httproute").then_some(())?;
    Some((parts.next()?, parts.next()?))
}

fn no_cross_namespace(t: &Translated<'_>) -> Result<(), String> {
    for (gw, _, _, route_name, clusters) in route_clusters(t) {
        let Some((route_ns, _)) = route_key(&route_name) else {
            continue;
        };
        for c in clusters {
            // `kube/<namespace>/<service>/<port>`
            let parts: Vec<&str> = c.split('/').collect();
            let [_, svc_ns, svc, _] = parts.as_slice() else {
                return Err(format!("cluster {c} does not follow docs/xds-names.md"));
            };
            if !oracle::granted(t.world, "HTTPRoute", route_ns, "Service", svc_ns, svc) {
                return Err(format!(
                    "Gateway {gw}: route {route_name} sends to Service {svc_ns}/{svc} without a \
                     ReferenceGrant"
                ));
            }
        }
    }
    Ok(())
}

fn listener_isolation(t: &Translated<'_>) -> Result<(), String> {
    let model = Model::new(t.world);
    let gateways: BTreeMap<String, usize> = t
        .world
        .gateways
        .iter()
        .enumerate()
        .map(|(i, g)| (format!("{}/{}", g.namespace, g.name), i))
        .collect();
    for (gw_key, rc, domain, route_name, _) in route_clusters(t) {
        let Some(&g) = gateways.get(&gw_key) else {
            continue;
        };
        let Some((ns, name)) = route_key(&route_name) else {
            continue;
        };
        let Some(r) = t
            .world
            .routes
            .iter()
            .position(|r| r.namespace == ns && r.name == name)
        else {
            return Err(format!("route {route_name} is not in the input"));
        };
        // `<namespace>/<gateway>/<port>[/<listener>]`
        let parts: Vec<&str> = rc.split('/').collect();
        let port: Option<u16> = parts.get(2).and_then(|p| p.parse().ok());
        let listeners = &t.world.gateways[g].listeners;
        let owner = match parts.get(3) {
            Some(listener) => listeners.iter().position(|l| l.name == *listener),
            None => (0..listeners.len())
                .filter(|&i| Some(listeners[i].port) == port && model.serves(g, i))
                .filter(|&i| {
                    listeners[i]
                        .hostname
                        .as_deref()
                        .is_none_or(|h| domain != "*" && oracle::host_matches(h, &domain))
                })
                .max_by_key(|&i| oracle::host_specificity(listeners[i].hostname.as_deref())),
        };
        let Some(owner) = owner else {
            return Err(format!(
                "Gateway {gw_key}: virtual host {domain} of {rc} belongs to no listener, yet \
                 serves route {route_name}"
            ));
        };
        if !model.attached(r, g, owner) {
            return Err(format!(
                "Gateway {gw_key}: route {route_name} answers for {domain} on {rc}, which \
                 belongs to listener {}, where the route is not attached",
                listeners[owner].name
            ));
        }
    }
    Ok(())
}
