//! A container's environment, resolved as the kubelet does: `envFrom` sources first, then
//! `env` entries in order (later ones win), each value with `$(VAR)` references to variables
//! defined before it expanded, and `$$` escaping a dollar sign.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::config::{ConfigError, PodData, PodFacts, field};

/// Name to value, in definition order (a later definition replaces an earlier one in place).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(String, String)>,
}

impl Environment {
    pub fn set(&mut self, name: String, value: String) {
        match self.vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    fn as_map(&self) -> BTreeMap<&str, &str> {
        self.iter().collect()
    }
}

/// `$(NAME)` becomes NAME's value when it is defined, and stays as written when it is not;
/// `$$` is a literal `$`.
pub fn expand(text: &str, vars: &BTreeMap<&str, &str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(close) => {
                    let name = &body[..close];
                    match vars.get(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The container's variables (without the process basics such as PATH, which the launcher
/// adds).
pub fn resolve(
    container: &Container,
    pod: &Pod,
    facts: &PodFacts,
    data: &PodData,
) -> Result<Environment, ConfigError> {
    let mut env = Environment::default();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let keys = if let Some(s) = &from.secret_ref {
            match data.secret(&s.name) {
                Ok(keys) => Some(keys),
                Err(_) if s.optional == Some(true) => None,
                Err(e) => return Err(e),
            }
        } else if let Some(m) = &from.config_map_ref {
            match data.config_map(&m.name) {
                Ok(keys) => Some(keys),
                Err(_) if m.optional == Some(true) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        for (key, value) in keys.into_iter().flatten() {
            env.set(
                format!("{prefix}{key}"),
                String::from_utf8_lossy(value).into_owned(),
            );
        }
    }
    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => {
                let defined = env.as_map();
                Some(expand(var.value.as_deref().unwrap_or_default(), &defined))
            }
            Some(from) => {
                if let Some(f) = &from.field_ref {
                    Some(field(pod, facts, &f.field_path)?)
                } else if let Some(s) = &from.secret_key_ref {
                    key_ref(data, "Secret", &s.name, &s.key, s.optional)?
                } else if let Some(m) = &from.config_map_key_ref {
                    key_ref(data, "ConfigMap", &m.name, &m.key, m.optional)?
                } else {
                    return Err(ConfigError::Unsupported(format!(
                        "env {}: only value, fieldRef, secretKeyRef and configMapKeyRef are \
                         supported by the simulated node",
                        var.name
                    )));
                }
            }
        };
        // An optional reference to something missing leaves the variable out.
        if let Some(value) = value {
            env.set(var.name.clone(), value);
        }
    }
    Ok(env)
}

/// A key of a Secret or ConfigMap; `None` when it is missing and the reference is optional.
fn key_ref(
    data: &PodData,
    kind: &'static str,
    name: &str,
    key: &str,
    optional: Option<bool>,
) -> Result<Option<String>, ConfigError> {
    let optional = optional == Some(true);
    match data.key(kind, name, key) {
        Ok(Some(value)) => Ok(Some(value)),
        Ok(None) if optional => Ok(None),
        Ok(None) => Err(ConfigError::KeyNotFound {
            key: key.to_owned(),
            kind,
            namespace: data.namespace.clone(),
            name: name.to_owned(),
        }),
        Err(_) if optional => Ok(None),
        Err(e) => Err(e),
    }
}

/// The container's command line with `$(VAR)` references expanded from its environment.
pub fn expand_all(args: &[String], env: &Environment) -> Vec<String> {
    let vars = env.as_map();
    args.iter().map(|a| expand(a, &vars)).collect()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource,
        ObjectFieldSelector, SecretKeySelector,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                namespace: Some("apps".into()),
                uid: Some("u-1".into()),
                labels: Some([("app".to_owned(), "web".to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    fn facts() -> PodFacts {
        PodFacts {
            pod_ip: Ipv4Addr::new(10, 213, 0, 5),
            host_ip: Ipv4Addr::new(10, 213, 0, 1),
            node_name: "node-a".into(),
        }
    }

    fn data() -> PodData {
        PodData {
            namespace: "apps".into(),
            secrets: [(
                "creds".to_owned(),
                [("token".to_owned(), b"s3cret".to_vec())].into(),
            )]
            .into(),
            config_maps: [(
                "settings".to_owned(),
                [
                    ("MODE".to_owned(), b"fast".to_vec()),
                    ("LEVEL".to_owned(), b"3".to_vec()),
                ]
                .into(),
            )]
            .into(),
            ..PodData::default()
        }
    }

    fn value(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    fn from(name: &str, source: EnvVarSource) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: None,
            value_from: Some(source),
        }
    }

    fn field_var(name: &str, path: &str) -> EnvVar {
        from(
            name,
            EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: path.into(),
                    api_version: None,
                }),
                ..EnvVarSource::default()
            },
        )
    }

    fn secret_var(name: &str, secret: &str, key: &str, optional: Option<bool>) -> EnvVar {
        from(
            name,
            EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.into(),
                    key: key.into(),
                    optional,
                }),
                ..EnvVarSource::default()
            },
        )
    }

    #[test]
    fn values_fields_and_references_resolve() {
        let container = Container {
            name: "c".into(),
            env_from: Some(vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "settings".into(),
                    optional: None,
                }),
                prefix: Some("CFG_".into()),
                secret_ref: None,
            }]),
            env: Some(vec![
                value("GREETING", "hello"),
                field_var("POD_NAME", "metadata.name"),
                field_var("NAMESPACE", "metadata.namespace"),
                field_var("UID", "metadata.uid"),
                field_var("APP", "metadata.labels['app']"),
                field_var("POD_IP", "status.podIP"),
                field_var("NODE", "spec.nodeName"),
                secret_var("TOKEN", "creds", "token", None),
                from(
                    "LEVEL",
                    EnvVarSource {
                        config_map_key_ref: Some(ConfigMapKeySelector {
                            name: "settings".into(),
                            key: "LEVEL".into(),
                            optional: None,
                        }),
                        ..EnvVarSource::default()
                    },
                ),
                value("URL", "http://$(POD_IP):3000/$(UNDEFINED)/$$(POD_IP)"),
                value("GREETING", "bye"),
            ]),
            ..Container::default()
        };
        let env = resolve(&container, &pod(), &facts(), &data()).unwrap();
        let get = |n: &str| env.get(n).unwrap_or_else(|| panic!("{n} missing"));
        assert_eq!(get("CFG_MODE"), "fast");
        assert_eq!(get("POD_NAME"), "web-1");
        assert_eq!(get("NAMESPACE"), "apps");
        assert_eq!(get("UID"), "u-1");
        assert_eq!(get("APP"), "web");
        assert_eq!(get("POD_IP"), "10.213.0.5");
        assert_eq!(get("NODE"), "node-a");
        assert_eq!(get("TOKEN"), "s3cret");
        assert_eq!(get("LEVEL"), "3");
        assert_eq!(get("URL"), "http://10.213.0.5:3000/$(UNDEFINED)/$(POD_IP)");
        assert_eq!(get("GREETING"), "bye");
        assert_eq!(env.iter().filter(|(n, _)| *n == "GREETING").count(), 1);
    }

    #[test]
    fn missing_references_fail_unless_optional() {
        let with = |var: EnvVar| Container {
            name: "c".into(),
            env: Some(vec![var]),
            ..Container::default()
        };
        let err = resolve(
            &with(secret_var("X", "nope", "k", None)),
            &pod(),
            &facts(),
            &data(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "secret \"nope\" not found");
        let err = resolve(
            &with(secret_var("X", "creds", "missing", None)),
            &pod(),
            &facts(),
            &data(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "couldn't find key missing in Secret apps/creds"
        );
        let env = resolve(
            &with(secret_var("X", "nope", "k", Some(true))),
            &pod(),
            &facts(),
            &data(),
        )
        .unwrap();
        assert_eq!(env.get("X"), None);
        let err = resolve(
            &with(field_var("X", "status.phase")),
            &pod(),
            &facts(),
            &data(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Unsupported(_)), "{err}");
    }

    #[test]
    fn expansion_leaves_unknowns_and_unclosed_references_alone() {
        let vars: BTreeMap<&str, &str> = [("A", "1")].into();
        assert_eq!(expand("$(A)-$(B)-$A-$$-$(A", &vars), "1-$(B)-$A-$-$(A");
    }
}
