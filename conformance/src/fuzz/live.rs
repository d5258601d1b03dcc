//! Live checks: a generated case runs as its scenario on a started target (`sim` or
//! `cluster`), through the same engine as `gatesim run`.
//!
//! Cases share one environment: the `fuzz` base fixture (namespaces, echo backends, the
//! Gateways) is applied once, each case re-applies the Gateways with its listeners and the
//! run restores them afterwards. So one Envoy per Gateway serves every case of a run, and a
//! case costs a few object writes, the ACK barrier and its requests.

use std::path::PathBuf;
use std::sync::Arc;

use crate::outcome::Outcome;
use crate::report::failure;
use crate::run::Environment;
use crate::scenario::{LoadOptions, Loader, Step};

use super::properties::Property;

pub struct LiveSession {
    env: Arc<Environment>,
    dir: PathBuf,
    options: LoadOptions,
}

impl LiveSession {
    /// A session on `env`; case files are written to `dir` (the session's own: shutdown removes
    /// it), `base:` is resolved as `options` says.
    pub fn new(env: Arc<Environment>, dir: PathBuf, options: LoadOptions) -> LiveSession {
        LiveSession { env, dir, options }
    }

    pub fn environment(&self) -> &Arc<Environment> {
        &self.env
    }

    /// Stops the target (its proxies and simulated API server on `sim`) and removes the case
    /// directory.
    pub async fn shutdown(self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("removing {}: {e}", self.dir.display());
        }
        match Arc::try_unwrap(self.env) {
            Ok(env) => env.shutdown().await,
            Err(_) => tracing::warn!("fuzz environment still in use at shutdown"),
        }
    }

    /// Runs one generated scenario; a failure names the property it breaks: grant revocation
    /// when it fails after the grants were deleted, routing otherwise.
    pub async fn check(&self, text: &str) -> Result<(), (Property, String)> {
        let routing = |m: String| (Property::RoutingMatchesOracle, m);
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| routing(format!("creating {}: {e}", self.dir.display())))?;
        let path = self.dir.join("case.yaml");
        std::fs::write(&path, text)
            .map_err(|e| routing(format!("writing {}: {e}", path.display())))?;
        let scenario = Loader::new(self.options.clone())
            .load(&path)
            .map_err(|e| routing(format!("the generated scenario does not load: {e}")))?;
        let revocation = scenario
            .steps
            .iter()
            .position(|s| matches!(s.value, Step::Delete(_)));
        let result = self.env.run(&scenario).await;
        match &result.outcome {
            Outcome::Failed(f) => {
                let property = match (f.step.as_ref(), revocation) {
                    (Some((step, _)), Some(r)) if *step > r => Property::GrantRevocation,
                    _ => Property::RoutingMatchesOracle,
                };
                Err((property, failure::details(f)))
            }
            _ => Ok(()),
        }
    }
}
