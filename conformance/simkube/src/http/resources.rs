//! The verbs on resources: get, list, watch, create, update, patch, delete and
//! deletecollection, with faults applied first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::render::{ListOut, View};
use super::route::ResourcePath;
use super::{error_response, json_response, query, read_body, watch};
use crate::error::ApiError;
use crate::faults::Verb;
use crate::patch::{PatchType, parse_body};
use crate::schema::{FieldValidation, strict};
use crate::selector::{FieldSelector, LabelSelector, Selectors};
use crate::server::Core;
use crate::store::prepare::{Location, Target};
use crate::store::{DeleteOptions, ListOptions, WriteCtx};

/// Serves one request on a resource path.
pub(super) async fn handle(core: Arc<Core>, target: ResourcePath, req: Request) -> Response {
    let warnings = Mutex::new(Vec::new());
    let mut resp = match serve(core, target, req, &warnings).await {
        Ok(resp) => resp,
        Err(err) => error_response(&err),
    };
    for text in warnings.into_inner().unwrap_or_else(|p| p.into_inner()) {
        // As upstream writes them: code 299, no agent, the text quoted.
        let value = format!("299 - {}", serde_json::to_string(&text).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// Keys repeated in a JSON body, when the directive cares about them.
fn duplicates_of(body: &[u8], directive: FieldValidation) -> Vec<String> {
    match directive {
        FieldValidation::Ignore => Vec::new(),
        _ => strict::duplicate_fields(body),
    }
}

fn verb_of(method: &Method, has_name: bool, watch: bool) -> Result<Verb, ApiError> {
    Ok(match (method.as_str(), has_name) {
        ("GET", _) if watch => Verb::Watch,
        ("GET", true) => Verb::Get,
        ("GET", false) => Verb::List,
        ("POST", false) => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::Deletecollection,
        (m, _) => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            )));
        }
    })
}

/// The field manager of a write: `fieldManager`, else the client's user-agent up to the
/// first `/`, as upstream derives it.
fn field_manager(params: &HashMap<String, String>, headers: &HeaderMap) -> String {
    if let Some(m) = params.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .chars()
        .take(128)
        .collect()
}

/// Bodies must be JSON: simkube has no protobuf or CBOR codecs for built-in types.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media.is_empty() || media == "application/json" || media == "*/*" {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json (got {media})"
        )))
    }
}

fn is_true(params: &HashMap<String, String>, key: &str) -> bool {
    params.get(key).is_some_and(|v| v == "true" || v == "1")
}

fn selectors(params: &HashMap<String, String>, name: Option<&str>) -> Result<Selectors, ApiError> {
    let labels = match params.get("labelSelector") {
        Some(s) => LabelSelector::parse(s)?,
        None => LabelSelector::default(),
    };
    let mut field_text = params.get("fieldSelector").cloned().unwrap_or_default();
    if let Some(n) = name {
        // A watch on a single object URL watches that name.
        if !field_text.is_empty() {
            field_text.push(',');
        }
        field_text.push_str(&format!("metadata.name={n}"));
    }
    Ok(Selectors {
        labels,
        fields: FieldSelector::parse(&field_text)?,
    })
}

async fn serve(
    core: Arc<Core>,
    rp: ResourcePath,
    req: Request,
    warnings: &Mutex<Vec<String>>,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let params = query(&parts.uri)?;
    let verb = verb_of(&parts.method, rp.name.is_some(), is_true(&params, "watch"))?;
    let spec = core.store.table().spec(rp.kind);
    let resource = match &rp.subresource {
        Some(sub) => format!("{}/{sub}", spec.plural),
        None => spec.plural.to_string(),
    };

    let (delay, injected) = core.faults.on_request(verb, &resource);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(err) = injected {
        if verb == Verb::Watch && err.code == 410 {
            return Ok(watch::error_stream(&err));
        }
        return Err(err);
    }

    if spec.namespaced && rp.namespace.is_none() && verb == Verb::Create {
        return Err(ApiError::method_not_allowed(format!(
            "{} must be created in a namespace",
            spec.group_resource()
        )));
    }
    if rp.subresource.is_some() && matches!(verb, Verb::Delete | Verb::Watch) {
        return Err(ApiError::method_not_allowed(format!(
            "{verb:?} is not supported on {resource}"
        )));
    }
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let view = View::new(spec, &rp.version, accept);
    let manager = field_manager(&params, &parts.headers);
    let field_validation =
        FieldValidation::parse(params.get("fieldValidation").map(String::as_str))?;
    let ctx = WriteCtx {
        manager: &manager,
        dry_run: params.get("dryRun").is_some_and(|v| v == "All"),
        field_validation,
        duplicates: &[],
        warnings,
    };
    let at = Location {
        namespace: rp.namespace.as_deref(),
        name: rp.name.as_deref(),
        version: &rp.version,
    };
    let write_target = if rp.subresource.is_some() {
        Target::Status
    } else {
        Target::Main
    };
    let store = &core.store;

    match verb {
        Verb::Get => {
            let obj = store.get(rp.kind, at.namespace, at.name.unwrap_or_default())?;
            Ok(json_response(StatusCode::OK, &view.object(&obj)))
        }
        Verb::List => {
            let opts = ListOptions {
                limit: params
                    .get("limit")
                    .map(|l| l.parse::<usize>())
                    .transpose()
                    .map_err(|_| ApiError::bad_request("limit must be a non-negative integer"))?,
                continue_token: params.get("continue").filter(|c| !c.is_empty()).cloned(),
                resource_version: params.get("resourceVersion").cloned(),
                version_match: params.get("resourceVersionMatch").cloned(),
            };
            let page = store.list(rp.kind, at.namespace, &selectors(&params, None)?, &opts)?;
            Ok(json_response(
                StatusCode::OK,
                &ListOut {
                    view: &view,
                    items: &page.items,
                    resource_version: page.rv,
                    continue_token: page.continue_token.as_deref(),
                    remaining: page.remaining,
                },
            ))
        }
        Verb::Watch => {
            let sel = selectors(&params, at.name)?;
            watch::serve(core.clone(), &rp, sel, &params, view)
        }
        Verb::Create => {
            require_json(&parts.headers)?;
            let raw = read_body(body).await?;
            let body = parse_body(&raw, false)?;
            let duplicates = duplicates_of(&raw, field_validation);
            let ctx = WriteCtx {
                duplicates: &duplicates,
                ..ctx
            };
            let obj = store.create(rp.kind, &at, body, &ctx)?;
            Ok(json_response(StatusCode::CREATED, &view.object(&obj)))
        }
        Verb::Update => {
            require_json(&parts.headers)?;
            let raw = read_body(body).await?;
            let body = parse_body(&raw, false)?;
            let duplicates = duplicates_of(&raw, field_validation);
            let ctx = WriteCtx {
                duplicates: &duplicates,
                ..ctx
            };
            let obj = store.update(rp.kind, &at, body, write_target, &ctx)?;
            Ok(json_response(StatusCode::OK, &view.object(&obj)))
        }
        Verb::Patch => {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let patch_type = PatchType::from_content_type(content_type)?;
            let body = read_body(body).await?;
            if patch_type == PatchType::Apply {
                if !params.contains_key("fieldManager") {
                    return Err(ApiError {
                        code: 422,
                        reason: "Invalid",
                        message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
                        details: None,
                    });
                }
                let force = is_true(&params, "force");
                let (obj, created) = store.apply(rp.kind, &at, &body, force, write_target, &ctx)?;
                let code = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                return Ok(json_response(code, &view.object(&obj)));
            }
            let duplicates = match patch_type {
                PatchType::Merge | PatchType::Strategic => duplicates_of(&body, field_validation),
                _ => Vec::new(),
            };
            let ctx = WriteCtx {
                duplicates: &duplicates,
                ..ctx
            };
            let obj = store.patch(rp.kind, &at, patch_type, &body, write_target, &ctx)?;
            Ok(json_response(StatusCode::OK, &view.object(&obj)))
        }
        Verb::Delete => {
            let body = read_body(body).await?;
            let opts = if body.is_empty() {
                DeleteOptions::default()
            } else {
                DeleteOptions::from_body(&parse_body(&body, false)?)
            };
            let obj = store.delete(rp.kind, &at, &opts, &ctx)?;
            Ok(json_response(StatusCode::OK, &view.object(&obj)))
        }
        Verb::Deletecollection => {
            let deleted =
                store.delete_collection(rp.kind, at.namespace, &selectors(&params, None)?, &ctx)?;
            Ok(json_response(
                StatusCode::OK,
                &ListOut {
                    view: &view,
                    items: &deleted,
                    resource_version: store.current_rv(),
                    continue_token: None,
                    remaining: None,
                },
            ))
        }
    }
}
