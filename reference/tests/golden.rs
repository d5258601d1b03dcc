//! Golden tests of `translate`: each directory under `tests/golden/` holds an `input.yaml`
//! (read together with `tests/golden/shared.yaml`) and the `expected.yaml` its translation
//! renders to. Every proxy configuration is also handed to `envoy --mode validate`.
//! Run with `GATESIM_UPDATE_GOLDEN=1` to rewrite the expectations after an intended change,
//! then review the diff.

use std::path::{Path, PathBuf};

use gatesim_reference::infra::{addresses::AddressAllocator, envoy, validate};
use gatesim_reference::model::{ControllerConfig, ResourceSet};
use gatesim_reference::provider::file::load_dir;
use gatesim_reference::render;
use gatesim_reference::translate::{self, Translation};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

fn load(set: &mut ResourceSet, path: &Path) {
    let loaded = load_dir(path, &ControllerConfig::default()).unwrap_or_else(|errors| {
        let list: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        panic!("{}:\n{}", path.display(), list.join("\n"))
    });
    set.merge(loaded);
}

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn translate_case(dir: &Path) -> Translation {
    let mut set = ResourceSet::default();
    load(&mut set, &golden_dir().join("shared.yaml"));
    load(&mut set, &dir.join("input.yaml"));
    let mut allocator = AddressAllocator::new();
    allocator
        .sync(translate::managed_gateways(&set).iter())
        .expect("addresses");
    set.gateway_addresses = allocator.address_strings();
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
