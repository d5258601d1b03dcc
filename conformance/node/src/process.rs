//! Signals and liveness checks for processes known by id (pods' containers, and the
//! control-plane processes `gatesim cluster` keeps in its state directory).

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
}

/// Sends a signal; a process that is already gone is not an error worth reporting.
pub fn signal(pid: u32, signal: Signal) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let signal = match signal {
        Signal::Term => rustix::process::Signal::TERM,
        Signal::Kill => rustix::process::Signal::KILL,
    };
    let _ = rustix::process::kill_process(pid, signal);
}

/// Whether `pid` is a live process (a zombie, dead but not reaped, counts as dead).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesized command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The process's command line, arguments joined by spaces.
pub fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .to_owned(),
    )
}

/// Live processes whose command line contains `needle`. Used with a state directory's path,
/// which every process of a local cluster carries in its arguments.
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| command_line(pid).is_some_and(|c| c.contains(needle)))
        .filter(|&pid| alive(pid))
        .collect()
}

/// SIGTERM, then SIGKILL once `grace` has passed; returns when every process is gone (or a
/// second after the SIGKILL, for processes that cannot die, such as those in D state).
pub async fn stop_all(pids: &[u32], grace: Duration) {
    for &pid in pids {
        signal(pid, Signal::Term);
    }
    if wait_gone(pids, grace).await {
        return;
    }
    for &pid in pids {
        if alive(pid) {
            signal(pid, Signal::Kill);
        }
    }
    wait_gone(pids, Duration::from_secs(1)).await;
}

/// Polls until none of `pids` is alive; whether that happened within `bound`.
pub async fn wait_gone(pids: &[u32], bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    let mut pause = Duration::from_millis(5);
    loop {
        if pids.iter().all(|&p| !alive(p)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_process_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; exec sleep 30"])
            .spawn()
            .expect("sh runs");
        let pid = child.id();
        // Once the shell has exec'd sleep, the ignored SIGTERM is inherited.
        while !command_line(pid).is_some_and(|c| c.starts_with("sleep")) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut child = child;
        let reaper = std::thread::spawn(move || child.wait());
        stop_all(&[pid], Duration::from_millis(300)).await;
        reaper.join().unwrap().unwrap();
        assert!(!alive(pid));
        assert!(command_line(std::process::id()).is_some());
    }
}
