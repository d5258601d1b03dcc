//! The validation tables (`tests/validate/*.yaml`, one test per table): every invalid value
//! gets its upstream condition naming the field, and nothing of its object reaches Envoy;
//! every valid twin is accepted and served. A validator that refused everything, or nothing,
//! fails here.

mod validate_support;

use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use gatesim_reference::model::{AnyObject, ResourceSet};
use gatesim_reference::render;
use gatesim_reference::translate::{self, Translation};
use gatesim_reference::validate;
use rstest::rstest;
use serde_json::Value;
use validate_support::{Case, Target};

fn translate_objects(objects: &[Value]) -> Result<Translation> {
    let mut set = ResourceSet::default();
    for o in objects {
        set.insert_any(AnyObject::from_value(o.clone()).with_context(|| format!("decoding {o}"))?);
    }
    for key in translate::managed_gateways(&set) {
        set.gateway_addresses.insert(key, "127.0.10.1".into());
    }
    Ok(translate::translate(&set))
}

/// The findings validation has for the object a case is about, as `path: why`.
fn findings(case: &Case, objects: &[Value]) -> Result<Vec<String>> {
    let subject = case.subject(objects).clone();
    let found = match AnyObject::from_value(subject)? {
        AnyObject::HttpRoute(r) => validate::object(&*r),
        AnyObject::Gateway(g) => validate::object(&*g),
        AnyObject::GatewayClass(c) => validate::object(&*c),
        AnyObject::ReferenceGrant(g) => validate::object(&*g),
        other => bail!("no validation for {other:?}"),
    };
    Ok(found.iter().map(ToString::to_string).collect())
}

/// Envoy route names of the case's route (none for other targets).
fn envoy_routes(case: &Case, t: &Translation) -> Vec<String> {
    let prefix = format!("httproute/default/{}/", case.slug);
    t.proxies
        .values()
        .flat_map(|p| &p.routes)
        .flat_map(|rc| &rc.virtual_hosts)
        .flat_map(|vh| &vh.routes)
        .filter(|r| r.name.starts_with(&prefix))
        .map(|r| r.name.clone())
        .collect()
}

fn check_invalid(case: &Case) -> Result<()> {
    let mut objects = validate_support::base();
    case.apply(&case.invalid, &mut objects);
    let t = translate_objects(&objects)?;
    let statuses = render::statuses(&t);
    let want = &case.expect;
    let c = validate_support::condition(case, &case.invalid, &statuses, &want.condition)?;
    ensure!(
        c["status"] == want.status.as_str() && c["reason"] == want.reason.as_str(),
        "expected {} {} {}, got {c}",
        want.condition,
        want.status,
        want.reason
    );
    if case.target != Target::Grant {
        let message = c["message"].as_str().unwrap_or_default();
        ensure!(
            message.contains(&format!("{}: ", want.path)),
            "the message does not name {}: {message}",
            want.path
        );
    }
    let found = findings(case, &objects)?;
    ensure!(
        found
            .iter()
            .any(|f| f.starts_with(&format!("{}: ", want.path))),
        "validation does not name {}: {found:?}",
        want.path
    );
    // Nothing of the invalid object reaches Envoy.
    match case.target {
        Target::Route => {
            let served = envoy_routes(case, &t);
            ensure!(served.is_empty(), "Envoy got {served:?}");
        }
        Target::Listener => {
            let listeners: Vec<&str> = t
                .proxies
                .values()
                .flat_map(|p| &p.listeners)
                .map(|l| l.name.as_str())
                .collect();
            ensure!(
                listeners == ["default/gw/80"],
                "Envoy got listeners {listeners:?}"
            );
        }
        Target::Gateway => ensure!(
            !t.proxies.keys().any(|k| k.name == case.slug),
            "the invalid Gateway got a proxy"
        ),
        Target::Class | Target::Grant => {}
    }
    Ok(())
}

fn check_twin(case: &Case) -> Result<()> {
    let mut objects = validate_support::base();
    case.apply(&case.twin, &mut objects);
    let found = findings(case, &objects)?;
    ensure!(found.is_empty(), "validation refuses the twin: {found:?}");
    let t = translate_objects(&objects)?;
    let statuses = render::statuses(&t);
    let positive = match case.target {
        Target::Grant => "ResolvedRefs",
        _ => "Accepted",
    };
    let c = validate_support::condition(case, &case.twin, &statuses, positive)?;
    ensure!(c["status"] == "True", "the twin is not {positive}: {c}");
    if case.target == Target::Route {
        ensure!(
            !envoy_routes(case, &t).is_empty(),
            "the twin reaches no Envoy route"
        );
    }
    Ok(())
}

#[rstest]
fn table(#[files("tests/validate/*.yaml")] path: PathBuf) {
    let cases = validate_support::load(&path).expect("the table reads");
    assert!(!cases.is_empty(), "{} has no cases", path.display());
    let mut failures = Vec::new();
    for case in &cases {
        for (what, outcome) in [("invalid", check_invalid(case)), ("twin", check_twin(case))] {
            if let Err(e) = outcome {
                failures.push(format!("{} / {} ({what}): {e:#}", case.file, case.name));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The live test adds every listener case to one Gateway: their names must not repeat.
#[test]
fn listener_names_are_unique_across_tables() {
    let cases = validate_support::all().expect("the tables read");
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let mut listeners: Vec<&str> = cases
        .iter()
        .filter(|c| c.target == Target::Listener && c.expect.path != "spec.listeners[1].name")
        .map(Case::listener_name)
        .collect();
    let n = listeners.len();
    listeners.sort();
    listeners.dedup();
    assert_eq!(listeners.len(), n, "listener names repeat: {listeners:?}");
}
