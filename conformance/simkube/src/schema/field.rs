//! Field errors as kube-apiserver words them (`k8s.io/apimachinery`'s `field.Error`): a
//! path, a reason, the offending value and a detail, rendered as
//! `<field>: <Reason text>[: <value>][: <detail>]`.

use serde_json::Value;

/// The `reason` of a cause in a `422 Invalid` Status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `FieldValueInvalid`.
    Invalid,
    /// `FieldValueTypeInvalid`: worded as an invalid value, but it stops the CEL rules.
    TypeInvalid,
    /// `FieldValueRequired`.
    Required,
    /// `FieldValueNotSupported`: not one of an enum's values.
    NotSupported,
    /// `FieldValueTooLong`.
    TooLong,
    /// `FieldValueTooMany`.
    TooMany,
    /// `FieldValueForbidden`.
    Forbidden,
    /// `FieldValueDuplicate`.
    Duplicate,
}

impl Reason {
    /// The cause type in a Status.
    pub fn cause(self) -> &'static str {
        match self {
            Reason::Invalid => "FieldValueInvalid",
            Reason::TypeInvalid => "FieldValueTypeInvalid",
            Reason::Required => "FieldValueRequired",
            Reason::NotSupported => "FieldValueNotSupported",
            Reason::TooLong => "FieldValueTooLong",
            Reason::TooMany => "FieldValueTooMany",
            Reason::Forbidden => "FieldValueForbidden",
            Reason::Duplicate => "FieldValueDuplicate",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Reason::Invalid | Reason::TypeInvalid => "Invalid value",
            Reason::Required => "Required value",
            Reason::NotSupported => "Unsupported value",
            Reason::TooLong => "Too long",
            Reason::TooMany => "Too many",
            Reason::Forbidden => "Forbidden",
            Reason::Duplicate => "Duplicate value",
        }
    }

    /// Whether the value is part of the message (upstream leaves it out for these).
    fn shows_value(self) -> bool {
        !matches!(self, Reason::Required | Reason::Forbidden | Reason::TooLong)
    }

    /// Errors after which upstream does not run the CEL rules (they would evaluate
    /// against a shape the rules were not written for).
    pub fn blocks_rules(self) -> bool {
        matches!(
            self,
            Reason::NotSupported
                | Reason::Required
                | Reason::TooLong
                | Reason::TooMany
                | Reason::TypeInvalid
        )
    }
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Why.
    pub reason: Reason,
    /// The field path (`spec.rules[0].backendRefs[0].weight`); `<nil>` where upstream has
    /// no path.
    pub field: String,
    /// The offending value; `None` leaves it out of the message.
    pub value: Option<Value>,
    /// What was expected.
    pub detail: String,
}

/// The path upstream prints for an error without one.
pub const NO_PATH: &str = "<nil>";

impl FieldError {
    /// A field error.
    pub fn new(
        reason: Reason,
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            reason,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, field, Some(value), detail)
    }

    /// `Required value[: <detail>]`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Reason::Required, field, None, detail)
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Reason::Forbidden, field, None, detail)
    }

    /// The message without the field: upstream's `ErrorBody`, the `message` of a cause.
    pub fn body(&self) -> String {
        let mut s = self.reason.text().to_string();
        if self.reason.shows_value()
            && let Some(v) = &self.value
        {
            s.push_str(": ");
            s.push_str(&render_value(v));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A value as Go's `%v` (numbers, booleans), `%q` (strings) or JSON (the rest) prints it.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Number(n) => render_number(n),
        Value::Bool(b) => b.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A number as Go prints an `int64` or `float64` with `%v`.
pub fn render_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    render_float(n.as_f64().unwrap_or_default())
}

/// A float as Go's `%v` prints it: integral values without a fraction, exponents for
/// very large or small magnitudes.
pub fn render_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else if f != 0.0 && (f.abs() >= 1e21 || f.abs() < 1e-4) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        }
    } else {
        f.to_string()
    }
}

/// The path of field `key` under `path` (the root being the empty path).
pub fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Errors joined as upstream's aggregate prints them: one alone, several in brackets,
/// repeated messages once.
pub fn aggregate(errors: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errors {
        let msg = e.to_string();
        if !seen.contains(&msg) {
            seen.push(msg);
        }
    }
    match seen.len() {
        1 => seen.remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_read_like_upstream() {
        let e = FieldError::invalid(
            "spec.w",
            json!(2147483648u64),
            "spec.w in body should be less than or equal to 1000000",
        );
        assert_eq!(
            e.to_string(),
            "spec.w: Invalid value: 2147483648: spec.w in body should be less than or equal to 1000000"
        );
        assert_eq!(
            FieldError::required("spec.name", "").to_string(),
            "spec.name: Required value"
        );
        let too_long = FieldError::new(
            Reason::TooLong,
            "spec.h",
            Some(json!("x")),
            "may not be more than 253 bytes",
        );
        assert_eq!(too_long.body(), "Too long: may not be more than 253 bytes");
        let obj = FieldError::new(
            Reason::Duplicate,
            "spec.l[1]",
            Some(json!({"name": "a"})),
            "",
        );
        assert_eq!(obj.body(), r#"Duplicate value: {"name":"a"}"#);
        assert_eq!(render_float(1.5), "1.5");
        assert_eq!(render_float(1e6), "1000000");
        assert_eq!(
            aggregate(&[e.clone(), e.clone()]),
            e.to_string(),
            "repeated messages collapse"
        );
    }
}
