//! The `gatesim-controller` binary as a user runs it: exact diagnostics on stderr and exit
//! codes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_gatesim-controller");

fn controller(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run gatesim-controller")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of the quick start with `edit` applied to `routes.yaml`.
fn quickstart_with(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    for name in ["backend.yaml", "gateway.yaml", "routes.yaml"] {
        let text = std::fs::read_to_string(example.join(name)).expect("read the example");
        let text = if name == "routes.yaml" {
            edit(text)
        } else {
            text
        };
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().expect("utf-8 path")
}

#[rstest::rstest]
#[case::unknown_field(
    "  - matches:\n",
    "  - matchez:\n",
    "routes.yaml:13:5: spec.rules[0].matchez: unknown field; expected one of backendRefs, filters, \
     matches, name, retry, sessionPersistence, timeouts; did you mean `matches`?"
)]
#[case::duplicate_key(
    "  name: web\n",
    "  name: web\n  name: other\n",
    "routes.yaml:6:3: metadata.name: duplicate key; a mapping gives each key once (first at 5:3)"
)]
fn translate_rejects_unknown_fields_and_duplicate_keys(
    #[case] from: &str,
    #[case] to: &str,
    #[case] expected: &str,
) {
    let dir = quickstart_with(|text| text.replacen(from, to, 1));
    let out = controller(&["translate", path(&dir)]);
    assert_eq!(out.status.code(), Some(1));
    let shown = format!("{}/", dir.path().display());
    assert_eq!(
        stderr(&out).replace(&shown, ""),
        format!("{expected}\ngatesim-controller: the inputs have 1 error(s) (listed above)\n")
    );
    assert!(
        out.stdout.is_empty(),
        "no translation of inputs with errors"
    );
}

#[test]
fn translate_prints_warnings_and_strict_makes_them_errors() {
    let dir = quickstart_with(|text| {
        format!(
            "{text}---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoot\nmetadata: {{name: x}}\n"
        )
    });
    let warning = format!(
        "{}/routes.yaml:25:7: warning: kind: `HTTPRoot` of `gateway.networking.k8s.io/v1` is not \
         a kind the controller reads; skipped\n",
        dir.path().display()
    );
    let out = controller(&["translate", path(&dir)]);
    assert_eq!(stderr(&out), warning);
    assert!(out.status.success());
    assert!(!out.stdout.is_empty(), "the translation is printed");

    let out = controller(&["translate", "--strict", path(&dir)]);
    assert_eq!(
        stderr(&out),
        format!(
            "{warning}gatesim-controller: the inputs have 1 warning(s) (listed above), errors \
             under --strict\n"
        )
    );
    assert_eq!(out.status.code(), Some(1));
}

/// The quick start with a second HTTPRoute whose regex RE2 refuses (a backreference).
fn quickstart_with_invalid_route() -> tempfile::TempDir {
    quickstart_with(|text| {
        format!(
            "{text}---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
             metadata: {{name: bad, namespace: default}}\nspec:\n  parentRefs: [{{name: \
             quickstart}}]\n  rules:\n  - matches: [{{path: {{type: RegularExpression, value: \
             '/(a)\\1'}}}}]\n    backendRefs: [{{name: web, port: 8080}}]\n"
        )
    })
}

const FINDING: &str = "routes.yaml:30:55: spec.rules[0].matches[0].path.value: \"/(a)\\\\1\" is not a valid RE2 \
     regex: backreferences are not supported at offset 4";

#[test]
fn translate_fails_on_invalid_fields_at_their_position() {
    let dir = quickstart_with_invalid_route();
    let out = controller(&["translate", path(&dir)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).replace(&format!("{}/", dir.path().display()), ""),
        format!(
            "{FINDING}\ngatesim-controller: the inputs have 1 error(s) (listed above), 1 of them \
             invalid fields: --allow-invalid translates anyway, the status of their objects \
             saying why nothing of them is served\n"
        )
    );
    assert!(out.stdout.is_empty(), "nothing is printed on failure");
}

#[test]
fn allow_invalid_makes_invalid_fields_warnings_and_serves_nothing_of_them() {
    let dir = quickstart_with_invalid_route();
    let out = controller(&["translate", "--allow-invalid", "-o", "json", path(&dir)]);
    let shown = format!("{}/", dir.path().display());
    let warning = FINDING.replacen(": spec.", ": warning: spec.", 1);
    assert_eq!(stderr(&out).replace(&shown, ""), format!("{warning}\n"));
    assert!(out.status.success());
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let accepted = |name: &str| {
        let statuses = out["statuses"].as_array().expect("statuses");
        statuses
            .iter()
            .find(|s| s["kind"] == "HTTPRoute" && s["name"] == name)
            .map(|s| s["status"]["parents"][0]["conditions"][0].clone())
            .unwrap_or_else(|| panic!("no status for {name}: {out}"))
    };
    assert_eq!(accepted("web")["status"], "True");
    let bad = accepted("bad");
    assert_eq!(bad["type"], "Accepted", "{bad}");
    assert_eq!(bad["status"], "False", "{bad}");
    assert_eq!(bad["reason"], "UnsupportedValue", "{bad}");
    let message = bad["message"].as_str().expect("a message");
    assert!(
        message.starts_with("spec.rules[0].matches[0].path.value: "),
        "{bad}"
    );
    let routes = out["gateways"]["default/quickstart"]["routes"].to_string();
    assert!(routes.contains("httproute/default/web/"), "{routes}");
    assert!(!routes.contains("httproute/default/bad/"), "{routes}");
}

#[test]
fn strict_and_allow_invalid_do_not_combine() {
    let dir = quickstart_with_invalid_route();
    let out = controller(&["translate", "--strict", "--allow-invalid", path(&dir)]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = stderr(&out);
    assert!(
        stderr.contains("the argument '--strict' cannot be used with '--allow-invalid'"),
        "{stderr}"
    );
}

#[test]
fn validate_accepts_what_is_served_beside_an_invalid_route() {
    let Some(envoy) = gatesim_reference::infra::envoy::locate_or_skip("translate --validate")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    // Envoy would refuse the regex (and with it the whole Gateway); validation keeps it out.
    let dir = quickstart_with_invalid_route();
    let out = Command::new(BIN)
        .args(["translate", "--allow-invalid", "--validate", path(&dir)])
        .env("GATESIM_ENVOY", envoy)
        .output()
        .expect("run gatesim-controller");
    let stderr = stderr(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Envoy accepts the configuration of 1 Gateway(s)"),
        "{stderr}"
    );
}

#[test]
fn a_missing_provider_path_is_said_once() {
    let out = controller(&["run", "--provider", "file:/no/such/dir", "--infra", "none"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "gatesim-controller: --provider file:/no/such/dir: /no/such/dir does not exist\n"
    );
}

/// `--infra kubernetes` and `--xds-service` are documented in `run --help`, and refused with
/// a clear message where they cannot work.
#[test]
fn infra_kubernetes_is_documented_and_needs_the_kubernetes_provider() {
    let help = controller(&["run", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for wanted in ["kubernetes", "--xds-service", "gatesim-xds.gatesim-system"] {
        assert!(
            text.contains(wanted),
            "{wanted} missing from run --help:\n{text}"
        );
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let file_provider = format!("file:{}", path(&dir));
    let admin = "--admin-addr=127.0.0.1:0";
    let xds = "--xds-addr=127.0.0.1:0";
    let refusals: [(&[&str], &str); 2] = [
        (&[], "--infra kubernetes needs the kubernetes provider"),
        (
            &["--xds-service", "no-namespace"],
            "--xds-service must be `<name>.<namespace>`, not \"no-namespace\"",
        ),
    ];
    for (extra, message) in refusals {
        let mut args = vec!["run", "--provider", &file_provider, "--infra", "kubernetes"];
        args.extend_from_slice(extra);
        args.extend([admin, xds]);
        let out = controller(&args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}
