//! The reflector behind the Kubernetes provider: watcher events in, `ResourceSet` out.
//!
//! Synchronous and free of I/O, so tests drive it with hand-made events exactly as the watch
//! streams do (`index.apply(&watcher::Event::Apply(obj))`), the way kube-runtime's own tests
//! feed a `reflector::store()`. It keeps one `ResourceSet` instead of one kube-runtime `Store`
//! per kind because that set is what it publishes: a snapshot is a clone of persistent maps
//! (`model::Store`), which shares every node with the index, so a snapshot per watch event
//! costs the same with 10 objects as with 10,000.

use std::any::TypeId;
use std::collections::BTreeSet;
use std::sync::Arc;

use kube::runtime::watcher;

use crate::model::{
    ControllerConfig, KindVisitorMut, ObjectKey, ResourceSet, StoredKind, visit_all_kinds,
};

#[derive(Debug)]
pub struct Index {
    set: ResourceSet,
    /// Objects of a re-list in progress, per kind, swapped in at its `InitDone` so that a
    /// snapshot never shows half a list.
    relist: ResourceSet,
    /// Kinds whose initial list has not completed yet; nothing is published until it is empty.
    unlisted: BTreeSet<KindId>,
    /// Kinds the API server does not serve (their CRD is not installed): empty until they are.
    unserved: BTreeSet<KindId>,
    /// Whether `set` changed since the last snapshot was taken.
    dirty: bool,
    /// When the first change since the last snapshot arrived.
    noticed: Option<std::time::Instant>,
}

/// Identifies a stored kind without a string per event.
type KindId = TypeId;

impl Index {
    /// An index expecting an initial list of every stored kind.
    pub fn new(config: ControllerConfig) -> Self {
        struct AllKinds(BTreeSet<KindId>);
        impl KindVisitorMut for AllKinds {
            fn visit<K: StoredKind>(&mut self) {
                self.0.insert(TypeId::of::<K>());
            }
        }
        let mut kinds = AllKinds(BTreeSet::new());
        visit_all_kinds(&mut kinds);
        Self {
            set: ResourceSet {
                config,
                ..ResourceSet::default()
            },
            relist: ResourceSet::default(),
            unlisted: kinds.0,
            unserved: BTreeSet::new(),
            dirty: true,
            noticed: None,
        }
    }

    /// Mirror one watcher event. The revision follows every event that carries a
    /// `resourceVersion`, deletions included (a deleted object carries the version of its
    /// deletion).
    pub fn apply<K: StoredKind>(&mut self, event: &watcher::Event<K>) {
        self.apply_event(event);
        if self.dirty {
            self.noticed.get_or_insert_with(std::time::Instant::now);
        }
    }

    fn apply_event<K: StoredKind>(&mut self, event: &watcher::Event<K>) {
        match event {
            watcher::Event::Apply(obj) => {
                self.set.insert(obj.clone());
                self.dirty = true;
            }
            watcher::Event::Delete(obj) => {
                self.set
                    .note_resource_version(obj.meta().resource_version.as_deref());
                self.set.remove::<K>(&ObjectKey::of(obj));
                self.dirty = true;
            }
            watcher::Event::Init => K::store_mut(&mut self.relist).clear(),
            watcher::Event::InitApply(obj) => {
                K::store_mut(&mut self.relist).insert(ObjectKey::of(obj), Arc::new(obj.clone()));
            }
            watcher::Event::InitDone => {
                let listed = std::mem::take(K::store_mut(&mut self.relist));
                // Versions count once the list is visible, not before: a snapshot's revision
                // must never claim objects it does not show yet.
                for obj in listed.values() {
                    self.set
                        .note_resource_version(obj.meta().resource_version.as_deref());
                }
                let store = K::store_mut(&mut self.set);
                // A re-list after a watch outage usually finds nothing new; publishing an
                // identical snapshot would only make every consumer redo its work.
                if !same_objects(store, &listed) {
                    *store = listed;
                    self.dirty = true;
                }
                self.unlisted.remove(&TypeId::of::<K>());
                self.unserved.remove(&TypeId::of::<K>());
            }
        }
    }

    /// The API server does not serve `K` (it answered a list or watch with 404: the kind's
    /// CRD is not installed, or was removed). The kind counts as listed, and empty, until a
    /// list succeeds again, so a missing CRD never holds back the other kinds. Returns
    /// whether this is news, so that the caller says it once.
    pub fn not_served<K: StoredKind>(&mut self) -> bool {
        let id = TypeId::of::<K>();
        K::store_mut(&mut self.relist).clear();
        let store = K::store_mut(&mut self.set);
        if !store.is_empty() {
            store.clear();
            self.dirty = true;
        }
        self.unlisted.remove(&id);
        self.unserved.insert(id)
    }

    /// Whether `K` is served, as far as the watches know: true until a 404 says otherwise,
    /// and again once a list succeeds.
    pub fn is_served<K: StoredKind>(&self) -> bool {
        !self.unserved.contains(&TypeId::of::<K>())
    }

    /// Whether every kind has completed its initial list.
    pub fn is_ready(&self) -> bool {
        self.unlisted.is_empty()
    }

    /// A snapshot, when the index is ready and changed since the last one.
    pub fn take_snapshot(&mut self) -> Option<Arc<ResourceSet>> {
        if !self.is_ready() || !self.dirty {
            return None;
        }
        self.dirty = false;
        let noticed = self.noticed.take();
        let mut set = self.set.clone();
        set.arrival = noticed.map(|noticed| crate::timing::Arrival {
            noticed,
            published: std::time::Instant::now(),
        });
        Some(Arc::new(set))
    }

    /// The current state, ready or not.
    pub fn current(&self) -> &ResourceSet {
        &self.set
    }
}

/// Same keys, and each object the same version of it (or, lacking versions, equal pointers).
fn same_objects<K: StoredKind>(a: &crate::model::Store<K>, b: &crate::model::Store<K>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match (&va.meta().resource_version, &vb.meta().resource_version) {
                    (Some(ra), Some(rb)) => ra == rb,
                    _ => Arc::ptr_eq(va, vb),
                }
        })
}
