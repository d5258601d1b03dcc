//! Schema validation against the upstream Gateway API CRDs, through the real kube client:
//! one table row per constraint class (patterns, ranges, enums, required fields, lengths,
//! item counts, list-map keys, each family of CEL rules). Each invalid object gets a
//! `422 Invalid` naming the field and the reason kube-apiserver names; its valid twin,
//! one change away, is created.

mod common;

use common::{namespace, start, status};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use rstest::rstest;
use serde_json::{Value, json};

const GW: &str = "gateway.networking.k8s.io";

fn api(client: &kube::Client, kind: &str, version: &str) -> Api<DynamicObject> {
    let group = if kind.starts_with('X') {
        "gateway.networking.x-k8s.io"
    } else {
        GW
    };
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    if kind == "GatewayClass" {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), "v", &ar)
    }
}

fn object(kind: &str, name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": format!("{GW}/v1"), "kind": kind,
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap()
}

/// An HTTPRoute whose only rule is `rule`.
fn route(rule: Value) -> Value {
    json!({"parentRefs": [{"name": "gw"}], "rules": [rule]})
}

fn backend(extra: Value) -> Value {
    let mut b = json!({"name": "svc", "port": 80});
    b.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    b
}

fn with_backend(extra: Value) -> Value {
    route(json!({"backendRefs": [backend(extra)]}))
}

fn matching(m: Value) -> Value {
    route(json!({"matches": [m], "backendRefs": [backend(json!({}))]}))
}

fn filter(f: Value) -> Value {
    route(json!({"filters": [f], "backendRefs": [backend(json!({}))]}))
}

fn listener(extra: Value) -> Value {
    let mut l = json!({"name": "http", "port": 80, "protocol": "HTTP"});
    l.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"gatewayClassName": "sim", "listeners": [l]})
}

fn listeners(ls: Value) -> Value {
    json!({"gatewayClassName": "sim", "listeners": ls})
}

fn hostnames(n: usize) -> Value {
    let mut spec = route(json!({"backendRefs": [backend(json!({}))]}));
    spec["hostnames"] = (0..n).map(|i| json!(format!("h{i}.example"))).collect();
    spec
}

fn parent_refs(n: usize) -> Value {
    json!({"parentRefs": (0..n).map(|i| json!({"name": format!("gw{i}")})).collect::<Vec<_>>()})
}

fn rules(n: usize) -> Value {
    json!({"parentRefs": [{"name": "gw"}], "rules": (0..n).map(|_| json!({"backendRefs": [backend(json!({}))]})).collect::<Vec<_>>()})
}

fn mirror(extra: Value) -> Value {
    let mut m = json!({"backendRef": {"name": "mirror", "port": 80}});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    filter(json!({"type": "RequestMirror", "requestMirror": m}))
}

fn redirect(r: Value) -> Value {
    route(json!({"filters": [{"type": "RequestRedirect", "requestRedirect": r}]}))
}

fn grpc_method(m: Value) -> Value {
    json!({"parentRefs": [{"name": "gw"}], "rules": [{"matches": [{"method": m}], "backendRefs": [{"name": "svc", "port": 50051}]}]})
}

fn tls_route(hostname: &str) -> Value {
    json!({"parentRefs": [{"name": "gw"}], "hostnames": [hostname], "rules": [{"backendRefs": [{"name": "svc", "port": 443}]}]})
}

fn grant(from: Value) -> Value {
    json!({"from": [from], "to": [{"group": "", "kind": "Service"}]})
}

fn backend_tls(validation: Value) -> Value {
    json!({"targetRefs": [{"group": "", "kind": "Service", "name": "svc"}], "validation": validation})
}

fn retry_budget(interval: &str) -> Value {
    json!({"targetRefs": [{"group": "", "kind": "Service", "name": "svc"}],
           "retryConstraint": {"budget": {"interval": interval, "percent": 20}}})
}

#[rstest]
// Ranges and types of integers.
#[case::weight_above_maximum("HTTPRoute", with_backend(json!({"weight": 2147483648u64})), "spec.rules[0].backendRefs[0].weight", "FieldValueInvalid", with_backend(json!({"weight": 1000000})))]
#[case::weight_below_minimum("HTTPRoute", with_backend(json!({"weight": -1})), "spec.rules[0].backendRefs[0].weight", "FieldValueInvalid", with_backend(json!({"weight": 0})))]
#[case::weight_of_wrong_type("HTTPRoute", with_backend(json!({"weight": "heavy"})), "spec.rules[0].backendRefs[0].weight", "FieldValueTypeInvalid", with_backend(json!({"weight": 3})))]
#[case::port_above_maximum("HTTPRoute", with_backend(json!({"port": 70000})), "spec.rules[0].backendRefs[0].port", "FieldValueInvalid", with_backend(json!({"port": 65535})))]
#[case::listener_port_zero("Gateway", listener(json!({"port": 0})), "spec.listeners[0].port", "FieldValueInvalid", listener(json!({"port": 1})))]
#[case::mirror_percent_above_100("HTTPRoute", mirror(json!({"percent": 101})), "spec.rules[0].filters[0].requestMirror.percent", "FieldValueInvalid", mirror(json!({"percent": 100})))]
// Required fields.
#[case::backend_without_name("HTTPRoute", route(json!({"backendRefs": [{"port": 80}]})), "spec.rules[0].backendRefs[0].name", "FieldValueRequired", with_backend(json!({})))]
#[case::gateway_without_class("Gateway", json!({"listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}), "spec.gatewayClassName", "FieldValueRequired", listener(json!({})))]
#[case::query_param_without_name("HTTPRoute", matching(json!({"queryParams": [{"value": "v"}]})), "spec.rules[0].matches[0].queryParams[0].name", "FieldValueRequired", matching(json!({"queryParams": [{"name": "q", "value": "v"}]})))]
#[case::grant_from_without_kind("ReferenceGrant", grant(json!({"group": GW, "namespace": "other"})), "spec.from[0].kind", "FieldValueRequired", grant(json!({"group": GW, "kind": "HTTPRoute", "namespace": "other"})))]
// Patterns.
#[case::hostname_with_capitals("HTTPRoute", json!({"hostnames": ["Foo.Example"]}), "spec.hostnames[0]", "FieldValueInvalid", json!({"hostnames": ["foo.example"]}))]
#[case::listener_hostname_pattern("Gateway", listener(json!({"hostname": "bad_host.example"})), "spec.listeners[0].hostname", "FieldValueInvalid", listener(json!({"hostname": "good.example"})))]
#[case::header_name_pattern("HTTPRoute", matching(json!({"headers": [{"name": "bad header", "value": "v"}]})), "spec.rules[0].matches[0].headers[0].name", "FieldValueInvalid", matching(json!({"headers": [{"name": "X-Good", "value": "v"}]})))]
#[case::listener_name_pattern("Gateway", listener(json!({"name": "Bad_Name"})), "spec.listeners[0].name", "FieldValueInvalid", listener(json!({"name": "good-name"})))]
#[case::listener_protocol_pattern("Gateway", listener(json!({"protocol": "http?"})), "spec.listeners[0].protocol", "FieldValueInvalid", listener(json!({"protocol": "example.com/custom"})))]
#[case::controller_name_pattern("GatewayClass", json!({"controllerName": "no-domain"}), "spec.controllerName", "FieldValueInvalid", json!({"controllerName": "example.com/controller"}))]
#[case::timeout_pattern("HTTPRoute", route(json!({"timeouts": {"request": "ten seconds"}, "backendRefs": [backend(json!({}))]})), "spec.rules[0].timeouts.request", "FieldValueInvalid", route(json!({"timeouts": {"request": "10s"}, "backendRefs": [backend(json!({}))]})))]
#[case::rewrite_hostname_pattern("HTTPRoute", filter(json!({"type": "URLRewrite", "urlRewrite": {"hostname": "-bad-"}})), "spec.rules[0].filters[0].urlRewrite.hostname", "FieldValueInvalid", filter(json!({"type": "URLRewrite", "urlRewrite": {"hostname": "good.example"}})))]
// Enums.
#[case::path_type_enum("HTTPRoute", matching(json!({"path": {"type": "Glob", "value": "/x"}})), "spec.rules[0].matches[0].path.type", "FieldValueNotSupported", matching(json!({"path": {"type": "Exact", "value": "/x"}})))]
#[case::method_enum("HTTPRoute", matching(json!({"method": "FETCH"})), "spec.rules[0].matches[0].method", "FieldValueNotSupported", matching(json!({"method": "GET"})))]
#[case::redirect_status_enum("HTTPRoute", redirect(json!({"statusCode": 305})), "spec.rules[0].filters[0].requestRedirect.statusCode", "FieldValueNotSupported", redirect(json!({"statusCode": 301})))]
#[case::filter_type_enum("HTTPRoute", filter(json!({"type": "Teleport"})), "spec.rules[0].filters[0].type", "FieldValueNotSupported", filter(json!({"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x", "value": "y"}]}})))]
#[case::tls_mode_enum("Gateway", listener(json!({"protocol": "HTTPS", "port": 443, "tls": {"mode": "Bounce", "certificateRefs": [{"name": "cert"}]}})), "spec.listeners[0].tls.mode", "FieldValueNotSupported", listener(json!({"protocol": "HTTPS", "port": 443, "tls": {"mode": "Terminate", "certificateRefs": [{"name": "cert"}]}})))]
// Lengths.
#[case::backend_name_too_long("HTTPRoute", with_backend(json!({"name": "a".repeat(254)})), "spec.rules[0].backendRefs[0].name", "FieldValueTooLong", with_backend(json!({"name": "a".repeat(253)})))]
#[case::class_name_too_long("Gateway", json!({"gatewayClassName": "c".repeat(254), "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}), "spec.gatewayClassName", "FieldValueTooLong", json!({"gatewayClassName": "c".repeat(253), "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}))]
#[case::parent_name_empty("HTTPRoute", json!({"parentRefs": [{"name": ""}]}), "spec.parentRefs[0].name", "FieldValueInvalid", json!({"parentRefs": [{"name": "gw"}]}))]
// Item counts.
#[case::too_many_hostnames(
    "HTTPRoute",
    hostnames(17),
    "spec.hostnames",
    "FieldValueTooMany",
    hostnames(16)
)]
#[case::too_many_parent_refs(
    "HTTPRoute",
    parent_refs(33),
    "spec.parentRefs",
    "FieldValueTooMany",
    parent_refs(32)
)]
#[case::too_many_rules("HTTPRoute", rules(17), "spec.rules", "FieldValueTooMany", rules(16))]
#[case::no_listeners("Gateway", json!({"gatewayClassName": "sim", "listeners": []}), "spec.listeners", "FieldValueInvalid", listener(json!({})))]
// List-map keys.
#[case::duplicate_listener_names("Gateway", listeners(json!([{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example"}, {"name": "a", "port": 81, "protocol": "HTTP"}])), "spec.listeners[1]", "FieldValueDuplicate", listeners(json!([{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example"}, {"name": "b", "port": 81, "protocol": "HTTP"}])))]
#[case::duplicate_header_matches("HTTPRoute", matching(json!({"headers": [{"name": "x", "value": "1"}, {"name": "x", "value": "2"}]})), "spec.rules[0].matches[0].headers[1]", "FieldValueDuplicate", matching(json!({"headers": [{"name": "x", "value": "1"}, {"name": "y", "value": "2"}]})))]
#[case::duplicate_query_params("HTTPRoute", matching(json!({"queryParams": [{"name": "q", "value": "1"}, {"name": "q", "value": "2"}]})), "spec.rules[0].matches[0].queryParams[1]", "FieldValueDuplicate", matching(json!({"queryParams": [{"name": "q", "value": "1"}, {"name": "r", "value": "2"}]})))]
// CEL: string functions (startsWith, contains, endsWith, matches).
#[case::cel_path_must_start_with_slash("HTTPRoute", matching(json!({"path": {"type": "PathPrefix", "value": "x"}})), "spec.rules[0].matches[0].path", "FieldValueInvalid", matching(json!({"path": {"type": "PathPrefix", "value": "/x"}})))]
#[case::cel_path_without_double_slash("HTTPRoute", matching(json!({"path": {"type": "Exact", "value": "/a//b"}})), "spec.rules[0].matches[0].path", "FieldValueInvalid", matching(json!({"path": {"type": "Exact", "value": "/a/b"}})))]
#[case::cel_path_not_ending_in_dot_dot("HTTPRoute", matching(json!({"path": {"type": "Exact", "value": "/a/.."}})), "spec.rules[0].matches[0].path", "FieldValueInvalid", matching(json!({"path": {"type": "Exact", "value": "/a/b"}})))]
#[case::cel_grpc_service_regex("GRPCRoute", grpc_method(json!({"service": "not a service", "method": "Get"})), "spec.rules[0].matches[0].method", "FieldValueInvalid", grpc_method(json!({"service": "foo.Bar", "method": "Get"})))]
// CEL: has() with conditionals (a field required by another field's value).
#[case::cel_service_ref_needs_port("HTTPRoute", route(json!({"backendRefs": [{"name": "svc"}]})), "spec.rules[0].backendRefs[0]", "FieldValueInvalid", with_backend(json!({})))]
#[case::cel_filter_needs_its_config("HTTPRoute", filter(json!({"type": "RequestHeaderModifier"})), "spec.rules[0].filters[0]", "FieldValueInvalid", filter(json!({"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x", "value": "y"}]}})))]
#[case::cel_redirect_path_needs_value("HTTPRoute", redirect(json!({"path": {"type": "ReplaceFullPath"}})), "spec.rules[0].filters[0].requestRedirect.path", "FieldValueInvalid", redirect(json!({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}})))]
#[case::cel_redirect_without_backends("HTTPRoute", route(json!({"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}], "backendRefs": [backend(json!({}))]})), "spec.rules[0]", "FieldValueInvalid", redirect(json!({"statusCode": 301})))]
#[case::cel_tls_for_tls_protocol("Gateway", listener(json!({"protocol": "TLS", "port": 443})), "spec.listeners", "FieldValueInvalid", listener(json!({"protocol": "TLS", "port": 443, "hostname": "t.example", "tls": {"mode": "Passthrough"}})))]
#[case::cel_no_tls_for_http("Gateway", listener(json!({"tls": {"mode": "Terminate", "certificateRefs": [{"name": "c"}]}})), "spec.listeners", "FieldValueInvalid", listener(json!({})))]
#[case::cel_ca_certs_exclusive("BackendTLSPolicy", backend_tls(json!({"hostname": "svc.example", "wellKnownCACertificates": "System", "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}]})), "spec.validation", "FieldValueInvalid", backend_tls(json!({"hostname": "svc.example", "wellKnownCACertificates": "System"})))]
// CEL: comparisons of fields.
#[case::cel_mirror_fraction("HTTPRoute", mirror(json!({"fraction": {"numerator": 3, "denominator": 2}})), "spec.rules[0].filters[0].requestMirror.fraction", "FieldValueInvalid", mirror(json!({"fraction": {"numerator": 1, "denominator": 2}})))]
#[case::cel_mirror_percent_or_fraction("HTTPRoute", mirror(json!({"percent": 10, "fraction": {"numerator": 1}})), "spec.rules[0].filters[0].requestMirror", "FieldValueInvalid", mirror(json!({"percent": 10})))]
// CEL: all / exists_one (uniqueness across items).
#[case::cel_unique_listener_endpoints("Gateway", listeners(json!([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 80, "protocol": "HTTP"}])), "spec.listeners", "FieldValueInvalid", listeners(json!([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 80, "protocol": "HTTP", "hostname": "b.example"}])))]
#[case::cel_parent_refs_distinguishable("HTTPRoute", json!({"parentRefs": [{"name": "gw"}, {"name": "gw"}]}), "spec.parentRefs", "FieldValueInvalid", json!({"parentRefs": [{"name": "gw", "sectionName": "a"}, {"name": "gw", "sectionName": "b"}]}))]
#[case::cel_unique_rule_names("HTTPRoute", json!({"rules": [{"name": "r", "backendRefs": [backend(json!({}))]}, {"name": "r", "backendRefs": [backend(json!({}))]}]}), "spec.rules", "FieldValueInvalid", json!({"rules": [{"name": "r", "backendRefs": [backend(json!({}))]}, {"name": "s", "backendRefs": [backend(json!({}))]}]}))]
// CEL: filter().size().
#[case::cel_one_url_rewrite("HTTPRoute", route(json!({"filters": [{"type": "URLRewrite", "urlRewrite": {"hostname": "a.example"}}, {"type": "URLRewrite", "urlRewrite": {"hostname": "b.example"}}], "backendRefs": [backend(json!({}))]})), "spec.rules[0].filters", "FieldValueInvalid", filter(json!({"type": "URLRewrite", "urlRewrite": {"hostname": "a.example"}})))]
// CEL: duration().
#[case::cel_backend_timeout_within_request("HTTPRoute", route(json!({"timeouts": {"request": "1s", "backendRequest": "2s"}, "backendRefs": [backend(json!({}))]})), "spec.rules[0].timeouts", "FieldValueInvalid", route(json!({"timeouts": {"request": "2s", "backendRequest": "1s"}, "backendRefs": [backend(json!({}))]})))]
#[case::cel_retry_budget_interval(
    "XBackendTrafficPolicy",
    retry_budget("2h"),
    "spec.retryConstraint.budget.interval",
    "FieldValueInvalid",
    retry_budget("10s")
)]
// CEL: isIP, split/substring.
#[case::cel_tls_hostname_not_ip(
    "TLSRoute",
    tls_route("10.0.0.1"),
    "spec.hostnames",
    "FieldValueInvalid",
    tls_route("tls.example")
)]
#[case::cel_infrastructure_annotation_keys("Gateway", json!({"gatewayClassName": "sim", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}], "infrastructure": {"annotations": {"bad key!": "v"}}}), "spec.infrastructure.annotations", "FieldValueInvalid", json!({"gatewayClassName": "sim", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}], "infrastructure": {"annotations": {"example.com/good-key": "v"}}}))]
#[tokio::test]
async fn invalid_objects_are_refused_and_their_valid_twins_created(
    #[case] kind: &str,
    #[case] invalid: Value,
    #[case] field: &str,
    #[case] reason: &str,
    #[case] valid: Value,
) {
    let (server, client) = start().await;
    assert!(
        server.validated_kinds() > 0,
        "the Gateway API CRDs are loaded"
    );
    namespace(&client, "v").await;
    let version = if kind.starts_with('X') {
        "v1alpha1"
    } else {
        "v1"
    };
    let api = api(&client, kind, version);
    let mut bad = object(kind, "bad", invalid);
    if kind.starts_with('X') {
        bad.types.as_mut().unwrap().api_version = format!("gateway.networking.x-k8s.io/{version}");
    }
    let st = status(api.create(&PostParams::default(), &bad).await);
    assert_eq!(
        (st.code, st.reason.as_str()),
        (422, "Invalid"),
        "{}",
        st.message
    );
    let details = st.details.expect("a 422 has details");
    assert_eq!(
        (details.kind.as_str(), details.name.as_str()),
        (kind, "bad")
    );
    assert!(
        st.message
            .starts_with(&format!("{kind}.{} \"bad\" is invalid: ", details.group)),
        "{}",
        st.message
    );
    assert!(
        details
            .causes
            .iter()
            .any(|c| c.field == field && c.reason == reason),
        "expected a {reason} cause at {field}, got: {}",
        st.message
    );

    let mut good = object(kind, "good", valid);
    good.types = bad.types.clone();
    if let Err(e) = api.create(&PostParams::default(), &good).await {
        panic!("the valid twin is refused: {e}");
    }
}

/// A raw request, to see status line and headers as a client does.
async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: simkube\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

const UNKNOWN: &str = r#"{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
  "metadata": {"name": "NAME"}, "spec": {"rules": [{"matchez": [], "backendRefs": [{"name": "svc", "port": 80}]}],
  "hostnames": ["a.example"], "hostnames": ["b.example"]}}"#;

#[rstest]
#[case::strict("Strict", "400 Bad Request", Some(r#"HTTPRoute in version \"v1\" cannot be handled as a HTTPRoute: strict decoding error: duplicate field \"spec.hostnames\", unknown field \"spec.rules[0].matchez\""#), &[])]
#[case::warn("Warn", "201 Created", None, &[r#"warning: 299 - "duplicate field \"spec.hostnames\"""#, r#"warning: 299 - "unknown field \"spec.rules[0].matchez\"""#])]
#[case::ignore("Ignore", "201 Created", None, &[])]
#[tokio::test]
async fn unknown_and_duplicate_fields_follow_field_validation(
    #[case] directive: &str,
    #[case] status_line: &str,
    #[case] error: Option<&str>,
    #[case] warnings: &[&str],
) {
    let (server, client) = start().await;
    namespace(&client, "fv").await;
    let body = UNKNOWN.replace("NAME", "r");
    let resp = raw(
        server.addr(),
        "POST",
        &format!("/apis/{GW}/v1/namespaces/fv/httproutes?fieldValidation={directive}"),
        "application/json",
        &body,
    )
    .await;
    let lower = resp.to_lowercase();
    assert!(
        resp.starts_with(&format!("HTTP/1.0 {status_line}"))
            || resp.starts_with(&format!("HTTP/1.1 {status_line}")),
        "{resp}"
    );
    if let Some(e) = error {
        assert!(resp.contains(e), "{resp}");
    }
    let seen: Vec<&str> = lower
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::trim)
        .collect();
    let expected: Vec<String> = warnings.iter().map(|w| w.to_lowercase()).collect();
    assert_eq!(seen, expected, "{resp}");
    if error.is_none() {
        let stored = Api::<DynamicObject>::namespaced_with(
            client.clone(),
            "fv",
            &ApiResource::from_gvk(&GroupVersionKind::gvk(GW, "v1", "HTTPRoute")),
        );
        let r = stored.get("r").await.unwrap();
        assert!(
            r.data["spec"]["rules"][0].get("matchez").is_none(),
            "unknown fields are pruned"
        );
        assert_eq!(
            r.data["spec"]["hostnames"],
            json!(["b.example"]),
            "the last of repeated keys wins"
        );
    }

    // A merge patch with an unknown field: Strict is a 422 on the field `patch`.
    if directive == "Strict" {
        let create = raw(
            server.addr(),
            "POST",
            &format!("/apis/{GW}/v1/namespaces/fv/httproutes"),
            "application/json",
            r#"{"metadata": {"name": "p"}, "spec": {"hostnames": ["a.example"]}}"#,
        )
        .await;
        assert!(create.contains(" 201 "), "{create}");
        let patched = raw(
            server.addr(),
            "PATCH",
            &format!("/apis/{GW}/v1/namespaces/fv/httproutes/p?fieldValidation=Strict"),
            "application/merge-patch+json",
            r#"{"spec": {"bogus": 1}}"#,
        )
        .await;
        assert!(patched.contains(" 422 "), "{patched}");
        assert!(
            patched.contains(r#"\" is invalid: patch: Invalid value: "#)
                && patched.contains(r#"strict decoding error: unknown field \"spec.bogus\""#),
            "{patched}"
        );
    }
}
