//! Shared by the scenario-format tests: a scratch suite directory and helpers that load a
//! file from it and return its error with the directory written as `<dir>`.
#![allow(dead_code)]

use std::path::PathBuf;

use gatesim_conformance::scenario::{self, LoadOptions, Scenario};

/// A scratch directory with a `base/` directory, as a suite has.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new(files: &[(&str, &str)]) -> Scratch {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir_all(dir.path().join("base")).expect("base directory");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("directory");
            std::fs::write(path, text).expect("write");
        }
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            base_dir: Some(self.path("base")),
        }
    }

    pub fn load(&self, name: &str) -> Result<Scenario, String> {
        Scenario::load_with(self.path(name), &self.options())
            .map_err(|e| self.shorten(&e.to_string()))
    }

    pub fn load_run(&self, dir: &str) -> Result<Vec<Scenario>, String> {
        scenario::load_all(&[self.path(dir)], &self.options())
            .map_err(|e| self.shorten(&e.to_string()))
    }

    /// Error text with the scratch directory written as `<dir>`.
    pub fn shorten(&self, text: &str) -> String {
        text.replace(&self.dir.path().display().to_string(), "<dir>")
    }
}

pub const HEAD: &str = "name: Broken\ndescription: d\nfeatures: [Gateway]\n";
pub const DELETE_STEP: &str = "steps:\n- delete: [{kind: Namespace, name: a}]\n";

pub const BASE: &str = "\
- apiVersion: v1
  kind: Namespace
  metadata: {name: ns}
- apiVersion: gatesim.dev/v1alpha1
  kind: TestCertificate
  metadata: {name: cert, namespace: ns}
  spec: {dnsNames: [example.com]}
- apiVersion: gatesim.dev/v1alpha1
  kind: EchoBackend
  metadata: {name: echo, namespace: ns}
  spec:
    ports: [{port: 8080, targetPort: 3000}]
";

/// Loads `text` as a scenario file and returns the error, with the scratch directory as `<dir>`.
pub fn error_of(text: &str) -> String {
    let scratch = Scratch::new(&[("base/tiny.yaml", BASE), ("s.yaml", text)]);
    match scratch.load("s.yaml") {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => e,
    }
}

pub fn steps(body: &str) -> String {
    format!("{HEAD}steps:\n{body}")
}
