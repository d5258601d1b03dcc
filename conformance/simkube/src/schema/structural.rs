//! A CRD's OpenAPI v3 schema, parsed once into a tree the validator, the pruner and the
//! defaulter walk: only the keywords Kubernetes allows in structural schemas, with
//! patterns compiled and CEL rules compiled.

use regex::Regex;
use serde_json::{Map, Value};

use super::cel::Rule;

/// What an object allows beyond its declared properties.
#[derive(Debug, Default)]
pub enum Additional {
    /// Not declared: with `properties`, unknown fields are pruned.
    #[default]
    Unset,
    /// `additionalProperties: <bool>`.
    Allowed(bool),
    /// `additionalProperties: <schema>`: a map whose values follow the schema.
    Schema(Box<Node>),
}

/// One schema node.
#[derive(Debug, Default)]
pub struct Node {
    pub ty: Option<String>,
    pub format: Option<String>,
    pub nullable: bool,
    /// Declared properties, by name (errors come out in that order).
    pub properties: Vec<(String, Node)>,
    pub additional: Additional,
    pub items: Option<Box<Node>>,
    pub required: Vec<String>,
    pub enumeration: Option<Vec<Value>>,
    pub pattern: Option<(String, Regex)>,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub unique_items: bool,
    pub default: Option<Value>,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub preserve_unknown: bool,
    pub int_or_string: bool,
    pub embedded_resource: bool,
    pub rules: Vec<Rule>,
    pub one_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub all_of: Vec<Node>,
    pub not: Option<Box<Node>>,
}

/// Why a schema could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    /// Where in the schema.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Node {
    /// Parses a schema object.
    pub fn parse(v: &Value) -> Result<Node, SchemaError> {
        parse_at(v, "openAPIV3Schema")
    }

    /// The schema of a declared property.
    pub fn property(&self, name: &str) -> Option<&Node> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    /// Whether the node declares the type `ty`.
    pub fn is(&self, ty: &str) -> bool {
        self.ty.as_deref() == Some(ty)
    }

    /// The type name upstream's CEL errors print for values of this node.
    pub fn type_name(&self) -> &str {
        self.ty.as_deref().unwrap_or("")
    }

    /// Whether any rule lives at or below this node (lets the rule walk skip subtrees).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
            || self.properties.iter().any(|(_, n)| n.has_rules())
            || self.items.as_ref().is_some_and(|n| n.has_rules())
            || matches!(&self.additional, Additional::Schema(n) if n.has_rules())
            || self.all_of.iter().any(Node::has_rules)
    }
}

fn err(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError {
        path: path.to_string(),
        message: message.into(),
    }
}

fn int(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, SchemaError> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| err(path, format!("{key} must be an integer"))),
    }
}

fn parse_at(v: &Value, path: &str) -> Result<Node, SchemaError> {
    let Some(map) = v.as_object() else {
        return Err(err(path, "a schema must be an object"));
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str).map(String::from);
    let flag = |k: &str| map.get(k).and_then(Value::as_bool).unwrap_or(false);
    let float = |k: &str| map.get(k).and_then(Value::as_f64);
    let mut node = Node {
        ty: text("type"),
        format: text("format"),
        nullable: flag("nullable"),
        exclusive_maximum: flag("exclusiveMaximum"),
        exclusive_minimum: flag("exclusiveMinimum"),
        maximum: float("maximum"),
        minimum: float("minimum"),
        max_length: int(map, "maxLength", path)?,
        min_length: int(map, "minLength", path)?,
        max_items: int(map, "maxItems", path)?,
        min_items: int(map, "minItems", path)?,
        max_properties: int(map, "maxProperties", path)?,
        min_properties: int(map, "minProperties", path)?,
        unique_items: flag("uniqueItems"),
        default: map.get("default").cloned(),
        list_type: text("x-kubernetes-list-type"),
        preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
        int_or_string: flag("x-kubernetes-int-or-string"),
        embedded_resource: flag("x-kubernetes-embedded-resource"),
        enumeration: map.get("enum").and_then(Value::as_array).cloned(),
        required: map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        list_map_keys: map
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        ..Node::default()
    };
    if let Some(p) = text("pattern") {
        let re = Regex::new(&p).map_err(|e| err(path, format!("pattern {p:?}: {e}")))?;
        node.pattern = Some((p, re));
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            node.properties.push((
                name.clone(),
                parse_at(sub, &format!("{path}.properties.{name}"))?,
            ));
        }
    }
    node.additional = match map.get("additionalProperties") {
        None => Additional::Unset,
        Some(Value::Bool(b)) => Additional::Allowed(*b),
        Some(sub) => Additional::Schema(Box::new(parse_at(
            sub,
            &format!("{path}.additionalProperties"),
        )?)),
    };
    if let Some(items) = map.get("items") {
        node.items = Some(Box::new(parse_at(items, &format!("{path}.items"))?));
    }
    for (key, list) in [
        ("oneOf", &mut node.one_of),
        ("anyOf", &mut node.any_of),
        ("allOf", &mut node.all_of),
    ] {
        if let Some(subs) = map.get(key).and_then(Value::as_array) {
            for (i, sub) in subs.iter().enumerate() {
                list.push(parse_at(sub, &format!("{path}.{key}[{i}]"))?);
            }
        }
    }
    if let Some(sub) = map.get("not") {
        node.not = Some(Box::new(parse_at(sub, &format!("{path}.not"))?));
    }
    if let Some(rules) = map
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for (i, r) in rules.iter().enumerate() {
            node.rules.push(
                Rule::compile(r)
                    .map_err(|m| err(&format!("{path}.x-kubernetes-validations[{i}]"), m))?,
            );
        }
    }
    Ok(node)
}
