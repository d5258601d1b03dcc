//! The validation tables of `tests/validate/*.yaml` (see the README there): reading them, and
//! building the objects each case stands for.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// What a case's objects are merged into, and whose status reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Route,
    Listener,
    Gateway,
    Class,
    Grant,
}

impl Target {
    const ALL: [(&'static str, Target); 5] = [
        ("route", Target::Route),
        ("listener", Target::Listener),
        ("gateway", Target::Gateway),
        ("class", Target::Class),
        ("grant", Target::Grant),
    ];
}

/// The condition a case's invalid object must get, and the field its message must name.
#[derive(Clone, Debug)]
pub struct Expect {
    pub condition: String,
    pub status: String,
    pub reason: String,
    pub path: String,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub file: String,
    pub name: String,
    /// A name for the objects of this case, unique across all tables.
    pub slug: String,
    pub target: Target,
    pub invalid: Value,
    pub twin: Value,
    pub expect: Expect,
}

impl Case {
    /// The invalid or the twin objects of this case, added to (or, for a listener, into) the
    /// base objects.
    pub fn apply(&self, fragment: &Value, objects: &mut Vec<Value>) {
        let slug = &self.slug;
        match self.target {
            Target::Route => objects.push(route(slug, fragment)),
            Target::Listener => {
                let gw = objects
                    .iter_mut()
                    .find(|o| o["kind"] == "Gateway" && o["metadata"]["name"] == "gw")
                    .expect("the base Gateway");
                gw["spec"]["listeners"]
                    .as_array_mut()
                    .expect("listeners")
                    .push(fragment.clone());
            }
            Target::Gateway => {
                let mut spec = base_gateway_spec();
                merge(&mut spec, fragment);
                objects.push(json!({
                    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                    "metadata": {"name": slug, "namespace": "default", "generation": 1},
                    "spec": spec,
                }));
            }
            Target::Class => {
                let mut spec = json!({"controllerName": "gatesim.dev/reference-controller"});
                merge(&mut spec, fragment);
                objects.push(json!({
                    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                    "metadata": {"name": slug, "generation": 1},
                    "spec": spec,
                }));
            }
            Target::Grant => {
                objects.push(json!({
                    "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                    "metadata": {"name": slug, "namespace": "other"},
                    "spec": fragment,
                }));
                objects.push(route(
                    slug,
                    &json!({"rules": [{"backendRefs": [
                        {"name": "echo", "namespace": "other", "port": 8080}
                    ]}]}),
                ));
            }
        }
    }

    /// The object validation looks at for this case (for a listener, its Gateway).
    pub fn subject<'a>(&self, objects: &'a [Value]) -> &'a Value {
        let (kind, name) = match self.target {
            Target::Route => ("HTTPRoute", self.slug.as_str()),
            Target::Listener => ("Gateway", "gw"),
            Target::Gateway => ("Gateway", self.slug.as_str()),
            Target::Class => ("GatewayClass", self.slug.as_str()),
            Target::Grant => ("ReferenceGrant", self.slug.as_str()),
        };
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .expect("the case's object")
    }

    /// The listener name of a listener case.
    pub fn listener_name(&self) -> &str {
        self.invalid["name"].as_str().unwrap_or_default()
    }
}

fn base_gateway_spec() -> Value {
    json!({
        "gatewayClassName": "gatesim",
        "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                       "allowedRoutes": {"namespaces": {"from": "All"}}}],
    })
}

/// An HTTPRoute in `default` attached to Gateway `gw`, with `fragment` merged over its spec.
pub fn route(name: &str, fragment: &Value) -> Value {
    let mut spec = json!({
        "parentRefs": [{"name": "gw"}],
        "hostnames": [format!("{name}.example.com")],
        "rules": [{"backendRefs": [{"name": "echo", "port": 8080}]}],
    });
    merge(&mut spec, fragment);
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "default", "generation": 1},
        "spec": spec,
    })
}

/// The objects every case is added to: a GatewayClass and Gateway of ours, two namespaces,
/// and a Service `echo` in each.
pub fn base() -> Vec<Value> {
    let mut objects = vec![
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
               "metadata": {"name": "gatesim", "generation": 1},
               "spec": {"controllerName": "gatesim.dev/reference-controller"}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "default", "generation": 1},
               "spec": base_gateway_spec()}),
    ];
    for ns in ["default", "other"] {
        objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        objects.push(json!({"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": "echo", "namespace": ns},
                            "spec": {"ports": [{"name": "http", "port": 8080}]}}));
    }
    objects
}

/// Top-level keys of `fragment` replace those of `into`.
fn merge(into: &mut Value, fragment: &Value) {
    if let (Some(into), Some(fragment)) = (into.as_object_mut(), fragment.as_object()) {
        for (k, v) in fragment {
            into.insert(k.clone(), v.clone());
        }
    }
}

pub fn tables_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate")
}

/// Every case of every table, in file order.
pub fn all() -> Result<Vec<Case>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(tables_dir())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        cases.extend(load(&f)?);
    }
    Ok(cases)
}

/// The cases of one table.
pub fn load(path: &Path) -> Result<Vec<Case>> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .context("table file name")?
        .to_string();
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let rows: Vec<Value> =
        serde_yaml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| case(&stem, i, row).with_context(|| format!("{stem}.yaml case {i}")))
        .collect()
}

fn case(file: &str, i: usize, row: Value) -> Result<Case> {
    let row = expand(row);
    let name = row["name"].as_str().context("name")?.to_string();
    let Some((target, invalid)) = Target::ALL
        .iter()
        .find_map(|(key, t)| row.get(*key).map(|v| (*t, v.clone())))
    else {
        bail!("{name}: no target (route, listener, gateway, class or grant)");
    };
    let words: Vec<&str> = row["expect"]
        .as_str()
        .context("expect")?
        .split_whitespace()
        .collect();
    let [condition, status, reason, path] = words[..] else {
        bail!("{name}: expect is `condition status reason path`");
    };
    Ok(Case {
        file: file.to_string(),
        name,
        slug: format!("{file}-{i}"),
        target,
        invalid,
        twin: row.get("twin").cloned().context("twin")?,
        expect: Expect {
            condition: condition.into(),
            status: status.into(),
            reason: reason.into(),
            path: path.into(),
        },
    })
}

/// `${c*N}` in strings, `[{$repeat: N, item: X}]` in lists (see the README of the tables).
fn expand(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(repeat_chars(&s)),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item.get("$repeat").and_then(Value::as_u64) {
                    Some(n) => {
                        for i in 0..n {
                            out.push(expand(substitute(&item["item"], i)));
                        }
                    }
                    None => out.push(expand(item)),
                }
            }
            Value::Array(out)
        }
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, expand(v))).collect()),
        other => other,
    }
}

fn substitute(v: &Value, i: u64) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("$i", &i.to_string())),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, i)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute(x, i)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn repeat_chars(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let spec = &after[..end];
        match spec
            .split_once('*')
            .and_then(|(c, n)| Some((c, n.parse::<usize>().ok()?)))
        {
            Some((c, n)) => out.push_str(&c.repeat(n)),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The condition of type `condition` the case's object got when built from `fragment` (its
/// invalid value or its twin), from the rendered statuses (`render::statuses`).
pub fn condition(
    case: &Case,
    fragment: &Value,
    statuses: &[Value],
    condition: &str,
) -> Result<Value> {
    let find = |kind: &str, name: &str| {
        statuses
            .iter()
            .find(|s| s["kind"] == kind && s["name"] == name)
            .with_context(|| format!("no status for {kind} {name}"))
    };
    let conditions = match case.target {
        Target::Route | Target::Grant => {
            find("HTTPRoute", &case.slug)?["status"]["parents"][0]["conditions"].clone()
        }
        Target::Listener => {
            let gw = find("Gateway", "gw")?;
            let name = fragment["name"].as_str().unwrap_or_default();
            gw["status"]["listeners"]
                .as_array()
                .context("listener statuses")?
                .iter()
                .rev()
                .find(|l| l["name"] == name)
                .with_context(|| format!("no status for listener {name}"))?["conditions"]
                .clone()
        }
        Target::Gateway => find("Gateway", &case.slug)?["status"]["conditions"].clone(),
        Target::Class => find("GatewayClass", &case.slug)?["status"]["conditions"].clone(),
    };
    conditions
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == condition).cloned())
        .with_context(|| format!("no {condition} condition in {conditions}"))
}
