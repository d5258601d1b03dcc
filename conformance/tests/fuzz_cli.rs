//! `gatesim fuzz` as a user runs it: flags, summary, exit status.

use std::process::Command;

fn gatesim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatesim"))
}

/// Whether Envoy is here (a loud skip when not, a failure under `GATESIM_REQUIRE_ALL=1`).
fn envoy_present(what: &str) -> bool {
    gatesim_reference::infra::envoy::locate_or_skip(what)
        .expect("Envoy is required (GATESIM_REQUIRE_ALL=1)")
        .is_some()
}

/// Runs `gatesim fuzz` with `args` and `--out` a fresh directory; fails unless it succeeds.
fn fuzz_ok(args: &[&str]) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = gatesim()
        .arg("fuzz")
        .args(args)
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("gatesim runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout, dir)
}

#[test]
fn help_lists_every_flag() {
    let out = gatesim()
        .args(["fuzz", "--help"])
        .output()
        .expect("gatesim runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--cases",
        "--seed",
        "--time",
        "--target",
        "--out",
        "--no-live",
        "--invalid-percent",
        "--kubeconfig",
        "--gateway-class",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn in_process_run_checks_every_case_and_summarises() {
    if !envoy_present("gatesim fuzz --no-live") {
        return;
    }
    let (stdout, dir) = fuzz_ok(&["--no-live", "--cases", "6", "--seed", "0x2a"]);
    assert!(stdout.contains("target in-process, seed 0x2a"), "{stdout}");
    assert!(stdout.contains("fuzz: 6 cases in"), "{stdout}");
    assert!(stdout.contains("every property holds"), "{stdout}");
    assert_eq!(
        std::fs::read_dir(dir.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[test]
fn live_run_on_sim_stops_at_its_case_count() {
    if !envoy_present("gatesim fuzz --target sim") {
        return;
    }
    let (stdout, _dir) = fuzz_ok(&[
        "--target", "sim", "--cases", "3", "--time", "120s", "--seed", "7",
    ]);
    assert!(stdout.contains("3 checked live"), "{stdout}");
}

#[test]
fn in_process_mode_is_refused_against_a_cluster() {
    let out = gatesim()
        .args(["fuzz", "--no-live", "--target", "cluster", "--cases", "1"])
        .output()
        .expect("gatesim runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--no-live") && stderr.contains("--target sim"),
        "{stderr}"
    );
}
