//! A pod's volumes as directories of the node (`<pod dir>/volumes/<name>`), and the bind mounts
//! that show them to each container at its `mountPath`.
//!
//! Supported: `secret`, `configMap` (with `items`, `defaultMode`, `optional`), `downwardAPI`,
//! `projected` (secret, configMap and downwardAPI sources), `emptyDir` and `hostPath`. Any
//! other volume type is refused with a message naming it, so a pod never starts with a volume
//! silently missing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, DownwardAPIVolumeFile, KeyToPath, Pod, Volume};

use crate::config::{ConfigError, KeyData, PodData, PodFacts, field};

/// Kubernetes' default file mode for projected keys.
const DEFAULT_MODE: u32 = 0o644;

/// One bind mount of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

fn volume_error(volume: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Volume {
        volume: volume.to_owned(),
        message: message.into(),
    }
}

/// A relative path without `..`, as the API requires of item paths.
fn safe_relative(volume: &str, path: &str) -> Result<PathBuf, ConfigError> {
    let p = Path::new(path);
    if p.components().all(|c| matches!(c, Component::Normal(_))) && !path.is_empty() {
        Ok(p.to_path_buf())
    } else {
        Err(volume_error(
            volume,
            format!("item path {path:?} is not a plain relative path"),
        ))
    }
}

fn write_file(
    volume: &str,
    dir: &Path,
    path: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), ConfigError> {
    let target = dir.join(safe_relative(volume, path)?);
    let io = |e: std::io::Error| volume_error(volume, format!("writing {}: {e}", target.display()));
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(&target, bytes).map_err(io)?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    Ok(())
}

/// Writes the keys of a Secret or ConfigMap: all of them, or the listed `items` under their
/// paths (a listed key that is missing is an error unless the source is optional).
fn write_keys(
    volume: &str,
    dir: &Path,
    keys: &KeyData,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    what: &str,
) -> Result<(), ConfigError> {
    match items {
        None => {
            for (key, bytes) in keys {
                write_file(volume, dir, key, bytes, default_mode)?;
            }
        }
        Some(items) => {
            for item in items {
                match keys.get(&item.key) {
                    Some(bytes) => write_file(
                        volume,
                        dir,
                        &item.path,
                        bytes,
                        item.mode.map_or(default_mode, mode_bits),
                    )?,
                    None if optional => {}
                    None => {
                        return Err(volume_error(
                            volume,
                            format!("key {:?} not found in {what}", item.key),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn mode_bits(mode: i32) -> u32 {
    u32::try_from(mode).unwrap_or(DEFAULT_MODE) & 0o777
}

/// A Secret or ConfigMap as a volume (or a projected volume's source).
struct KeySource<'a> {
    kind: &'static str,
    name: &'a str,
    items: Option<&'a Vec<KeyToPath>>,
    optional: bool,
    mode: u32,
}

fn write_source(
    volume: &str,
    dir: &Path,
    data: &PodData,
    source: &KeySource<'_>,
) -> Result<(), ConfigError> {
    let found = match source.kind {
        "Secret" => data.secret(source.name),
        _ => data.config_map(source.name),
    };
    match found {
        Ok(keys) => write_keys(
            volume,
            dir,
            keys,
            source.items,
            source.mode,
            source.optional,
            &format!("{} {}", source.kind, source.name),
        ),
        Err(_) if source.optional => Ok(()),
        Err(e) => Err(volume_error(volume, e.to_string())),
    }
}

/// Fills one volume's directory (or, for `hostPath`, names the host directory).
fn materialize(
    volume: &Volume,
    pod: &Pod,
    facts: &PodFacts,
    data: &PodData,
    dir: &Path,
) -> Result<PathBuf, ConfigError> {
    let name = volume.name.as_str();
    let io = |e: std::io::Error| volume_error(name, format!("creating {}: {e}", dir.display()));
    if let Some(host) = &volume.host_path {
        let path = PathBuf::from(&host.path);
        if matches!(host.type_.as_deref(), Some("DirectoryOrCreate")) {
            std::fs::create_dir_all(&path).map_err(io)?;
        }
        if !path.exists() {
            return Err(volume_error(
                name,
                format!("hostPath {} does not exist", host.path),
            ));
        }
        return Ok(path);
    }
    // Start from scratch each time: a restarted pod sees current data, never stale keys.
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    if volume.empty_dir.is_some() {
        return Ok(dir.to_path_buf());
    }
    let default_mode = |mode: Option<i32>| mode.map_or(DEFAULT_MODE, mode_bits);
    if let Some(secret) = &volume.secret {
        let source = KeySource {
            kind: "Secret",
            name: secret.secret_name.as_deref().unwrap_or_default(),
            items: secret.items.as_ref(),
            optional: secret.optional == Some(true),
            mode: default_mode(secret.default_mode),
        };
        write_source(name, dir, data, &source)?;
        return Ok(dir.to_path_buf());
    }
    if let Some(map) = &volume.config_map {
        let source = KeySource {
            kind: "ConfigMap",
            name: &map.name,
            items: map.items.as_ref(),
            optional: map.optional == Some(true),
            mode: default_mode(map.default_mode),
        };
        write_source(name, dir, data, &source)?;
        return Ok(dir.to_path_buf());
    }
    if let Some(downward) = &volume.downward_api {
        let mode = default_mode(downward.default_mode);
        write_downward(name, dir, pod, facts, downward.items.iter().flatten(), mode)?;
        return Ok(dir.to_path_buf());
    }
    if let Some(projected) = &volume.projected {
        let mode = default_mode(projected.default_mode);
        for source in projected.sources.iter().flatten() {
            if let Some(s) = &source.secret {
                let source = KeySource {
                    kind: "Secret",
                    name: &s.name,
                    items: s.items.as_ref(),
                    optional: s.optional == Some(true),
                    mode,
                };
                write_source(name, dir, data, &source)?;
            } else if let Some(m) = &source.config_map {
                let source = KeySource {
                    kind: "ConfigMap",
                    name: &m.name,
                    items: m.items.as_ref(),
                    optional: m.optional == Some(true),
                    mode,
                };
                write_source(name, dir, data, &source)?;
            } else if let Some(d) = &source.downward_api {
                write_downward(name, dir, pod, facts, d.items.iter().flatten(), mode)?;
            } else if let Some(t) = &source.service_account_token {
                let wanted = (
                    t.audience.clone().unwrap_or_default(),
                    t.expiration_seconds
                        .unwrap_or(crate::config::DEFAULT_TOKEN_SECONDS),
                );
                let token = data.tokens.get(&wanted).ok_or_else(|| {
                    volume_error(name, "no token was obtained for its serviceAccountToken")
                })?;
                write_file(name, dir, &t.path, token.as_bytes(), mode)?;
            } else {
                return Err(volume_error(
                    name,
                    "projected sources other than secret, configMap, downwardAPI and \
                     serviceAccountToken are not supported by the simulated node",
                ));
            }
        }
        return Ok(dir.to_path_buf());
    }
    Err(volume_error(
        name,
        "only secret, configMap, downwardAPI, projected, emptyDir and hostPath volumes are \
         supported by the simulated node",
    ))
}

fn write_downward<'a>(
    volume: &str,
    dir: &Path,
    pod: &Pod,
    facts: &PodFacts,
    items: impl Iterator<Item = &'a DownwardAPIVolumeFile>,
    mode: u32,
) -> Result<(), ConfigError> {
    for item in items {
        let field_path = item
            .field_ref
            .as_ref()
            .map(|f| f.field_path.as_str())
            .ok_or_else(|| {
                volume_error(
                    volume,
                    format!(
                        "{}: only fieldRef items are supported by the simulated node",
                        item.path
                    ),
                )
            })?;
        let value = field(pod, facts, field_path)?;
        write_file(
            volume,
            dir,
            &item.path,
            value.as_bytes(),
            item.mode.map_or(mode, mode_bits),
        )?;
    }
    Ok(())
}

/// Materializes every volume of the pod under `root`; the source directory of each by name.
pub fn prepare(
    pod: &Pod,
    facts: &PodFacts,
    data: &PodData,
    root: &Path,
) -> Result<BTreeMap<String, PathBuf>, ConfigError> {
    let mut sources = BTreeMap::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let dir = root.join(&volume.name);
        sources.insert(
            volume.name.clone(),
            materialize(volume, pod, facts, data, &dir)?,
        );
    }
    Ok(sources)
}

/// The bind mounts of one container (`subPath` included).
pub fn mounts(
    container: &Container,
    sources: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Mount>, ConfigError> {
    let mut mounts = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        let base = sources.get(&m.name).ok_or_else(|| {
            volume_error(
                &m.name,
                format!(
                    "container {} mounts a volume the pod does not have",
                    container.name
                ),
            )
        })?;
        let source = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => base.join(safe_relative(&m.name, sub)?),
            None => base.clone(),
        };
        mounts.push(Mount {
            source,
            target: PathBuf::from(&m.mount_path),
            read_only: m.read_only == Some(true),
        });
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use k8s_openapi::api::core::v1::{
        ConfigMapVolumeSource, DownwardAPIVolumeFile, DownwardAPIVolumeSource,
        EmptyDirVolumeSource, ObjectFieldSelector, PodSpec, SecretVolumeSource, VolumeMount,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn facts() -> PodFacts {
        PodFacts {
            pod_ip: Ipv4Addr::new(10, 213, 0, 9),
            host_ip: Ipv4Addr::new(10, 213, 0, 1),
            node_name: "n".into(),
        }
    }

    fn data() -> PodData {
        PodData {
            namespace: "infra".into(),
            secrets: [(
                "tls".to_owned(),
                [
                    ("tls.crt".to_owned(), b"CERT".to_vec()),
                    ("tls.key".to_owned(), b"KEY".to_vec()),
                ]
                .into(),
            )]
            .into(),
            config_maps: [(
                "conf".to_owned(),
                [("Corefile".to_owned(), b".:53 {}".to_vec())].into(),
            )]
            .into(),
            ..PodData::default()
        }
    }

    fn pod(volumes: Vec<Volume>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                volumes: Some(volumes),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    fn item(key: &str, path: &str) -> KeyToPath {
        KeyToPath {
            key: key.into(),
            path: path.into(),
            mode: None,
        }
    }

    #[test]
    fn secret_items_land_under_their_paths_and_config_maps_whole() {
        let root = tempfile::tempdir().unwrap();
        let pod = pod(vec![
            Volume {
                name: "secret-volume".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some("tls".into()),
                    items: Some(vec![item("tls.crt", "crt"), item("tls.key", "sub/key")]),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "config".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "conf".into(),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "info".into(),
                downward_api: Some(DownwardAPIVolumeSource {
                    items: Some(vec![DownwardAPIVolumeFile {
                        path: "name".into(),
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "metadata.name".into(),
                            api_version: None,
                        }),
                        ..DownwardAPIVolumeFile::default()
                    }]),
                    ..DownwardAPIVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "scratch".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            },
        ]);
        let sources = prepare(&pod, &facts(), &data(), root.path()).unwrap();
        let secret = &sources["secret-volume"];
        assert_eq!(std::fs::read(secret.join("crt")).unwrap(), b"CERT");
        assert_eq!(std::fs::read(secret.join("sub/key")).unwrap(), b"KEY");
        assert!(!secret.join("tls.crt").exists(), "only the listed items");
        let mode = std::fs::metadata(secret.join("crt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(
            std::fs::read(sources["config"].join("Corefile")).unwrap(),
            b".:53 {}"
        );
        assert_eq!(std::fs::read(sources["info"].join("name")).unwrap(), b"p");
        assert!(sources["scratch"].is_dir());

        let container = Container {
            name: "c".into(),
            volume_mounts: Some(vec![
                VolumeMount {
                    name: "secret-volume".into(),
                    mount_path: "/etc/secret-volume".into(),
                    read_only: Some(true),
                    ..VolumeMount::default()
                },
                VolumeMount {
                    name: "config".into(),
                    mount_path: "/root/Corefile".into(),
                    sub_path: Some("Corefile".into()),
                    ..VolumeMount::default()
                },
            ]),
            ..Container::default()
        };
        let mounts = mounts(&container, &sources).unwrap();
        assert_eq!(mounts[0].target, PathBuf::from("/etc/secret-volume"));
        assert!(mounts[0].read_only);
        assert_eq!(mounts[1].source, sources["config"].join("Corefile"));
    }

    #[test]
    fn missing_sources_and_keys_fail_unless_optional() {
        let root = tempfile::tempdir().unwrap();
        let secret = |name: &str, items: Option<Vec<KeyToPath>>, optional: Option<bool>| {
            pod(vec![Volume {
                name: "v".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(name.into()),
                    items,
                    optional,
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            }])
        };
        let err = prepare(&secret("nope", None, None), &facts(), &data(), root.path()).unwrap_err();
        assert_eq!(err.to_string(), "volume v: secret \"nope\" not found");
        let err = prepare(
            &secret("tls", Some(vec![item("ca.crt", "ca")]), None),
            &facts(),
            &data(),
            root.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"ca.crt\""), "{err}");
        prepare(
            &secret("nope", None, Some(true)),
            &facts(),
            &data(),
            root.path(),
        )
        .unwrap();
        let err = prepare(
            &secret("tls", Some(vec![item("tls.crt", "../escape")]), None),
            &facts(),
            &data(),
            root.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("plain relative path"), "{err}");
    }

    #[test]
    fn unsupported_volume_types_are_named() {
        let root = tempfile::tempdir().unwrap();
        let pod = pod(vec![Volume {
            name: "claim".into(),
            persistent_volume_claim: Some(Default::default()),
            ..Volume::default()
        }]);
        let err = prepare(&pod, &facts(), &data(), root.path()).unwrap_err();
        assert!(
            err.to_string().starts_with("volume claim: only secret"),
            "{err}"
        );
    }
}
