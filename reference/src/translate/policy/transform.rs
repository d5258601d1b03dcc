//! `stagedTransformations`, the subset that Envoy's own header handling expresses: one
//! unconditional request transform in the `regular` stage whose templates only set, append or
//! remove headers with literal values (no Inja), and leave the body as it is (`passthrough`,
//! or no body template). Anything else is refused, naming the field (see
//! `docs/k8sgateway-policies.md`).

use serde_json::{Map, Value};

use super::values::header_value;
use crate::api::k8sgateway::transformation::{Transformation, TransformationStages};
use crate::validate::headers::modifiable_name;

const PATH: &str = "spec.options.stagedTransformations";

/// Template keys of the supported subset.
const TEMPLATE_KEYS: &[&str] = &[
    "headers",
    "headersToAppend",
    "headersToRemove",
    "passthrough",
];

/// Headers to set (replace), append and remove, on requests and on responses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderEdits {
    pub set: Vec<(String, String)>,
    pub append: Vec<(String, String)>,
    pub remove: Vec<String>,
}

/// Why `t` is outside the subset, one finding per field.
pub(crate) fn unsupported(t: &TransformationStages) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    fn refuse(out: &mut Vec<String>, field: &str, why: &str) {
        out.push(format!("{PATH}.{field}: {why}"));
    }
    for (name, stage) in [("early", &t.early), ("postRouting", &t.post_routing)] {
        if stage.is_some() {
            refuse(
                &mut out,
                name,
                "only the regular stage is supported by gatesim",
            );
        }
    }
    for (name, flag) in [
        ("inheritTransformation", t.inherit_transformation),
        ("logRequestResponseInfo", t.log_request_response_info),
        ("escapeCharacters", t.escape_characters),
    ] {
        if flag == Some(true) {
            refuse(&mut out, name, "is not supported by gatesim");
        }
    }
    let Some(regular) = &t.regular else {
        return out;
    };
    let requests = regular.request_transforms.as_deref().unwrap_or(&[]);
    if requests.len() > 1 {
        refuse(
            &mut out,
            "regular.requestTransforms",
            "gatesim supports one unconditional request transform",
        );
    }
    if regular
        .response_transforms
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        refuse(
            &mut out,
            "regular.responseTransforms",
            "response-matched transforms are not supported by gatesim (use a request \
             transform's responseTransformation)",
        );
    }
    for (i, m) in requests.iter().enumerate() {
        let at = format!("regular.requestTransforms[{i}]");
        if m.matcher.is_some() {
            refuse(
                &mut out,
                &format!("{at}.matcher"),
                "conditional transforms are not supported by gatesim",
            );
        }
        if m.clear_route_cache == Some(true) {
            refuse(
                &mut out,
                &format!("{at}.clearRouteCache"),
                "is not supported by gatesim",
            );
        }
        for (name, tr) in [
            ("requestTransformation", &m.request_transformation),
            ("responseTransformation", &m.response_transformation),
        ] {
            if let Some(tr) = tr {
                for why in transformation(tr) {
                    out.push(format!("{PATH}.{at}.{name}.{why}"));
                }
            }
        }
    }
    out
}

/// Findings within one transformation, as `field: why` relative to it.
fn transformation(t: &Transformation) -> Vec<String> {
    let mut out = Vec::new();
    if t.header_body_transform.is_some() {
        out.push("headerBodyTransform: is not supported by gatesim".to_string());
    }
    if t.log_request_response_info == Some(true) {
        out.push("logRequestResponseInfo: is not supported by gatesim".to_string());
    }
    let Some(template) = &t.transformation_template else {
        return out;
    };
    for key in template
        .0
        .keys()
        .filter(|k| !TEMPLATE_KEYS.contains(&k.as_str()))
    {
        out.push(format!(
            "transformationTemplate.{key}: is not supported by gatesim (only literal headers, \
             headersToAppend, headersToRemove and passthrough)"
        ));
    }
    let literal = |field: String, v: &Value, out: &mut Vec<String>| match v.get("text") {
        Some(Value::String(s)) if !s.contains("{{") && !s.contains("{%") => {
            if let Err(why) = header_value(s) {
                out.push(format!("{field}.text: {why}"));
            }
        }
        Some(Value::String(_)) => out.push(format!(
            "{field}: Inja templates are not supported by gatesim, only literal text"
        )),
        _ => out.push(format!("{field}: must be {{text: <literal>}}")),
    };
    if let Some(h) = template.0.get("headers") {
        match h.as_object() {
            Some(m) => {
                for (name, v) in m {
                    if let Err(why) = modifiable_name(name) {
                        out.push(format!("transformationTemplate.headers[{name}]: {why}"));
                    }
                    literal(
                        format!("transformationTemplate.headers[{name}]"),
                        v,
                        &mut out,
                    );
                }
            }
            None => out.push("transformationTemplate.headers: must be a map".to_string()),
        }
    }
    for (i, h) in list(template.0.get("headersToAppend")).iter().enumerate() {
        let at = format!("transformationTemplate.headersToAppend[{i}]");
        match h.get("key").and_then(Value::as_str) {
            None => out.push(format!("{at}.key: is required")),
            Some(k) => {
                if let Err(why) = modifiable_name(k) {
                    out.push(format!("{at}.key: {why}"));
                }
            }
        }
        literal(
            format!("{at}.value"),
            h.get("value").unwrap_or(&Value::Null),
            &mut out,
        );
    }
    for (i, h) in list(template.0.get("headersToRemove")).iter().enumerate() {
        let at = format!("transformationTemplate.headersToRemove[{i}]");
        match h.as_str() {
            None => out.push(format!("{at}: must be a header name")),
            Some(n) => {
                if let Err(why) = modifiable_name(n) {
                    out.push(format!("{at}: {why}"));
                }
            }
        }
    }
    out
}

fn list(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The request and response header edits of a transformation inside the subset.
pub(crate) fn header_edits(t: &TransformationStages) -> (HeaderEdits, HeaderEdits) {
    let mut request = HeaderEdits::default();
    let mut response = HeaderEdits::default();
    let transforms = t
        .regular
        .as_ref()
        .and_then(|r| r.request_transforms.as_deref())
        .unwrap_or(&[]);
    for m in transforms {
        if let Some(tr) = &m.request_transformation {
            edits(tr, &mut request);
        }
        if let Some(tr) = &m.response_transformation {
            edits(tr, &mut response);
        }
    }
    (request, response)
}

fn edits(t: &Transformation, out: &mut HeaderEdits) {
    let Some(template) = &t.transformation_template else {
        return;
    };
    let text = |v: &Value| {
        v.get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let empty = Map::new();
    for (name, v) in template
        .0
        .get("headers")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
    {
        out.set.push((name.to_ascii_lowercase(), text(v)));
    }
    for h in list(template.0.get("headersToAppend")) {
        let key = h.get("key").and_then(Value::as_str).unwrap_or_default();
        out.append.push((
            key.to_ascii_lowercase(),
            text(h.get("value").unwrap_or(&Value::Null)),
        ));
    }
    for h in list(template.0.get("headersToRemove")) {
        if let Some(name) = h.as_str() {
            out.remove.push(name.to_ascii_lowercase());
        }
    }
}
