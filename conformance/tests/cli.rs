//! The `gatesim` binary as a user runs it: through a pipe, so off a terminal.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_gatesim");

/// Envoy for the runs that start the sim target; `None` (after a loud SKIP) where it is
/// missing, and a failure under `GATESIM_REQUIRE_ALL=1`.
fn envoy(test: &str) -> Option<PathBuf> {
    gatesim_reference::infra::envoy::locate_or_skip(test)
        .unwrap_or_else(|e| panic!("{test}: Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
}

/// `gatesim` with `args`, its temporary directory set to `tmp`.
fn gatesim(args: &[&str], tmp: &Path, envoy: Option<&Path>) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(envoy) = envoy {
        command.env("GATESIM_ENVOY", envoy);
    }
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the run left in its temporary directory.
/// `text` without the lines that say what is fetched the first time on a machine (Envoy, the
/// Gateway API CRDs): which test meets an empty cache first depends on the order tests run in.
fn without_provisioning(text: &str) -> String {
    text.lines()
        .filter(|line| !line.ends_with(" (once)"))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .expect("read the temporary directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[rstest::rstest]
#[case::run_test(
    &["run", "--run-test", "HTTPRouteHeaderMatchin"],
    "gatesim: --run-test HTTPRouteHeaderMatchin: no scenario has that name; did you mean `HTTPRouteHeaderMatching`?\n"
)]
#[case::skip_tests(
    &["run", "--skip-tests", "HTTPRouteWeight,GatewayModifyListener"],
    "gatesim: --skip-tests GatewayModifyListener: no scenario has that name; did you mean `GatewayModifyListeners`?\n"
)]
#[case::far_from_every_name(
    &["list", "--run-test", "NoSuchThing"],
    "gatesim: --run-test NoSuchThing: no scenario has that name (`gatesim list` shows them)\n"
)]
fn unknown_scenario_names_are_errors_with_a_suggestion(
    #[case] args: &[&str],
    #[case] expected: &str,
) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let out = gatesim(args, tmp.path(), None)
        .output()
        .expect("run gatesim");
    assert_eq!(text(&out.stderr), expected);
    assert_eq!(out.status.code(), Some(2));
    assert!(leftovers(tmp.path()).is_empty(), "nothing started");
}

/// One scenario through the whole stack with logs on: no colour codes through a pipe, and
/// nothing of ours left in the temporary directory afterwards.
#[test]
fn a_piped_run_has_no_colour_and_leaves_nothing_behind() {
    let Some(envoy) = envoy("a_piped_run_has_no_colour_and_leaves_nothing_behind") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temporary directory");
    let args = [
        "run",
        "--run-test",
        "HTTPRouteSimpleSameNamespace",
        "--conformance-profiles",
        "GATEWAY-HTTP",
        "-vv",
    ];
    let out: Output = gatesim(&args, tmp.path(), Some(&envoy))
        .output()
        .expect("run gatesim");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("PASS  HTTPRouteSimpleSameNamespace"),
        "{stdout}"
    );
    assert!(stderr.contains(" INFO "), "logs were on: {stderr}");
    assert!(!stdout.contains('\u{1b}'), "colour on a pipe: {stdout:?}");
    assert!(!stderr.contains('\u{1b}'), "colour in logs on a pipe");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

#[test]
fn a_run_that_runs_nothing_fails_and_says_why() {
    let Some(envoy) = envoy("a_run_that_runs_nothing_fails_and_says_why") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temporary directory");
    let suite = gatesim_conformance::scenario::default_scenarios_dir();
    let one = suite.join("httproute/HTTPRouteWeight.yaml");
    let args = [
        "run",
        one.to_str().expect("utf-8 path"),
        "--supported-features",
        "Gateway",
    ];
    let out = gatesim(&args, tmp.path(), Some(&envoy))
        .output()
        .expect("run gatesim");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        without_provisioning(&text(&out.stderr)),
        "gatesim: nothing ran: all 1 scenarios were left out; 1 need features that are not \
         supported here (HTTPRoute); include them with --supported-features HTTPRoute or \
         --all-features, or name a profile with --conformance-profiles\n"
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

/// Starts `gatesim args`, waits for the first stdout line `ready` accepts, checks the run has
/// a work directory, sends SIGINT and checks the run exits 130, saying so, with nothing left in
/// its temporary directory. Returns the lines printed after the signal.
fn interrupt_and_check(args: &[&str], envoy: &Path, ready: impl Fn(&str) -> bool) -> Vec<String> {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let mut child = gatesim(args, tmp.path(), Some(envoy))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatesim");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if ready(&line.expect("read stdout")) {
            break;
        }
    }
    assert!(
        !leftovers(tmp.path()).is_empty(),
        "the run has a work directory"
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.expect("read stdout")).collect();
    let exit = child.wait().expect("wait for gatesim");
    assert_eq!(exit.code(), Some(130), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("interrupted: ")),
        "{rest:?}"
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
    rest
}

/// Ctrl-C in the middle of the suite: the run stops, says so, and removes what it created.
#[test]
fn an_interrupted_run_cleans_up() {
    let Some(envoy) = envoy("an_interrupted_run_cleans_up") else {
        return;
    };
    // The first finished scenario: the target is up and scenarios are running.
    interrupt_and_check(
        &["run", "--conformance-profiles", "GATEWAY-HTTP"],
        &envoy,
        |line| line.starts_with("PASS ") || line.starts_with("FAIL "),
    );
}

/// Ctrl-C during a live fuzz run: it stops between checks, still prints its summary, and
/// removes the sim target's work directory and its case directory.
#[test]
fn an_interrupted_fuzz_run_cleans_up() {
    let Some(envoy) = envoy("an_interrupted_fuzz_run_cleans_up") else {
        return;
    };
    let out = tempfile::tempdir().expect("output directory");
    let out = out.path().to_str().expect("a UTF-8 path");
    // The header comes once the target is up, just before the first case.
    let rest = interrupt_and_check(
        &["fuzz", "--cases", "100000", "--seed", "7", "--out", out],
        &envoy,
        |line| line.starts_with("gatesim fuzz: target sim"),
    );
    assert!(rest.iter().any(|l| l.starts_with("fuzz: ")), "{rest:?}");
}
