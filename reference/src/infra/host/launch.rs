//! The files of one proxy and the command line that starts it.

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{HostConfig, HostError, ProxySpec};
use crate::infra::bootstrap::{self, BootstrapParams, XdsProtocol};
use crate::model::ObjectKey;

/// How often the admin address file is looked at while Envoy starts: start-up takes tens of
/// milliseconds, and a stat is cheap.
const ADMIN_POLL: Duration = Duration::from_millis(2);

/// Lines of each log shown when a proxy dies.
const TAIL_LINES: usize = 12;
/// Bytes read from the end of a log to find those lines.
const TAIL_BYTES: u64 = 8 * 1024;

/// Paths of one proxy's files, all in its own directory.
#[derive(Clone, Debug)]
pub(super) struct ProxyFiles {
    /// The directory holding the others (mounted into a proxy container).
    pub dir: PathBuf,
    pub bootstrap: PathBuf,
    /// Envoy's own log (`--log-path`).
    pub log: PathBuf,
    /// Envoy's stdout and stderr: what it says before its logger is up (bad flags, a missing
    /// binary under `setpriv`).
    pub stdio: PathBuf,
    pub admin_address: PathBuf,
    /// Envoy's `-l`: the Gateway's own (GatewayParameters), else the controller's.
    pub log_level: String,
    /// Envoy's `--component-log-level`, when the Gateway sets any.
    pub component_log_levels: Option<String>,
}

impl ProxyFiles {
    /// Create the directory, clear what an earlier controller left there, and write the
    /// bootstrap. Logs of restarts within this controller's life accumulate.
    pub fn prepare(
        dir: &Path,
        config: &HostConfig,
        gateway: &ObjectKey,
        spec: &ProxySpec,
    ) -> Result<Self, HostError> {
        let files = Self {
            dir: dir.to_path_buf(),
            bootstrap: dir.join("bootstrap.yaml"),
            log: dir.join("envoy.log"),
            stdio: dir.join("stdio.log"),
            admin_address: dir.join("admin.addr"),
            log_level: spec
                .log_level
                .clone()
                .unwrap_or_else(|| config.log_level.clone()),
            component_log_levels: spec.component_log_levels.clone(),
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| HostError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        for stale in [&files.log, &files.stdio, &files.admin_address] {
            match std::fs::remove_file(stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(stale)(e)),
                _ => {}
            }
        }
        let mut params = BootstrapParams::for_gateway(gateway, config.xds_addr);
        params.node_id = spec.node_id.clone();
        params.node_cluster = config.node_cluster.clone();
        params.protocol = XdsProtocol::from_delta(config.delta);
        params.initial_fetch_timeout = config.initial_fetch_timeout;
        params
            .node_metadata
            .insert("address".to_string(), spec.address.clone());
        let yaml = bootstrap::render(&params).map_err(|source| HostError::Render {
            gateway: gateway.clone(),
            source,
        })?;
        std::fs::write(&files.bootstrap, yaml).map_err(io(&files.bootstrap))?;
        Ok(files)
    }

    /// Envoy's arguments. Flags: a dynamic base id and no hot restart so that many Envoys
    /// share the host; one worker thread, as a proxy here serves test traffic.
    pub fn envoy_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-c".into(), self.bootstrap.clone().into()];
        args.extend(
            [
                "--use-dynamic-base-id",
                "--disable-hot-restart",
                "--concurrency",
                "1",
                "--admin-address-path",
            ]
            .map(OsString::from),
        );
        args.push(self.admin_address.clone().into());
        args.extend([
            "-l".into(),
            self.log_level.clone().into(),
            "--log-path".into(),
            self.log.clone().into(),
        ]);
        if let Some(levels) = &self.component_log_levels {
            args.extend(["--component-log-level".into(), levels.into()]);
        }
        args
    }

    /// The command that starts Envoy as a process of this host.
    pub fn command(
        &self,
        config: &HostConfig,
        setpriv: Option<&Path>,
    ) -> Result<Command, HostError> {
        let mut cmd = match setpriv {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&config.envoy);
                c
            }
            None => Command::new(&config.envoy),
        };
        cmd.args(self.envoy_args());
        let stdio = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stdio)
            .map_err(|source| HostError::Io {
                path: self.stdio.clone(),
                source,
            })?;
        let stderr = stdio.try_clone().map_err(|source| HostError::Io {
            path: self.stdio.clone(),
            source,
        })?;
        cmd.stdin(Stdio::null())
            .stdout(stdio)
            .stderr(stderr)
            .kill_on_drop(true);
        Ok(cmd)
    }

    /// Forget the previous process's admin address before starting the next one.
    pub fn clear_admin_address(&self) -> Result<(), HostError> {
        match std::fs::remove_file(&self.admin_address) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(HostError::Io {
                path: self.admin_address.clone(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Resolves once Envoy has written its admin address. Envoy writes the whole address in one
    /// write after binding, so an address that parses is the complete one.
    pub async fn admin_address(&self) -> SocketAddr {
        loop {
            if let Ok(text) = tokio::fs::read_to_string(&self.admin_address).await
                && let Ok(addr) = text.trim().parse()
            {
                return addr;
            }
            tokio::time::sleep(ADMIN_POLL).await;
        }
    }

    /// The last lines of Envoy's stdio and log, for the message about a dead proxy.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for (label, path) in [("stdio", &self.stdio), ("log", &self.log)] {
            let lines = tail(path, TAIL_LINES);
            if !lines.is_empty() {
                out.push_str(&format!("--- {label} {} ---\n{lines}\n", path.display()));
            }
        }
        out
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let mut all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if start > 0 && !all.is_empty() {
        // Reading started mid-file: the first line is likely cut.
        all.remove(0);
    }
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `setpriv`, if it is on PATH and can set a parent-death signal here.
///
/// The kernel sends that signal when the *thread* that spawned the child exits. Supervisors run
/// on the runtime's worker threads, which live as long as the runtime; should one go away
/// earlier (`block_in_place` retires a worker), its proxy is killed and its supervisor restarts
/// it from a live thread.
pub(super) fn find_setpriv() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let candidate = std::env::split_paths(&path)
        .map(|d| d.join("setpriv"))
        .find(|p| p.is_file())?;
    let works = std::process::Command::new(&candidate)
        .args(["--pdeathsig", "KILL", "--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let t = tail(&path, 3);
        assert_eq!(t, "line 97\nline 98\nline 99");
        assert_eq!(tail(&dir.path().join("missing"), 3), "");
    }

    #[test]
    fn tail_of_a_long_file_reads_only_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let t = tail(&path, 2);
        assert_eq!(t, "line 9998\nline 9999");
    }

    #[test]
    fn prepared_files_hold_a_bootstrap_naming_the_gateway() {
        let dir = tempfile::tempdir().unwrap();
        let gw = ObjectKey::new("ns", "gw");
        let spec = ProxySpec::for_gateway(&gw, "127.0.10.9");
        let config = HostConfig {
            delta: true,
            ..HostConfig::default()
        };
        std::fs::create_dir_all(dir.path().join("p")).unwrap();
        std::fs::write(dir.path().join("p/envoy.log"), "old run").unwrap();
        let files = ProxyFiles::prepare(&dir.path().join("p"), &config, &gw, &spec).unwrap();
        assert!(
            !files.log.exists(),
            "an earlier controller's log is cleared"
        );
        let v: serde_json::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&files.bootstrap).unwrap()).unwrap();
        assert_eq!(v["node"]["id"], "ns/gw");
        assert_eq!(v["node"]["metadata"]["address"], "127.0.10.9");
        assert_eq!(v["node"]["metadata"]["gateway_name"], "gw");
        assert_eq!(
            v["dynamic_resources"]["ads_config"]["api_type"],
            "DELTA_GRPC"
        );
    }
}
