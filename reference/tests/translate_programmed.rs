//! A running controller reports a Gateway as Programmed only once its proxy has acknowledged a
//! configuration, and reports a rejected configuration with Envoy's own message.

use std::path::Path;

use gatesim_reference::model::{ControllerConfig, ObjectKey, ProxyProgress, ResourceSet};
use gatesim_reference::provider::file::load_dir;
use gatesim_reference::translate::{StatusPatch, translate};
use serde_json::Value;

fn input() -> ResourceSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut set = load_dir(dir.join("shared.yaml"), &ControllerConfig::default()).expect("shared");
    set.merge(
        load_dir(
            dir.join("gateway-http-basic/input.yaml"),
            &ControllerConfig::default(),
        )
        .expect("input"),
    );
    set.gateway_addresses
        .insert(ObjectKey::new("default", "gw"), "127.0.10.1".into());
    set.config.programmed_on_ack = true;
    set
}

/// (Gateway Programmed status, reason, message), and the listener's (status, reason).
fn programmed(set: &ResourceSet) -> ((String, String, String), (String, String)) {
    let t = translate(set);
    let status = t
        .statuses
        .iter()
        .find(|s| s.target.kind == "Gateway")
        .map(|s| match &s.patch {
            StatusPatch::Whole(v) => v.clone(),
            other => panic!("unexpected patch {other:?}"),
        })
        .expect("a Gateway status");
    let find = |conds: &Value| {
        conds
            .as_array()
            .expect("conditions")
            .iter()
            .find(|c| c["type"] == "Programmed")
            .cloned()
            .expect("Programmed")
    };
    let gw = find(&status["conditions"]);
    let listener = find(&status["listeners"][0]["conditions"]);
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        (s(&gw["status"]), s(&gw["reason"]), s(&gw["message"])),
        (s(&listener["status"]), s(&listener["reason"])),
    )
}

#[test]
fn programmed_follows_the_proxy() {
    let mut set = input();
    let key = ObjectKey::new("default", "gw");

    let ((status, reason, _), listener) = programmed(&set);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "Pending"),
        "no proxy yet"
    );
    assert_eq!(listener, ("False".into(), "Pending".into()));

    set.proxy_progress
        .insert(key.clone(), ProxyProgress::Acknowledged);
    let ((status, reason, _), listener) = programmed(&set);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Programmed"));
    assert_eq!(listener, ("True".into(), "Programmed".into()));

    set.proxy_progress.insert(
        key,
        ProxyProgress::Rejected("route: unknown cluster 'x'".into()),
    );
    let ((status, reason, message), _) = programmed(&set);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Invalid"));
    assert!(message.contains("unknown cluster 'x'"), "{message}");
}

#[test]
fn one_shot_translation_does_not_wait_for_a_proxy() {
    let mut set = input();
    set.config.programmed_on_ack = false;
    let ((status, reason, _), _) = programmed(&set);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Programmed"));
}
