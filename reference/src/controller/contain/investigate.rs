//! One investigation: the configuration a Gateway's proxy rejected, bisected over the objects
//! that can be left out of it, with Envoy itself (`envoy --mode validate`) as the judge.
//!
//! Every configuration checked is what `translate()` makes of the same `ResourceSet` with
//! some candidates quarantined, so what is finally pushed is exactly a configuration Envoy was
//! seen to accept. Blocking (it runs Envoy once per check): call it off the async runtime.

use std::path::Path;
use std::time::{Duration, Instant};

use super::bisect::{Finding, Verdict, bisect};
use crate::infra::envoy::EnvoyError;
use crate::infra::validate::{envoy_message, validate_proxy};
use crate::model::{ObjectId, ObjectKey, Quarantined, ResourceSet};
use crate::translate;

/// What an investigation of one Gateway's rejected configuration found.
#[derive(Clone, Debug)]
pub struct Investigation {
    pub gateway: ObjectKey,
    pub outcome: Outcome,
    /// Objects that could have been left out.
    pub candidates: usize,
    /// Configurations Envoy was asked about.
    pub checks: usize,
    pub took: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Leaving these objects out makes the configuration acceptable.
    Quarantine(Vec<(ObjectId, Quarantined)>),
    /// Envoy rejects the configuration even without any candidate: the Gateway's own fault.
    OwnFault(String),
    /// Envoy accepts offline what the proxy rejected, so the culprit cannot be found here.
    NotReproduced,
    /// Envoy could not be asked.
    Failed(String),
}

impl Outcome {
    /// A short name, for metrics labels and the admin view.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Quarantine(_) => "quarantined",
            Outcome::OwnFault(_) => "gateway_fault",
            Outcome::NotReproduced => "not_reproduced",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// Investigate the configuration `set` gives `gateway`'s proxy.
pub fn investigate(envoy: &Path, set: &ResourceSet, gateway: &ObjectKey) -> Investigation {
    let started = Instant::now();
    let candidates = translate::candidates(set, gateway);
    let leave_out = |id: &ObjectId, message: String| {
        set.version_of(id).map(|version| Quarantined {
            version,
            gateway: gateway.clone(),
            message,
        })
    };
    let mut checks = 0;
    let check = |left_out: &[ObjectId]| -> Result<Verdict, String> {
        checks += 1;
        let mut probe = set.clone();
        for id in left_out {
            if let Some(entry) = leave_out(id, String::new()) {
                probe.quarantine.insert(id.clone(), entry);
            }
        }
        let translation = translate::translate(&probe);
        let proxy = translation
            .proxies
            .get(gateway)
            .ok_or_else(|| format!("Gateway {gateway} has no proxy configuration"))?;
        match validate_proxy(envoy, proxy) {
            Ok(()) => Ok(Verdict::Accepted),
            Err(EnvoyError::Rejected(message)) => {
                Ok(Verdict::Rejected(envoy_message(&message).to_string()))
            }
            Err(e) => Err(e.to_string()),
        }
    };
    let outcome = match bisect(&candidates, check) {
        Ok(b) => match b.finding {
            Finding::Offenders(found) => Outcome::Quarantine(
                found
                    .into_iter()
                    .filter_map(|o| Some((o.object.clone(), leave_out(&o.object, o.message)?)))
                    .collect(),
            ),
            Finding::OwnFault(message) => Outcome::OwnFault(message),
            Finding::NotReproduced => Outcome::NotReproduced,
        },
        Err(e) => Outcome::Failed(e),
    };
    Investigation {
        gateway: gateway.clone(),
        outcome,
        candidates: candidates.len(),
        checks,
        took: started.elapsed(),
    }
}
