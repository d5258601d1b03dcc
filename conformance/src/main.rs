//! `gatesim`: runs conformance scenarios against an implementation.
#![forbid(unsafe_code)]

/// The harness runs simkube and the reference controller in this process; both allocate and
/// free many small objects per write and per translation, as `gatesim-controller` does (whose
/// allocator this is too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run(*args),
        Command::Fuzz(args) => cli::fuzz::fuzz(*args),
        Command::List(args) => cli::list(args),
        Command::Check(args) => cli::check(args),
        Command::Cluster(args) => cli::cluster(args),
        Command::Tools(args) => cli::tools(args),
        Command::Upstream(args) => cli::upstream(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatesim: {e:#}");
            ExitCode::from(2)
        }
    }
}
