//! What both command-line programs share with the person running them: whether output gets
//! colour (only on a terminal, and never when `NO_COLOR` is set to a non-empty value: the
//! no-color.org rule, which lets an empty `NO_COLOR=` in a CI file mean "unset"), and the
//! signals that ask for a graceful shutdown.

use std::ffi::OsStr;
use std::io::IsTerminal;

/// The rule itself, on its two inputs.
pub fn use_color(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The rule for output written to `stream`, with this process's `NO_COLOR`.
pub fn color_for(stream: &impl IsTerminal) -> bool {
    use_color(
        stream.is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM. From the first call on, these signals no
/// longer end the process by themselves: the caller shuts down and exits.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
