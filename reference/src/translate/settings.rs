//! Settings (`gloo.solo.io/v1`): the controller-wide singleton `default` in the controller's
//! namespace (`ControllerConfig::settings_namespace`), read like any other input.
//!
//! What gatesim takes from it: `watchNamespaces` (only objects in these namespaces, and in the
//! controller's own, are translated; cluster-scoped kinds always are),
//! `gloo.invalidConfigPolicy` (routes the controller refuses are served as a fixed response
//! instead of being left out) and `ipV4Only` (listeners that bind every address of their pod
//! bind `0.0.0.0` instead of the dual-stack `::`, as K8sGateway's Gateway API translator
//! does). `gateway.validation` configures K8sGateway's admission webhook, which gatesim does
//! not have; the status says so. Every other field is read and ignored: a K8sGateway
//! installation's Settings carries many that concern its own servers.
//!
//! A Settings object that cannot be used keeps the last one that could (the running controller
//! hands it over in `ResourceSet::last_good_settings`), and its status says so.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::conditions::{Problem, reason};
use super::output::StatusUpdate;
use crate::api::Settings;
use crate::model::{KindVisitorMut, ObjectKey, ResourceSet, StoredKind, visit_all_kinds};
use crate::validate;

/// The Settings singleton's name.
pub const NAME: &str = "default";

/// K8sGateway's usual response to a replaced route when the Settings name none.
const DEFAULT_INVALID_ROUTE_STATUS: u32 = 404;

/// What translation takes from the Settings in effect.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Effective {
    /// Only these namespaces are translated; `None`: all.
    pub watch_namespaces: Option<BTreeSet<String>>,
    /// The fixed response that replaces a refused route; `None`: refused routes are left out.
    pub invalid_route: Option<(u32, String)>,
    /// Listeners that bind every address bind IPv4 ones only.
    pub ip_v4_only: bool,
}

impl Effective {
    /// The address a listener binds to accept on every address of its host: the dual-stack
    /// `::` (Envoy accepts IPv4 on it too, with `ipv4_compat`), or `0.0.0.0` under `ipV4Only`
    /// for hosts without IPv6.
    pub(crate) fn any_address(&self) -> &'static str {
        if self.ip_v4_only { "0.0.0.0" } else { "::" }
    }
}

/// The Settings object in the controller's namespace, if any.
pub fn current(set: &ResourceSet) -> Option<&Arc<Settings>> {
    set.settings
        .get(&ObjectKey::new(&set.config.settings_namespace, NAME))
}

/// The Settings in effect: the current object when it is usable, else the last usable one,
/// else the defaults.
pub(crate) fn effective(set: &ResourceSet) -> Effective {
    let usable = current(set)
        .filter(|s| validate::settings(s).is_empty())
        .or(set.last_good_settings.as_ref());
    let Some(settings) = usable else {
        return Effective::default();
    };
    let spec = &settings.spec;
    let watch_namespaces = spec
        .watch_namespaces
        .as_ref()
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut all: BTreeSet<String> = w.iter().cloned().collect();
            all.insert(set.config.settings_namespace.clone());
            all
        });
    let policy = spec
        .gloo
        .as_ref()
        .and_then(|g| g.invalid_config_policy.as_ref());
    let invalid_route = policy
        .filter(|p| p.replace_invalid_routes == Some(true))
        .map(|p| {
            (
                p.invalid_route_response_code
                    .unwrap_or(DEFAULT_INVALID_ROUTE_STATUS),
                p.invalid_route_response_body.clone().unwrap_or_default(),
            )
        });
    Effective {
        watch_namespaces,
        invalid_route,
        ip_v4_only: spec.ip_v4_only == Some(true),
    }
}

/// The input as the Settings let translation see it: without the namespaced objects outside
/// `watchNamespaces`.
pub(crate) fn scope<'a>(set: &'a ResourceSet, settings: &Effective) -> Cow<'a, ResourceSet> {
    let Some(watched) = &settings.watch_namespaces else {
        return Cow::Borrowed(set);
    };
    struct Scope<'w> {
        set: ResourceSet,
        watched: &'w BTreeSet<String>,
    }
    impl KindVisitorMut for Scope<'_> {
        fn visit<K: StoredKind>(&mut self) {
            if K::NAMESPACED {
                let store = K::store_mut(&mut self.set);
                *store = crate::model::filtered(store, |k, _| self.watched.contains(&k.namespace));
            }
        }
    }
    let mut scoped = Scope {
        set: set.clone(),
        watched,
    };
    visit_all_kinds(&mut scoped);
    Cow::Owned(scoped.set)
}

/// The status of the Settings object in the controller's namespace.
pub(crate) fn status(set: &ResourceSet, out: &mut Vec<StatusUpdate>) {
    let Some(settings) = current(set) else {
        return;
    };
    let generation = settings.metadata.generation;
    let errors = validate::settings(settings);
    let problem = (!errors.is_empty()).then(|| {
        let kept = match &set.last_good_settings {
            Some(s) => format!(
                "; the last valid Settings (generation {}) stay in effect",
                s.metadata.generation.unwrap_or_default()
            ),
            None => "; the defaults stay in effect".to_string(),
        };
        Problem::new(
            reason::INVALID,
            format!("{}{kept}", validate::describe(&errors)),
        )
    });
    let mut accepted = "the Settings are in effect".to_string();
    for note in without_effect(settings) {
        accepted.push_str("; ");
        accepted.push_str(note);
    }
    out.push(super::upstreams::acceptance(
        &format!("{}/v1", super::upstreams::GROUP),
        "Settings",
        &ObjectKey::new(&set.config.settings_namespace, NAME),
        generation,
        problem.as_ref(),
        &accepted,
    ));
}

/// Fields a user may expect to act that have nothing to act on here, said in the status and
/// the controller's log rather than dropped without a word.
pub fn without_effect(settings: &Settings) -> Vec<&'static str> {
    let validation = settings
        .spec
        .gateway
        .as_ref()
        .and_then(|g| g.validation.as_ref());
    match validation.and_then(|v| v.allow_warnings) {
        // K8sGateway refuses, at admission, writes whose translation only warns (a route to
        // a missing Upstream, say). Without a webhook every write is stored; what it would
        // have been refused for is in the status of the object it concerns, and traffic is
        // what K8sGateway serves for that object once stored.
        Some(_) => vec![
            "gateway.validation.allowWarnings has no effect: gatesim runs no admission \
             webhook, so no write is refused; warnings show in the status of the object \
             they concern",
        ],
        None => Vec::new(),
    }
}
