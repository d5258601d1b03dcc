//! Starting a cluster process detached: its own process group (a Ctrl-C in the terminal that
//! ran `up` does not reach it), output appended to its log, its id in the state directory.
//! The process outlives `gatesim`; while gatesim runs, a thread reaps it if it dies.

use std::path::Path;
use std::process::{Command, Stdio};

use super::ClusterError;
use super::state::{Layout, Part};

pub fn detached(
    layout: &Layout,
    part: Part,
    program: &Path,
    args: &[String],
) -> Result<u32, ClusterError> {
    use std::os::unix::process::CommandExt as _;
    let logs = layout.logs();
    std::fs::create_dir_all(&logs).map_err(ClusterError::io("creating", &logs))?;
    let pid_file = layout.pid_file(part);
    if let Some(dir) = pid_file.parent() {
        std::fs::create_dir_all(dir).map_err(ClusterError::io("creating", dir))?;
    }
    let log_path = layout.log(part);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(ClusterError::io("opening", &log_path))?;
    let err = log
        .try_clone()
        .map_err(ClusterError::io("opening", &log_path))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| ClusterError::Start {
            part: part.name(),
            message: format!("{}: {e}", program.display()),
        })?;
    let pid = child.id();
    std::fs::write(&pid_file, pid.to_string()).map_err(ClusterError::io("writing", &pid_file))?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}
