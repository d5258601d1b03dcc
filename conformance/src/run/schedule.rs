//! Which scenarios may run at the same time. Each scenario claims what it must not share:
//!
//! - every object it creates or changes, by kind, namespace and name (two scenarios creating
//!   `http-route-1` would delete each other's route);
//! - every base Gateway it refers to (parentRefs, expectations, probes), exclusively: the
//!   format promises that `attachedRoutes: 0` or a 404 on a base Gateway is meaningful, which
//!   only holds while no other scenario attaches routes to it;
//! - ReferenceGrants: a grant can change the outcome of any cross-namespace reference, so a
//!   scenario creating one excludes every scenario with cross-namespace references, which may
//!   otherwise share.
//! - the controller's Settings: a scenario that writes a K8sGateway Settings object changes
//!   what every other scenario sees (`watchNamespaces`), so it runs alone.
//!
//! Claims are taken all at once or not at all, so waiting scenarios never deadlock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::Notify;

use crate::scenario::{Object, Scenario, Step};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// What one scenario claims, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims(pub BTreeMap<String, Mode>);

impl Claims {
    fn add(&mut self, key: String, mode: Mode) {
        let entry = self.0.entry(key).or_insert(mode);
        *entry = (*entry).max(mode);
    }

    pub fn keys(&self) -> impl Iterator<Item = (&String, &Mode)> {
        self.0.iter()
    }
}

const REFERENCE_GRANTS: &str = "reference-grants";
const SETTINGS: &str = "controller-settings";

fn object_key(kind: &str, namespace: Option<&str>, name: &str) -> String {
    format!("object:{kind}:{}:{name}", namespace.unwrap_or(""))
}

fn gateway_key(namespace: &str, name: &str) -> String {
    format!("gateway:{namespace}/{name}")
}

/// References inside an object's spec: `(kind, group, namespace, name)` of every parentRef,
/// backendRef and certificateRef, with the referrer's namespace where none is written.
fn references(object: &Value, own_namespace: &str) -> Vec<(String, String, String, String)> {
    let mut found = Vec::new();
    collect_refs(
        object.get("spec").unwrap_or(&Value::Null),
        own_namespace,
        "",
        &mut found,
    );
    found
}

fn collect_refs(
    value: &Value,
    own_namespace: &str,
    field: &str,
    out: &mut Vec<(String, String, String, String)>,
) {
    match value {
        Value::Object(map) => {
            let is_ref = matches!(field, "parentRefs" | "backendRefs" | "certificateRefs");
            if is_ref && let Some(name) = map.get("name").and_then(Value::as_str) {
                let text = |k: &str| map.get(k).and_then(Value::as_str);
                let default_kind = match field {
                    "parentRefs" => "Gateway",
                    "backendRefs" => "Service",
                    _ => "Secret",
                };
                out.push((
                    text("kind").unwrap_or(default_kind).to_owned(),
                    text("group").unwrap_or_default().to_owned(),
                    text("namespace").unwrap_or(own_namespace).to_owned(),
                    name.to_owned(),
                ));
            }
            for (key, child) in map {
                collect_refs(child, own_namespace, key, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_refs(item, own_namespace, field, out);
            }
        }
        _ => {}
    }
}

/// What `scenario` must not share with others.
pub fn claims(scenario: &Scenario) -> Claims {
    let mut claims = Claims::default();
    let base_gateways: BTreeSet<(String, String)> = scenario
        .base
        .iter()
        .flat_map(|b| b.objects.iter())
        .filter(|o| o.kind() == "Gateway")
        .map(|o| {
            (
                o.namespace().unwrap_or("default").to_owned(),
                o.name().to_owned(),
            )
        })
        .collect();
    let base_objects: BTreeSet<String> = scenario
        .base
        .iter()
        .flat_map(|b| b.objects.iter())
        .map(|o| object_key(o.kind(), o.namespace(), o.name()))
        .collect();
    let touch_gateway = |claims: &mut Claims, namespace: &str, name: &str| {
        if base_gateways.contains(&(namespace.to_owned(), name.to_owned())) {
            claims.add(gateway_key(namespace, name), Mode::Exclusive);
        }
    };
    let mut cross_namespace = false;

    let own: Vec<&Object> = scenario.own_objects().collect();
    for object in &own {
        claims.add(
            object_key(object.kind(), object.namespace(), object.name()),
            Mode::Exclusive,
        );
        if object.kind() == "ReferenceGrant" {
            claims.add(REFERENCE_GRANTS.to_owned(), Mode::Exclusive);
        }
        let own_ns = object.namespace().unwrap_or("default");
        for (kind, _, namespace, name) in references(object.value(), own_ns) {
            if namespace != own_ns {
                cross_namespace = true;
            }
            if kind == "Gateway" {
                touch_gateway(&mut claims, &namespace, &name);
            }
        }
    }
    for step in &scenario.steps {
        match &step.value {
            Step::Patch(entries) => {
                for e in entries {
                    claims.add(
                        object_key(&e.kind, e.namespace.as_deref(), &e.name),
                        Mode::Exclusive,
                    );
                }
            }
            Step::Delete(refs) => {
                for r in refs {
                    claims.add(
                        object_key(&r.kind, r.namespace.as_deref(), &r.name),
                        Mode::Exclusive,
                    );
                }
            }
            Step::FillEndpoints(fill) => {
                for slice in &fill.endpoint_slices {
                    claims.add(
                        object_key("EndpointSlice", Some(&fill.namespace), slice),
                        Mode::Exclusive,
                    );
                }
            }
            Step::ExpectStatus(entries) => {
                for e in entries.iter().filter(|e| e.kind == "Gateway") {
                    touch_gateway(
                        &mut claims,
                        e.namespace.as_deref().unwrap_or("default"),
                        &e.name,
                    );
                }
            }
            Step::ExpectHttp(http) => {
                touch_gateway(&mut claims, &http.gateway.namespace, &http.gateway.name);
            }
            Step::ExpectWeights(weights) => {
                touch_gateway(
                    &mut claims,
                    &weights.gateway.namespace,
                    &weights.gateway.name,
                );
            }
            Step::ExpectAccessLog(log) => {
                touch_gateway(&mut claims, &log.gateway.namespace, &log.gateway.name);
            }
            Step::Apply(_) => {}
        }
    }
    let touches_grants =
        cross_namespace || scenario.features.iter().any(|f| f.name == "ReferenceGrant");
    if touches_grants {
        claims.add(REFERENCE_GRANTS.to_owned(), Mode::Shared);
    }
    let writes_settings = claims.0.keys().any(|k| k.starts_with("object:Settings:"));
    claims.add(
        SETTINGS.to_owned(),
        if writes_settings {
            Mode::Exclusive
        } else {
            Mode::Shared
        },
    );
    // Changing a base object is changing every scenario's world: exclusive against all of them.
    if claims.0.keys().any(|k| base_objects.contains(k)) {
        claims.add("base-objects".to_owned(), Mode::Exclusive);
    } else if scenario.base.is_some() {
        claims.add("base-objects".to_owned(), Mode::Shared);
    }
    claims
}

/// Claims currently held.
#[derive(Default)]
struct Held {
    shared: HashMap<String, usize>,
    exclusive: BTreeSet<String>,
}

impl Held {
    fn admits(&self, claims: &Claims) -> bool {
        claims.keys().all(|(key, mode)| match mode {
            Mode::Shared => !self.exclusive.contains(key),
            Mode::Exclusive => !self.exclusive.contains(key) && !self.shared.contains_key(key),
        })
    }

    fn take(&mut self, claims: &Claims) {
        for (key, mode) in claims.keys() {
            match mode {
                Mode::Shared => *self.shared.entry(key.clone()).or_default() += 1,
                Mode::Exclusive => {
                    self.exclusive.insert(key.clone());
                }
            }
        }
    }

    fn release(&mut self, claims: &Claims) {
        for (key, mode) in claims.keys() {
            match mode {
                Mode::Shared => {
                    if let Some(n) = self.shared.get_mut(key) {
                        *n -= 1;
                        if *n == 0 {
                            self.shared.remove(key);
                        }
                    }
                }
                Mode::Exclusive => {
                    self.exclusive.remove(key);
                }
            }
        }
    }
}

/// The claims held by running scenarios.
#[derive(Default)]
pub struct LockTable {
    held: Mutex<Held>,
    released: Notify,
}

/// Held claims; released on drop.
pub struct LockGuard {
    table: Arc<LockTable>,
    claims: Claims,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.table.lock().release(&self.claims);
        self.table.released.notify_waiters();
    }
}

impl LockTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes every claim now, or none.
    pub fn try_acquire(self: &Arc<Self>, claims: &Claims) -> Option<LockGuard> {
        let mut held = self.lock();
        if !held.admits(claims) {
            return None;
        }
        held.take(claims);
        Some(LockGuard {
            table: Arc::clone(self),
            claims: claims.clone(),
        })
    }

    /// Waits until every claim can be taken at once.
    pub async fn acquire(self: &Arc<Self>, claims: &Claims) -> LockGuard {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Some(guard) = self.try_acquire(claims) {
                return guard;
            }
            released.await;
        }
    }
}

/// How contended a scenario's claims are: the number of scenarios sharing its busiest
/// exclusive claim. Starting the most contended first shortens the longest chain.
pub fn contention(all: &[Claims]) -> Vec<usize> {
    let mut demand: HashMap<&str, usize> = HashMap::new();
    for claims in all {
        for (key, _) in claims.keys() {
            *demand.entry(key.as_str()).or_default() += 1;
        }
    }
    all.iter()
        .map(|claims| {
            claims
                .keys()
                .filter(|(_, mode)| **mode == Mode::Exclusive)
                .map(|(key, _)| demand[key.as_str()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(list: &[(&str, Mode)]) -> Claims {
        Claims(list.iter().map(|(k, m)| ((*k).to_owned(), *m)).collect())
    }

    #[test]
    fn shared_claims_coexist_and_exclusive_ones_do_not() {
        let table = Arc::new(LockTable::default());
        let a = table
            .try_acquire(&claims(&[("g", Mode::Shared), ("x", Mode::Exclusive)]))
            .unwrap();
        let b = table.try_acquire(&claims(&[("g", Mode::Shared)])).unwrap();
        assert!(
            table
                .try_acquire(&claims(&[("g", Mode::Exclusive)]))
                .is_none()
        );
        assert!(table.try_acquire(&claims(&[("x", Mode::Shared)])).is_none());
        drop(a);
        assert!(
            table
                .try_acquire(&claims(&[("g", Mode::Exclusive)]))
                .is_none()
        );
        drop(b);
        let c = table.try_acquire(&claims(&[("g", Mode::Exclusive)]));
        assert!(c.is_some());
    }

    #[test]
    fn partial_claims_are_never_taken() {
        let table = Arc::new(LockTable::default());
        let _a = table
            .try_acquire(&claims(&[("b", Mode::Exclusive)]))
            .unwrap();
        assert!(
            table
                .try_acquire(&claims(&[("a", Mode::Exclusive), ("b", Mode::Exclusive)]))
                .is_none()
        );
        // "a" was not left behind by the failed attempt.
        assert!(
            table
                .try_acquire(&claims(&[("a", Mode::Exclusive)]))
                .is_some()
        );
    }

    #[tokio::test]
    async fn waiting_acquirers_wake_on_release() {
        let table = Arc::new(LockTable::default());
        let guard = table
            .try_acquire(&claims(&[("k", Mode::Exclusive)]))
            .unwrap();
        let waiter = {
            let table = table.clone();
            tokio::spawn(async move {
                let _g = table.acquire(&claims(&[("k", Mode::Exclusive)])).await;
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(guard);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter wakes")
            .unwrap();
    }
}
