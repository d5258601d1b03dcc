//! Starting a container's process: inside the pod's network namespace, in a private mount
//! namespace of its own where the volumes are bind-mounted at their `mountPath`, with exactly
//! the container's environment, its output appended to a log file.
//!
//! The chain is `ip netns exec <ns> unshare --mount -- sh -c '<mounts; cd; exec "$@">' ...`;
//! each step execs the next, so the process id the node holds is the program's own and
//! signals reach it directly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use tokio::process::Command;

use crate::env::Environment;
use crate::images::{Exec, find_on_path};
use crate::network::ip_binary;
use crate::volumes::Mount;

/// Everything needed to start one container instance.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    /// The pod's network namespace; `None` for `hostNetwork` pods.
    pub netns: Option<String>,
    pub exec: Exec,
    pub env: Environment,
    pub mounts: Vec<Mount>,
    pub working_dir: Option<String>,
    pub hostname: String,
    pub log: PathBuf,
}

/// A mount target that does not exist on the host has to be created there before it can be
/// mounted on (in the private namespace only the mount itself is private). The node records
/// what it creates, and `gatesim cluster down` removes it again.
pub struct MountPoints {
    record: PathBuf,
    lock: Mutex<()>,
}

impl MountPoints {
    pub fn new(record: PathBuf) -> MountPoints {
        MountPoints {
            record,
            lock: Mutex::new(()),
        }
    }

    /// Makes `target` exist, as a directory or an empty file like `source`.
    pub fn ensure(&self, source: &Path, target: &Path) -> std::io::Result<()> {
        if target.exists() {
            return Ok(());
        }
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // The topmost missing ancestor is what has to go again.
        let mut topmost = target.to_path_buf();
        while let Some(parent) = topmost.parent() {
            if parent.exists() {
                break;
            }
            topmost = parent.to_path_buf();
        }
        let mut line = topmost.to_string_lossy().into_owned();
        line.push('\n');
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.record)?
            .write_all(line.as_bytes())?;
        if source.is_dir() {
            std::fs::create_dir_all(target)
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::File::create(target).map(|_| ())
        }
    }

    /// Removes the recorded mount points that are still empty (deepest first); returns what
    /// could not be removed.
    pub fn remove_recorded(record: &Path) -> Vec<PathBuf> {
        let Ok(text) = std::fs::read_to_string(record) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = text.lines().map(PathBuf::from).collect();
        paths.sort();
        paths.dedup();
        paths.reverse();
        let mut kept = Vec::new();
        for path in paths {
            let removed = if path.is_dir() {
                remove_empty_tree(&path)
            } else {
                match std::fs::metadata(&path) {
                    Ok(m) if m.len() == 0 => std::fs::remove_file(&path).is_ok(),
                    Ok(_) => false,
                    Err(_) => true,
                }
            };
            if !removed {
                kept.push(path);
            }
        }
        let _ = std::fs::remove_file(record);
        kept
    }
}

/// Removes a directory tree that holds only (empty) directories and empty files.
fn remove_empty_tree(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ok = if path.is_dir() {
            remove_empty_tree(&path)
        } else {
            std::fs::metadata(&path).is_ok_and(|m| m.len() == 0)
                && std::fs::remove_file(&path).is_ok()
        };
        if !ok {
            return false;
        }
    }
    std::fs::remove_dir(dir).is_ok()
}

/// `'...'` quoting for sh.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The order in which the mounts can be made. A mount hides whatever lies under its target, so
/// a volume mounted at `/root` must come after every mount whose source lives in the node's
/// state directory under `/root` (the hosts file, other volumes), while a target inside another
/// target must come after its parent. Kahn's algorithm, keeping the pod's order where free;
/// `None` when the two rules contradict each other.
fn mount_order(mounts: &[Mount]) -> Option<Vec<&Mount>> {
    let before = |a: &Mount, b: &Mount| {
        a.source.starts_with(&b.target) || (b.target.starts_with(&a.target) && b.target != a.target)
    };
    let n = mounts.len();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&i| {
            !done[i] && (0..n).all(|j| done[j] || j == i || !before(&mounts[j], &mounts[i]))
        })?;
        done[next] = true;
        order.push(&mounts[next]);
    }
    Some(order)
}

/// The shell script that runs in the container's own mount namespace before the program.
fn script(spec: &LaunchSpec) -> std::io::Result<String> {
    let mounts = mount_order(&spec.mounts).ok_or_else(|| {
        let list: Vec<String> = spec
            .mounts
            .iter()
            .map(|m| format!("{} at {}", m.source.display(), m.target.display()))
            .collect();
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "these volumes hide each other's sources whatever the order (the node's state \
                 directory lies under a mountPath): {}",
                list.join(", ")
            ),
        )
    })?;
    let mut lines = vec!["set -e".to_owned()];
    for m in mounts {
        let (source, target) = (
            quote(&m.source.to_string_lossy()),
            quote(&m.target.to_string_lossy()),
        );
        lines.push(format!("mount --bind {source} {target}"));
        if m.read_only {
            lines.push(format!("mount -o remount,bind,ro {target}"));
        }
    }
    if let Some(dir) = &spec.working_dir {
        lines.push(format!("cd {}", quote(dir)));
    }
    lines.push("exec \"$@\"".to_owned());
    Ok(lines.join("\n"))
}

fn unshare_binary() -> PathBuf {
    find_on_path("unshare").unwrap_or_else(|| PathBuf::from("/usr/bin/unshare"))
}

/// The command that starts the container; its stdout and stderr go to `spec.log`.
pub fn command(spec: &LaunchSpec) -> std::io::Result<Command> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("opening the log {}: {e}", spec.log.display()),
            )
        })?;
    let mut cmd = match &spec.netns {
        Some(netns) => {
            let mut cmd = Command::new(ip_binary());
            cmd.args(["netns", "exec"]).arg(netns).arg(unshare_binary());
            cmd
        }
        None => Command::new(unshare_binary()),
    };
    cmd.args(["--mount", "--propagation", "private", "--"])
        .arg(find_on_path("sh").unwrap_or_else(|| PathBuf::from("/bin/sh")))
        .arg("-c")
        .arg(script(spec)?)
        .arg("gatesim-container")
        .arg(&spec.exec.program)
        .args(&spec.exec.args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOSTNAME", &spec.hostname)
        .env("HOME", "/root");
    for (name, value) in spec.env.iter() {
        cmd.env(name, value);
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C meant for a node in the foreground must not reach
        // the pods before the node can stop them in order.
        .process_group(0)
        .kill_on_drop(false);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_mounts_then_execs_with_quoting() {
        let spec = LaunchSpec {
            netns: Some("ns".into()),
            exec: Exec {
                program: PathBuf::from("/bin/true"),
                args: vec![],
            },
            env: Environment::default(),
            mounts: vec![Mount {
                source: PathBuf::from("/state/it's"),
                target: PathBuf::from("/etc/secret-volume"),
                read_only: true,
            }],
            working_dir: Some("/tmp".into()),
            hostname: "p".into(),
            log: PathBuf::from("/dev/null"),
        };
        assert_eq!(
            script(&spec).unwrap(),
            "set -e\nmount --bind '/state/it'\\''s' '/etc/secret-volume'\n\
             mount -o remount,bind,ro '/etc/secret-volume'\ncd '/tmp'\nexec \"$@\""
        );
    }

    fn mounts(pairs: &[(&str, &str)]) -> Vec<Mount> {
        pairs
            .iter()
            .map(|(source, target)| Mount {
                source: PathBuf::from(source),
                target: PathBuf::from(target),
                read_only: false,
            })
            .collect()
    }

    /// Upstream's coredns pod mounts its ConfigMap at `/root`, where the node keeps its state
    /// (and the hosts file every pod gets): that mount has to come last.
    #[rstest::rstest]
    #[case::hosts_before_a_volume_over_the_state_dir(
        &[("/root/.cache/c/pods/p/conf", "/root"), ("/root/.cache/c/hosts", "/etc/hosts")],
        &["/etc/hosts", "/root"]
    )]
    #[case::pod_order_kept_when_free(
        &[("/s/a", "/etc/a"), ("/s/b", "/etc/b")],
        &["/etc/a", "/etc/b"]
    )]
    #[case::parent_target_before_child(
        &[("/s/child", "/data/child"), ("/s/parent", "/data")],
        &["/data", "/data/child"]
    )]
    fn mounts_are_ordered_so_none_hides_another(
        #[case] pairs: &[(&str, &str)],
        #[case] expected: &[&str],
    ) {
        let mounts = mounts(pairs);
        let order: Vec<&Path> = mount_order(&mounts)
            .unwrap()
            .iter()
            .map(|m| m.target.as_path())
            .collect();
        let expected: Vec<&Path> = expected.iter().map(Path::new).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn mounts_that_hide_each_other_whatever_the_order_are_refused_by_name() {
        let spec = LaunchSpec {
            netns: None,
            exec: Exec {
                program: PathBuf::from("/bin/true"),
                args: vec![],
            },
            env: Environment::default(),
            // `/root` must precede `/root/x` (its parent) and follow it (it hides x's source).
            mounts: mounts(&[("/s/conf", "/root"), ("/root/.cache/x", "/root/x")]),
            working_dir: None,
            hostname: "p".into(),
            log: PathBuf::from("/dev/null"),
        };
        let err = script(&spec).unwrap_err().to_string();
        assert!(err.contains("/root/.cache/x at /root/x"), "{err}");
    }

    #[test]
    fn created_mount_points_are_recorded_and_removed_when_empty() {
        let root = tempfile::tempdir().unwrap();
        let record = root.path().join("mountpoints");
        let points = MountPoints::new(record.clone());
        let source = tempfile::tempdir().unwrap();
        let target = root.path().join("a/b/c");
        points.ensure(source.path(), &target).unwrap();
        assert!(target.is_dir());
        let file_source = source.path().join("f");
        std::fs::write(&file_source, "x").unwrap();
        let file_target = root.path().join("d/file");
        points.ensure(&file_source, &file_target).unwrap();
        assert!(file_target.is_file());
        // Something a user put there is never removed.
        std::fs::write(root.path().join("d/keep"), "mine").unwrap();
        let kept = MountPoints::remove_recorded(&record);
        assert!(!root.path().join("a").exists());
        assert_eq!(kept, vec![root.path().join("d")]);
        assert!(root.path().join("d/keep").exists());
    }
}
