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

/// Ctrl-C during a live run: the run stops between checks, prints its summary, says it was
/// interrupted, exits 130 and leaves nothing in its temporary directory (the sim target's work
/// directory and the case directory alike).
#[test]
fn an_interrupted_live_run_cleans_up() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    if !envoy_present("gatesim fuzz interrupted") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    let out = tempfile::tempdir().expect("output directory");
    let mut child = gatesim()
        .args([
            "fuzz", "--target", "sim", "--cases", "100000", "--seed", "7",
        ])
        .arg("--out")
        .arg(out.path())
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatesim");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The header comes once the target is up, just before the first case.
    for line in lines.by_ref() {
        if line
            .expect("read stdout")
            .starts_with("gatesim fuzz: target sim")
        {
            break;
        }
    }
    let leftovers = || {
        std::fs::read_dir(tmp.path())
            .expect("read the temporary directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert!(!leftovers().is_empty(), "the run has a work directory");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.expect("read stdout")).collect();
    let exit = child.wait().expect("wait for gatesim");
    assert_eq!(exit.code(), Some(130), "{rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("fuzz: ")), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("interrupted: ")),
        "{rest:?}"
    );
    assert_eq!(leftovers(), Vec::<String>::new());
}
