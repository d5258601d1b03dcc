//! Small scalar values that check themselves while being deserialized, so that a bad value is
//! reported by serde_yaml at its own line and column.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

use super::features::{self, Feature};

/// A Gateway named as `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GatewayRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl GatewayRef {
    fn parse(text: &str) -> Option<GatewayRef> {
        let (namespace, name) = text.split_once('/')?;
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        (valid(namespace) && valid(name)).then(|| GatewayRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl<'de> Deserialize<'de> for GatewayRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GatewayRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Gateway as `namespace/name`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GatewayRef, E> {
                GatewayRef::parse(v).ok_or_else(|| {
                    E::custom(format!("expected a Gateway as `namespace/name`, got `{v}`"))
                })
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A duration written as upstream and GEP-2257 write them (`180s`, `1m30s`, `500ms`, `1h`), or as a
/// plain number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeSpan(pub Duration);

impl TimeSpan {
    pub fn parse(text: &str) -> Option<Duration> {
        let mut total = Duration::ZERO;
        let mut rest = text;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return None;
            }
            let amount: u64 = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "h" => Duration::from_secs(3600),
                "m" => Duration::from_secs(60),
                "s" => Duration::from_secs(1),
                "ms" => Duration::from_millis(1),
                _ => return None,
            };
            total = total.checked_add(unit.checked_mul(u32::try_from(amount).ok()?)?)?;
            rest = &rest[unit_len..];
        }
        Some(total)
    }
}

impl<'de> Deserialize<'de> for TimeSpan {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeSpan;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s`, `1m30s` or `500ms`, or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TimeSpan, E> {
                if v == 0 {
                    return Err(E::custom("a duration must be longer than zero"));
                }
                Ok(TimeSpan(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TimeSpan, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("a duration must be longer than zero, got {v}")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeSpan, E> {
                match TimeSpan::parse(v) {
                    Some(d) if !d.is_zero() => Ok(TimeSpan(d)),
                    Some(_) => Err(E::custom("a duration must be longer than zero")),
                    None => Err(E::custom(format!(
                        "expected a duration such as `30s`, `1m30s` or `500ms`, got `{v}`"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An HTTP status code as a mapping key: written `503` or `"503"` (JSON-minded writers quote
/// keys). Only codes from 100 to 599 are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(pub u16);

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status code such as 200 or \"503\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusCode, E> {
                u16::try_from(v)
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .map(StatusCode)
                    .ok_or_else(|| E::custom(format!("{v} is not an HTTP status code")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusCode, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("{v} is not an HTTP status code"))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusCode, E> {
                match v.parse::<u64>() {
                    Ok(n) if v.len() == 3 => self.visit_u64(n),
                    _ => Err(E::custom(format!(
                        "expected an HTTP status code such as 200 or \"503\", got `{v}`"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The status of a Kubernetes condition. Unquoted YAML booleans are accepted too, because
/// `status: True` is an easy slip that would otherwise read as a type error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ConditionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConditionStatus;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a condition status: \"True\", \"False\" or \"Unknown\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ConditionStatus, E> {
                Ok(if v {
                    ConditionStatus::True
                } else {
                    ConditionStatus::False
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConditionStatus, E> {
                match v {
                    "True" => Ok(ConditionStatus::True),
                    "False" => Ok(ConditionStatus::False),
                    "Unknown" => Ok(ConditionStatus::Unknown),
                    _ => Err(E::custom(format!(
                        "expected a condition status \"True\", \"False\" or \"Unknown\", got `{v}`"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A feature name from the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KnownFeature(pub &'static Feature);

impl<'de> Deserialize<'de> for KnownFeature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KnownFeature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a feature name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KnownFeature, E> {
                if let Some(feature) = features::feature(v) {
                    return Ok(KnownFeature(feature));
                }
                Err(E::custom(match features::suggest(v) {
                    Some(close) => format!("unknown feature `{v}`; did you mean `{close}`?"),
                    None => format!(
                        "unknown feature `{v}`; features are upstream Gateway API feature names \
                         (Gateway, HTTPRoute, HTTPRouteQueryParamMatching, ...) or K8sGateway<Kind>"
                    ),
                }))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_go_style() {
        assert_eq!(TimeSpan::parse("180s"), Some(Duration::from_secs(180)));
        assert_eq!(TimeSpan::parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(TimeSpan::parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(TimeSpan::parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(TimeSpan::parse("1.5s"), None);
        assert_eq!(TimeSpan::parse("10"), None);
        assert_eq!(TimeSpan::parse("s"), None);
        assert_eq!(TimeSpan::parse(""), None);
    }

    #[test]
    fn gateway_refs_need_both_parts() {
        assert_eq!(
            GatewayRef::parse("gateway-conformance-infra/same-namespace").map(|g| g.to_string()),
            Some("gateway-conformance-infra/same-namespace".to_owned())
        );
        assert_eq!(GatewayRef::parse("same-namespace"), None);
        assert_eq!(GatewayRef::parse("a/b/c"), None);
        assert_eq!(GatewayRef::parse("/b"), None);
    }
}
