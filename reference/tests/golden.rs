//! Golden tests of `translate`: each directory under `tests/golden/` holds an `input.yaml`
//! (read together with `tests/golden/shared.yaml`) and the `expected.yaml` its translation
//! renders to. Every proxy configuration is also handed to `envoy --mode validate`.
//! Run with `GATESIM_UPDATE_GOLDEN=1` to rewrite the expectations after an intended change,
//! then review the diff.

mod golden_support;

use std::path::Path;

use gatesim_reference::infra::{envoy, validate};
use gatesim_reference::render;
use gatesim_reference::translate::{self, Translation};
use golden_support::{cases, input};

fn translate_case(dir: &Path) -> Translation {
    let set = input(dir);
    let translation = translate::translate(&set);
    assert_eq!(
        translation,
        translate::translate(&set),
        "{}: translation is not deterministic",
        dir.display()
    );
    translation
}

fn render_case(t: &Translation) -> String {
    serde_yaml::to_string(&render::translation(t).expect("render")).expect("yaml")
}

#[test]
fn golden_translations() {
    let update = std::env::var_os("GATESIM_UPDATE_GOLDEN").is_some();
    let cases = cases();
    assert!(
        cases.len() >= 25,
        "expected at least 25 golden cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for dir in &cases {
        let got = render_case(&translate_case(dir));
        let expected_path = dir.join("expected.yaml");
        if update {
            std::fs::write(&expected_path, &got).expect("write expected.yaml");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != got {
            failures.push(format!(
                "{}: output differs from expected.yaml (rerun with GATESIM_UPDATE_GOLDEN=1 and review the diff)\n{}",
                dir.display(),
                first_difference(&expected, &got)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Envoy must accept everything the golden cases produce: a translation Envoy would NACK is
/// a bug even when it matches its expected.yaml.
#[test]
fn envoy_accepts_every_golden_output() {
    let Some(envoy) = envoy::locate_or_skip("golden outputs through envoy --mode validate")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    let mut rejected = Vec::new();
    let mut validated = 0;
    for dir in cases() {
        for (gw, proxy) in &translate_case(&dir).proxies {
            validated += 1;
            if let Err(e) = validate::validate_proxy(&envoy, proxy) {
                rejected.push(format!("{} ({gw}): {e}", dir.display()));
            }
        }
    }
    assert!(
        validated > 25,
        "only {validated} proxy configurations were validated"
    );
    assert!(
        rejected.is_empty(),
        "Envoy rejects:\n{}",
        rejected.join("\n")
    );
}

fn first_difference(expected: &str, got: &str) -> String {
    for (i, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        if e != g {
            return format!("line {}:\n  expected: {e}\n  got:      {g}", i + 1);
        }
    }
    format!(
        "lengths differ: expected {} lines, got {}",
        expected.lines().count(),
        got.lines().count()
    )
}
