//! OpenAPI v3 validation of one object against a structural schema, reporting what
//! kube-apiserver reports for CRDs: kube-openapi's checks and messages (`spec.x in body
//! should ...`), turned into field errors the way apiextensions-apiserver turns them.
//!
//! One difference on purpose: properties are checked in name order, where upstream
//! walks a Go map (random order); the set of errors is the same.

use serde_json::{Map, Number, Value, json};

use super::field::child_path;
use super::field::{FieldError, NO_PATH, Reason, render_float};
use super::structural::{Additional, Node};

/// Collects the errors of one validation.
pub struct Validation<'a> {
    /// The path the validated value sits at in the object (`status` for the status
    /// schema), prefixed to error fields but not to the messages, as upstream does.
    prefix: &'a str,
    pub errors: Vec<FieldError>,
}

impl<'a> Validation<'a> {
    /// A validation of a value found at `prefix` (empty for a whole object).
    pub fn new(prefix: &'a str) -> Self {
        Self {
            prefix,
            errors: Vec::new(),
        }
    }

    fn field(&self, name: &str) -> String {
        let name = name.trim_start_matches('.');
        match (self.prefix.is_empty(), name.is_empty()) {
            (true, true) => NO_PATH.to_string(),
            (true, false) => name.to_string(),
            (false, true) => self.prefix.to_string(),
            (false, false) => format!("{}.{name}", self.prefix),
        }
    }

    fn push(&mut self, reason: Reason, name: &str, value: Option<Value>, detail: String) {
        let field = self.field(name);
        self.errors
            .push(FieldError::new(reason, field, value, detail));
    }

    /// An error upstream reports without a path (kube-openapi's composite errors).
    fn push_pathless(&mut self, detail: String) {
        let field = if self.prefix.is_empty() {
            NO_PATH.to_string()
        } else {
            self.prefix.to_string()
        };
        self.errors
            .push(FieldError::invalid(field, json!(""), detail));
    }

    /// Validates `data` at `path` against `node`.
    pub fn check(&mut self, node: &Node, data: &Value, path: &str) {
        if data.is_null() {
            if let Some(ty) = &node.ty
                && !node.nullable
            {
                self.push(
                    Reason::TypeInvalid,
                    path,
                    Some(json!("null")),
                    format!("{path} in body must be of type {ty}: \"null\""),
                );
            }
            self.check_enum(node, data, path);
            return;
        }
        self.check_type(node, data, path);
        self.check_combinators(node, data, path);
        match data {
            Value::String(s) => {
                self.check_string(node, s, path);
                self.check_format(node, s, path);
            }
            Value::Number(n) => self.check_number(node, n, path),
            Value::Array(items) => self.check_array(node, items, path),
            _ => {}
        }
        self.check_enum(node, data, path);
        if let Value::Object(map) = data {
            self.check_object(node, map, path);
        }
    }

    fn check_type(&mut self, node: &Node, data: &Value, path: &str) {
        let Some(ty) = node.ty.as_deref() else {
            return;
        };
        let actual = json_type(data);
        let integral_float = actual == "number"
            && data.as_f64().is_some_and(|f| f.fract() == 0.0)
            && ty == "integer";
        let int_as_number = actual == "integer" && ty == "number";
        if actual != ty && !integral_float && !int_as_number {
            self.push(
                Reason::TypeInvalid,
                path,
                Some(json!(actual)),
                format!("{path} in body must be of type {ty}: \"{actual}\""),
            );
        }
    }

    /// As kube-openapi: the first of maxLength, minLength and pattern that fails is the
    /// only error of the string.
    fn check_string(&mut self, node: &Node, s: &str, path: &str) {
        let len = s.chars().count() as i64;
        if let Some(max) = node.max_length
            && len > max
        {
            let unit = if max == 1 { "byte" } else { "bytes" };
            self.push(
                Reason::TooLong,
                path,
                None,
                format!("may not be more than {max} {unit}"),
            );
            return;
        }
        if let Some(min) = node.min_length
            && len < min
        {
            self.push(
                Reason::Invalid,
                path,
                Some(json!(s)),
                format!("{path} in body should be at least {min} chars long"),
            );
            return;
        }
        if let Some((text, re)) = &node.pattern
            && !re.is_match(s)
        {
            self.push(
                Reason::Invalid,
                path,
                Some(json!(s)),
                format!("{path} in body should match '{text}'"),
            );
        }
    }

    fn check_format(&mut self, node: &Node, s: &str, path: &str) {
        let Some(format) = node.format.as_deref() else {
            return;
        };
        if node.ty.as_deref().is_some_and(|t| t != "string") {
            return;
        }
        let valid = match format.replace('-', "").as_str() {
            "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
            "ipv6" => s.contains(':') && s.parse::<std::net::Ipv6Addr>().is_ok(),
            "datetime" => is_date_time(s),
            "date" => jiff::civil::Date::strptime("%Y-%m-%d", s).is_ok(),
            "cidr" => is_cidr(s),
            // Formats upstream strips from CRD schemas or that no Gateway API field uses
            // are not checked.
            _ => true,
        };
        if !valid {
            self.push(
                Reason::TypeInvalid,
                path,
                Some(json!(s)),
                format!("{path} in body must be of type {format}: {}", quote(s)),
            );
        }
    }

    fn check_number(&mut self, node: &Node, n: &Number, path: &str) {
        let value = n.as_f64().unwrap_or_default();
        let integer = n.is_i64() || n.is_u64();
        if integer && node.is("integer") {
            let fits = match node.format.as_deref() {
                Some("int32") => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
                _ => n.is_i64(),
            };
            if !fits {
                let detail = match &node.format {
                    Some(f) => {
                        format!("Checked value must be of type integer with format {f} in {path}")
                    }
                    None => {
                        format!("Checked value must be of type integer (default format) in {path}")
                    }
                };
                self.push_pathless(detail);
            }
        }
        let bound = |b: f64| {
            if integer {
                format!("{}", b as i64)
            } else {
                render_float(b)
            }
        };
        if let Some(min) = node.minimum {
            let low = if node.exclusive_minimum {
                value <= min
            } else {
                value < min
            };
            if low {
                let word = if node.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                self.push(
                    Reason::Invalid,
                    path,
                    Some(Value::Number(n.clone())),
                    format!("{path} in body should be {word} {}", bound(min)),
                );
            }
        }
        if let Some(max) = node.maximum {
            let high = if node.exclusive_maximum {
                value >= max
            } else {
                value > max
            };
            if high {
                let word = if node.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                self.push(
                    Reason::Invalid,
                    path,
                    Some(Value::Number(n.clone())),
                    format!("{path} in body should be {word} {}", bound(max)),
                );
            }
        }
    }

    fn check_array(&mut self, node: &Node, items: &[Value], path: &str) {
        if let Some(item) = &node.items {
            for (i, v) in items.iter().enumerate() {
                self.check(item, v, &format!("{path}[{i}]"));
            }
        }
        let size = items.len() as i64;
        if let Some(min) = node.min_items
            && size < min
        {
            self.push(
                Reason::Invalid,
                path,
                Some(json!(size)),
                format!("{path} in body should have at least {min} items"),
            );
        }
        if let Some(max) = node.max_items
            && size > max
        {
            self.push(Reason::TooMany, path, Some(json!(size)), at_most(max));
        }
        if node.unique_items
            && items
                .iter()
                .enumerate()
                .any(|(i, a)| items[..i].contains(a))
        {
            self.push(
                Reason::Invalid,
                path,
                Some(json!("")),
                format!("{path} in body shouldn't contain duplicates"),
            );
        }
    }

    fn check_enum(&mut self, node: &Node, data: &Value, path: &str) {
        let Some(allowed) = &node.enumeration else {
            return;
        };
        if allowed.contains(data) {
            return;
        }
        let supported: Vec<String> = allowed
            .iter()
            .map(|v| match v {
                Value::String(s) => quote(s),
                other => quote(&other.to_string()),
            })
            .collect();
        self.push(
            Reason::NotSupported,
            path,
            Some(data.clone()),
            format!("supported values: {}", supported.join(", ")),
        );
    }

    fn check_object(&mut self, node: &Node, map: &Map<String, Value>, path: &str) {
        let count = map.len() as i64;
        if let Some(min) = node.min_properties
            && count < min
        {
            self.push(
                Reason::Invalid,
                path,
                Some(json!(count)),
                format!("{path} in body should have at least {min} properties"),
            );
        }
        if let Some(max) = node.max_properties
            && count > max
        {
            self.push(Reason::TooMany, path, Some(json!(count)), at_most(max));
        }
        let child = |k: &str| child_path(path, k);
        match &node.additional {
            Additional::Allowed(false) => {
                for key in map.keys().filter(|k| node.property(k).is_none()) {
                    self.push(
                        Reason::Invalid,
                        path,
                        Some(json!(key)),
                        format!("{path}.{key} in body is a forbidden property"),
                    );
                }
            }
            Additional::Schema(sub) => {
                for (key, v) in map.iter().filter(|(k, _)| node.property(k).is_none()) {
                    self.check(sub, v, &format!("{path}.{key}"));
                }
            }
            _ => {}
        }
        for (name, sub) in &node.properties {
            if let Some(v) = map.get(name) {
                self.check(sub, v, &child(name));
            }
        }
        for name in &node.required {
            if !map.contains_key(name) {
                self.push(
                    Reason::Required,
                    &format!("{path}.{name}"),
                    None,
                    String::new(),
                );
            }
        }
    }

    /// `oneOf`, `anyOf`, `allOf` and `not`. Where upstream keeps the failures of the
    /// alternative that matched best (by a count of passed checks), this keeps the
    /// alternative with the fewest errors.
    fn check_combinators(&mut self, node: &Node, data: &Value, path: &str) {
        let quoted = quote(path);
        if !node.any_of.is_empty() {
            let results = self.alternatives(&node.any_of, data, path);
            if !results.iter().any(Vec::is_empty) {
                self.push_pathless(format!(
                    "{quoted} must validate at least one schema (anyOf)"
                ));
                self.keep_best(results);
            }
        }
        if !node.one_of.is_empty() {
            let results = self.alternatives(&node.one_of, data, path);
            let valid = results.iter().filter(|r| r.is_empty()).count();
            if valid != 1 {
                let how = if valid == 0 {
                    "Found none valid".to_string()
                } else {
                    format!("Found {valid} valid alternatives")
                };
                self.push_pathless(format!(
                    "{quoted} must validate one and only one schema (oneOf). {how}"
                ));
                if valid == 0 {
                    self.keep_best(results);
                }
            }
        }
        if !node.all_of.is_empty() {
            let results = self.alternatives(&node.all_of, data, path);
            let valid = results.iter().filter(|r| r.is_empty()).count();
            if valid != results.len() {
                for r in results {
                    self.errors.extend(r);
                }
                let none = if valid == 0 { ". None validated" } else { "" };
                self.push_pathless(format!(
                    "{quoted} must validate all the schemas (allOf){none}"
                ));
            }
        }
        if let Some(not) = &node.not
            && self.alternatives(std::slice::from_ref(not), data, path)[0].is_empty()
        {
            self.push_pathless(format!("{quoted} must not validate the schema (not)"));
        }
    }

    fn alternatives(&self, nodes: &[Node], data: &Value, path: &str) -> Vec<Vec<FieldError>> {
        nodes
            .iter()
            .map(|n| {
                let mut sub = Validation::new(self.prefix);
                sub.check(n, data, path);
                sub.errors
            })
            .collect()
    }

    fn keep_best(&mut self, results: Vec<Vec<FieldError>>) {
        if let Some(best) = results.into_iter().min_by_key(Vec::len) {
            self.errors.extend(best);
        }
    }
}

fn at_most(max: i64) -> String {
    let unit = if max == 1 { "item" } else { "items" };
    format!("must have at most {max} {unit}")
}

/// Go's `%q` of a string, close enough: JSON string escaping.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The JSON schema type of a value, as kube-openapi infers it from decoded JSON.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// RFC 3339 date-times, and the local form without an offset that upstream also takes.
fn is_date_time(s: &str) -> bool {
    s.parse::<jiff::Timestamp>().is_ok()
        || jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", s).is_ok()
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(schema: Value, data: Value) -> Vec<String> {
        let node = Node::parse(&schema).unwrap();
        let mut v = Validation::new("");
        v.check(&node, &data, "");
        v.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_keyword_reports_as_upstream() {
        let schema = json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
            "weight": {"type": "integer", "format": "int32", "maximum": 1000000, "minimum": 0},
            "kind": {"type": "string", "enum": ["A", "B"]},
            "list": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            "addr": {"type": "string", "format": "ipv4"}
        }});
        assert_eq!(
            errors(schema.clone(), json!({"weight": 2147483648u64})),
            vec![
                "<nil>: Invalid value: \"\": Checked value must be of type integer with format int32 in weight",
                "weight: Invalid value: 2147483648: weight in body should be less than or equal to 1000000",
                "name: Required value",
            ]
        );
        assert_eq!(
            errors(
                schema.clone(),
                json!({"name": "ABCD", "kind": "C", "list": ["a", "b"], "addr": "x"})
            ),
            vec![
                "addr: Invalid value: \"x\": addr in body must be of type ipv4: \"x\"",
                "kind: Unsupported value: \"C\": supported values: \"A\", \"B\"",
                "list: Too many: 2: must have at most 1 item",
                // The first failing string check is the string's only error.
                "name: Too long: may not be more than 3 bytes",
            ]
        );
        assert_eq!(
            errors(schema, json!({"name": "a", "weight": "heavy"})),
            vec![
                "weight: Invalid value: \"string\": weight in body must be of type integer: \"string\""
            ]
        );
    }
}
