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

#[test]
fn validate_names_the_gateway_and_its_file_not_a_temporary_file() {
    let Some(envoy) = gatesim_reference::infra::envoy::locate_or_skip("validate error text")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    // A regular expression RE2 cannot compile: only Envoy finds out.
    let dir = quickstart_with(|text| {
        text.replace(
            "{type: PathPrefix, value: /old}",
            "{type: RegularExpression, value: \"/old([\"}",
        )
    });
    let out = Command::new(BIN)
        .args(["translate", "--validate", path(&dir)])
        .env("GATESIM_ENVOY", envoy)
        .output()
        .expect("run gatesim-controller");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).replace(&format!("{}/", dir.path().display()), ""),
        "gateway.yaml:12:9: Gateway default/quickstart: envoy rejected the configuration: error \
         initializing configuration of Gateway default/quickstart: missing ]: [\n"
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
