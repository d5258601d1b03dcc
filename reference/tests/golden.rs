//! Golden tests of `translate`: each directory under `tests/golden/` holds an `input.yaml`
//! (applied on top of `tests/golden/shared.yaml`) and the `expected.yaml` its translation
//! renders to. Run with `GATESIM_UPDATE_GOLDEN=1` to rewrite the expectations after an
//! intended change, then review the diff.

use std::path::{Path, PathBuf};

use gatesim_reference::model::{AnyObject, ResourceSet};
use gatesim_reference::{render, translate};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

fn load(set: &mut ResourceSet, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if value.is_null() {
            continue;
        }
        let obj =
            AnyObject::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        set.insert_any(obj);
    }
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

fn render_case(dir: &Path) -> String {
    let mut set = ResourceSet::default();
    load(&mut set, &golden_dir().join("shared.yaml"));
    load(&mut set, &dir.join("input.yaml"));
    for (i, key) in translate::managed_gateways(&set).into_iter().enumerate() {
        set.gateway_addresses
            .insert(key, format!("127.0.10.{}", i + 1));
    }
    let translation = translate::translate(&set);
    let again = translate::translate(&set);
    assert_eq!(
        translation,
        again,
        "{}: translation is not deterministic",
        dir.display()
    );
    let value = render::translation(&translation).expect("render");
    serde_yaml::to_string(&value).expect("yaml")
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
        let got = render_case(dir);
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
