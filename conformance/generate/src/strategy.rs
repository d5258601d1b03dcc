//! proptest strategies: valid-by-construction worlds, with deliberately invalid references
//! (missing backends, cross-namespace references without a grant, wrong kinds, conflicting
//! listeners, unknown sections) at a rate the caller controls.
//!
//! "Valid by construction" means every object would pass the CRD's schema and CEL rules: a
//! prefix rewrite only where every match is a prefix match, never a redirect and a rewrite in
//! one rule, one parentRef per Gateway, unique listener names. What is left invalid on purpose
//! are the references between objects, which only a controller can judge.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

use crate::corrupt::{self, CorruptionSeed};
use crate::model::*;
use crate::request::RequestSeed;
use crate::universe::{self, GATEWAY_GROUP};

/// How cases are generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Chance, in percent, that each reference or listener choice is a deliberately invalid one.
    pub invalid_percent: u32,
    pub max_routes: usize,
    pub max_requests: usize,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            invalid_percent: 15,
            max_routes: 4,
            max_requests: 12,
        }
    }
}

/// One generated case: a world, the requests sent to it, and which invalid value to try on it
/// (only the `invalid-value-contained` property applies it; the world itself stays valid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub world: World,
    pub requests: Vec<RequestSeed>,
    pub corruption: CorruptionSeed,
}

/// A choice between a valid and an invalid strategy at the configured rate.
fn either<T: std::fmt::Debug + Clone + 'static>(
    cfg: GenConfig,
    valid: BoxedStrategy<T>,
    invalid: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    let bad = cfg.invalid_percent.min(100);
    prop_oneof![100 - bad => valid, bad => invalid].boxed()
}

fn pick(values: &'static [&'static str]) -> BoxedStrategy<String> {
    select(values).prop_map(str::to_owned).boxed()
}

pub fn case(cfg: GenConfig) -> impl Strategy<Value = Case> {
    (
        world(cfg),
        vec(any::<RequestSeed>(), 1..=cfg.max_requests.max(1)),
        corrupt::seed(),
    )
        .prop_map(|(world, requests, corruption)| Case {
            world,
            requests,
            corruption,
        })
}

pub fn world(cfg: GenConfig) -> impl Strategy<Value = World> {
    let namespaces = universe::NAMESPACES
        .iter()
        .map(|ns| namespace(ns))
        .collect::<Vec<_>>();
    let gateways = universe::GATEWAYS
        .iter()
        .map(|(ns, name)| gateway(cfg, ns, name))
        .collect::<Vec<_>>();
    let routes = vec(route(cfg), 0..=cfg.max_routes).prop_map(|mut routes| {
        for (i, r) in routes.iter_mut().enumerate() {
            r.name = format!("r{i}");
        }
        routes
    });
    let grants = vec(grant(cfg), 0..=3).prop_map(|mut grants| {
        for (i, g) in grants.iter_mut().enumerate() {
            g.name = format!("g{i}");
        }
        grants
    });
    (namespaces, gateways, routes, grants).prop_map(|(namespaces, gateways, routes, grants)| {
        World {
            namespaces,
            gateways,
            routes,
            grants,
        }
    })
}

fn namespace(name: &'static str) -> impl Strategy<Value = Namespace> {
    (
        proptest::option::of(select(&["red", "blue"][..])),
        any::<bool>(),
    )
        .prop_map(move |(team, prod)| {
            let mut labels = BTreeMap::new();
            if let Some(t) = team {
                labels.insert("team".to_owned(), t.to_owned());
            }
            if prod {
                labels.insert("env".to_owned(), "prod".to_owned());
            }
            Namespace {
                name: name.to_owned(),
                labels,
            }
        })
}

fn gateway(cfg: GenConfig, namespace: &'static str, name: &'static str) -> BoxedStrategy<Gateway> {
    vec(listener(cfg, namespace), 1..=3)
        .prop_map(move |generated| {
            // The CRD admits each (port, protocol, hostname) once per Gateway: an API server
            // refuses a Gateway with two, so only protocol conflicts are generated.
            let mut listeners: Vec<Listener> = Vec::new();
            for l in generated {
                let repeated = listeners.iter().any(|k| {
                    k.port == l.port && k.protocol == l.protocol && k.hostname == l.hostname
                });
                if !repeated {
                    listeners.push(l);
                }
            }
            for (i, l) in listeners.iter_mut().enumerate() {
                l.name = format!("l{i}");
            }
            Gateway {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                listeners,
            }
        })
        .boxed()
}

fn listener(cfg: GenConfig, gateway_ns: &'static str) -> BoxedStrategy<Listener> {
    let port = select(&universe::PORTS[..]);
    // The protocol follows the port (443 is HTTPS) unless a conflict is wanted.
    let flip = either(cfg, Just(false).boxed(), Just(true).boxed());
    let hostname = proptest::option::weighted(0.55, pick(&universe::HOSTNAMES));
    let allowed = prop_oneof![
        2 => Just(AllowedNamespaces::Same),
        3 => Just(AllowedNamespaces::All),
        2 => select(&universe::LABELS[..]).prop_map(|(k, v)| {
            AllowedNamespaces::Selector(BTreeMap::from([(k.to_owned(), v.to_owned())]))
        }),
    ];
    let http_route = GroupKind {
        group: GATEWAY_GROUP.to_owned(),
        kind: "HTTPRoute".to_owned(),
    };
    let kinds = either(
        cfg,
        prop_oneof![3 => Just(None), 1 => Just(Some(vec![http_route.clone()]))].boxed(),
        // Route kinds that HTTP and HTTPS listeners can never serve.
        select(&["TLSRoute", "UDPRoute"][..])
            .prop_flat_map(move |bad| {
                let bad = GroupKind {
                    group: GATEWAY_GROUP.to_owned(),
                    kind: bad.to_owned(),
                };
                prop_oneof![
                    Just(Some(vec![bad.clone()])),
                    Just(Some(vec![http_route.clone(), bad])),
                ]
            })
            .boxed(),
    );
    let cert = |namespace: Option<&str>| ObjectRef {
        group: None,
        kind: None,
        namespace: namespace.map(str::to_owned),
        name: universe::CERT_NAME.to_owned(),
    };
    // Mostly the Gateway's own namespace; sometimes another, which needs a grant.
    let valid_cert = prop_oneof![
        4 => Just(vec![cert(None)]),
        1 => select(&universe::NAMESPACES[..])
            .prop_filter("another namespace", move |ns| *ns != gateway_ns)
            .prop_map(move |ns| vec![cert(Some(ns))]),
    ];
    let certificates = either(
        cfg,
        valid_cert.boxed(),
        // A Secret that does not exist (an empty list is refused by the CRD).
        Just(vec![ObjectRef {
            group: None,
            kind: None,
            namespace: None,
            name: "no-such-secret".to_owned(),
        }])
        .boxed(),
    );
    (port, flip, hostname, allowed, kinds, certificates)
        .prop_map(|(port, flip, hostname, allowed, kinds, certificates)| {
            let https = (port == 443) != flip;
            Listener {
                name: String::new(),
                port,
                protocol: if https {
                    Protocol::Https
                } else {
                    Protocol::Http
                },
                hostname,
                allowed,
                kinds,
                certificates: if https { certificates } else { Vec::new() },
            }
        })
        .boxed()
}

fn route(cfg: GenConfig) -> BoxedStrategy<Route> {
    let namespace = pick(&universe::NAMESPACES);
    let parents = subsequence(&universe::GATEWAYS[..], 1..=2);
    let parent_shape = vec(parent_shape(cfg), 2);
    let hostnames = prop_oneof![Just(Vec::new()), vec(pick(&universe::HOSTNAMES), 1..=2),]
        .prop_map(|mut h| {
            h.sort();
            h.dedup();
            h
        });
    let rules = vec(rule(cfg), 1..=3);
    (namespace, parents, parent_shape, hostnames, rules)
        .prop_map(|(namespace, gateways, shapes, hostnames, rules)| {
            let parents = gateways
                .iter()
                .zip(shapes)
                .map(|(&(gw_ns, gw_name), shape)| ParentRef {
                    namespace: (gw_ns != namespace || shape.explicit_namespace)
                        .then(|| gw_ns.to_owned()),
                    name: if shape.missing_gateway {
                        "gw-missing".to_owned()
                    } else {
                        gw_name.to_owned()
                    },
                    section: shape.section,
                    port: shape.port,
                })
                .collect();
            Route {
                namespace,
                name: String::new(),
                parents,
                hostnames,
                rules,
            }
        })
        .boxed()
}

#[derive(Clone, Debug)]
struct ParentShape {
    explicit_namespace: bool,
    missing_gateway: bool,
    section: Option<String>,
    port: Option<u16>,
}

fn parent_shape(cfg: GenConfig) -> BoxedStrategy<ParentShape> {
    let valid = (
        any::<bool>(),
        proptest::option::weighted(0.3, pick(&["l0", "l1"])),
        proptest::option::weighted(0.15, select(&universe::PORTS[..])),
    )
        .prop_map(|(explicit_namespace, section, port)| ParentShape {
            explicit_namespace,
            missing_gateway: false,
            section,
            port,
        })
        .boxed();
    let invalid = prop_oneof![
        Just(ParentShape {
            explicit_namespace: true,
            missing_gateway: true,
            section: None,
            port: None,
        }),
        // A listener that never exists (each Gateway has at most three).
        Just(ParentShape {
            explicit_namespace: false,
            missing_gateway: false,
            section: Some("l7".to_owned()),
            port: None,
        }),
    ]
    .boxed();
    either(cfg, valid, invalid)
}

fn value_match(names: &'static [&'static str]) -> BoxedStrategy<ValueMatch> {
    prop_oneof![
        3 => (pick(names), pick(&["1", "2"])).prop_map(|(name, value)| ValueMatch {
            name,
            value,
            regex: false,
        }),
        1 => (pick(names), pick(&["[12]", "2|3"])).prop_map(|(name, value)| ValueMatch {
            name,
            value,
            regex: true,
        }),
    ]
    .boxed()
}

fn path_match() -> BoxedStrategy<PathMatch> {
    prop_oneof![
        2 => pick(&["/", "/a", "/a/b", "/ab", "/b"]).prop_map(PathMatch::Exact),
        3 => pick(&["/", "/a", "/a/", "/a/b", "/ab", "/b"]).prop_map(PathMatch::Prefix),
        1 => pick(&["/a/[0-9]+", "/b.*"]).prop_map(PathMatch::Regex),
    ]
    .boxed()
}

fn matcher() -> BoxedStrategy<Match> {
    (
        proptest::option::weighted(0.8, path_match()),
        proptest::option::weighted(0.2, pick(&["GET", "POST"])),
        vec(value_match(&["x-v", "x-w"]), 0..=1),
        vec(value_match(&["q"]), 0..=1),
    )
        .prop_map(|(path, method, headers, query)| Match {
            path,
            method,
            headers,
            query,
        })
        .boxed()
}

fn header_mods(
    set: &'static str,
    add: &'static str,
    remove: &'static str,
) -> BoxedStrategy<HeaderMods> {
    (any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(move |(s, a, r)| HeaderMods {
            set: if s {
                vec![(set.to_owned(), "s1".to_owned())]
            } else {
                Vec::new()
            },
            add: if a {
                vec![(add.to_owned(), "a1".to_owned())]
            } else {
                Vec::new()
            },
            remove: if r {
                vec![remove.to_owned()]
            } else {
                Vec::new()
            },
        })
        .boxed()
}

fn path_modifier() -> BoxedStrategy<PathModifier> {
    prop_oneof![
        pick(&["/", "/new", "/new/"]).prop_map(PathModifier::Full),
        pick(&["/", "/p", "/p/q"]).prop_map(PathModifier::Prefix),
    ]
    .boxed()
}

/// The one filter of a rule that decides where a request goes, besides header changes.
#[derive(Clone, Debug)]
enum Action {
    Forward,
    Redirect(Redirect),
    Rewrite(Rewrite),
}

fn action() -> BoxedStrategy<Action> {
    let redirect = (
        proptest::option::weighted(0.3, pick(&["http", "https"])),
        proptest::option::weighted(0.4, pick(&["moved.fz.test"])),
        proptest::option::weighted(0.2, select(&[8080u16, 9443][..])),
        proptest::option::weighted(0.4, path_modifier()),
        proptest::option::weighted(0.5, select(&[301u16, 302][..])),
    )
        .prop_map(|(scheme, hostname, port, path, status)| {
            Action::Redirect(Redirect {
                scheme,
                hostname,
                port,
                path,
                status,
            })
        });
    let rewrite = (
        proptest::option::weighted(0.5, pick(&["rewritten.fz.test"])),
        proptest::option::weighted(0.7, path_modifier()),
    )
        .prop_map(|(hostname, path)| Action::Rewrite(Rewrite { hostname, path }));
    prop_oneof![6 => Just(Action::Forward), 1 => redirect, 2 => rewrite].boxed()
}

fn backend(cfg: GenConfig) -> BoxedStrategy<BackendRef> {
    let names: Vec<&'static str> = universe::BACKENDS.iter().map(|(n, _)| *n).collect();
    let valid = (
        select(names),
        proptest::option::weighted(0.3, pick(&universe::NAMESPACES)),
        proptest::option::weighted(0.5, 0u32..=3),
        proptest::option::weighted(0.1, header_mods("x-be", "x-be-add", "x-rm")),
    )
        .prop_map(|(name, namespace, weight, mods)| BackendRef {
            target: ObjectRef {
                group: None,
                kind: None,
                namespace,
                name: name.to_owned(),
            },
            port: Some(universe::BACKENDS[0].1),
            weight,
            filters: mods.into_iter().map(Filter::RequestHeaders).collect(),
        })
        .boxed();
    let invalid = prop_oneof![
        // No such Service.
        Just((None, None, "missing", Some(8080u16))),
        // A Service port that does not exist.
        Just((None, None, "echo-1", Some(8081))),
        // A kind no implementation resolves.
        Just((Some("example.com"), Some("Widget"), "echo-1", Some(8080))),
        Just((Some(""), Some("ConfigMap"), "echo-1", Some(8080))),
    ]
    .prop_map(|(group, kind, name, port)| BackendRef {
        target: ObjectRef {
            group: group.map(str::to_owned),
            kind: kind.map(str::to_owned),
            namespace: None,
            name: name.to_owned(),
        },
        port,
        weight: None,
        filters: Vec::new(),
    })
    .boxed();
    either(cfg, valid, invalid)
}

fn rule(cfg: GenConfig) -> BoxedStrategy<Rule> {
    (
        vec(matcher(), 0..=2),
        proptest::option::weighted(0.25, header_mods("x-set", "x-add", "x-rm")),
        proptest::option::weighted(0.15, header_mods("x-resp", "x-resp-add", "x-resp-rm")),
        action(),
        vec(backend(cfg), 0..=3),
    )
        .prop_map(|(matches, request, response, action, backends)| {
            let mut filters: Vec<Filter> = Vec::new();
            filters.extend(request.map(Filter::RequestHeaders));
            filters.extend(response.map(Filter::ResponseHeaders));
            // The CRD allows ReplacePrefixMatch only in a rule with exactly one match, a
            // prefix match (no match at all defaults to one, on `/`; so does a match without
            // a path).
            let one_prefix = matches.len() <= 1
                && matches
                    .iter()
                    .all(|m| matches!(m.path, None | Some(PathMatch::Prefix(_))));
            let fix = |p: Option<PathModifier>| match p {
                Some(PathModifier::Prefix(v)) if !one_prefix => Some(PathModifier::Full(v)),
                other => other,
            };
            let backends = match action {
                Action::Forward => backends,
                Action::Redirect(mut r) => {
                    r.path = fix(r.path);
                    filters.push(Filter::Redirect(r));
                    Vec::new()
                }
                Action::Rewrite(mut r) => {
                    r.path = fix(r.path);
                    filters.push(Filter::Rewrite(r));
                    backends
                }
            };
            Rule {
                matches,
                filters,
                backends,
            }
        })
        .boxed()
}

fn grant(cfg: GenConfig) -> BoxedStrategy<Grant> {
    let names: Vec<&'static str> = universe::BACKENDS.iter().map(|(n, _)| *n).collect();
    let to_service = proptest::option::weighted(0.4, select(names)).prop_map(|name| GrantTo {
        group: String::new(),
        kind: "Service".to_owned(),
        name: name.map(str::to_owned),
    });
    let to_secret = Just(GrantTo {
        group: String::new(),
        kind: "Secret".to_owned(),
        name: None,
    });
    let from_kind = either(
        cfg,
        pick(&["HTTPRoute", "Gateway"]),
        // A kind that never makes a reference of this world.
        pick(&["GRPCRoute"]),
    );
    (
        pick(&universe::NAMESPACES),
        pick(&universe::NAMESPACES),
        from_kind,
        prop_oneof![4 => to_service.boxed(), 1 => to_secret.boxed()],
    )
        .prop_map(|(namespace, from_ns, kind, to)| Grant {
            namespace,
            name: String::new(),
            from: vec![GrantFrom {
                group: GATEWAY_GROUP.to_owned(),
                kind,
                namespace: from_ns,
            }],
            to: vec![to],
        })
        .boxed()
}

/// Seeds select among the candidates a world offers (see [`crate::request`]); they stay
/// meaningful while the world shrinks.
impl Arbitrary for RequestSeed {
    type Parameters = ();
    type Strategy = BoxedStrategy<RequestSeed>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(route, target, host, path, method, extras)| RequestSeed {
                route,
                target,
                host,
                path,
                method,
                extras,
            })
            .boxed()
    }
}
