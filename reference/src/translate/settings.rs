//! Settings (`gloo.solo.io/v1`): the controller-wide singleton `default` in the controller's
//! namespace (`ControllerConfig::settings_namespace`), read like any other input.
//!
//! What gatesim takes from it: `watchNamespaces` (only objects in these namespaces, and in the
//! controller's own, are translated; cluster-scoped kinds always are) and
//! `gloo.invalidConfigPolicy` (routes the controller refuses are served as a fixed response
//! instead of being left out). Every other field is read and ignored: a K8sGateway
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
                K::store_mut(&mut self.set).retain(|k, _| self.watched.contains(&k.namespace));
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
    out.push(super::upstreams::acceptance(
        &format!("{}/v1", super::upstreams::GROUP),
        "Settings",
        &ObjectKey::new(&set.config.settings_namespace, NAME),
        generation,
        problem.as_ref(),
        "the Settings are in effect",
    ));
}
