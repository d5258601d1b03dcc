//! Shapes protobuf JSON allows and their CRD schemas: enums by name or number, 64-bit
//! integers as numbers or strings, durations as `"1.5s"`, and fields kept as written.
//!
//! CRD schemas must be structural (every node typed, no `additionalProperties` beside
//! `properties`), so the schemas here are written out rather than derived.

use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

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

/// An object kept exactly as written: fields gatesim accepts by name but does not model
/// field by field.
pub fn preserve_unknown(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// A list of objects kept exactly as written.
pub fn preserve_unknown_list(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": preserve_unknown(generator) })
}

/// A map of objects kept exactly as written.
pub fn preserve_unknown_map(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "additionalProperties": preserve_unknown(generator) })
}

/// A protobuf `int64`/`uint64`, which protobuf JSON writes as a string (JavaScript numbers lose
/// precision past 2^53) and reads from a string or a number. Written back as a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Int64(pub i64);

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
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
                Ok(Int64(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64)
                    .map_err(|_| E::custom(format!("{v} is out of range for a 64-bit integer")))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int64, E> {
                v.parse()
                    .map(Int64)
                    .map_err(|_| E::custom(format!("`{v}` is not a 64-bit integer")))
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
        Self::new(f64::deserialize(deserializer)?).map_err(de::Error::custom)
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

/// A `google.protobuf.Duration` as protobuf JSON writes it: seconds with up to nine
/// fractional digits and an `s` suffix (`"10s"`, `"0.5s"`, `"-1.000000001s"`). Kept as the
/// text the user wrote, after checking that it is one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ProtoDuration(String);

/// The range protobuf allows a duration: about ±10,000 years.
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

impl ProtoDuration {
    /// Parses the protobuf JSON form.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::seconds_and_nanos(text)?;
        Ok(Self(text.to_string()))
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whole seconds and the nanoseconds beyond them (both negative for a negative duration).
    pub fn to_parts(&self) -> (i64, i32) {
        Self::seconds_and_nanos(&self.0).unwrap_or_default()
    }

    fn seconds_and_nanos(text: &str) -> Result<(i64, i32), String> {
        let invalid = || {
            format!(
                "invalid duration `{text}`: expected seconds with an `s` suffix, such as `10s` or `0.5s`"
            )
        };
        let body = text.strip_suffix('s').ok_or_else(invalid)?;
        let (negative, body) = match body.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (body.contains('.') && !digits(fraction)) || fraction.len() > 9 {
            return Err(invalid());
        }
        let seconds: i64 = whole.parse().map_err(|_| invalid())?;
        if seconds > MAX_DURATION_SECONDS {
            return Err(format!(
                "invalid duration `{text}`: more than {MAX_DURATION_SECONDS} seconds"
            ));
        }
        let nanos: i32 = format!("{fraction:0<9}").parse().map_err(|_| invalid())?;
        let sign = if negative { -1 } else { 1 };
        Ok((sign * seconds, sign as i32 * nanos))
    }
}

impl<'de> Deserialize<'de> for ProtoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl JsonSchema for ProtoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProtoDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_protobuf_json_form_only() {
        for (text, parts) in [
            ("10s", (10, 0)),
            ("0.5s", (0, 500_000_000)),
            ("1.000000001s", (1, 1)),
            ("-1.5s", (-1, -500_000_000)),
            ("0s", (0, 0)),
        ] {
            assert_eq!(
                ProtoDuration::parse(text).unwrap().to_parts(),
                parts,
                "{text}"
            );
        }
        for text in [
            "10",
            "1m",
            "1h30m",
            "s",
            ".5s",
            "1.s",
            "1.0000000001s",
            "",
            "-s",
            "1 s",
        ] {
            assert!(
                ProtoDuration::parse(text).is_err(),
                "{text} must be rejected"
            );
        }
        assert!(ProtoDuration::parse("315576000001s").is_err());
    }

    #[test]
    fn int64_reads_numbers_and_strings_and_writes_numbers() {
        let from_string: Int64 = serde_json::from_str("\"-42\"").unwrap();
        let from_number: Int64 = serde_json::from_str("-42").unwrap();
        assert_eq!(from_string, from_number);
        assert_eq!(serde_json::to_string(&from_string).unwrap(), "-42");
        assert!(serde_json::from_str::<Int64>("\"4x\"").is_err());
        assert!(serde_json::from_str::<Int64>("18446744073709551615").is_err());
    }
}
