//! Live properties: generated cases run as scenarios on the `sim` target, through real Envoy
//! to real echo backends on loopback. One environment serves every case (the `fuzz` base
//! fixture is applied once, one Envoy per Gateway of the universe).
//!
//! Without Envoy the tests skip loudly, unless `GATESIM_REQUIRE_ALL=1`, where they fail.

mod fuzz_support;
mod sim_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use gatesim_conformance::fuzz::scenario::{self, Origin};
use gatesim_conformance::fuzz::{FuzzOptions, LiveSession, runner};
use gatesim_conformance::scenario::LoadOptions;
use gatesim_generate::*;
use gatesim_reference::translate::translate;

use fuzz_support::{SEED, assert_holds, cases};

/// Loopback network of this binary's environment (127.NETWORK.x.y), clear of the other
/// test binaries'.
const NETWORK: u8 = 57;

struct Shared {
    runtime: tokio::runtime::Runtime,
    session: LiveSession,
    /// Live cases share the universe's Gateways: one test at a time.
    turn: Mutex<()>,
}

fn shared() -> Option<&'static Shared> {
    static SHARED: OnceLock<Option<Shared>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("async runtime");
            let env = runtime.block_on(sim_support::environment_with(
                "fuzz_live",
                NETWORK,
                None,
                sim_support::settings(),
            ))?;
            let dir: PathBuf =
                std::env::temp_dir().join(format!("gatesim-fuzz-live-{}", std::process::id()));
            let session = LiveSession::new(Arc::new(env), dir, LoadOptions::default());
            Some(Shared {
                runtime,
                session,
                turn: Mutex::new(()),
            })
        })
        .as_ref()
}

#[test]
fn live_responses_and_status_match_the_oracle() {
    let Some(shared) = shared() else { return };
    let _turn = shared.turn.lock().unwrap_or_else(|e| e.into_inner());
    let cases = cases(8);
    let options = FuzzOptions {
        cases,
        seed: SEED,
        properties: Vec::new(),
        ..FuzzOptions::default()
    };
    let summary = runner::run(
        &options,
        &translate,
        None,
        Some((&shared.session, shared.runtime.handle())),
        &|p| {
            eprintln!(
                "{} live cases, {:.1}s",
                p.live_cases,
                p.elapsed.as_secs_f64()
            )
        },
    );
    assert_holds(&summary, cases);
    assert_eq!(summary.live_cases, cases);
}

fn listener(name: &str, port: u16, allowed: AllowedNamespaces) -> Listener {
    Listener {
        name: name.to_owned(),
        port,
        protocol: Protocol::Http,
        hostname: None,
        allowed,
        kinds: None,
        certificates: Vec::new(),
    }
}

/// A route in fz-b sending to echo-1 of fz-a, allowed by a grant; the second Gateway idle.
fn cross_namespace_world() -> World {
    World {
        namespaces: universe::NAMESPACES
            .iter()
            .map(|n| Namespace {
                name: (*n).to_owned(),
                labels: BTreeMap::new(),
            })
            .collect(),
        gateways: vec![
            Gateway {
                namespace: "fz-a".to_owned(),
                name: "gw-0".to_owned(),
                listeners: vec![listener("l0", 80, AllowedNamespaces::All)],
            },
            render::base_gateway("fz-b", "gw-1"),
        ],
        routes: vec![Route {
            namespace: "fz-b".to_owned(),
            name: "r0".to_owned(),
            parents: vec![ParentRef {
                namespace: Some("fz-a".to_owned()),
                name: "gw-0".to_owned(),
                section: None,
                port: None,
            }],
            hostnames: Vec::new(),
            rules: vec![Rule {
                matches: Vec::new(),
                filters: Vec::new(),
                backends: vec![BackendRef {
                    target: ObjectRef {
                        group: None,
                        kind: None,
                        namespace: Some("fz-a".to_owned()),
                        name: "echo-1".to_owned(),
                    },
                    port: Some(8080),
                    weight: None,
                    filters: Vec::new(),
                }],
            }],
        }],
        grants: vec![Grant {
            namespace: "fz-a".to_owned(),
            name: "g0".to_owned(),
            from: vec![GrantFrom {
                group: universe::GATEWAY_GROUP.to_owned(),
                kind: "HTTPRoute".to_owned(),
                namespace: "fz-b".to_owned(),
            }],
            to: vec![GrantTo {
                group: String::new(),
                kind: "Service".to_owned(),
                name: None,
            }],
        }],
    }
}

#[test]
fn revoking_a_grant_revokes_the_traffic() {
    let world = cross_namespace_world();
    let request = Request {
        gateway: 0,
        port: 80,
        scheme: Scheme::Http,
        host: "a.fz.test".to_owned(),
        path: "/".to_owned(),
        method: "GET".to_owned(),
        headers: Vec::new(),
    };
    let text = scenario::write(
        &world,
        std::slice::from_ref(&request),
        &Origin {
            seed: "handwritten".to_owned(),
            property: "grant-revocation".to_owned(),
        },
    );
    // Before: echo-1 of fz-a answers; after the grant is deleted: 500 and RefNotPermitted.
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    let steps = doc["steps"].as_sequence().expect("steps");
    let delete = steps
        .iter()
        .position(|s| s.get("delete").is_some())
        .expect("a delete step revokes the grant");
    let before = serde_yaml::to_string(&steps[..delete]).unwrap_or_default();
    let after = serde_yaml::to_string(&steps[delete..]).unwrap_or_default();
    assert!(
        before.contains("backend: echo-1") && before.contains("namespace: fz-a"),
        "{text}"
    );
    assert!(
        after.contains("RefNotPermitted") && after.contains("status: 500"),
        "{text}"
    );

    let Some(shared) = shared() else { return };
    let _turn = shared.turn.lock().unwrap_or_else(|e| e.into_inner());
    if let Err((property, message)) = shared.runtime.block_on(shared.session.check(&text)) {
        panic!("{}: {message}\n{text}", property.name());
    }
}
