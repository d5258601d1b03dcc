//! Which scenarios run, as upstream's suite decides it (`utils/suite/suite.go`): the supported
//! features come from the flags, or, when no feature flag and no `--run-test` is given, from
//! the GatewayClass's `status.supportedFeatures`; each listed conformance profile adds its core
//! features. A scenario needing an unsupported feature is not run and not counted; one excluded
//! by `--run-test`/`--skip-tests`/`--skip-provisional-tests` is counted as skipped.

use std::collections::BTreeSet;

use crate::report::FeatureSelection;
use crate::scenario::Profile;
use crate::scenario::Scenario;
use crate::scenario::features::{feature, suggest};
use gatesim_reference::yaml::closest;

/// The selection flags of a run.
#[derive(Clone, Debug, Default)]
pub struct SelectionFlags {
    pub supported_features: Vec<String>,
    pub exempt_features: Vec<String>,
    pub all_features: bool,
    pub profiles: Vec<Profile>,
    pub run_test: Option<String>,
    pub skip_tests: Vec<String>,
    pub skip_provisional: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SelectionError(pub String);

impl SelectionFlags {
    /// Upstream's `shouldInferSupportedFeatures`.
    pub fn infers_features(&self) -> bool {
        !self.all_features
            && self.supported_features.is_empty()
            && self.exempt_features.is_empty()
            && self.run_test.is_none()
    }

    /// Rejects feature names nobody knows, suggesting the closest.
    pub fn validate(&self) -> Result<(), SelectionError> {
        for name in self.supported_features.iter().chain(&self.exempt_features) {
            if feature(name).is_none() {
                return Err(SelectionError(match suggest(name) {
                    Some(close) => format!("unknown feature `{name}`; did you mean `{close}`?"),
                    None => format!("unknown feature `{name}`"),
                }));
            }
        }
        Ok(())
    }

    /// Names given to `--run-test` and `--skip-tests` must be names of the run's scenarios: a
    /// typo would otherwise run nothing, or skip nothing, without a word.
    pub fn check_names(&self, scenarios: &[Scenario]) -> Result<(), SelectionError> {
        let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        let given = self
            .run_test
            .iter()
            .map(|name| ("--run-test", name))
            .chain(self.skip_tests.iter().map(|name| ("--skip-tests", name)));
        for (flag, name) in given {
            if names.contains(&name.as_str()) {
                continue;
            }
            let near = closest(name, names.iter().copied(), (name.len() / 4).max(3));
            return Err(SelectionError(match near {
                Some(near) => {
                    format!("{flag} {name}: no scenario has that name; did you mean `{near}`?")
                }
                None => {
                    format!("{flag} {name}: no scenario has that name (`gatesim list` shows them)")
                }
            }));
        }
        Ok(())
    }

    /// The declared features (what the report's extended lists are split by): the flags, or
    /// `inferred` (the GatewayClass's list) when [`SelectionFlags::infers_features`].
    pub fn feature_selection(&self, inferred: &[String]) -> FeatureSelection {
        let supported = if self.infers_features() {
            inferred.iter().cloned().collect()
        } else {
            self.supported_features.iter().cloned().collect()
        };
        FeatureSelection {
            supported,
            exempt: self.exempt_features.iter().cloned().collect(),
            all: self.all_features,
        }
    }

    /// The supported feature set: the declared features plus every listed profile's core
    /// features.
    pub fn supported(&self, inferred: &[String]) -> BTreeSet<String> {
        self.feature_selection(inferred).effective(&self.profiles)
    }
}

/// What happens to one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Run,
    Skip(String),
    Unsupported(Vec<String>),
}

/// Upstream's order of precedence: unsupported beats provisional beats skipped.
pub fn decide(
    scenario: &Scenario,
    flags: &SelectionFlags,
    supported: &BTreeSet<String>,
) -> Decision {
    let missing: Vec<String> = scenario
        .features
        .iter()
        .map(|f| f.name)
        .filter(|f| !supported.contains(*f))
        .map(str::to_owned)
        .collect();
    if !missing.is_empty() {
        return Decision::Unsupported(missing);
    }
    if flags.skip_provisional && scenario.provisional {
        return Decision::Skip("provisional (--skip-provisional-tests)".to_owned());
    }
    if flags.skip_tests.contains(&scenario.name) {
        return Decision::Skip("listed in --skip-tests".to_owned());
    }
    if let Some(only) = &flags.run_test
        && *only != scenario.name
    {
        return Decision::Skip(format!("not selected by --run-test {only}"));
    }
    Decision::Run
}

/// Feature names from a GatewayClass status: upstream writes `{name: X}` objects (since
/// v1.2); plain strings are read too.
pub fn class_features(class: &serde_json::Value) -> Vec<String> {
    class
        .pointer("/status/supportedFeatures")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| {
                    f.as_str()
                        .or_else(|| f.get("name").and_then(serde_json::Value::as_str))
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn features_come_from_flags_or_the_class() {
        let inferred = vec!["Gateway".to_owned(), "HTTPRoute".to_owned()];
        let flags = SelectionFlags::default();
        assert!(flags.infers_features());
        assert_eq!(flags.supported(&inferred).len(), 2);

        let flags = SelectionFlags {
            supported_features: vec!["HTTPRouteCORS".into()],
            profiles: vec![Profile::GatewayHttp],
            ..Default::default()
        };
        assert!(!flags.infers_features());
        let supported = flags.supported(&inferred);
        assert!(supported.contains("HTTPRouteCORS") && supported.contains("ReferenceGrant"));

        let run_one = SelectionFlags {
            run_test: Some("X".into()),
            ..Default::default()
        };
        assert!(!run_one.infers_features());
        assert!(run_one.supported(&inferred).is_empty());

        let all = SelectionFlags {
            all_features: true,
            exempt_features: vec!["Mesh".into()],
            ..Default::default()
        };
        let supported = all.supported(&[]);
        assert!(supported.contains("HTTPRouteCORS") && !supported.contains("Mesh"));
    }

    #[test]
    fn unknown_feature_flags_are_errors() {
        let flags = SelectionFlags {
            supported_features: vec!["HTTPRouteCors".into()],
            ..Default::default()
        };
        let e = flags.validate().unwrap_err().to_string();
        assert!(e.contains("did you mean `HTTPRouteCORS`"), "{e}");
    }

    #[test]
    fn class_features_read_both_shapes() {
        let class = json!({"status": {"supportedFeatures": [{"name": "Gateway"}, "HTTPRoute"]}});
        assert_eq!(class_features(&class), vec!["Gateway", "HTTPRoute"]);
        assert!(class_features(&json!({})).is_empty());
    }
}
