//! `gatesim upstream`: the official Gateway API conformance suite (the test binary of the
//! pinned conformance module, unmodified) against an implementation, and the agreement of its
//! verdicts with ours.
//!
//! The suite is run as upstream documents it (`-test.run '^TestConformance$'` and its own
//! flags); its output is kept in a log and read for per-test verdicts, and its
//! ConformanceReport is written where `--report-output` says.

pub mod agreement;
mod controller;
pub mod verdicts;
pub mod watchdog;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

pub use controller::HostController;

use crate::file_error::FileError;
pub use verdicts::{Verdict, Verdicts};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("starting {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the reference controller: {0}")]
    Controller(String),
}

/// The implementation details upstream's report needs (all of them, when it writes one).
#[derive(Clone, Debug)]
pub struct Implementation {
    pub organization: String,
    pub project: String,
    pub url: String,
    pub version: String,
    pub contact: Vec<String>,
}

/// Upstream's flags, by their own names.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub gateway_class: String,
    pub conformance_profiles: Vec<String>,
    pub supported_features: Vec<String>,
    pub exempt_features: Vec<String>,
    pub all_features: bool,
    pub run_test: Option<String>,
    pub skip_tests: Vec<String>,
    pub skip_provisional_tests: bool,
    pub allow_crds_mismatch: bool,
    pub report_output: Option<PathBuf>,
    pub mode: Option<String>,
    pub implementation: Option<Implementation>,
    /// Passed on as they are (any other flag of the suite).
    pub extra: Vec<String>,
}

impl Flags {
    /// The command line of the test binary.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "-test.run".to_owned(),
            "^TestConformance$".to_owned(),
            "-test.v".to_owned(),
            format!("--gateway-class={}", self.gateway_class),
        ];
        let mut list = |flag: &str, values: &[String]| {
            if !values.is_empty() {
                args.push(format!("--{flag}={}", values.join(",")));
            }
        };
        list("conformance-profiles", &self.conformance_profiles);
        list("supported-features", &self.supported_features);
        list("exempt-features", &self.exempt_features);
        list("skip-tests", &self.skip_tests);
        if self.all_features {
            args.push("--all-features".to_owned());
        }
        if let Some(test) = &self.run_test {
            args.push(format!("--run-test={test}"));
        }
        if self.skip_provisional_tests {
            args.push("--skip-provisional-tests".to_owned());
        }
        if self.allow_crds_mismatch {
            args.push("--allow-crds-mismatch".to_owned());
        }
        if let Some(mode) = &self.mode {
            args.push(format!("--mode={mode}"));
        }
        if let Some(path) = &self.report_output {
            args.push(format!("--report-output={}", path.display()));
        }
        if let Some(i) = &self.implementation {
            args.push(format!("--organization={}", i.organization));
            args.push(format!("--project={}", i.project));
            args.push(format!("--url={}", i.url));
            args.push(format!("--version={}", i.version));
            args.push(format!("--contact={}", i.contact.join(",")));
        }
        args.extend(self.extra.iter().cloned());
        args
    }
}

/// One run of the suite.
pub struct Run {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    pub flags: Flags,
    /// The whole output of the suite goes here.
    pub log: PathBuf,
}

/// What the suite said.
#[derive(Debug)]
pub struct Outcome {
    pub verdicts: Verdicts,
    /// The binary's own exit status: success only when no test failed.
    pub success: bool,
    /// Whether it ended by itself (and so ran its cleanup), not killed by a signal.
    pub finished: bool,
    pub duration: Duration,
}

/// Sends every line of `reader` to `lines`.
fn forward(reader: impl AsyncRead + Unpin + Send + 'static, lines: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
}

/// Runs the suite to its end, calling `on_verdict` as each test finishes.
pub async fn run(run: &Run, on_verdict: impl Fn(&str, Verdict)) -> Result<Outcome, UpstreamError> {
    let started = Instant::now();
    let io = |what, path: &PathBuf| FileError::at::<UpstreamError>(what, path);
    let mut log = tokio::fs::File::create(&run.log)
        .await
        .map_err(io("creating", &run.log))?;
    let mut child = tokio::process::Command::new(&run.binary)
        .args(run.flags.to_args())
        .env("KUBECONFIG", &run.kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| UpstreamError::Spawn {
            binary: run.binary.clone(),
            source,
        })?;
    let (tx, mut lines) = mpsc::unbounded_channel();
    if let Some(out) = child.stdout.take() {
        forward(out, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        forward(err, tx.clone());
    }
    drop(tx);
    let mut verdicts = Verdicts::new();
    while let Some(line) = lines.recv().await {
        log.write_all(line.as_bytes())
            .await
            .map_err(io("writing", &run.log))?;
        log.write_all(b"\n")
            .await
            .map_err(io("writing", &run.log))?;
        if let Some((test, verdict)) = verdicts::parse_line(&line) {
            on_verdict(&test, verdict);
            verdicts.insert(test, verdict);
        }
    }
    let status = child.wait().await.map_err(|source| UpstreamError::Spawn {
        binary: run.binary.clone(),
        source,
    })?;
    log.flush().await.map_err(io("writing", &run.log))?;
    Ok(Outcome {
        verdicts,
        success: status.success(),
        finished: status.code().is_some(),
        duration: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_upstreams_own() {
        let flags = Flags {
            gateway_class: "gatesim".into(),
            conformance_profiles: vec!["GATEWAY-HTTP".into()],
            supported_features: vec!["Gateway".into(), "HTTPRoute".into()],
            skip_tests: vec!["A".into(), "B".into()],
            run_test: Some("HTTPRouteSimpleSameNamespace".into()),
            allow_crds_mismatch: true,
            report_output: Some(PathBuf::from("r.yaml")),
            extra: vec!["--debug".into()],
            ..Flags::default()
        };
        let args = flags.to_args();
        for expected in [
            "^TestConformance$",
            "--gateway-class=gatesim",
            "--conformance-profiles=GATEWAY-HTTP",
            "--supported-features=Gateway,HTTPRoute",
            "--skip-tests=A,B",
            "--run-test=HTTPRouteSimpleSameNamespace",
            "--allow-crds-mismatch",
            "--report-output=r.yaml",
            "--debug",
        ] {
            assert!(
                args.iter().any(|a| a == expected),
                "{expected} missing from {args:?}"
            );
        }
        assert!(!args.iter().any(|a| a.starts_with("--exempt-features")));
    }
}
