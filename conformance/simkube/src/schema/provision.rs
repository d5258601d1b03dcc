//! The upstream Gateway API CRDs, provisioned as the project provisions Envoy: fetched
//! once from the Go module proxy (or taken from a local Go module cache), checked
//! against the module's pinned `h1:` hash, and their `config/crd/experimental` manifests
//! extracted into `<cache>/crds/gateway-api-<version>/`.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// The Gateway API release whose CRDs simkube validates against: the one the
/// `gateway-api` crate's types come from.
pub const GATEWAY_API_VERSION: &str = "v1.5.1";

const MODULE: &str = "sigs.k8s.io/gateway-api";

/// The module's hash as `go.sum` and sum.golang.org record it (`h1:` = Go's dirhash).
const MODULE_H1: &str = "h1:RqVRIlkhLhUO8wOHKTLnTJA6o/1un4po4/6M1nRzdd0=";

const CRD_DIR_IN_MODULE: &str = "config/crd/experimental/";

/// A file in the directory marks a complete extraction.
const COMPLETE: &str = ".complete";

/// Why the CRDs could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The download failed.
    #[error("downloading {url}: {detail}")]
    Download {
        /// What was fetched.
        url: String,
        /// Why it failed.
        detail: String,
    },
    /// The archive is not the pinned release.
    #[error("{source_name} has hash {actual}, not the pinned {MODULE_H1}")]
    Hash {
        /// Where the archive came from.
        source_name: String,
        /// Its hash.
        actual: String,
    },
    /// The archive could not be read.
    #[error("reading the module archive from {source_name}: {detail}")]
    Archive {
        /// Where the archive came from.
        source_name: String,
        /// Why.
        detail: String,
    },
    /// The cache could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// What was written.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// Where gatesim keeps what it downloads: `$GATESIM_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/gatesim`, else `~/.cache/gatesim` (the same place as Envoy).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GATESIM_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("gatesim");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("gatesim")
}

/// The directory the Gateway API CRDs are extracted to.
pub fn gateway_api_dir() -> PathBuf {
    cache_dir()
        .join("crds")
        .join(format!("gateway-api-{GATEWAY_API_VERSION}"))
}

/// The Gateway API CRD directory, provisioning it on first use.
pub async fn gateway_api_crds() -> Result<PathBuf, ProvisionError> {
    let dir = gateway_api_dir();
    if dir.join(COMPLETE).is_file() {
        return Ok(dir);
    }
    let (archive, source_name) = match local_archive() {
        Some((bytes, path)) => (bytes, path.display().to_string()),
        None => {
            let url = proxy_url();
            eprintln!(
                "simkube: downloading the Gateway API {GATEWAY_API_VERSION} module from {url} (once)"
            );
            (download(&url).await?, url)
        }
    };
    eprintln!(
        "simkube: extracting the Gateway API {GATEWAY_API_VERSION} CRDs from {source_name} into {} (once)",
        dir.display()
    );
    let actual = module_hash(&archive, &source_name)?;
    if actual != MODULE_H1 {
        return Err(ProvisionError::Hash {
            source_name,
            actual,
        });
    }
    extract(&archive, &source_name, &dir)?;
    Ok(dir)
}

/// The module's archive from a Go module download cache, when one holds it.
fn local_archive() -> Option<(Vec<u8>, PathBuf)> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("GOMODCACHE") {
        roots.push(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("GOPATH") {
        roots.extend(std::env::split_paths(&d).map(|p| p.join("pkg").join("mod")));
    }
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join("go").join("pkg").join("mod"));
    }
    roots.into_iter().find_map(|root| {
        let zip = root
            .join("cache/download")
            .join(MODULE)
            .join("@v")
            .join(format!("{GATEWAY_API_VERSION}.zip"));
        std::fs::read(&zip).ok().map(|b| (b, zip))
    })
}

/// The first HTTP proxy of `$GOPROXY`, else the public Go module proxy.
fn proxy_url() -> String {
    let base = std::env::var("GOPROXY")
        .ok()
        .and_then(|list| {
            list.split([',', '|'])
                .find(|p| p.starts_with("http://") || p.starts_with("https://"))
                .map(|p| p.trim_end_matches('/').to_string())
        })
        .unwrap_or_else(|| "https://proxy.golang.org".to_string());
    format!("{base}/{MODULE}/@v/{GATEWAY_API_VERSION}.zip")
}

async fn download(url: &str) -> Result<Vec<u8>, ProvisionError> {
    let fail = |detail: String| ProvisionError::Download {
        url: url.to_string(),
        detail,
    };
    let tls = tls_config().map_err(fail)?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let resp = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| fail(e.to_string()))?;
    let bytes = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// TLS with the system's trust store (a proxy in front of the registry may present its
/// own CA) and the ring provider the workspace builds rustls with.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!(
            "no trusted root certificates found ({:?})",
            found.errors
        ));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Go's `h1:` hash of a module archive: SHA-256 over the lines
/// `<sha256 hex>  <file name>` of its files in name order, base64.
fn module_hash(archive: &[u8], source_name: &str) -> Result<String, ProvisionError> {
    let bad = |detail: String| ProvisionError::Archive {
        source_name: source_name.to_string(),
        detail,
    };
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(archive)).map_err(|e| bad(e.to_string()))?;
    let mut lines: Vec<(String, String)> = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(|e| bad(e.to_string()))?.to_string();
        let mut contents = Vec::new();
        entry
            .read_to_end(&mut contents)
            .map_err(|e| bad(e.to_string()))?;
        lines.push((name, format!("{:x}", Sha256::digest(&contents))));
    }
    lines.sort();
    let summary = Sha256::digest(
        lines
            .iter()
            .map(|(name, hash)| format!("{hash}  {name}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    Ok(format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary)
    ))
}

/// Extracts the CRD manifests into `dir` through a staging directory, so a concurrent
/// or interrupted run never sees half a set.
fn extract(archive: &[u8], source_name: &str, dir: &Path) -> Result<(), ProvisionError> {
    let bad = |detail: String| ProvisionError::Archive {
        source_name: source_name.to_string(),
        detail,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ProvisionError::Io { path, source }
    };
    let parent = dir.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = parent.join(format!(".gateway-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let prefix = format!("{MODULE}@{GATEWAY_API_VERSION}/{CRD_DIR_IN_MODULE}");
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(archive)).map_err(|e| bad(e.to_string()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry.name().map_err(|e| bad(e.to_string()))?.to_string();
        let Some(file) = name.strip_prefix(&prefix).map(String::from) else {
            continue;
        };
        if file.contains('/') || !file.ends_with(".yaml") || file == "kustomization.yaml" {
            continue;
        }
        let mut contents = Vec::new();
        entry
            .read_to_end(&mut contents)
            .map_err(|e| bad(e.to_string()))?;
        let target = staging.join(&file);
        std::fs::write(&target, contents).map_err(io(&target))?;
    }
    let marker = staging.join(COMPLETE);
    std::fs::write(&marker, GATEWAY_API_VERSION).map_err(io(&marker))?;
    if std::fs::rename(&staging, dir).is_err() {
        // Another process finished first; its copy is as good.
        let _ = std::fs::remove_dir_all(&staging);
        if !dir.join(COMPLETE).is_file() {
            return Err(ProvisionError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::other("could not move the extracted CRDs into place"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_archive_fails_the_hash() {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            w.start_file(
                format!("{MODULE}@{GATEWAY_API_VERSION}/go.mod"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            std::io::Write::write_all(&mut w, b"module x\n").unwrap();
            w.finish().unwrap();
        }
        let hash = module_hash(buf.get_ref(), "test").unwrap();
        assert!(hash.starts_with("h1:"));
        assert_ne!(hash, MODULE_H1);
    }
}
