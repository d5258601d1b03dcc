//! Watch streams: newline-delimited `{"type", "object"}` events over a chunked response.
//!
//! Each stream is a task fed by the kind's broadcast channel. It starts from a snapshot
//! (synthetic `ADDED`s) or from retained history, filters by namespace and selectors
//! (turning an object leaving the selection into `DELETED` and one entering it into
//! `ADDED`, as upstream), sends bookmarks when asked, and ends on `timeoutSeconds`, on a
//! dropped-watches fault, on shutdown, or with a `410` when the client fell too far behind.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::render::View;
use super::route::ResourcePath;
use crate::error::ApiError;
use crate::meta;
use crate::selector::Selectors;
use crate::server::Core;
use crate::store::{Change, EventType, WatchFrom, parse_rv};

/// Annotation on the bookmark that ends the initial events of a streaming list.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// Default `timeoutSeconds` when the client sets none (upstream picks 30–60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Serialize)]
struct EventOut<'a, O: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: O,
}

fn encode<O: Serialize>(kind: &str, object: O) -> Bytes {
    let mut line =
        serde_json::to_vec(&EventOut { kind, object }).expect("watch events are plain JSON");
    line.push(b'\n');
    Bytes::from(line)
}

fn streaming_response(body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A watch answered with a single `ERROR` event, as a real server reports an expired
/// resource version.
pub(super) fn error_stream(err: &ApiError) -> Response {
    streaming_response(Body::from(encode("ERROR", err.to_status())))
}

/// Starts a watch stream.
pub(super) fn serve(
    core: Arc<Core>,
    rp: &ResourcePath,
    selectors: Selectors,
    params: &HashMap<String, String>,
    view: View,
) -> Result<Response, ApiError> {
    let initial_events = params.get("sendInitialEvents").is_some_and(|v| v == "true");
    let from = match params.get("resourceVersion").map(String::as_str) {
        _ if initial_events => WatchFrom::Now,
        None | Some("" | "0") => WatchFrom::Now,
        Some(v) => WatchFrom::Version(parse_rv(v)?),
    };
    let timeout = match params.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| ApiError::bad_request("timeoutSeconds must be an integer"))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let bookmarks = params
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true" || v == "1");
    let sub = match core
        .store
        .subscribe(rp.kind, rp.namespace.as_deref(), &selectors, from)
    {
        Ok(sub) => sub,
        Err(err) if err.code == 410 => return Ok(error_stream(&err)),
        Err(err) => return Err(err),
    };

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let stream = WatchStream {
        core: core.clone(),
        tx,
        view,
        namespace: rp.namespace.clone(),
        selectors,
        last_rv: match from {
            WatchFrom::Now => sub.rv,
            WatchFrom::Version(v) => v,
        },
        sent: 0,
        epoch: core.faults.epoch(),
    };
    let guard = core.faults.watch_opened();
    tokio::spawn(async move {
        let _guard = guard;
        stream.run(sub, initial_events, bookmarks, timeout).await;
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    Ok(streaming_response(body))
}

struct WatchStream {
    core: Arc<Core>,
    tx: mpsc::Sender<Bytes>,
    view: View,
    namespace: Option<String>,
    selectors: Selectors,
    /// Highest resource version delivered (or deliberately skipped): the stream never goes
    /// back, and bookmarks never claim less.
    last_rv: u64,
    sent: u64,
    /// Changes when watches are dropped; subscribed before the stream starts so a drop
    /// right after the request is not missed.
    epoch: tokio::sync::watch::Receiver<u64>,
}

/// Why a stream stopped early: the client went away.
struct Closed;

/// What woke a stream up.
enum Wake {
    Stop,
    Dropped,
    Tick,
    Change(Result<Arc<Change>, broadcast::error::RecvError>),
}

impl WatchStream {
    async fn run(
        mut self,
        sub: crate::store::Subscription,
        initial_events: bool,
        bookmarks: bool,
        timeout: Duration,
    ) {
        let mut rx = sub.rx;
        let _ = self.start(sub.initial, sub.replay, initial_events).await;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut epoch = self.epoch.clone();
        let mut shutdown = self.core.shutdown.clone();
        let period = self
            .core
            .config
            .bookmark_interval
            .max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(period);
        ticker.tick().await;
        loop {
            let wake = tokio::select! {
                _ = self.tx.closed() => Wake::Stop,
                _ = &mut deadline => Wake::Stop,
                _ = epoch.changed() => Wake::Dropped,
                _ = shutdown.changed() => Wake::Stop,
                _ = ticker.tick(), if bookmarks => Wake::Tick,
                received = rx.recv() => Wake::Change(received),
            };
            let step = match wake {
                Wake::Stop => break,
                Wake::Dropped => {
                    self.core.faults.watch_dropped();
                    break;
                }
                Wake::Tick => self.bookmark(&mut rx).await,
                Wake::Change(Ok(change)) => self.deliver(&change).await,
                Wake::Change(Err(broadcast::error::RecvError::Lagged(n))) => {
                    let err = ApiError::expired(format!(
                        "watch fell {n} events behind; relist and watch again"
                    ));
                    let _ = self.send(encode("ERROR", err.to_status())).await;
                    break;
                }
                Wake::Change(Err(broadcast::error::RecvError::Closed)) => break,
            };
            if step.is_err() {
                break;
            }
        }
        self.core.faults.watch_events_sent(self.sent);
    }

    async fn start(
        &mut self,
        initial: Vec<Arc<Value>>,
        replay: Vec<Arc<Change>>,
        initial_events: bool,
    ) -> Result<(), Closed> {
        for obj in initial {
            if self.in_namespace(&obj) {
                let line = encode("ADDED", self.view.object(&obj));
                self.send(line).await?;
            }
        }
        if initial_events {
            let rv = self.last_rv;
            self.send_bookmark(rv, true).await?;
        }
        for change in replay {
            self.deliver(&change).await?;
        }
        Ok(())
    }

    fn in_namespace(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta::namespace(obj) == Some(ns))
    }

    fn selected(&self, obj: &Value) -> bool {
        self.in_namespace(obj) && self.selectors.matches(obj)
    }

    async fn deliver(&mut self, change: &Change) -> Result<(), Closed> {
        if change.rv <= self.last_rv {
            return Ok(());
        }
        self.last_rv = change.rv;
        let now = self.selected(&change.object);
        let before = change.previous.as_deref().is_some_and(|p| self.selected(p));
        let kind = match (change.event, before, now) {
            (EventType::Deleted, _, true) => "DELETED",
            (EventType::Deleted, _, false) => return Ok(()),
            (EventType::Added, _, true) => "ADDED",
            (EventType::Modified, true, true) => "MODIFIED",
            (EventType::Modified, false, true) => "ADDED",
            (EventType::Modified, true, false) => "DELETED",
            _ => return Ok(()),
        };
        let line = encode(kind, self.view.object(&change.object));
        self.send(line).await
    }

    /// Sends a bookmark at the newest version this stream has fully delivered. Every
    /// change at or below the store's current version was broadcast before that version
    /// was readable, so draining the channel first makes the bookmark truthful.
    async fn bookmark(&mut self, rx: &mut broadcast::Receiver<Arc<Change>>) -> Result<(), Closed> {
        let current = self.core.store.current_rv();
        loop {
            match rx.try_recv() {
                Ok(change) => self.deliver(&change).await?,
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(_) => return Err(Closed),
            }
        }
        let rv = self.last_rv.max(current);
        self.last_rv = rv;
        self.send_bookmark(rv, false).await
    }

    async fn send_bookmark(&mut self, rv: u64, initial_end: bool) -> Result<(), Closed> {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({INITIAL_EVENTS_END: "true"});
        }
        let object = json!({
            "kind": self.view.kind(),
            "apiVersion": self.view.api_version(),
            "metadata": metadata,
        });
        self.send(encode("BOOKMARK", object)).await
    }

    async fn send(&mut self, line: Bytes) -> Result<(), Closed> {
        self.sent += 1;
        self.tx.send(line).await.map_err(|_| Closed)
    }
}
