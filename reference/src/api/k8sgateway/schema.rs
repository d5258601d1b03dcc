//! Shapes gloo's protobuf JSON decoding allows, and their CRD schemas: enums by name or
//! number, 64-bit integers as numbers or strings, durations in Go's syntax, percentages, and
//! objects kept as written.
//!
//! CRD schemas must be structural (every node typed, no `additionalProperties` beside
//! `properties`), so the schemas here are written out rather than derived.

use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// Decodes a string and checks it while the deserializer still stands on it, so that an error
/// carries the value's own position and field path (a check after decoding would point at
/// the enclosing object).
pub fn checked_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct StrVisitor<F>(&'static str, F);

    impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for StrVisitor<F> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }
    }

    deserializer.deserialize_str(StrVisitor(expecting, check))
}

/// Like [`checked_str`], for a number (integers are read as numbers too).
pub fn checked_f64<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    check: impl FnOnce(f64) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct NumberVisitor<F>(&'static str, F);

    impl<T, F: FnOnce(f64) -> Result<T, String>> Visitor<'_> for NumberVisitor<F> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            self.visit_f64(v as f64)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            self.visit_f64(v as f64)
        }
    }

    deserializer.deserialize_f64(NumberVisitor(expecting, check))
}

/// Implemented by the enums [`proto_enum!`] declares.
pub trait ProtoEnum: Sized {
    fn from_name(name: &str) -> Option<Self>;
    fn from_number(number: i64) -> Option<Self>;
    fn names() -> &'static [&'static str];
}

/// Decodes a protobuf enum from its name or its number.
pub fn deserialize_proto_enum<'de, D: Deserializer<'de>, E: ProtoEnum>(
    deserializer: D,
) -> Result<E, D::Error> {
    struct EnumVisitor<E>(PhantomData<E>);

    impl<E: ProtoEnum> EnumVisitor<E> {
        fn expected() -> String {
            format!("one of {}", E::names().join(", "))
        }

        fn number<Err: de::Error>(number: i64) -> Result<E, Err> {
            E::from_number(number).ok_or_else(|| {
                Err::custom(format!(
                    "unknown value {number}, expected {}",
                    Self::expected()
                ))
            })
        }
    }

    impl<E: ProtoEnum> Visitor<'_> for EnumVisitor<E> {
        type Value = E;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{} (or its number)", Self::expected())
        }

        fn visit_str<Err: de::Error>(self, name: &str) -> Result<E, Err> {
            E::from_name(name).ok_or_else(|| {
                Err::custom(format!(
                    "unknown value `{name}`, expected {}",
                    Self::expected()
                ))
            })
        }

        fn visit_i64<Err: de::Error>(self, number: i64) -> Result<E, Err> {
            Self::number(number)
        }

        fn visit_u64<Err: de::Error>(self, number: u64) -> Result<E, Err> {
            Self::number(i64::try_from(number).unwrap_or(i64::MAX))
        }
    }

    deserializer.deserialize_any(EnumVisitor(PhantomData))
}

/// A protobuf enum: one of the names, or the number of one (protobuf JSON accepts both).
pub fn proto_enum_schema(names: &[&str], numbers: &[i64]) -> Schema {
    let numbers = numbers.iter().map(|n| serde_json::Value::from(*n));
    let values: Vec<serde_json::Value> = names.iter().map(|n| (*n).into()).chain(numbers).collect();
    json_schema!({ "x-kubernetes-int-or-string": true, "enum": values })
}

/// A field gatesim accepts by name but does not model (Enterprise features, exotic ones): an
/// object kept exactly as written, so that translation can report the field as unsupported
/// instead of losing it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Unmodelled(pub Map<String, Value>);

/// A `google.protobuf.Struct`: any JSON object, kept as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Struct(pub Map<String, Value>);

/// Any object, as the API server should store it: with every field, whatever its name.
fn any_object() -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

impl JsonSchema for Unmodelled {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Unmodelled".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        any_object()
    }
}

impl JsonSchema for Struct {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Struct".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        any_object()
    }
}

/// A protobuf `int64`/`uint64`, which protobuf JSON writes as a string (JavaScript numbers lose
/// precision past 2^53) and reads from a string or a number. Written back in the form it was
/// read in; two values are equal when their numbers are.
#[derive(Clone, Copy, Debug, Default)]
pub struct Int64 {
    value: i64,
    quoted: bool,
}

impl Int64 {
    pub fn new(value: i64) -> Self {
        Self {
            value,
            quoted: false,
        }
    }

    pub fn get(self) -> i64 {
        self.value
    }
}

impl PartialEq for Int64 {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Int64 {}

impl std::hash::Hash for Int64 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            serializer.serialize_str(&self.value.to_string())
        } else {
            serializer.serialize_i64(self.value)
        }
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Int64Visitor;

        impl Visitor<'_> for Int64Visitor {
            type Value = Int64;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 64-bit integer, as a number or a string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64::new(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64::new)
                    .map_err(|_| E::custom(format!("{v} is out of range for a 64-bit integer")))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int64, E> {
                let value = v
                    .parse()
                    .map_err(|_| E::custom(format!("`{v}` is not a 64-bit integer")))?;
                Ok(Int64 {
                    value,
                    quoted: true,
                })
            }
        }

        deserializer.deserialize_any(Int64Visitor)
    }
}

impl JsonSchema for Int64 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Int64".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "x-kubernetes-int-or-string": true })
    }
}

/// A percentage, 0 to 100 inclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Percent(f64);

impl Percent {
    pub fn new(value: f64) -> Result<Self, String> {
        if (0.0..=100.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!("{value} is not a percentage between 0 and 100"))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_f64(deserializer, "a percentage between 0 and 100", Self::new)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "minimum": 0, "maximum": 100 })
    }
}

/// A `google.protobuf.Duration` as K8sGateway reads it. gloo decodes its resources with
/// golang/protobuf's `jsonpb`, which parses durations with Go's `time.ParseDuration`: a
/// sequence of decimal numbers with units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h` (`"10s"`,
/// `"0.5s"`, `"1m30s"`, `"250ms"`), of which protobuf JSON's own form (`"1.5s"`) is a part.
/// Kept as the text the user wrote, after checking that it is one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ProtoDuration(String);

/// Nanoseconds per unit, longest unit names first so that `ms` is not read as `m`.
const UNITS: &[(&str, i128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl ProtoDuration {
    /// Parses Go's duration syntax.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::nanos(text)?;
        Ok(Self(text.to_string()))
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whole seconds and the nanoseconds beyond them, as protobuf holds a duration (both
    /// negative for a negative duration).
    pub fn to_parts(&self) -> (i64, i32) {
        let nanos = Self::nanos(&self.0).unwrap_or_default();
        // In range: `nanos` fits an i64 of nanoseconds.
        (
            (nanos / 1_000_000_000) as i64,
            (nanos % 1_000_000_000) as i32,
        )
    }

    fn nanos(text: &str) -> Result<i128, String> {
        let invalid = |why: &str| {
            format!(
                "invalid duration `{text}`: {why} (expected a number with a unit, such as `10s`, `0.5s`, `1m30s` or `250ms`)"
            )
        };
        let (negative, mut rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if rest == "0" {
            return Ok(0);
        }
        if rest.is_empty() {
            return Err(invalid("empty"));
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(rest.len());
            let (number, after) = rest.split_at(number_len);
            let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
            if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
                return Err(invalid("expected a number"));
            }
            let (unit, scale) = UNITS
                .iter()
                .filter(|(name, _)| after.starts_with(name))
                .max_by_key(|(name, _)| name.len())
                .ok_or_else(|| invalid("missing or unknown unit"))?;
            let whole: i128 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| invalid("number too large"))?
            };
            // Digits beyond a nanosecond do not count, as in Go.
            let digits = fraction.len().min(18) as u32;
            let fraction: i128 = fraction[..digits as usize].parse().unwrap_or(0);
            total = whole
                .checked_mul(*scale)
                .and_then(|n| n.checked_add(fraction * scale / 10_i128.pow(digits)))
                .and_then(|n| n.checked_add(total))
                .filter(|n| *n <= i64::MAX as i128)
                .ok_or_else(|| invalid("out of range"))?;
            rest = &after[unit.len()..];
        }
        Ok(if negative { -total } else { total })
    }
}

impl<'de> Deserialize<'de> for ProtoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_str(deserializer, "a duration such as `10s`", Self::parse)
    }
}

impl JsonSchema for ProtoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProtoDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[-+]?(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|\u{b5}s|\u{3bc}s|ms|s|m|h))+)$",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_gloo_reads_them() {
        for (text, parts) in [
            ("10s", (10, 0)),
            ("0.5s", (0, 500_000_000)),
            ("1.000000001s", (1, 1)),
            ("-1.5s", (-1, -500_000_000)),
            ("0s", (0, 0)),
            ("0", (0, 0)),
            ("1m30s", (90, 0)),
            ("1h", (3600, 0)),
            ("250ms", (0, 250_000_000)),
            ("1.5us", (0, 1500)),
            ("3\u{b5}s", (0, 3000)),
            (".5s", (0, 500_000_000)),
            ("1.s", (1, 0)),
            ("+2h45m0.5s", (9900, 500_000_000)),
        ] {
            assert_eq!(
                ProtoDuration::parse(text).unwrap().to_parts(),
                parts,
                "{text}"
            );
        }
        for text in [
            "10",
            "s",
            "",
            "-s",
            "1 s",
            "1d",
            "1.2.3s",
            ".s",
            "1m-2s",
            "9999999999h",
            "99999999999999999999999999999999999999h",
        ] {
            assert!(
                ProtoDuration::parse(text).is_err(),
                "{text} must be rejected"
            );
        }
    }

    #[test]
    fn the_duration_schema_pattern_agrees_with_the_parser() {
        let schema = ProtoDuration::json_schema(&mut SchemaGenerator::default());
        let pattern = regex::Regex::new(schema.get("pattern").unwrap().as_str().unwrap()).unwrap();
        for text in [
            "10s", "0", "1m30s", "250ms", "3\u{b5}s", ".5s", "-1.5h", "1.s",
        ] {
            assert!(pattern.is_match(text), "{text}");
            assert!(ProtoDuration::parse(text).is_ok(), "{text}");
        }
        for text in ["10", "s", "1 s", "1d", "1.2.3s"] {
            assert!(!pattern.is_match(text), "{text}");
            assert!(ProtoDuration::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn int64_reads_numbers_and_strings_and_writes_them_back_as_read() {
        let from_string: Int64 = serde_json::from_str("\"-42\"").unwrap();
        let from_number: Int64 = serde_json::from_str("-42").unwrap();
        assert_eq!(from_string, from_number);
        assert_eq!(from_string.get(), -42);
        assert_eq!(serde_json::to_string(&from_string).unwrap(), "\"-42\"");
        assert_eq!(serde_json::to_string(&from_number).unwrap(), "-42");
        assert!(serde_json::from_str::<Int64>("\"4x\"").is_err());
        assert!(serde_json::from_str::<Int64>("18446744073709551615").is_err());
    }
}
