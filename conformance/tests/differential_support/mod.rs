//! The differential validation tables (`tests/data/differential/*.yaml`, see the README
//! there): reading them, asking an API server what it makes of each row's object, and
//! checking the answer and, where the server admits the object, the controller's verdict.
//!
//! Shared by `tests/differential.rs` (simkube against the tables, everywhere) and the
//! `differential/*` trials of `tests/local_cluster` (kube-apiserver and simkube side by side).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use gatesim_reference::api::k8sgateway::crd;
use gatesim_reference::model::{AnyObject, ResourceSet};
use gatesim_reference::{render, translate};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// What a row expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The API server refuses the object with `code`, naming exactly `fields` (sorted).
    Rejected { code: u16, fields: Vec<String> },
    /// The API server admits the object; the controller gives it `condition` = `status`
    /// with `reason`, the message naming `path`.
    Refused {
        condition: String,
        status: String,
        reason: String,
        path: String,
    },
}

#[derive(Clone, Debug)]
pub struct Row {
    pub file: String,
    pub name: String,
    /// The object's name: unique across all tables.
    pub slug: String,
    pub object: Value,
    pub expect: Expect,
}

/// An API server's answer to a dry-run create.
#[derive(Clone, Debug)]
pub struct Answer {
    pub code: u16,
    /// The `reason` of a `Status` (`Invalid`, `BadRequest`), empty on success.
    pub reason: String,
    /// `details.causes` as `(field, reason)`, sorted.
    pub causes: Vec<(String, String)>,
    pub message: String,
    /// The object as the server would store it (defaults filled in), on success.
    pub stored: Option<Value>,
}

impl Answer {
    pub fn fields(&self) -> Vec<String> {
        self.causes.iter().map(|(f, _)| f.clone()).collect()
    }

    /// What two servers must agree on: everything but the message's wording.
    pub fn shape(&self) -> (u16, &str, &[(String, String)]) {
        (self.code, &self.reason, &self.causes)
    }
}

/// Where a kind is served: (group, version, plural, namespaced).
fn resource(kind: &str) -> Result<(String, String, String, bool)> {
    const GATEWAY_API: [(&str, &str, &str, bool); 4] = [
        ("HTTPRoute", "v1", "httproutes", true),
        ("Gateway", "v1", "gateways", true),
        ("GatewayClass", "v1", "gatewayclasses", false),
        ("ReferenceGrant", "v1beta1", "referencegrants", true),
    ];
    if let Some((_, version, plural, namespaced)) = GATEWAY_API.iter().find(|r| r.0 == kind) {
        return Ok((
            "gateway.networking.k8s.io".into(),
            (*version).into(),
            (*plural).into(),
            *namespaced,
        ));
    }
    let definition = crd::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .with_context(|| format!("no table kind and no K8sGateway CRD is called {kind}"))?;
    Ok((
        definition.spec.group.clone(),
        definition.spec.versions[0].name.clone(),
        definition.spec.names.plural.clone(),
        definition.spec.scope == "Namespaced",
    ))
}

/// A valid spec of `kind`, which a row's `spec` is merged over.
fn base_spec(kind: &str, slug: &str) -> Result<Value> {
    let route_target =
        json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "route"}]);
    let gateway_target =
        json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}]);
    Ok(match kind {
        "HTTPRoute" => json!({
            "parentRefs": [{"name": "gw"}],
            "hostnames": [format!("{slug}.example.com")],
            "rules": [{"backendRefs": [{"name": "echo", "port": 8080}]}],
        }),
        "Gateway" => json!({
            "gatewayClassName": "gatesim",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
        }),
        "GatewayClass" => json!({"controllerName": "gatesim.dev/reference-controller"}),
        "ReferenceGrant" => json!({
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}],
            "to": [{"group": "", "kind": "Service"}],
        }),
        "RouteOption" => json!({"targetRefs": route_target, "options": {}}),
        "VirtualHostOption" | "ListenerOption" | "HttpListenerOption" => {
            json!({"targetRefs": gateway_target, "options": {}})
        }
        "DirectResponse" => json!({"status": 200}),
        other => bail!("no base spec for {other}"),
    })
}

/// The object of a row: its kind's base with the row's spec merged over it.
fn object(kind: &str, slug: &str, spec: &Value) -> Result<Value> {
    let (group, version, _, namespaced) = resource(kind)?;
    let mut base = base_spec(kind, slug)?;
    let (Some(into), Some(fragment)) = (base.as_object_mut(), spec.as_object()) else {
        bail!("spec is not a mapping");
    };
    for (k, v) in fragment {
        into.insert(k.clone(), v.clone());
    }
    let mut metadata = json!({"name": slug});
    if namespaced {
        metadata["namespace"] = json!("default");
    }
    Ok(json!({
        "apiVersion": format!("{group}/{version}"),
        "kind": kind,
        "metadata": metadata,
        "spec": base,
    }))
}

pub fn tables_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/differential")
}

/// The table files, sorted.
pub fn tables() -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(tables_dir())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    Ok(files)
}

/// The rows of one table.
pub fn load(path: &Path) -> Result<Vec<Row>> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .context("table file name")?
        .to_owned();
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let rows: Vec<Value> =
        serde_yaml::from_str(&text).with_context(|| path.display().to_string())?;
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| parse_row(&stem, i, &row).with_context(|| format!("{stem}.yaml row {i}")))
        .collect()
}

fn parse_row(file: &str, i: usize, row: &Value) -> Result<Row> {
    let name = row["name"].as_str().context("name")?.to_owned();
    let kind = row["kind"].as_str().context("kind")?;
    let slug = format!("{file}-{i}");
    let spec = repeat_chars(&row["spec"]);
    let expect = match (row.get("rejected"), row.get("refused")) {
        (Some(fields), None) => {
            let mut fields: Vec<String> =
                serde_json::from_value(fields.clone()).context("rejected: a list of fields")?;
            fields.sort();
            let code = row
                .get("code")
                .map_or(Some(422), Value::as_u64)
                .context("code")?;
            Expect::Rejected {
                code: u16::try_from(code)?,
                fields,
            }
        }
        (None, Some(refused)) => {
            let words: Vec<&str> = refused
                .as_str()
                .context("refused")?
                .split_whitespace()
                .collect();
            let [condition, status, reason, path] = words[..] else {
                bail!("refused is `Condition Status Reason field`");
            };
            Expect::Refused {
                condition: condition.into(),
                status: status.into(),
                reason: reason.into(),
                path: path.into(),
            }
        }
        _ => bail!("{name}: exactly one of rejected and refused"),
    };
    Ok(Row {
        file: file.to_owned(),
        object: object(kind, &slug, &spec)?,
        name,
        slug,
        expect,
    })
}

/// `${c*N}` in strings: the character `c` N times.
fn repeat_chars(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some((before, after)) = rest.split_once("${") {
                out.push_str(before);
                let spec = after.split_once('}').and_then(|(spec, tail)| {
                    let (c, n) = spec.split_once('*')?;
                    Some((c.repeat(n.parse().ok()?), tail))
                });
                match spec {
                    Some((expanded, tail)) => {
                        out.push_str(&expanded);
                        rest = tail;
                    }
                    None => {
                        out.push_str("${");
                        rest = after;
                    }
                }
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(repeat_chars).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), repeat_chars(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A dry-run create of `object` with `fieldValidation=Strict`, as kubectl would send it.
pub async fn submit(client: &kube::Client, object: &Value) -> Result<Answer> {
    let kind = object["kind"].as_str().context("kind")?;
    let (group, version, plural, namespaced) = resource(kind)?;
    let namespace = if namespaced {
        format!(
            "namespaces/{}/",
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
        )
    } else {
        String::new()
    };
    let uri =
        format!("/apis/{group}/{version}/{namespace}{plural}?dryRun=All&fieldValidation=Strict");
    let request = http::Request::post(&uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(object)?))?;
    let response = client
        .send(request)
        .await
        .with_context(|| format!("POST {uri}"))?;
    let code = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    let body: Value = serde_json::from_slice(&body)
        .with_context(|| format!("POST {uri}: {}", String::from_utf8_lossy(&body)))?;
    if (200..300).contains(&code) {
        return Ok(Answer {
            code,
            reason: String::new(),
            causes: Vec::new(),
            message: String::new(),
            stored: Some(body),
        });
    }
    let mut causes: Vec<(String, String)> = body["details"]["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["field"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    causes.sort();
    Ok(Answer {
        code,
        reason: body["reason"].as_str().unwrap_or_default().to_owned(),
        causes,
        message: body["message"].as_str().unwrap_or_default().to_owned(),
        stored: None,
    })
}

/// The answer is what the row expects; for an admitted object, so is the controller's status.
pub fn check(row: &Row, answer: &Answer) -> Result<()> {
    match &row.expect {
        Expect::Rejected { code, fields } => {
            ensure!(
                answer.code == *code,
                "expected {code}, got {} {} {}",
                answer.code,
                answer.reason,
                answer.message
            );
            if *code == 422 {
                ensure!(
                    answer.fields() == *fields,
                    "expected causes naming {fields:?}, got {:?} ({})",
                    answer.causes,
                    answer.message
                );
            } else {
                for f in fields {
                    ensure!(
                        answer.message.contains(f.as_str()),
                        "the message does not name {f}: {}",
                        answer.message
                    );
                }
            }
            Ok(())
        }
        Expect::Refused { .. } => {
            let stored = answer.stored.as_ref().with_context(|| {
                format!(
                    "the API server refused what it should admit: {} {} {:?} {}",
                    answer.code, answer.reason, answer.causes, answer.message
                )
            })?;
            controller_refuses(row, stored)
        }
    }
}

/// What the controller translates beside a row's object: our GatewayClass, Gateway `gw`
/// (HTTP on 80, routes from all namespaces), Service `echo` and HTTPRoute `route` (the
/// RouteOptions' target), all in `default`.
fn world() -> Vec<Value> {
    vec![
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
               "metadata": {"name": "gatesim", "generation": 1},
               "spec": {"controllerName": "gatesim.dev/reference-controller"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "echo", "namespace": "default"},
               "spec": {"ports": [{"name": "http", "port": 8080}]}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "default", "generation": 1},
               "spec": {"gatewayClassName": "gatesim", "listeners": [
                   {"name": "http", "port": 80, "protocol": "HTTP",
                    "allowedRoutes": {"namespaces": {"from": "All"}}}]}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
               "metadata": {"name": "route", "namespace": "default", "generation": 1},
               "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["route.example.com"],
                        "rules": [{"backendRefs": [{"name": "echo", "port": 8080}]}]}}),
    ]
}

/// The controller, given `stored` beside [`world`], gives it the row's condition naming the
/// field, and serves nothing of it.
fn controller_refuses(row: &Row, stored: &Value) -> Result<()> {
    let Expect::Refused {
        condition,
        status,
        reason,
        path,
    } = &row.expect
    else {
        bail!("{} expects no controller verdict", row.name);
    };
    let mut set = ResourceSet::default();
    for o in world().into_iter().chain([stored.clone()]) {
        set.insert_any(AnyObject::from_value(o.clone()).with_context(|| format!("decoding {o}"))?);
    }
    for key in translate::managed_gateways(&set) {
        set.gateway_addresses.insert(key, "127.0.10.1".into());
    }
    let t = translate::translate(&set);
    let kind = stored["kind"].as_str().unwrap_or_default();
    let statuses = render::statuses(&t);
    let own = statuses
        .iter()
        .find(|s| s["kind"] == kind && s["name"] == row.slug.as_str())
        .with_context(|| format!("the controller wrote no status for {kind} {}", row.slug))?;
    let mut conditions = Vec::new();
    collect_conditions(&own["status"], &mut conditions);
    let named = format!("{path}: ");
    ensure!(
        conditions.iter().any(|c| c["type"] == condition.as_str()
            && c["status"] == status.as_str()
            && c["reason"] == reason.as_str()
            && c["message"].as_str().is_some_and(|m| m.contains(&named))),
        "expected {condition}={status} {reason} naming {path}, got {}",
        serde_json::to_string(&conditions)?
    );
    let served = t
        .proxies
        .values()
        .flat_map(|p| &p.routes)
        .flat_map(|rc| &rc.virtual_hosts)
        .flat_map(|vh| &vh.routes)
        .filter(|r| r.name.contains(&format!("/{}/", row.slug)))
        .count();
    ensure!(
        served == 0,
        "Envoy got {served} routes of the refused object"
    );
    Ok(())
}

/// Every condition anywhere in a status (the object's own, its listeners', its parents').
fn collect_conditions(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                match (k.as_str(), item) {
                    ("conditions", Value::Array(list)) => out.extend(list.iter().cloned()),
                    _ => collect_conditions(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_conditions(i, out)),
        _ => {}
    }
}
