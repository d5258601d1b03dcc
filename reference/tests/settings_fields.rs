//! Settings fields whose effect the golden cases cannot show: `ipV4Only` only changes
//! listeners that bind every address (a proxy in a pod of its own), which golden Gateways,
//! holding loopback addresses, never do; and `gateway.validation.allowWarnings`, which has
//! nothing to act on without an admission webhook, must say so and change no traffic.

mod golden_support;

use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::address;
use gatesim_reference::infra::{envoy, validate};
use gatesim_reference::model::{ObjectKey, ResourceSet};
use gatesim_reference::translate::{StatusPatch, Translation, translate};
use golden_support::{golden_dir, input};

/// The k8sgw-settings golden input (Gateway `default/gw`, Settings `gloo-system/default`),
/// its Settings without the fields under test, then with `edit` merged into their spec.
fn world(edit: &str) -> ResourceSet {
    let mut set = input(&golden_dir().join("k8sgw-settings"));
    let key = ObjectKey::new("gloo-system", "default");
    let mut settings = (**set.settings.get(&key).expect("Settings in the input")).clone();
    let mut spec = serde_json::to_value(&settings.spec).expect("spec");
    let fields = spec.as_object_mut().expect("spec is an object");
    fields.remove("ipV4Only");
    fields.remove("gateway");
    let patch: serde_json::Value = serde_yaml::from_str(edit).expect("edit");
    json_merge(&mut spec, patch);
    settings.spec = serde_json::from_value(spec).expect("edited spec");
    set.settings.insert(key, Arc::new(settings));
    set
}

fn json_merge(into: &mut serde_json::Value, patch: serde_json::Value) {
    match (into, patch) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Every listener's (address, ipv4_compat) in the Gateway's proxy.
fn listen_addresses(t: &Translation) -> Vec<(String, bool)> {
    let proxy = t
        .proxies
        .get(&ObjectKey::new("default", "gw"))
        .expect("a proxy for default/gw");
    assert!(!proxy.listeners.is_empty(), "no listener");
    proxy
        .listeners
        .iter()
        .map(|l| {
            match l
                .address
                .as_ref()
                .and_then(|a| a.address.as_ref())
                .expect("listener address")
            {
                address::Address::SocketAddress(s) => (s.address.clone(), s.ipv4_compat),
                other => panic!("not a socket address: {other:?}"),
            }
        })
        .collect()
}

/// Envoy must accept what each Settings value produces.
fn envoy_accepts(t: &Translation) {
    let Some(envoy) = envoy::locate_or_skip("listener addresses through envoy --mode validate")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    for (gw, proxy) in &t.proxies {
        validate::validate_proxy(&envoy, proxy)
            .unwrap_or_else(|e| panic!("Envoy rejects the proxy of {gw}: {e}"));
    }
}

#[test]
fn listeners_on_every_address_are_dual_stack_unless_ipv4_only() {
    let mut dual = world("{}");
    dual.config.bind_any_address = true;
    let t = translate(&dual);
    assert_eq!(listen_addresses(&t), [("::".to_string(), true)]);
    envoy_accepts(&t);

    let mut v4 = world("{ipV4Only: true}");
    v4.config.bind_any_address = true;
    let t = translate(&v4);
    assert_eq!(listen_addresses(&t), [("0.0.0.0".to_string(), false)]);
    envoy_accepts(&t);

    // An invalid Settings object keeps the last valid one, ipV4Only with it.
    let mut invalid = world("{ipV4Only: false, watchNamespaces: ['Not A Namespace']}");
    invalid.config.bind_any_address = true;
    invalid.last_good_settings = v4.settings.values().next().cloned();
    assert_eq!(
        listen_addresses(&translate(&invalid)),
        [("0.0.0.0".to_string(), false)]
    );
}

#[test]
fn a_gateway_with_an_address_of_its_own_keeps_it_whatever_ip_v4_only_says() {
    for edit in ["{}", "{ipV4Only: true}"] {
        let t = translate(&world(edit));
        assert_eq!(
            listen_addresses(&t),
            [("127.0.10.1".to_string(), false)],
            "{edit}"
        );
    }
}

/// The message of the Settings' `Accepted` condition.
fn settings_message(t: &Translation) -> String {
    let status = t
        .statuses
        .iter()
        .find(|s| s.target.kind == "Settings")
        .expect("a Settings status");
    let StatusPatch::Whole(v) = &status.patch else {
        panic!("unexpected patch {:?}", status.patch);
    };
    assert_eq!(v["conditions"][0]["status"], "True", "{v}");
    v["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn allow_warnings_is_reported_as_without_effect_and_changes_no_traffic() {
    let plain = translate(&world("{}"));
    assert!(
        !settings_message(&plain).contains("allowWarnings"),
        "{}",
        settings_message(&plain)
    );
    for value in ["false", "true"] {
        let t = translate(&world(&format!(
            "{{gateway: {{validation: {{allowWarnings: {value}}}}}}}"
        )));
        let message = settings_message(&t);
        assert!(
            message.contains("gateway.validation.allowWarnings has no effect")
                && message.contains("no admission webhook"),
            "allowWarnings {value}: {message}"
        );
        assert_eq!(
            t.proxies, plain.proxies,
            "allowWarnings {value} changed the proxies' configuration"
        );
    }
}
