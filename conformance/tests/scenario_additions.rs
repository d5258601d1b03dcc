//! The additions to the scenario format that K8sGateway behaviours need (latency bounds,
//! status distributions, generated bodies, bursts, `backend: none`, WebSocket upgrades,
//! access logs): every spelling the format allows reads as documented, and every mistake is
//! rejected at its file, line and column.

mod scenario_support;

use std::time::Duration;

use gatesim_conformance::scenario::{StatusCode, Step, Upgrade};
use scenario_support::{BASE, Scratch, error_of, steps};

fn load(body: &str) -> gatesim_conformance::scenario::Scenario {
    let scratch = Scratch::new(&[("base/tiny.yaml", BASE), ("s.yaml", &steps(body))]);
    scratch.load("s.yaml").unwrap_or_else(|e| panic!("{e}"))
}

const HTTP: &str = "- expect-http:\n    gateway: ns/gw\n    cases:\n";

#[test]
fn additions_read_as_documented() {
    let s = load(&format!(
        "{HTTP}    - request: {{path: /delay, bodySize: 20000}}
      response: {{minLatency: 500ms, maxLatency: 2s, headers: {{x-echo-attempt: \"3\"}}}}
    - request: {{path: /healthz}}
      backend: none
    - request: {{path: /ws, upgrade: websocket}}
    - request: {{path: /limited}}
      burst: {{requests: 5, statuses: [200, 200, 429, 429, 429]}}
    - request: {{path: /limited}}
      burst: {{requests: 5, maxPassing: 2}}
- expect-weights:
    gateway: ns/gw
    request: {{path: /abort}}
    statuses: {{\"503\": 0.5, 200: 0.5}}
    distribution: {{echo: 1.0}}
- expect-weights:
    gateway: ns/gw
    request: {{path: /abort}}
    statuses: {{503: 1}}
- expect-access-log:
    gateway: ns/gw
    file: access.log
    lines:
    - contains: GET /status
    - json: {{method: GET, path: /x}}
"
    ));
    let Step::ExpectHttp(http) = &s.steps[0].value else {
        panic!("expect-http first")
    };
    let [timed, health, ws, exact, counted] = http.cases.as_slice() else {
        panic!("five cases")
    };
    assert_eq!(timed.request.body_size, Some(20_000));
    assert_eq!(
        (
            timed.response.min_latency.map(|t| t.0),
            timed.response.max_latency.map(|t| t.0)
        ),
        (
            Some(Duration::from_millis(500)),
            Some(Duration::from_secs(2))
        )
    );
    assert!(health.expects_no_backend() && !timed.expects_no_backend());
    assert_eq!(health.statuses(), [200]);
    assert_eq!(ws.request.upgrade, Some(Upgrade::Websocket));
    assert_eq!(ws.statuses(), [101], "an upgrade expects 101 by default");
    assert_eq!(
        exact.burst.as_ref().and_then(|b| b.statuses.clone()),
        Some(vec![200, 200, 429, 429, 429])
    );
    let counted = counted.burst.as_ref().unwrap();
    assert_eq!(
        (counted.max_passing, counted.min_passing, counted.then),
        (Some(2), None, None)
    );

    let Step::ExpectWeights(w) = &s.steps[1].value else {
        panic!("expect-weights second")
    };
    assert_eq!(
        w.statuses,
        [(StatusCode(200), 0.5), (StatusCode(503), 0.5)].into()
    );
    let Step::ExpectWeights(only_statuses) = &s.steps[2].value else {
        panic!("expect-weights third")
    };
    assert!(only_statuses.distribution.is_empty());

    let Step::ExpectAccessLog(log) = &s.steps[3].value else {
        panic!("expect-access-log last")
    };
    assert_eq!(log.file, "access.log");
    assert_eq!(log.within(), Duration::from_secs(30));
    assert!(log.lines[0].matches("[2026] \"GET /status/200 HTTP/1.1\" 200"));
    assert!(log.lines[1].matches(r#"{"method":"GET","path":"/x","status":200}"#));
    assert!(s.uses_scenario_dir());
}

#[test]
fn the_scenario_directory_is_used_by_objects_patches_and_access_log_steps() {
    let object = load(
        "- apply:\n  - apiVersion: gateway.solo.io/v1\n    kind: ListenerOption\n    \
         metadata: {name: logs, namespace: ns}\n    spec: {options: {accessLoggingService: \
         {accessLog: [{fileSink: {path: \"${SCENARIO_DIR}/access.log\", stringFormat: \"\"}}]}}}\n",
    );
    assert!(object.uses_scenario_dir());
    let patch = load(
        "- patch:\n  - {kind: ListenerOption, namespace: ns, name: logs, patch: {spec: {path: \
         \"${SCENARIO_DIR}/a.log\"}}}\n",
    );
    assert!(patch.uses_scenario_dir());
    let neither = load("- delete: [{kind: Namespace, name: a}]\n");
    assert!(!neither.uses_scenario_dir());
}

fn case(body: &str) -> String {
    error_of(&steps(&format!("{HTTP}    - {body}\n")))
}

#[test]
fn latency_bounds_are_durations_in_order() {
    assert_eq!(
        case("{request: {path: /}, response: {minLatency: soon}}"),
        "<dir>/s.yaml:8:51: steps[0].expect-http.cases[0].response.minLatency: expected a duration \
         such as `30s`, `1m30s` or `500ms`, got `soon`"
    );
    assert_eq!(
        case("{request: {path: /}, response: {minLatency: 2s, maxLatency: 1s}}"),
        "<dir>/s.yaml:8:67: steps[0].expect-http.cases[0].response.maxLatency: `maxLatency` (1s) \
         is below `minLatency` (2s)"
    );
    assert_eq!(
        case("{request: {path: /}, response: {maxLatncy: 1s}}"),
        "<dir>/s.yaml:8:39: steps[0].expect-http.cases[0].response: unknown field `maxLatncy`, \
         expected one of `status`, `statuses`, `headers`, `absentHeaders`, `body`, `bodyContains`, \
         `minLatency`, `maxLatency`"
    );
}

#[test]
fn generated_bodies_and_upgrades_are_checked() {
    assert_eq!(
        case("{request: {path: /, body: x, bodySize: 10}}"),
        "<dir>/s.yaml:8:46: steps[0].expect-http.cases[0].request.bodySize: give `body` or \
         `bodySize`, not both"
    );
    assert_eq!(
        case("{request: {path: /, bodySize: 0}}"),
        "<dir>/s.yaml:8:37: steps[0].expect-http.cases[0].request.bodySize: `bodySize` is from 1 \
         to 67108864 bytes, got 0"
    );
    assert_eq!(
        case("{request: {path: /, bodySize: lots}}"),
        "<dir>/s.yaml:8:37: steps[0].expect-http.cases[0].request.bodySize: invalid type: string \
         \"lots\", expected usize"
    );
    assert_eq!(
        case("{request: {path: /ws, upgrade: websockets}}"),
        "<dir>/s.yaml:8:38: steps[0].expect-http.cases[0].request.upgrade: unknown variant \
         `websockets`, expected `websocket`"
    );
    assert_eq!(
        case("{request: {path: /ws, upgrade: websocket, protocol: h2c}}"),
        "<dir>/s.yaml:8:38: steps[0].expect-http.cases[0].request.upgrade: the probe upgrades \
         HTTP/1.1 connections only; leave `protocol` at http1"
    );
    assert_eq!(
        case("{request: {path: /ws, upgrade: websocket, bodySize: 3}}"),
        "<dir>/s.yaml:8:38: steps[0].expect-http.cases[0].request.upgrade: an upgrade request \
         carries no body"
    );
}

#[test]
fn backend_none_takes_nothing_to_compare_with_a_backend() {
    assert_eq!(
        case("{request: {path: /}, backend: none, namespace: ns}"),
        "<dir>/s.yaml:8:54: steps[0].expect-http.cases[0].namespace: `backend: none` says no \
         backend answers, so there is no `namespace` to check"
    );
    assert_eq!(
        case("{request: {path: /}, backend: none, expectedRequest: {path: /x}}"),
        "<dir>/s.yaml:8:60: steps[0].expect-http.cases[0].expectedRequest: `backend: none` says \
         no backend answers, so there is no `expectedRequest` to check"
    );
}

#[test]
fn bursts_are_one_form_or_the_other_and_add_up() {
    assert_eq!(
        case("{request: {path: /}, burst: {requests: 3}}"),
        "<dir>/s.yaml:8:35: steps[0].expect-http.cases[0].burst: give the exact `statuses` of the \
         burst or `maxPassing` (with optional `minPassing` and `then`), one of the two"
    );
    assert_eq!(
        case("{request: {path: /}, burst: {requests: 3, statuses: [200, 429]}}"),
        "<dir>/s.yaml:8:59: steps[0].expect-http.cases[0].burst.statuses: `statuses` lists 2 \
         statuses for 3 requests"
    );
    assert_eq!(
        case("{request: {path: /}, burst: {requests: 2, statuses: [200, 42]}}"),
        "<dir>/s.yaml:8:65: steps[0].expect-http.cases[0].burst.statuses[1]: 42 is not an HTTP \
         status code"
    );
    assert_eq!(
        case("{request: {path: /}, burst: {requests: 3, maxPassing: 3}}"),
        "<dir>/s.yaml:8:61: steps[0].expect-http.cases[0].burst.maxPassing: `maxPassing` (3) must \
         be below `requests` (3), or no reply would have to be limited"
    );
    assert_eq!(
        case("{request: {path: /}, burst: {requests: 5, maxPassing: 2, minPassing: 3}}"),
        "<dir>/s.yaml:8:76: steps[0].expect-http.cases[0].burst.minPassing: `minPassing` (3) is \
         above `maxPassing` (2)"
    );
    assert_eq!(
        case("{request: {path: /}, burst: {requests: 2, statuses: [200, 429], then: 429}}"),
        "<dir>/s.yaml:8:77: steps[0].expect-http.cases[0].burst.then: `then` goes with \
         `maxPassing`, not with `statuses`"
    );
    assert_eq!(
        case("{request: {path: /}, burst: {requests: 0, maxPassing: 0}}"),
        "<dir>/s.yaml:8:46: steps[0].expect-http.cases[0].burst.requests: a burst sends from 1 to \
         1000 requests, got 0"
    );
    assert_eq!(
        case("{request: {path: /ws, upgrade: websocket}, burst: {requests: 2, maxPassing: 1}}"),
        "<dir>/s.yaml:8:57: steps[0].expect-http.cases[0].burst: a burst sends plain requests; it \
         cannot be combined with `upgrade`"
    );
}

fn weights(body: &str) -> String {
    error_of(&steps(&format!(
        "- expect-weights:\n    gateway: ns/gw\n    request: {{path: /}}\n{body}"
    )))
}

#[test]
fn status_distributions_are_shares_of_real_status_codes() {
    assert_eq!(
        weights("    samples: 10\n"),
        "<dir>/s.yaml:6:5: steps[0].expect-weights: list at least one backend in `distribution` \
         or one status in `statuses`"
    );
    assert_eq!(
        weights("    statuses: {\"503\": 0.5, \"200\": 0.4}\n"),
        "<dir>/s.yaml:8:15: steps[0].expect-weights.statuses: the shares must add up to 1, they \
         add up to 0.9"
    );
    assert_eq!(
        weights("    statuses: {\"5xx\": 1.0}\n"),
        "<dir>/s.yaml:8:16: steps[0].expect-weights.statuses: expected an HTTP status code such \
         as 200 or \"503\", got `5xx`"
    );
    assert_eq!(
        weights("    statuses: {700: 1.0}\n"),
        "<dir>/s.yaml:8:16: steps[0].expect-weights.statuses: 700 is not an HTTP status code"
    );
    assert_eq!(
        weights("    statuses: {503: 1.5, 200: -0.5}\n"),
        "<dir>/s.yaml:8:31: steps[0].expect-weights.statuses.200: a share is between 0 and 1, got -0.5"
    );
}

fn access_log(body: &str) -> String {
    error_of(&steps(&format!(
        "- expect-access-log:\n    gateway: ns/gw\n{body}"
    )))
}

#[test]
fn access_log_steps_name_a_file_inside_the_scenario_directory() {
    assert_eq!(
        access_log("    file: /var/log/envoy.log\n    lines: [{contains: GET}]\n"),
        "<dir>/s.yaml:7:11: steps[0].expect-access-log.file: `file` is a path relative to the \
         scenario directory (${SCENARIO_DIR}), without `..`, got `/var/log/envoy.log`"
    );
    assert_eq!(
        access_log("    file: ../other/access.log\n    lines: [{contains: GET}]\n"),
        "<dir>/s.yaml:7:11: steps[0].expect-access-log.file: `file` is a path relative to the \
         scenario directory (${SCENARIO_DIR}), without `..`, got `../other/access.log`"
    );
    assert_eq!(
        access_log("    file: a.log\n    lines: []\n"),
        "<dir>/s.yaml:8:12: steps[0].expect-access-log.lines: list at least one line"
    );
    assert_eq!(
        access_log("    file: a.log\n    lines: [{}]\n"),
        "<dir>/s.yaml:8:13: steps[0].expect-access-log.lines[0]: a line entry needs `contains` \
         or `json` (or both)"
    );
    assert_eq!(
        access_log("    file: a.log\n    lines: [{json: {}}]\n"),
        "<dir>/s.yaml:8:20: steps[0].expect-access-log.lines[0].json: list at least one field"
    );
    assert_eq!(
        access_log("    file: a.log\n    lines: [{regex: GET}]\n"),
        "<dir>/s.yaml:8:14: steps[0].expect-access-log.lines[0]: unknown field `regex`, expected \
         `contains` or `json`"
    );
    assert_eq!(
        access_log("    lines: [{contains: GET}]\n"),
        "<dir>/s.yaml:6:5: steps[0].expect-access-log: missing field `file`"
    );
    assert_eq!(
        access_log("    file: a.log\n    within: never\n    lines: [{contains: GET}]\n"),
        "<dir>/s.yaml:8:13: steps[0].expect-access-log.within: expected a duration such as \
         `30s`, `1m30s` or `500ms`, got `never`"
    );
}
