//! Object storage: every object of every kind, the global resource version, and per-kind
//! event history and broadcast for watches.
//!
//! One mutex guards the whole state and is never held across an await, so every request
//! sees a consistent snapshot and the resource version is a single global sequence like
//! etcd's. Changes are broadcast while the lock is held; a watch that copies history and
//! subscribes under the same lock therefore misses nothing and sees nothing twice.

pub mod prepare;
mod write;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::defaults::Allocator;
use crate::error::ApiError;
use crate::kinds::{KindId, KindTable};
use crate::schema::Schemas;
use crate::selector::Selectors;

pub use write::{DeleteOptions, WriteCtx};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed from storage.
    Deleted,
}

/// One stored change, kept in history and broadcast to watches.
#[derive(Debug)]
pub struct Change {
    /// Resource version the change was written at.
    pub rv: u64,
    /// What happened.
    pub event: EventType,
    /// The object after the change (for a deletion: its last state, at `rv`).
    pub object: Arc<Value>,
    /// The object before the change, so selector watches can tell an object leaving
    /// their selection from one changing inside it.
    pub previous: Option<Arc<Value>>,
}

/// Storage key: namespace (empty for cluster-scoped kinds) and name. Ordered like etcd
/// keys, so lists come out sorted and a namespace is a contiguous range.
type Key = (String, String);

struct KindState {
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Arc<Change>>,
    /// Changes at or below this version are no longer in `history`.
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
}

struct State {
    rv: u64,
    kinds: Vec<KindState>,
    alloc: Allocator,
    writes: u64,
}

/// Tuning for a [`Store`].
#[derive(Debug, Clone, Copy)]
pub struct StoreConfig {
    /// Changes retained per kind for watches resuming from an older version.
    pub history: usize,
    /// Changes a slow watch may fall behind before it is ended with `410 Gone`.
    pub watch_buffer: usize,
}

/// Called with the name of a namespace marked for deletion; it must arrange for
/// [`Store::reap_namespace`] to run later, as a real namespace controller would.
pub type Reaper = Box<dyn Fn(String) + Send + Sync>;

/// The object store.
pub struct Store {
    table: KindTable,
    config: StoreConfig,
    state: Mutex<State>,
    /// `None`: a deleted namespace's contents go within the same request.
    reaper: Option<Reaper>,
    /// CRD schemas, when loaded: writes of those kinds are pruned, defaulted and
    /// validated as a real server does.
    schemas: Option<Arc<Schemas>>,
}

/// One page of a list.
#[derive(Debug)]
pub struct ListPage {
    /// Selected objects, in key order.
    pub items: Vec<Arc<Value>>,
    /// Resource version the list reflects.
    pub rv: u64,
    /// Token for the next page, when `limit` cut the list short.
    pub continue_token: Option<String>,
    /// Objects after this page (when paginated).
    pub remaining: Option<u64>,
}

/// Paging and consistency options of a list.
#[derive(Debug, Default, Clone)]
pub struct ListOptions {
    /// `limit`.
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub version_match: Option<String>,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// Synthetic `ADDED` events for the current objects, then changes.
    Now,
    /// Changes after this resource version.
    Version(u64),
}

/// What a watch starts with, taken atomically with its subscription.
pub struct Subscription {
    /// Current objects to announce as `ADDED` (for [`WatchFrom::Now`]).
    pub initial: Vec<Arc<Value>>,
    /// Retained changes after the requested version.
    pub replay: Vec<Arc<Change>>,
    /// The resource version of the snapshot.
    pub rv: u64,
    /// Changes from now on.
    pub rx: broadcast::Receiver<Arc<Change>>,
}

/// Parses a resource version from a query or body.
pub fn parse_rv(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {text:?}")))
}

impl Store {
    /// An empty store serving the kinds of `table`.
    pub fn new(
        table: KindTable,
        config: StoreConfig,
        reaper: Option<Reaper>,
        schemas: Option<Arc<Schemas>>,
    ) -> Self {
        let kinds = crate::kinds::KINDS
            .iter()
            .map(|_| KindState {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                compacted: 0,
                tx: broadcast::channel(config.watch_buffer.max(16)).0,
            })
            .collect();
        Self {
            table,
            config,
            state: Mutex::new(State {
                rv: 0,
                kinds,
                alloc: Allocator::default(),
                writes: 0,
            }),
            reaper,
            schemas,
        }
    }

    /// How many kinds are validated against a CRD schema.
    pub fn schema_kinds(&self) -> usize {
        self.schemas.as_ref().map_or(0, |s| s.kinds())
    }

    /// The kind table.
    pub fn table(&self) -> &KindTable {
        &self.table
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data behind (every mutation is
        // a single insert/remove), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(namespace: Option<&str>, name: &str) -> Key {
        (namespace.unwrap_or_default().to_string(), name.to_string())
    }

    /// One object.
    pub fn get(
        &self,
        kind: KindId,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let st = self.lock();
        st.kinds[kind]
            .objects
            .get(&Self::key(namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(self.table.spec(kind), name))
    }

    /// The selected objects of a kind, in one namespace or all.
    pub fn list(
        &self,
        kind: KindId,
        namespace: Option<&str>,
        selectors: &Selectors,
        opts: &ListOptions,
    ) -> Result<ListPage, ApiError> {
        let st = self.lock();
        let ks = &st.kinds[kind];
        let rv = match (
            opts.resource_version.as_deref(),
            opts.version_match.as_deref(),
        ) {
            (Some(v), Some("Exact")) => {
                let asked = parse_rv(v)?;
                let last_change = ks.history.back().map_or(ks.compacted, |c| c.rv);
                if asked > st.rv {
                    return Err(ApiError {
                        code: 504,
                        reason: "Timeout",
                        message: format!("Too large resource version: {asked}, current: {}", st.rv),
                        details: None,
                    });
                }
                if last_change > asked {
                    return Err(ApiError::expired(format!(
                        "simkube keeps no snapshot at resource version {asked}; the kind changed since (at {last_change})"
                    )));
                }
                asked
            }
            (Some(v), _) if !v.is_empty() => {
                parse_rv(v)?;
                st.rv
            }
            _ => st.rv,
        };
        let start = match &opts.continue_token {
            Some(token) => Some(decode_continue(token)?),
            None => None,
        };
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = 0u64;
        let limit = opts.limit.filter(|l| *l > 0);
        let exact = selectors.fields.exact_name();
        for (key, obj) in range(&ks.objects, namespace) {
            if start.as_ref().is_some_and(|s| key <= s) {
                continue;
            }
            if exact.is_some_and(|n| n != key.1) || !selectors.matches(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                if continue_token.is_none() {
                    let last: &Arc<Value> = items.last().expect("limit is positive");
                    continue_token = Some(encode_continue(last));
                }
                remaining += 1;
                continue;
            }
            items.push(obj.clone());
        }
        Ok(ListPage {
            items,
            rv,
            remaining: continue_token.as_ref().map(|_| remaining),
            continue_token,
        })
    }

    /// Starts a watch: the snapshot or replay it begins with and its subscription, taken
    /// under one lock.
    pub fn subscribe(
        &self,
        kind: KindId,
        namespace: Option<&str>,
        selectors: &Selectors,
        from: WatchFrom,
    ) -> Result<Subscription, ApiError> {
        let st = self.lock();
        let ks = &st.kinds[kind];
        let rx = ks.tx.subscribe();
        match from {
            WatchFrom::Now => Ok(Subscription {
                initial: range(&ks.objects, namespace)
                    .filter(|(_, o)| selectors.matches(o))
                    .map(|(_, o)| o.clone())
                    .collect(),
                replay: Vec::new(),
                rv: st.rv,
                rx,
            }),
            WatchFrom::Version(v) => {
                if v < ks.compacted {
                    return Err(ApiError::expired(format!(
                        "too old resource version: {v} ({})",
                        ks.compacted + 1
                    )));
                }
                let first = ks.history.partition_point(|c| c.rv <= v);
                Ok(Subscription {
                    initial: Vec::new(),
                    replay: ks.history.range(first..).cloned().collect(),
                    rv: st.rv,
                    rx,
                })
            }
        }
    }

    /// The current global resource version.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Forgets all retained history: any watch resuming from an older version gets
    /// `410 Gone`, as after an etcd compaction.
    pub fn compact(&self) {
        let mut st = self.lock();
        let rv = st.rv;
        for ks in st.kinds.iter_mut() {
            ks.history.clear();
            ks.compacted = rv;
        }
    }

    /// Number of stored objects and of writes since start.
    pub fn counts(&self) -> (u64, u64) {
        let st = self.lock();
        let objects = st.kinds.iter().map(|k| k.objects.len() as u64).sum();
        (objects, st.writes)
    }
}

/// The objects of one namespace (a contiguous key range), or all of them.
fn range<'a>(
    objects: &'a BTreeMap<Key, Arc<Value>>,
    namespace: Option<&str>,
) -> Box<dyn Iterator<Item = (&'a Key, &'a Arc<Value>)> + 'a> {
    match namespace {
        Some(ns) => {
            let ns = ns.to_string();
            let start = (ns.clone(), String::new());
            Box::new(objects.range(start..).take_while(move |(k, _)| k.0 == ns))
        }
        None => Box::new(objects.iter()),
    }
}

fn encode_continue(last: &Value) -> String {
    format!(
        "{}/{}",
        crate::meta::namespace(last).unwrap_or_default(),
        crate::meta::name(last).unwrap_or_default()
    )
}

fn decode_continue(token: &str) -> Result<Key, ApiError> {
    token
        .split_once('/')
        .map(|(ns, name)| (ns.to_string(), name.to_string()))
        .ok_or_else(|| ApiError::bad_request(format!("invalid continue token: {token:?}")))
}
