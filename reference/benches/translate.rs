//! `translate()` at 100, 500, 1,000 and 10,000 HTTPRoutes, at 500 without input validation
//! (`translate/unvalidated/500`) to show what validation adds, at 500 HTTPRoutes each with
//! a RouteOption attached by targetRef (`translate-route-options/500`), and one edited route
//! among 10,000 retranslated by a `Translator` that keeps its previous work
//! (`translate-incremental/10000`).
//!
//! The input resembles Envoy Gateway's "large" benchmark shape: routes spread over namespaces,
//! each with hostnames, a couple of rules with path and header matches, a header filter and
//! weighted backends, over Services with EndpointSlices. Compare the 500-route figure with
//! Envoy Gateway's published 138.9 ms (see shared/reference/envoy-and-rust-stack.md §9.1).
//!
//! Besides criterion's report, the bench prints its headline figures as `figure<TAB>value<TAB>
//! target` lines (the median of a few timed runs of its own) for `ci/bench`. With
//! `GATESIM_BENCH_SMOKE=1` it runs only those, at 1/100 of the sizes and a few runs each: a
//! check that it still works, not a measurement.

/// The same allocator as the `gatesim-controller` binary, so the figures are the controller's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use gatesim_reference::model::{AnyObject, ResourceSet};
use gatesim_reference::translate::{Translator, translate};
use serde_json::json;

fn insert(set: &mut ResourceSet, v: serde_json::Value) {
    set.insert_any(AnyObject::from_value(v).expect("valid object"));
}

fn fixture(routes: usize) -> ResourceSet {
    let mut set = ResourceSet::default();
    insert(
        &mut set,
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "gatesim", "generation": 1},
        "spec": {"controllerName": "gatesim.dev/reference-controller"}}),
    );
    insert(
        &mut set,
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "infra", "generation": 1},
        "spec": {"gatewayClassName": "gatesim", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
            {"name": "http-8080", "port": 8080, "protocol": "HTTP", "hostname": "*.example.com",
             "allowedRoutes": {"namespaces": {"from": "All"}}}]}}),
    );
    let namespaces = (routes / 100).max(1);
    let services = (routes / 10).max(2);
    for n in 0..namespaces {
        insert(
            &mut set,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("ns-{n}"), "labels": {"kubernetes.io/metadata.name": format!("ns-{n}")}}}),
        );
    }
    for s in 0..services {
        let ns = format!("ns-{}", s % namespaces);
        insert(
            &mut set,
            json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc-{s}"), "namespace": ns},
            "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": 3000}]}}),
        );
        insert(
            &mut set,
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("svc-{s}-abc"), "namespace": ns,
                         "labels": {"kubernetes.io/service-name": format!("svc-{s}")}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 3000}],
            "endpoints": [{"addresses": [format!("10.0.{}.{}", s / 250, s % 250 + 1)]},
                          {"addresses": [format!("10.1.{}.{}", s / 250, s % 250 + 1)]},
                          {"addresses": [format!("10.2.{}.{}", s / 250, s % 250 + 1)]}]}),
        );
    }
    for r in 0..routes {
        let ns = format!("ns-{}", r % namespaces);
        // Services in the route's own namespace, so no ReferenceGrant is needed.
        let a = (r % services) - (r % services) % namespaces + r % namespaces;
        let a = if a >= services { r % namespaces } else { a };
        let b = if a + namespaces < services {
            a + namespaces
        } else {
            a
        };
        insert(
            &mut set,
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": format!("route-{r}"), "namespace": ns, "generation": 1,
                         "creationTimestamp": format!("2026-01-01T00:{:02}:{:02}Z", (r / 60) % 60, r % 60)},
            "spec": {
                "parentRefs": [{"name": "gw", "namespace": "infra"}],
                "hostnames": [format!("app-{r}.example.com")],
                "rules": [
                    {"matches": [{"path": {"type": "PathPrefix", "value": format!("/api/{r}")},
                                  "headers": [{"name": "x-version", "value": "v2"}]}],
                     "filters": [{"type": "RequestHeaderModifier",
                                  "requestHeaderModifier": {"set": [{"name": "x-route", "value": format!("{r}")}]}}],
                     "backendRefs": [{"name": format!("svc-{a}"), "port": 8080, "weight": 90},
                                     {"name": format!("svc-{b}"), "port": 8080, "weight": 10}]},
                    {"matches": [{"path": {"type": "Exact", "value": "/"}}],
                     "backendRefs": [{"name": format!("svc-{a}"), "port": 8080}]}
                ]}}),
        );
    }
    for key in gatesim_reference::translate::managed_gateways(&set) {
        set.gateway_addresses.insert(key, "127.0.10.1".into());
    }
    set
}

/// One RouteOption per route of `fixture(routes)`, by targetRef: timeout, retries, headers
/// and CORS, so the policy pass and the per-route Envoy mapping both run.
fn with_route_options(routes: usize) -> ResourceSet {
    let mut set = fixture(routes);
    let namespaces = (routes / 100).max(1);
    for r in 0..routes {
        insert(
            &mut set,
            json!({"apiVersion": "gateway.solo.io/v1", "kind": "RouteOption",
            "metadata": {"name": format!("options-{r}"), "namespace": format!("ns-{}", r % namespaces),
                         "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {
                "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                "name": format!("route-{r}")}],
                "options": {
                    "timeout": "10s",
                    "retries": {"retryOn": "5xx", "numRetries": 2, "perTryTimeout": "2s"},
                    "headerManipulation": {"responseHeadersToAdd": [
                        {"header": {"key": "x-policy", "value": format!("{r}")}}]},
                    "cors": {"allowOrigin": ["https://app.example.com"], "allowMethods": ["GET"]}
                }}}),
        );
    }
    set
}

/// Sanity: every rule of `n` routes carries its RouteOption (CORS is one of its fields).
fn check_route_options(set: &ResourceSet, n: usize) {
    let t = translate(set);
    let with_cors = t
        .proxies
        .values()
        .flat_map(|p| &p.routes)
        .flat_map(|r| &r.virtual_hosts)
        .flat_map(|vh| &vh.routes)
        .filter(|r| {
            r.typed_per_filter_config
                .contains_key("envoy.filters.http.cors")
        })
        .count();
    assert!(
        with_cors >= 2 * n,
        "expected every rule of {n} routes to carry its RouteOption, got {with_cors}"
    );
}

/// Sanity: every route is attached, so the benchmark measures the full path.
fn check_attached(set: &ResourceSet, n: usize) {
    let t = translate(set);
    let vhosts: usize = t
        .proxies
        .values()
        .flat_map(|p| &p.routes)
        .map(|r| r.virtual_hosts.len())
        .sum();
    assert!(
        vhosts >= n,
        "expected at least {n} virtual hosts, got {vhosts}"
    );
}

/// `set` with route `r` edited as a user would: its first rule's path and header value.
fn edited(set: &ResourceSet, r: usize) -> ResourceSet {
    let mut set = set.clone();
    let key = set
        .http_routes
        .keys()
        .find(|k| k.name == format!("route-{r}"))
        .expect("the route exists")
        .clone();
    let mut route = (*set.http_routes[&key]).clone();
    let rule = &mut route.spec.rules.as_mut().expect("rules")[0];
    let m = &mut rule.matches.as_mut().expect("matches")[0];
    m.path.as_mut().expect("path").value = Some(format!("/api/{r}/edited"));
    m.headers.as_mut().expect("headers")[0].value = "v3".into();
    set.http_routes.insert(key, std::sync::Arc::new(route));
    set
}

/// A `Translator` that has translated `a`, and `b`: `a` with one route edited. Translating
/// them in turn is one edit each time.
fn incremental(n: usize) -> (Translator, ResourceSet, ResourceSet) {
    let a = fixture(n);
    let b = edited(&a, n / 2);
    let mut translator = Translator::default();
    // Sanity: the reuse changes nothing in the output.
    assert!(*translator.translate(&a) == translate(&a));
    assert!(*translator.translate(&b) == translate(&b));
    (translator, a, b)
}

fn smoke() -> bool {
    std::env::var("GATESIM_BENCH_SMOKE").is_ok_and(|v| v == "1")
}

/// Median wall time of `runs` calls of `f`, in milliseconds.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn figure(name: &str, value: String, target: &str) {
    println!("{name}\t{value}\t{target}");
}

/// The headline figures, measured outside criterion so they come out as one table.
fn figures() {
    let (scale, runs) = if smoke() { (100, 3) } else { (1, 10) };
    let (small, large, with_options) = (1_000 / scale, 10_000 / scale, 500 / scale);
    let time = |set: &ResourceSet| median_ms(runs, || drop(translate(black_box(set))));

    let set = fixture(small);
    check_attached(&set, small);
    let t_small = time(&set);
    let set = fixture(large);
    check_attached(&set, large);
    let t_large = time(&set);
    drop(set);
    figure(
        &format!("translate/{large}"),
        format!("{t_large:.1} ms"),
        "< 100 ms",
    );
    figure(
        &format!("translate/{large} ÷ translate/{small}"),
        format!("{:.1}", t_large / t_small),
        "< 11",
    );

    let set = with_route_options(with_options);
    check_route_options(&set, with_options);
    figure(
        &format!("translate-route-options/{with_options}"),
        format!("{:.1} ms", time(&set)),
        "< 14 ms",
    );
    drop(set);

    let (mut translator, a, b) = incremental(large);
    let mut flip = false;
    let t_edit = median_ms(runs, || {
        flip = !flip;
        drop(translator.translate(black_box(if flip { &b } else { &a })));
    });
    figure(
        &format!("translate-incremental/{large} (one route edited)"),
        format!("{t_edit:.1} ms"),
        &format!("< translate/{large} ÷ 10 ({:.1} ms)", t_large / 10.0),
    );
}

fn bench_route_options(c: &mut Criterion) {
    let mut group = c.benchmark_group("translate-route-options");
    let n = 500;
    let set = with_route_options(n);
    check_route_options(&set, n);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_with_input(BenchmarkId::from_parameter(n), &set, |b, set| {
        b.iter(|| translate(black_box(set)))
    });
    group.finish();
}

fn bench_incremental(c: &mut Criterion) {
    let mut group = c.benchmark_group("translate-incremental");
    let n = 10_000;
    let (mut translator, a, b) = incremental(n);
    let mut flip = false;
    group.bench_function(BenchmarkId::from_parameter(n), |bench| {
        bench.iter(|| {
            flip = !flip;
            translator.translate(black_box(if flip { &b } else { &a }))
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("translate");
    for &n in &[100usize, 500, 1_000, 10_000] {
        let set = fixture(n);
        check_attached(&set, n);
        if n >= 10_000 {
            group.sample_size(10);
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &set, |b, set| {
            b.iter(|| translate(black_box(set)))
        });
        // What validation costs: the same translation with it off (a knob meant for tests).
        if n == 500 {
            let mut unvalidated = set;
            unvalidated.config.validate_inputs = false;
            let id = BenchmarkId::new("unvalidated", n);
            group.bench_with_input(id, &unvalidated, |b, set| {
                b.iter(|| translate(black_box(set)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench, bench_route_options, bench_incremental);

fn main() {
    figures();
    if !smoke() {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
}
