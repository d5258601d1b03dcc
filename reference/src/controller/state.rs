//! What the controller shows about itself on its admin endpoint, besides xDS and metrics:
//! the status it computed (the only place to read it with the file provider), input errors,
//! objects in quarantine, the proxies it runs, and the configuration it serves.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::contain::Containment;
use crate::infra::host::HostInfra;
use crate::model::ResourceSet;
use crate::provider::status::plan;
use crate::render;
use crate::translate::{ObjectRef, Translation};

#[derive(Default)]
struct Inner {
    translation: Option<Arc<Translation>>,
    revision: u64,
    errors: Vec<String>,
    /// NACK containment: objects in quarantine and rejections it could not contain, as lines
    /// for `/errors`, and its whole view for `/quarantine`.
    containment_errors: Vec<String>,
    containment: Value,
    /// Keep `statuses` (below): only when no status writer keeps real condition times in an
    /// API server, so that the work is not done twice on every translation.
    keep_times: bool,
    /// The status of every object, as this controller would have written it: condition
    /// times are real (kept while a condition holds), unlike the epoch times translation
    /// produces. The only status a user of the file provider can read.
    statuses: BTreeMap<ObjectRef, Value>,
}

/// Shared view of the latest translation and input errors.
#[derive(Clone, Default)]
pub struct ControllerState {
    inner: Arc<RwLock<Inner>>,
}

impl ControllerState {
    /// `keep_times`: track condition transition times here (there is no status writer).
    pub(super) fn new(keep_times: bool) -> Self {
        let state = Self::default();
        state
            .inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .keep_times = keep_times;
        state
    }

    /// Show `translation`; returns the one it replaces, which may be the last reference to
    /// a large output: the caller decides where the time to free it is spent.
    #[must_use = "dropping a large translation takes time; decide where"]
    pub(super) fn publish(
        &self,
        set: &ResourceSet,
        translation: Arc<Translation>,
    ) -> Option<Arc<Translation>> {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.revision = set.revision;
        if !inner.keep_times {
            return inner.translation.replace(translation);
        }
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        // An update equal to the previous translation's for the same object (same place, as
        // the order is stable) leaves that object's status as it is: planning it again would
        // give the same status, at the cost of every object's on every change.
        let previous = inner.translation.take();
        let before = previous.as_deref().map_or(&[][..], |t| &t.statuses[..]);
        let mut kept = std::mem::take(&mut inner.statuses);
        let mut statuses = BTreeMap::new();
        for (i, update) in translation.statuses.iter().enumerate() {
            let current = kept.remove(&update.target);
            let status = match (current, before.get(i) == Some(update)) {
                (Some(current), true) => current,
                (current, _) => {
                    let mut status = current.clone().unwrap_or_else(|| json!({}));
                    if let Some(patch) = plan(&update.patch, current.as_ref(), None, &now) {
                        json_patch::merge(&mut status, &patch["status"]);
                    }
                    status
                }
            };
            statuses.insert(update.target.clone(), status);
        }
        inner.statuses = statuses;
        inner.translation = Some(translation);
        previous
    }

    pub(super) fn publish_containment(&self, containment: &Containment) {
        let (errors, view) = (containment.errors(), containment.view());
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.containment_errors = errors;
        inner.containment = view;
    }

    /// Every status this controller wants written, leaving out routes and policies on which it
    /// has nothing to say. Condition times are real where this state keeps them; with a status writer the
    /// API server holds the real ones and these carry translation's epoch times.
    pub fn statuses(&self) -> Vec<Value> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if !inner.keep_times {
            return inner
                .translation
                .iter()
                .flat_map(|t| render::statuses(t))
                .collect();
        }
        inner
            .statuses
            .iter()
            .filter(|(_, status)| {
                ["parents", "ancestors"].iter().all(|list| {
                    status
                        .get(list)
                        .is_none_or(|p| p.as_array().is_some_and(|a| !a.is_empty()))
                })
            })
            .map(|(target, status)| {
                let mut v = serde_json::to_value(target).unwrap_or(Value::Null);
                v["status"] = status.clone();
                v
            })
            .collect()
    }

    /// Shows the input errors a provider publishes on `/errors`, the lists of `sources` one
    /// after the other (file diagnostics then validation findings, or objects a watch cannot
    /// decode), logging them as they change.
    pub(super) fn watch_errors<T>(&self, mut sources: Vec<watch::Receiver<Vec<T>>>)
    where
        T: std::fmt::Display + Clone + Send + Sync + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let update = move |sources: &mut [watch::Receiver<Vec<T>>]| {
            let mut rendered = Vec::new();
            for source in sources.iter_mut() {
                rendered.extend(source.borrow_and_update().iter().map(ToString::to_string));
            }
            for e in &rendered {
                tracing::error!("{e}");
            }
            inner.write().unwrap_or_else(|e| e.into_inner()).errors = rendered;
        };
        update(&mut sources);
        tokio::spawn(async move {
            loop {
                let changes = sources.iter_mut().map(|s| Box::pin(s.changed()));
                let (changed, _, rest) = futures::future::select_all(changes).await;
                drop(rest);
                if changed.is_err() {
                    return;
                }
                update(&mut sources);
            }
        });
    }

    /// The input revision of the latest translation.
    pub fn revision(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .revision
    }

    /// The latest translation, if any.
    pub fn translation(&self) -> Option<Arc<Translation>> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .translation
            .clone()
    }

    /// The current input errors: `file:line:col: message` (file provider: files that could
    /// not be read, then objects that fail validation), `Kind namespace/name: cannot decode:
    /// ...` (Kubernetes provider); then objects in quarantine and rejected configurations that
    /// could not be contained.
    pub fn errors(&self) -> Vec<String> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .errors
            .iter()
            .chain(&inner.containment_errors)
            .cloned()
            .collect()
    }

    /// NACK containment: whether it is on, what is in quarantine and why, and the latest
    /// investigations with the time each took.
    pub fn quarantine(&self) -> Value {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .containment
            .clone()
    }

    pub(super) fn router(&self, infra: Option<Arc<HostInfra>>) -> Router {
        Router::new()
            .route("/status", get(status))
            .route("/config", get(config))
            .route("/errors", get(errors))
            .route("/quarantine", get(quarantine))
            .with_state(self.clone())
            .route(
                "/proxies",
                get(move || {
                    let infra = infra.clone();
                    async move { Json(infra.map(|i| json!(i.proxies())).unwrap_or(json!([]))) }
                }),
            )
    }
}

/// `GET /status`: every status this controller wants written, as the objects would read.
async fn status(State(state): State<ControllerState>) -> impl IntoResponse {
    Json(json!({"revision": state.revision(), "statuses": state.statuses()}))
}

/// `GET /config`: every Gateway's xDS resources, as `gatesim-controller translate` prints them.
async fn config(State(state): State<ControllerState>) -> axum::response::Response {
    match state.translation().map(|t| render::translation(&t)) {
        None => Json(json!({"gateways": {}})).into_response(),
        Some(Ok(v)) => {
            Json(json!({"revision": state.revision(), "gateways": v["gateways"]})).into_response()
        }
        Some(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /errors`: input errors that keep the last good configuration serving, objects that
/// fail validation, objects left out because they cannot be read or because Envoy rejected
/// them, and rejections nothing could be left out for.
async fn errors(State(state): State<ControllerState>) -> Json<Value> {
    Json(json!({"errors": state.errors()}))
}

/// `GET /quarantine`: see `ControllerState::quarantine`.
async fn quarantine(State(state): State<ControllerState>) -> Json<Value> {
    Json(state.quarantine())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::{StatusPatch, StatusUpdate};

    fn translation(accepted: &str) -> Arc<Translation> {
        let condition = json!({
            "type": "Accepted", "status": accepted, "reason": "Accepted", "message": "",
            "observedGeneration": 1, "lastTransitionTime": "1970-01-01T00:00:00Z",
        });
        Arc::new(Translation {
            statuses: vec![StatusUpdate {
                target: ObjectRef {
                    api_version: "gateway.networking.k8s.io/v1".into(),
                    kind: "Gateway".into(),
                    namespace: Some("default".into()),
                    name: "gw".into(),
                },
                patch: StatusPatch::Whole(json!({"conditions": [condition]})),
            }],
            ..Translation::default()
        })
    }

    fn accepted(state: &ControllerState) -> (String, String) {
        let status = &state.statuses()[0]["status"]["conditions"][0];
        (
            status["status"].as_str().unwrap().to_string(),
            status["lastTransitionTime"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn statuses_follow_each_translation_with_real_times() {
        let state = ControllerState::new(true);
        let set = ResourceSet::default();
        let _ = state.publish(&set, translation("True"));
        let (first, time) = accepted(&state);
        assert_eq!(first, "True");
        assert!(!time.starts_with("1970"), "{time}");
        // The same statuses again, from a new translation: kept as they were.
        let _ = state.publish(&set, translation("True"));
        assert_eq!(accepted(&state), (first, time));
        // A changed one is planned again.
        let _ = state.publish(&set, translation("False"));
        assert_eq!(accepted(&state).0, "False");
        let _ = state.publish(&set, Arc::new(Translation::default()));
        assert!(state.statuses().is_empty(), "objects gone, statuses gone");
    }
}
