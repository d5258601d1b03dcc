//! Per-object decoding of watch events: an object the controller's types cannot read is
//! logged once (kind, namespace, name, error), counted, listed until it is fixed or
//! deleted, and skipped; the event stream goes on.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kube::api::DynamicObject;
use kube::runtime::watcher;
use tokio::sync::watch;

use crate::model::StoredKind;

/// `(kind, namespace, name)` of an object.
type Key = (String, String, String);

/// The objects the watches could not decode.
#[derive(Debug)]
pub struct DecodeErrors {
    current: Mutex<BTreeMap<Key, String>>,
    failures: AtomicU64,
    published: watch::Sender<Vec<String>>,
}

impl Default for DecodeErrors {
    fn default() -> Self {
        Self {
            current: Mutex::new(BTreeMap::new()),
            failures: AtomicU64::new(0),
            published: watch::channel(Vec::new()).0,
        }
    }
}

impl DecodeErrors {
    /// Decode failures since start (each failed event counts).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The objects that cannot be decoded now, as `Kind namespace/name: error`.
    pub fn subscribe(&self) -> watch::Receiver<Vec<String>> {
        self.published.subscribe()
    }

    /// The event with its object decoded as `K`, or `None` when it cannot be (recorded).
    pub(super) fn decode<K: StoredKind>(
        &self,
        event: watcher::Event<DynamicObject>,
    ) -> Option<watcher::Event<K>> {
        let kind = K::kind(&()).into_owned();
        Some(match event {
            watcher::Event::Init => {
                // A re-list reports again whatever is still undecodable.
                self.update(|m| m.retain(|(k, _, _), _| *k != kind));
                watcher::Event::Init
            }
            watcher::Event::InitDone => watcher::Event::InitDone,
            watcher::Event::Apply(obj) => watcher::Event::Apply(self.object(&kind, obj)?),
            watcher::Event::InitApply(obj) => watcher::Event::InitApply(self.object(&kind, obj)?),
            watcher::Event::Delete(obj) => {
                let key = key(&kind, &obj);
                self.update(|m| {
                    m.remove(&key);
                });
                watcher::Event::Delete(self.object(&kind, obj)?)
            }
        })
    }

    fn object<K: StoredKind>(&self, kind: &str, obj: DynamicObject) -> Option<K> {
        let key = key(kind, &obj);
        let decoded = serde_json::to_value(&obj).and_then(serde_json::from_value::<K>);
        match decoded {
            Ok(k) => {
                self.update(|m| {
                    m.remove(&key);
                });
                Some(k)
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let message = e.to_string();
                let (kind, ns, name) = &key;
                self.update(|m| {
                    if m.get(&key) != Some(&message) {
                        tracing::error!(
                            kind = %kind, namespace = %ns, name = %name,
                            "cannot decode the object, skipping it: {message}"
                        );
                        m.insert(key.clone(), message.clone());
                    }
                });
                None
            }
        }
    }

    fn update(&self, change: impl FnOnce(&mut BTreeMap<Key, String>)) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let before = current.len();
        let snapshot: Vec<String> = {
            change(&mut current);
            current
                .iter()
                .map(|((kind, ns, name), e)| {
                    let at = if ns.is_empty() {
                        name.clone()
                    } else {
                        format!("{ns}/{name}")
                    };
                    format!("{kind} {at}: cannot decode: {e}")
                })
                .collect()
        };
        if before != current.len() || *self.published.borrow() != snapshot {
            self.published.send_replace(snapshot);
        }
    }
}

fn key(kind: &str, obj: &DynamicObject) -> Key {
    (
        kind.to_string(),
        obj.metadata.namespace.clone().unwrap_or_default(),
        obj.metadata.name.clone().unwrap_or_default(),
    )
}
