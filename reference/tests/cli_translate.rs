//! `gatesim-controller translate` on input with invalid fields: the findings on stderr as
//! `file:line:col: field.path: why`, a failing exit unless `--allow-invalid`, and with it the
//! translation, where the invalid route is not accepted and (checked by Envoy with
//! `--validate`) nothing of it is served.

mod e2e_support;

use std::path::Path;
use std::process::{Command, Output};

use e2e_support::HTTP_GATEWAY;
use gatesim_reference::infra::envoy;

/// Follows [`HTTP_GATEWAY`] in the input file.
const ROUTES: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: good, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: RegularExpression, value: \"/(a)\\\\1\"}}]
    backendRefs: [{name: web, port: 80}]
";

fn translate(dir: &Path, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatesim-controller"))
        .arg("translate")
        .arg(dir)
        .args(flags)
        .output()
        .expect("gatesim-controller runs")
}

#[test]
fn invalid_fields_fail_translate_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("{HTTP_GATEWAY}---\n{ROUTES}");
    std::fs::write(dir.path().join("input.yaml"), input).unwrap();
    let finding = "input.yaml:31:55: spec.rules[0].matches[0].path.value: \"/(a)\\\\1\" is not a \
                   valid RE2 regex";

    let strict = translate(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success(), "stderr: {stderr}");
    assert!(stderr.contains(finding), "stderr: {stderr}");
    assert!(stderr.contains("--allow-invalid"), "stderr: {stderr}");
    assert!(strict.stdout.is_empty(), "nothing is printed on failure");

    let allowed = translate(dir.path(), &["--allow-invalid", "-o", "json"]);
    let stderr = String::from_utf8_lossy(&allowed.stderr);
    assert!(allowed.status.success(), "stderr: {stderr}");
    assert!(stderr.contains(finding), "stderr: {stderr}");
    let out: serde_json::Value = serde_json::from_slice(&allowed.stdout).expect("JSON output");
    let accepted = |name: &str| {
        out["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "HTTPRoute" && s["name"] == name)
            .map(|s| s["status"]["parents"][0]["conditions"][0].clone())
            .unwrap_or_else(|| panic!("no status for {name}: {out}"))
    };
    assert_eq!(accepted("good")["status"], "True");
    let bad = accepted("bad");
    assert_eq!(bad["status"], "False", "{bad}");
    assert_eq!(bad["reason"], "UnsupportedValue", "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .starts_with("spec.rules[0].matches[0].path.value: "),
        "{bad}"
    );
    let routes = out["gateways"]["default/gw"]["routes"].to_string();
    assert!(routes.contains("httproute/default/good/"), "{routes}");
    assert!(!routes.contains("httproute/default/bad/"), "{routes}");

    // Envoy accepts what is served.
    let Some(_) = envoy::locate_or_skip("translate --validate with an invalid route")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    let validated = translate(dir.path(), &["--allow-invalid", "--validate"]);
    let stderr = String::from_utf8_lossy(&validated.stderr);
    assert!(validated.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains("Envoy accepts the configuration of 1 Gateway(s)"),
        "{stderr}"
    );
}
