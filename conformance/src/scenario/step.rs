//! Steps. A step is a map with exactly one key; serde_yaml 0.9 reads externally tagged enums only
//! from YAML tags (`!apply`), so the map form is read here by hand, which also lets an empty map,
//! a second key or a misspelt key be reported at its own position.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use std::fmt;

use super::access_log::ExpectAccessLog;
use super::expect::{ExpectHttp, ExpectWeights, StatusExpectation};
use super::object::{Object, ObjectRef};

/// The keys a step may have, in the order the format lists them.
pub const STEP_KEYS: &[&str] = &[
    "apply",
    "patch",
    "delete",
    "fill-endpoints",
    "expect-status",
    "expect-http",
    "expect-weights",
    "expect-access-log",
];

#[derive(Clone, Debug)]
pub enum Step {
    /// Create or update, as server-side apply.
    Apply(Vec<Object>),
    /// JSON merge patches.
    Patch(Vec<PatchEntry>),
    Delete(Vec<ObjectRef>),
    FillEndpoints(FillEndpoints),
    ExpectStatus(Vec<StatusExpectation>),
    ExpectHttp(ExpectHttp),
    /// Boxed: by far the largest step.
    ExpectWeights(Box<ExpectWeights>),
    /// Addition to the format: lines a proxy wrote to a file of the scenario directory.
    ExpectAccessLog(ExpectAccessLog),
}

impl Step {
    /// The step's key as written (`expect-http`, ...).
    pub fn key(&self) -> &'static str {
        match self {
            Step::Apply(_) => "apply",
            Step::Patch(_) => "patch",
            Step::Delete(_) => "delete",
            Step::FillEndpoints(_) => "fill-endpoints",
            Step::ExpectStatus(_) => "expect-status",
            Step::ExpectHttp(_) => "expect-http",
            Step::ExpectWeights(_) => "expect-weights",
            Step::ExpectAccessLog(_) => "expect-access-log",
        }
    }
}

/// A JSON merge patch of one object.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchEntry {
    #[serde(default)]
    pub api_version: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    pub patch: serde_json::Value,
}

impl PatchEntry {
    pub fn target(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// Writes the Ready pod IPs of an EchoBackend into EndpointSlices that already exist.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FillEndpoints {
    pub namespace: String,
    pub backend: String,
    pub endpoint_slices: Vec<String>,
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StepVisitor)
    }
}

fn key_list() -> String {
    STEP_KEYS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a step: a map with exactly one key, one of {}",
            key_list()
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let Some(key) = map.next_key_seed(StepKey { first: None })? else {
            return Err(de::Error::custom(format!(
                "a step needs exactly one key, one of {}; this one has none",
                key_list()
            )));
        };
        let step = match key {
            "apply" => Step::Apply(map.next_value()?),
            "patch" => Step::Patch(map.next_value()?),
            "delete" => Step::Delete(map.next_value()?),
            "fill-endpoints" => Step::FillEndpoints(map.next_value()?),
            "expect-status" => Step::ExpectStatus(map.next_value()?),
            "expect-http" => Step::ExpectHttp(map.next_value()?),
            "expect-weights" => Step::ExpectWeights(Box::new(map.next_value()?)),
            "expect-access-log" => Step::ExpectAccessLog(map.next_value()?),
            other => return Err(de::Error::unknown_field(other, STEP_KEYS)),
        };
        // A second key is rejected by the key seed itself, at the key's position.
        map.next_key_seed(StepKey { first: Some(key) })?;
        Ok(step)
    }
}

/// Reads a step key; with `first` set, any key is a second key and therefore an error.
struct StepKey {
    first: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for StepKey {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for StepKey {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a step key, one of {}", key_list())
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<&'static str, E> {
        if let Some(first) = self.first {
            return Err(E::custom(format!(
                "a step has exactly one key, but `{key}` follows `{first}`; \
                 start a new list item (`- {key}: ...`) for another step"
            )));
        }
        STEP_KEYS
            .iter()
            .find(|k| **k == key)
            .copied()
            .ok_or_else(|| E::unknown_field(key, STEP_KEYS))
    }
}
