//! The local cluster against itself: the simulated node under a real control plane (pods,
//! env and volumes, network isolation, restarts, deletion, unknown images), the cluster's own
//! life (up, status, repair, crash, down leaving nothing), and the commands built on it
//! (`gatesim run --target local`, `gatesim upstream`), and the differential validation
//! tables (`tests/data/differential`: the same objects to kube-apiserver and simkube).
//!
//! Trials share one cluster (its own state directory, started by the first trial that needs
//! it, taken down at the end, which must leave nothing behind); the lifecycle trial makes a
//! second one of its own. A machine without Go (to build the control plane) or without root
//! (for network namespaces) skips every trial with a loud `SKIP:` line, unless
//! `GATESIM_REQUIRE_ALL=1`, where the trials fail instead.

mod commands;
mod deployed;
mod differential;
#[path = "../differential_support/mod.rs"]
mod differential_support;
mod lifecycle;
mod pods;
mod support;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use support::{Cluster, Started};

/// A trial body: gets the shared cluster.
type Body = Box<dyn Fn(&Cluster) -> Result<(), String> + Send + Sync>;

/// A trial body that needs nothing else.
type Plain = fn(&Cluster) -> Result<(), String>;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let plain: Vec<(&str, Plain)> = vec![
        ("node/pod_lifecycle", pods::pod_lifecycle),
        ("node/graceful_deletion", pods::graceful_deletion),
        ("node/namespace_deletion", pods::namespace_deletion),
        ("node/env_and_volumes", pods::env_and_volumes),
        ("node/network_isolation", pods::network_isolation),
        ("node/unknown_image", pods::unknown_image),
        ("node/restart_policy", pods::restart_policy),
        ("node/readiness_probe", pods::readiness_probe),
        (
            "cluster/lifecycle_crash_and_down",
            lifecycle::lifecycle_crash_and_down,
        ),
        ("commands/run_target_local", commands::run_target_local),
        ("commands/upstream_local", commands::upstream_local),
        (
            "commands/upstream_cluster_target",
            commands::upstream_cluster_target,
        ),
        ("commands/tools", commands::tools),
        (
            "commands/deployed_controller_core_profile",
            deployed::deployed_controller_core_profile,
        ),
    ];
    let mut bodies: Vec<(String, Body)> = plain
        .into_iter()
        .map(|(name, body)| (name.to_owned(), Box::new(body) as Body))
        .collect();
    let tables = differential_support::tables().expect("the differential tables are listed");
    for path in tables {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let name = format!("differential/{stem}");
        bodies.push((
            name,
            Box::new(move |cluster: &Cluster| differential::table(cluster, &path)),
        ));
    }
    let shared: Arc<Mutex<Option<Started>>> = Arc::new(Mutex::new(None));
    let trials = bodies
        .into_iter()
        .map(|(name, body)| {
            let shared = Arc::clone(&shared);
            Trial::ignorable_test(name, move || {
                let cluster = {
                    let mut slot = shared.lock().unwrap_or_else(|e| e.into_inner());
                    slot.get_or_insert_with(support::start).clone()
                };
                match cluster {
                    Started::Ready(cluster) => body(&cluster)
                        .map(|()| Completion::Completed)
                        .map_err(Failed::from),
                    Started::Skipped(why) => Ok(Completion::ignored_with(why)),
                    Started::Failed(why) => Err(Failed::from(why)),
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let started = shared.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut code = conclusion.exit_code();
    if let Some(Started::Ready(cluster)) = started
        && let Err(e) = support::stop(&cluster)
    {
        eprintln!("FAILED: taking the shared cluster down: {e}");
        code = ExitCode::FAILURE;
    }
    code
}
