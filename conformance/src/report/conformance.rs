//! The upstream ConformanceReport (`gateway.networking.k8s.io/v1`, `conformance/apis/v1` in
//! Gateway API v1.6.1) and the rules upstream's suite uses to fill it (`Report`, `addTestResults`,
//! `compileResults`, `isTestExtended`), so that a report from gatesim can be compared line by line
//! with, and submitted like, one from upstream's Go suite.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ReportError, yaml};
use crate::outcome::{Outcome, ScenarioResult};
use crate::scenario::features::{FEATURES, Level, Profile};

pub const API_VERSION: &str = "gateway.networking.k8s.io/v1";
pub const KIND: &str = "ConformanceReport";
/// The Gateway API release whose suite these reports stand for.
pub const GATEWAY_API_VERSION: &str = "v1.6.1";
/// Upstream's default `--mode`.
pub const DEFAULT_MODE: &str = "default";

/// Field names are upstream's JSON names. Fields are declared in the order upstream's YAML shows
/// them (sorted), though `to_yaml` sorts regardless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConformanceReport {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub date: String,
    #[serde(rename = "gatewayAPIChannel")]
    pub gateway_api_channel: ApiChannel,
    #[serde(rename = "gatewayAPIVersion")]
    pub gateway_api_version: String,
    pub implementation: Implementation,
    pub kind: String,
    pub mode: String,
    /// Upstream writes `null` rather than `[]` when no profile counted any test.
    #[serde(
        serialize_with = "empty_as_null",
        deserialize_with = "null_as_empty",
        default
    )]
    pub profiles: Vec<ProfileReport>,
    #[serde(
        rename = "succeededProvisionalTests",
        skip_serializing_if = "Vec::is_empty",
        default
    )]
    pub succeeded_provisional_tests: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Implementation {
    #[serde(
        serialize_with = "empty_as_null",
        deserialize_with = "null_as_empty",
        default
    )]
    pub contact: Vec<String>,
    pub organization: String,
    pub project: String,
    pub url: String,
    pub version: String,
}

impl Implementation {
    /// Upstream's `Implementation.Validate`: every field is required once a report is written.
    pub fn validate(&self) -> Result<(), ReportError> {
        let missing = [
            ("organization", self.organization.is_empty()),
            ("project", self.project.is_empty()),
            ("url", self.url.is_empty()),
            ("version", self.version.is_empty()),
            ("contact", self.contact.iter().all(|c| c.is_empty())),
        ]
        .into_iter()
        .find(|(_, empty)| *empty);
        match missing {
            Some((field, _)) => Err(ReportError::MissingImplementationField { field }),
            None => Ok(()),
        }
    }
}

/// The Gateway API release channel the run targeted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiChannel {
    #[default]
    Standard,
    Experimental,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileReport {
    pub core: Status,
    /// Absent until the profile counts at least one extended test, as upstream.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub extended: Option<ExtendedStatus>,
    pub name: String,
    pub summary: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    #[serde(rename = "failedTests", skip_serializing_if = "Vec::is_empty", default)]
    pub failed_tests: Vec<String>,
    pub result: RunResult,
    #[serde(
        rename = "skippedTests",
        skip_serializing_if = "Vec::is_empty",
        default
    )]
    pub skipped_tests: Vec<String>,
    pub statistics: Statistics,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedStatus {
    #[serde(flatten)]
    pub status: Status,
    #[serde(
        rename = "supportedFeatures",
        skip_serializing_if = "Vec::is_empty",
        default
    )]
    pub supported_features: Vec<String>,
    #[serde(
        rename = "unsupportedFeatures",
        skip_serializing_if = "Vec::is_empty",
        default
    )]
    pub unsupported_features: Vec<String>,
}

/// Capitalised, as upstream's Go fields carry no JSON tags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statistics {
    pub failed: u32,
    pub passed: u32,
    pub skipped: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunResult {
    #[default]
    Success,
    Partial,
    Failure,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Partial => "partial",
            RunResult::Failure => "failure",
        }
    }
}

/// Which features the implementation declared, before profiles add their core features:
/// upstream's `--supported-features`, `--exempt-features` and `--all-features`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureSelection {
    pub supported: BTreeSet<String>,
    pub exempt: BTreeSet<String>,
    /// Every feature of the registry, K8sGateway ones included (they never reach a profile's
    /// lists, so upstream-facing output is the same as with upstream's `AllFeatures`).
    pub all: bool,
}

impl FeatureSelection {
    /// The features a run treats as supported: the declared (or all) features minus the exempt
    /// ones, plus the core features of every requested profile, as upstream's
    /// `NewConformanceTestSuite` computes it. The runner decides `Unsupported` with this set.
    pub fn effective(&self, profiles: &[Profile]) -> BTreeSet<String> {
        let mut set = self.declared();
        for profile in profiles {
            set.extend(profile.core_features().iter().map(|f| (*f).to_owned()));
        }
        set
    }

    fn declared(&self) -> BTreeSet<String> {
        let base: BTreeSet<String> = if self.all {
            FEATURES.iter().map(|f| f.name.to_owned()).collect()
        } else {
            self.supported.clone()
        };
        base.difference(&self.exempt).cloned().collect()
    }
}

/// Everything the report states besides the results.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    /// The requested profiles (`--conformance-profiles`), in the order requested; the report
    /// lists the profiles that counted a test in this order.
    pub profiles: Vec<Profile>,
    pub features: FeatureSelection,
    pub implementation: Implementation,
    pub mode: String,
    pub channel: ApiChannel,
    pub gateway_api_version: String,
    /// When the report was made; passed in so that building stays a pure function.
    pub date: jiff::Zoned,
}

impl ReportOptions {
    /// Upstream's defaults (mode `default`, the standard channel, Gateway API v1.6.1), with no
    /// profile and no declared feature.
    pub fn new(implementation: Implementation, date: jiff::Zoned) -> ReportOptions {
        ReportOptions {
            profiles: Vec::new(),
            features: FeatureSelection::default(),
            implementation,
            mode: DEFAULT_MODE.to_owned(),
            channel: ApiChannel::Standard,
            gateway_api_version: GATEWAY_API_VERSION.to_owned(),
            date,
        }
    }
}

/// Go's `time.RFC3339` layout: whole seconds, `Z` for UTC, otherwise the numeric offset.
pub fn rfc3339(date: &jiff::Zoned) -> String {
    let base = date.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if date.offset().seconds() == 0 {
        format!("{base}Z")
    } else {
        format!("{base}{}", date.strftime("%:z"))
    }
}

/// The report for these results, counted exactly as upstream's `Report` counts them.
///
/// Results are taken in name order (upstream sorts test names), which fixes the order of
/// `skippedTests` and `failedTests`. A result counts in every requested profile whose core and
/// extended features cover all of its features; `Unsupported` results are never counted.
/// Names are expected to be unique in a run (upstream keys results by name).
pub fn build(results: &[ScenarioResult], opts: &ReportOptions) -> ConformanceReport {
    let mut ordered: Vec<&ScenarioResult> = results.iter().collect();
    ordered.sort_by(|a, b| a.name.cmp(&b.name));

    let profiles = dedup(&opts.profiles);
    // A profile enters the report with the first test it covers, even an unsupported one that
    // it then does not count, exactly when upstream creates its map entry. The report lists
    // profiles in the order requested.
    let mut tallies: Vec<Option<Tally>> = profiles.iter().map(|_| None).collect();
    let mut provisional = BTreeSet::new();
    for result in &ordered {
        if result.provisional && result.outcome == Outcome::Passed {
            provisional.insert(result.name.clone());
        }
        for (profile, tally) in profiles.iter().zip(tallies.iter_mut()) {
            if let Some(level) = profile.level(&result.features) {
                tally.get_or_insert_with(Tally::default).add(level, result);
            }
        }
    }

    let profiles = profiles
        .iter()
        .zip(tallies)
        .zip(extended_feature_lists(&profiles, &opts.features))
        .filter_map(|((profile, tally), (supported, unsupported))| {
            tally.map(|t| t.into_report(*profile, supported, unsupported))
        })
        .collect();

    ConformanceReport {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        date: rfc3339(&opts.date),
        gateway_api_channel: opts.channel,
        gateway_api_version: opts.gateway_api_version.clone(),
        implementation: opts.implementation.clone(),
        mode: opts.mode.clone(),
        profiles,
        succeeded_provisional_tests: provisional.into_iter().collect(),
    }
}

fn dedup(profiles: &[Profile]) -> Vec<Profile> {
    let mut out: Vec<Profile> = Vec::with_capacity(profiles.len());
    for profile in profiles {
        if !out.contains(profile) {
            out.push(*profile);
        }
    }
    out
}

/// Per profile (in the given order), its extended features split into supported and
/// unsupported, each sorted. Upstream adds each profile's core features to the supported set
/// before splitting that profile's extended features; GATEWAY-TCP thereby lists TCPRoute, which
/// is both its core and its extended feature, as a supported extended feature, and so do we.
fn extended_feature_lists(
    profiles: &[Profile],
    features: &FeatureSelection,
) -> Vec<(Vec<String>, Vec<String>)> {
    let mut supported = features.declared();
    profiles
        .iter()
        .map(|profile| {
            supported.extend(profile.core_features().iter().map(|f| (*f).to_owned()));
            let (yes, no): (BTreeSet<String>, BTreeSet<String>) = profile
                .extended_features()
                .map(str::to_owned)
                .partition(|f| supported.contains(f));
            (yes.into_iter().collect(), no.into_iter().collect())
        })
        .collect()
}

/// One profile's counts while results are being added.
#[derive(Default)]
struct Tally {
    core: Status,
    extended: Option<Status>,
}

impl Tally {
    fn add(&mut self, level: Level, result: &ScenarioResult) {
        // Upstream's switch has no case for unsupported tests: they leave no trace, not even an
        // empty extended section.
        if matches!(result.outcome, Outcome::Unsupported { .. }) {
            return;
        }
        let status = match level {
            Level::Core => &mut self.core,
            Level::Extended => self.extended.get_or_insert_with(Status::default),
        };
        match &result.outcome {
            Outcome::Passed => status.statistics.passed += 1,
            Outcome::Failed(_) => {
                status.statistics.failed += 1;
                status.failed_tests.push(result.name.clone());
            }
            Outcome::Skipped { .. } => {
                status.statistics.skipped += 1;
                status.skipped_tests.push(result.name.clone());
            }
            Outcome::Unsupported { .. } => {}
        }
    }

    fn into_report(
        self,
        profile: Profile,
        supported_features: Vec<String>,
        unsupported_features: Vec<String>,
    ) -> ProfileReport {
        let core = conclude(self.core);
        let extended = self.extended.map(|status| ExtendedStatus {
            status: conclude(status),
            supported_features,
            unsupported_features,
        });
        let summary = summary(&core, extended.as_ref().map(|e| &e.status));
        ProfileReport {
            name: profile.name().to_owned(),
            summary,
            core,
            extended,
        }
    }
}

fn conclude(mut status: Status) -> Status {
    status.result = if status.statistics.failed > 0 {
        RunResult::Failure
    } else if status.statistics.skipped > 0 {
        RunResult::Partial
    } else {
        RunResult::Success
    };
    status
}

/// Upstream's `buildSummary` wording, word for word, since readers compare reports.
fn summary(core: &Status, extended: Option<&Status>) -> String {
    let mut text = format!("Core tests {}", level_summary(core));
    if let Some(extended) = extended {
        text.push_str(&format!(". Extended tests {}", level_summary(extended)));
    }
    text.push('.');
    text
}

fn level_summary(status: &Status) -> String {
    match status.result {
        RunResult::Success => "succeeded".to_owned(),
        RunResult::Partial => format!(
            "partially succeeded with {} test skips",
            status.statistics.skipped
        ),
        RunResult::Failure => format!("failed with {} test failures", status.statistics.failed),
    }
}

impl ConformanceReport {
    /// The report as upstream writes it (see `report::yaml` for the layout rules).
    pub fn to_yaml(&self) -> Result<String, ReportError> {
        Ok(yaml::to_string(&serde_json::to_value(self)?))
    }

    /// Reads a report back, ours or one written by upstream's suite.
    pub fn from_yaml(text: &str) -> Result<ConformanceReport, ReportError> {
        Ok(serde_yaml::from_str(text)?)
    }

    pub fn profile(&self, name: &str) -> Option<&ProfileReport> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

fn empty_as_null<S: Serializer, T: Serialize>(
    items: &[T],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if items.is_empty() {
        serializer.serialize_none()
    } else {
        items.serialize(serializer)
    }
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}
