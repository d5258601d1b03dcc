//! `ci/flakes`, the script that runs the suite N times in a row: it counts clean runs, and
//! names the run, the scenario and the message of every failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// `ci/flakes` with `args`, on this build's `gatesim`; `None` (after a loud SKIP) without Envoy.
fn flakes(args: &[&str], out: &Path) -> Option<Output> {
    let envoy = gatesim_reference::infra::envoy::locate_or_skip("ci/flakes")
        .unwrap_or_else(|e| panic!("ci/flakes: Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))?;
    let output = Command::new(repo().join("ci/flakes"))
        .args(args)
        .env("GATESIM_FLAKES_BIN", env!("CARGO_BIN_EXE_gatesim"))
        .env("GATESIM_FLAKES_OUT", out)
        .env("GATESIM_ENVOY", envoy)
        .env("TMPDIR", out)
        .output()
        .expect("run ci/flakes");
    Some(output)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn clean_runs_are_counted_and_failures_named() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let one = repo().join("scenarios/httproute/HTTPRouteSimpleSameNamespace.yaml");
    let Some(out) = flakes(&["2", one.to_str().expect("utf-8 path")], tmp.path()) else {
        return;
    };
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "ci/flakes: 2 runs, 2 clean, 0 with failures, 0 failed scenarios out of 2 run"
        ),
        "{stdout}"
    );

    let wrong = repo().join("conformance/tests/data/runner/WrongBackend.yaml");
    let out = flakes(&["1", wrong.to_str().expect("utf-8 path")], tmp.path())
        .expect("Envoy was found before");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let failure = stdout
        .lines()
        .find(|l| l.starts_with("run 1: WrongBackend: "))
        .unwrap_or_else(|| panic!("the failure is named: {stdout}"));
    assert!(failure.contains("infra-backend-v2"), "{failure}");
    assert!(
        stdout.contains(
            "ci/flakes: 1 runs, 0 clean, 1 with failures, 1 failed scenarios out of 1 run"
        ),
        "{stdout}"
    );
    assert!(
        tmp.path().join("run-1.xml").exists(),
        "the failed run's report is kept"
    );
}

#[test]
fn a_count_is_required_and_help_says_how() {
    let out = Command::new(repo().join("ci/flakes"))
        .arg("many")
        .output()
        .expect("run ci/flakes");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("usage: ci/flakes N"));

    let out = Command::new(repo().join("ci/flakes"))
        .arg("--help")
        .output()
        .expect("run ci/flakes --help");
    assert!(out.status.success());
    let help = text(&out.stdout);
    for part in [
        "usage: ci/flakes N",
        "GATESIM_FLAKES_PROFILE",
        "GATESIM_FLAKES_BIN",
        "GATESIM_FLAKES_OUT",
    ] {
        assert!(help.contains(part), "{part} in {help}");
    }
}
