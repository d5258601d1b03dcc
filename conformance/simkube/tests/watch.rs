//! Watches through kube-runtime: resumption after dropped streams and after `410 Gone`,
//! reflectors converging through injected faults, bookmarks and streaming lists.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{eventually, namespace, start, start_with};
use futures::{StreamExt, TryStreamExt};
use gatesim_simkube::{Config, ErrorFault, Faults, LatencyFault, Matcher, SimKube, Verb};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::sync::mpsc;

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}})).unwrap()
}

fn rv_of(c: &ConfigMap) -> String {
    c.metadata.resource_version.clone().unwrap()
}

/// Runs a kube-runtime watcher in the background and forwards its events.
fn spawn_watcher(
    api: Api<ConfigMap>,
    config: watcher::Config,
) -> mpsc::UnboundedReceiver<Result<watcher::Event<ConfigMap>, watcher::Error>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = watcher(api, config).boxed();
        while let Some(ev) = stream.next().await {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs a reflector (with kube's default backoff) in the background.
fn spawn_reflector(api: Api<ConfigMap>) -> Store<ConfigMap> {
    let (reader, writer) = reflector::store();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    tokio::spawn(async move {
        let mut stream = stream.boxed();
        while stream.next().await.is_some() {}
    });
    reader
}

/// Name and resourceVersion of every object, as the server has them (retrying injected
/// server errors, which may hit this list too).
async fn server_state(api: &Api<ConfigMap>) -> BTreeMap<String, String> {
    loop {
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                return list
                    .items
                    .iter()
                    .map(|c| (c.metadata.name.clone().unwrap(), rv_of(c)))
                    .collect();
            }
            Err(kube::Error::Api(s)) if s.code >= 500 => continue,
            Err(e) => panic!("listing: {e}"),
        }
    }
}

fn store_state(store: &Store<ConfigMap>) -> BTreeMap<String, String> {
    store
        .state()
        .iter()
        .map(|c| (c.metadata.name.clone().unwrap(), rv_of(c)))
        .collect()
}

async fn wait_converged(store: &Store<ConfigMap>, api: &Api<ConfigMap>, what: &str) {
    let want = server_state(api).await;
    eventually(what, Duration::from_secs(20), || {
        let got = store_state(store);
        let want = want.clone();
        async move { (got == want).then_some(()) }
    })
    .await;
}

/// Keeps dropping watch streams until every injected error has been served: a fault on
/// the watch verb only fires when the watcher reconnects.
async fn drop_until_served(faults: &Faults) {
    eventually(
        "every injected fault to be served",
        Duration::from_secs(30),
        || {
            let done = faults.active().errors.is_empty();
            if !done {
                faults.drop_watches();
            }
            async move {
                if !done {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                done.then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn watcher_resumes_after_dropped_streams_without_missing_events() {
    let (server, client) = start().await;
    namespace(&client, "w").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "w");
    let mut events = spawn_watcher(api.clone(), watcher::Config::default());
    loop {
        match events.recv().await.unwrap() {
            Ok(watcher::Event::InitDone) => break,
            Ok(_) => {}
            Err(e) => panic!("initial list failed: {e}"),
        }
    }

    // Every write, as (name, resourceVersion, deleted).
    let mut expected = BTreeSet::new();
    for i in 0..150 {
        let name = format!("cm-{i}");
        let created = api
            .create(&PostParams::default(), &cm(&name, "0"))
            .await
            .unwrap();
        expected.insert((name.clone(), rv_of(&created), false));
        if i % 3 == 0 {
            let patched = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": {"v": "1"}})),
                )
                .await
                .unwrap();
            expected.insert((name.clone(), rv_of(&patched), false));
        }
        if i % 5 == 0 {
            let deleted = api
                .delete(&name, &DeleteParams::default())
                .await
                .unwrap()
                .left()
                .unwrap();
            expected.insert((name.clone(), rv_of(&deleted), true));
        }
        if i % 25 == 12 {
            server.faults().drop_watches();
        }
    }

    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !expected.is_subset(&seen) {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| {
                let missing: Vec<_> = expected.difference(&seen).take(5).collect();
                panic!("timed out; missing events such as {missing:?}")
            })
            .unwrap();
        match ev {
            Ok(watcher::Event::Apply(c)) => {
                seen.insert((c.metadata.name.clone().unwrap(), rv_of(&c), false));
            }
            Ok(watcher::Event::Delete(c)) => {
                seen.insert((c.metadata.name.clone().unwrap(), rv_of(&c), true));
            }
            Ok(other) => panic!("the watcher relisted ({other:?}); it should have resumed"),
            Err(e) => panic!("watch error: {e}"),
        }
    }
    assert_eq!(seen, expected, "every change exactly once, nothing extra");

    let stats = server.stats();
    assert_eq!(
        stats.requests(Verb::List, "configmaps"),
        1,
        "resumed without relisting"
    );
    assert!(stats.requests(Verb::Watch, "configmaps") >= 2, "{stats:?}");
    assert!(stats.watches_dropped >= 1, "{stats:?}");
}

#[tokio::test]
async fn watcher_relists_after_410_and_converges() {
    let (server, client) = start().await;
    namespace(&client, "g").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "g");
    for i in 0..20 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i}"), "0"))
            .await
            .unwrap();
    }
    let store = spawn_reflector(api.clone());
    wait_converged(&store, &api, "initial sync").await;

    // Hold the reconnecting watch long enough to change things and compact history, so
    // that it resumes from a version the server no longer has.
    let faults = server.faults();
    faults.add_latency(LatencyFault {
        matcher: Matcher::verb(Verb::Watch),
        millis: 400,
    });
    faults.drop_watches();
    for i in 0..5 {
        api.delete(&format!("cm-{i}"), &DeleteParams::default())
            .await
            .unwrap();
        api.patch(
            &format!("cm-{}", i + 5),
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"v": "2"}})),
        )
        .await
        .unwrap();
        api.create(&PostParams::default(), &cm(&format!("new-{i}"), "0"))
            .await
            .unwrap();
    }
    faults.compact_history();
    wait_converged(&store, &api, "convergence after 410").await;
    faults.clear();
    // Lists so far: the reflector's first, its relist, and one per convergence check.
    assert!(
        server.stats().requests(Verb::List, "configmaps") >= 4,
        "the watcher relisted after 410: {:?}",
        server.stats()
    );

    // An injected 410 on the next watch has the same effect.
    let lists_before = server.stats().requests(Verb::List, "configmaps");
    faults
        .inject_error(ErrorFault {
            matcher: Matcher::verb(Verb::Watch).on("configmaps"),
            code: 410,
            count: 1,
        })
        .unwrap();
    api.delete("cm-10", &DeleteParams::default()).await.unwrap();
    drop_until_served(&faults).await;
    wait_converged(&store, &api, "convergence after injected 410").await;
    eventually("a relist", Duration::from_secs(10), || {
        let n = server.stats().requests(Verb::List, "configmaps");
        // One list is the convergence check's; the other must be the relist.
        async move { (n >= lists_before + 2).then_some(()) }
    })
    .await;
}

/// Replaces `name` with a new value, retrying on conflicts like any careful writer.
async fn update_with_retry(api: &Api<ConfigMap>, name: &str, value: &str) -> u32 {
    let mut conflicts = 0;
    loop {
        let mut current = api.get(name).await.unwrap();
        current.data = Some([("v".to_string(), value.to_string())].into());
        match api.replace(name, &PostParams::default(), &current).await {
            Ok(_) => return conflicts,
            Err(kube::Error::Api(s)) if s.code == 409 => conflicts += 1,
            Err(e) => panic!("update failed: {e}"),
        }
    }
}

#[tokio::test]
async fn reflector_converges_through_injected_faults() {
    let (server, client) = start().await;
    namespace(&client, "f").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "f");
    let faults = server.faults();
    faults.add_latency(LatencyFault {
        matcher: Matcher::any(),
        millis: 15,
    });
    for (verb, code, count) in [
        (Verb::List, 500, 2),
        (Verb::Watch, 410, 2),
        (Verb::Watch, 500, 1),
        (Verb::Update, 409, 3),
    ] {
        faults
            .inject_error(ErrorFault {
                matcher: Matcher::verb(verb).on("configmaps"),
                code,
                count,
            })
            .unwrap();
    }
    let store = spawn_reflector(api.clone());
    let mut conflicts = 0;
    for i in 0..30 {
        let name = format!("cm-{i}");
        api.create(&PostParams::default(), &cm(&name, "0"))
            .await
            .unwrap();
        if i % 4 == 0 {
            conflicts += update_with_retry(&api, &name, "1").await;
        }
        if i % 7 == 0 {
            api.delete(&name, &DeleteParams::default()).await.unwrap();
        }
        if i % 10 == 5 {
            faults.drop_watches();
        }
    }
    drop_until_served(&faults).await;
    wait_converged(&store, &api, "reflector convergence through faults").await;
    assert_eq!(conflicts, 3, "the writer saw every injected conflict");
    assert_eq!(server.stats().injected_errors, 8);
}

#[tokio::test]
async fn bookmarks_arrive_when_asked_for() {
    let (_server, client) = start_with(Config {
        bookmark_interval: Duration::from_millis(100),
        ..Config::default()
    })
    .await;
    namespace(&client, "b").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "b");
    let created = api
        .create(&PostParams::default(), &cm("a", "0"))
        .await
        .unwrap();
    let created_rv: u64 = rv_of(&created).parse().unwrap();

    let mut stream = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let mut added = false;
    let bookmark_rv = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.try_next().await.unwrap().unwrap() {
                WatchEvent::Added(_) => added = true,
                WatchEvent::Bookmark(b) => break b.metadata.resource_version,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("a bookmark within 5s");
    assert!(added, "the existing object came first");
    assert!(bookmark_rv.parse::<u64>().unwrap() >= created_rv);

    let mut quiet = api
        .watch(
            &WatchParams::default().disable_bookmarks(),
            &created_rv.to_string(),
        )
        .await
        .unwrap()
        .boxed();
    let nothing = tokio::time::timeout(Duration::from_millis(400), quiet.try_next()).await;
    assert!(
        nothing.is_err(),
        "no bookmarks unless asked for: {nothing:?}"
    );
}

#[tokio::test]
async fn streaming_list_ends_initial_events_with_a_bookmark() {
    let (server, client) = start().await;
    namespace(&client, "s").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "s");
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &cm(name, "0"))
            .await
            .unwrap();
    }
    let mut events = spawn_watcher(api.clone(), watcher::Config::default().streaming_lists());
    let mut initial = BTreeSet::new();
    loop {
        match events.recv().await.unwrap().unwrap() {
            watcher::Event::Init => {}
            watcher::Event::InitApply(c) => {
                initial.insert(c.metadata.name.unwrap());
            }
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["a", "b", "c"].map(String::from).into());
    api.create(&PostParams::default(), &cm("d", "0"))
        .await
        .unwrap();
    match events.recv().await.unwrap().unwrap() {
        watcher::Event::Apply(c) => assert_eq!(c.metadata.name.as_deref(), Some("d")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        server.stats().requests(Verb::List, "configmaps"),
        0,
        "no list was needed"
    );
}

#[tokio::test]
async fn watch_from_a_compacted_version_is_410_expired() {
    let (server, client) = start().await;
    namespace(&client, "x").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "x");
    let first = api
        .create(&PostParams::default(), &cm("a", "0"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("b", "0"))
        .await
        .unwrap();
    server.faults().compact_history();
    let mut stream = api
        .watch(&WatchParams::default(), &rv_of(&first))
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test]
async fn selector_watches_see_objects_enter_and_leave() {
    let (_server, client) = start().await;
    namespace(&client, "l").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "l");
    let start_rv = rv_of(
        &api.create(&PostParams::default(), &cm("a", "0"))
            .await
            .unwrap(),
    );
    let mut stream = api
        .watch(
            &WatchParams::default().labels("team=x").disable_bookmarks(),
            &start_rv,
        )
        .await
        .unwrap()
        .boxed();
    let label = |v: Option<&str>| Patch::Merge(json!({"metadata": {"labels": {"team": v}}}));
    api.patch("a", &PatchParams::default(), &label(Some("x")))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "1"}})),
    )
    .await
    .unwrap();
    api.patch("a", &PatchParams::default(), &label(Some("y")))
        .await
        .unwrap();
    api.patch("a", &PatchParams::default(), &label(None))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    for _ in 0..3 {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        kinds.push(match ev {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn metadata_watchers_get_partial_objects() {
    let (_server, client) = start().await;
    namespace(&client, "m").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "m");
    api.create(&PostParams::default(), &cm("a", "0"))
        .await
        .unwrap();
    let meta_api: Api<PartialObjectMeta<ConfigMap>> =
        Api::namespaced(api.clone().into_client(), "m");
    let mut stream = watcher(meta_api, watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("a"));
    let meta = api.get_metadata("a").await.unwrap();
    assert_eq!(meta.metadata.uid, first.metadata.uid);
}

/// A dropped server (simulating a crash) ends streams; shutdown completes even with
/// watches open.
#[tokio::test]
async fn shutdown_ends_open_watches() {
    let server = SimKube::start(Config::default()).await.unwrap();
    let client = common::client_for(&server);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut stream = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown does not wait for watches")
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(end.is_none() || end.unwrap().is_err(), "the stream ended");
}
