//! `gatesim upstream`: our scenarios on sim (or a JUnit file of an earlier run), then upstream's
//! suite against the reference controller on the local cluster (or against any cluster), and
//! the agreement table of the two.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser as _;

use gatesim_conformance::cluster::{self, Channel, DownOptions, Layout};
use gatesim_conformance::report::ConformanceReport;
use gatesim_conformance::report::terminal::human;
use gatesim_conformance::tools::CONFORMANCE;
use gatesim_conformance::upstream::{self, Flags, HostController, Verdict, Verdicts, agreement};
use gatesim_reference::api::DEFAULT_CONTROLLER_NAME;

use super::args::{Cli, Command, UpstreamArgs, UpstreamTarget};
use super::cluster::{layout, progress, up_options};

/// Our verdicts: the scenarios on sim with the same selection, or a JUnit file.
async fn ours(args: &UpstreamArgs) -> Result<Option<(Verdicts, String)>> {
    if args.no_compare {
        return Ok(None);
    }
    if let Some(path) = &args.compare_junit {
        let xml =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(Some((
            upstream::verdicts::from_junit(&xml),
            path.display().to_string(),
        )));
    }
    say!("== our scenarios on sim, same selection");
    let Command::Run(mut run) = Cli::try_parse_from(["gatesim", "run"])
        .context("default run arguments")?
        .command
    else {
        bail!("default run arguments did not parse as `run`");
    };
    run.selection = args.selection.clone();
    let (_, Some(results)) = super::run_suite(*run).await? else {
        bail!("interrupted while our scenarios ran on sim");
    };
    Ok(Some((
        upstream::verdicts::from_results(&results),
        "sim, this command".to_owned(),
    )))
}

/// The upstream flags for this command.
fn flags(args: &UpstreamArgs, gateway_class: &str) -> Result<Flags> {
    let selection = &args.selection;
    let implementation = args
        .report_output
        .is_some()
        .then(|| {
            super::implementation(
                &args.implementation,
                args.target == UpstreamTarget::Local,
                true,
            )
        })
        .transpose()?
        .map(|i| upstream::Implementation {
            organization: i.organization,
            project: i.project,
            url: i.url,
            version: i.version,
            contact: i.contact,
        });
    Ok(Flags {
        gateway_class: gateway_class.to_owned(),
        conformance_profiles: selection
            .conformance_profiles
            .iter()
            .map(|p| p.name().to_owned())
            .collect(),
        supported_features: selection.supported_features.clone(),
        exempt_features: selection.exempt_features.clone(),
        all_features: selection.all_features,
        run_test: selection.run_test.clone(),
        skip_tests: selection.skip_tests.clone(),
        skip_provisional_tests: selection.skip_provisional_tests,
        allow_crds_mismatch: args.allow_crds_mismatch,
        report_output: args.report_output.clone(),
        mode: Some(args.implementation.mode.clone()),
        implementation,
        extra: args.upstream_args.clone(),
    })
}

fn controller_binary(args: &UpstreamArgs) -> Result<PathBuf> {
    let path = match &args.controller_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("finding the gatesim binary")?
            .with_file_name("gatesim-controller"),
    };
    if !path.exists() {
        bail!(
            "the reference controller {} does not exist; build it with `cargo build -p \
             gatesim-reference` (the same profile as gatesim) or pass --controller-bin",
            path.display()
        );
    }
    Ok(path)
}

/// What the local target started, to be stopped again.
struct Local {
    layout: Layout,
    controller: HostController,
    started_cluster: bool,
}

async fn start_local(args: &UpstreamArgs, gateway_class: &str) -> Result<Local> {
    let binary = controller_binary(args)?;
    let layout = layout(&args.state);
    let healthy = match cluster::status(&layout).await {
        Ok(parts) => parts.iter().all(|p| p.healthy),
        Err(_) => false,
    };
    let started_cluster = layout.read_state()?.is_none();
    if !healthy {
        say!("== the local cluster");
        let report = cluster::up(
            &up_options(layout.clone(), Channel::Experimental)?,
            progress(),
        )
        .await?;
        say!("cluster up in {}", human(report.total));
    }
    let client = cluster::admin_client(&layout).await?;
    let classes: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        client,
        &kube::api::ApiResource {
            group: "gateway.networking.k8s.io".into(),
            version: "v1".into(),
            api_version: "gateway.networking.k8s.io/v1".into(),
            kind: "GatewayClass".into(),
            plural: "gatewayclasses".into(),
        },
    );
    let class = gatesim_conformance::target::gateway_class(
        gateway_class,
        DEFAULT_CONTROLLER_NAME,
        "gatesim reference controller (upstream suite)",
    );
    classes
        .patch(
            gateway_class,
            &kube::api::PatchParams::apply("gatesim-upstream").force(),
            &kube::api::Patch::Apply(&class),
        )
        .await
        .with_context(|| format!("applying GatewayClass {gateway_class}"))?;
    let work = layout.root.join("upstream");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let network = u8::try_from(100 + (std::process::id() + 75) % 150).unwrap_or(175);
    let controller = HostController::start(
        &binary,
        &layout.kubeconfig(),
        &work,
        &layout.logs().join("upstream-controller.log"),
        network,
    )
    .await?;
    say!(
        "reference controller: {} (admin http://{}, Gateways on 127.{network}.10.x, log {})",
        binary.display(),
        controller.admin,
        controller.log.display()
    );
    if let Err(e) = class_accepted(&classes, gateway_class).await {
        controller.stop().await;
        return Err(e);
    }
    Ok(Local {
        layout,
        controller,
        started_cluster,
    })
}

/// Waits (at most a minute) until the controller has accepted the GatewayClass at its
/// generation and listed its supported features: the suite reads them once, at its start,
/// and an empty list ends it at once ("no supported features were determined").
async fn class_accepted(classes: &kube::Api<kube::api::DynamicObject>, name: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let class = classes
            .get(name)
            .await
            .with_context(|| format!("reading GatewayClass {name}"))?;
        let generation = class.metadata.generation;
        let status = class.data.get("status");
        let accepted = status
            .and_then(|s| s.get("conditions"))
            .and_then(|c| c.as_array())
            .is_some_and(|conditions| {
                conditions.iter().any(|c| {
                    c["type"] == "Accepted"
                        && c["status"] == "True"
                        && c["observedGeneration"].as_i64() == generation
                })
            });
        let features = status
            .and_then(|s| s.get("supportedFeatures"))
            .and_then(|f| f.as_array())
            .is_some_and(|f| !f.is_empty());
        if accepted && features {
            say!(
                "GatewayClass {name} accepted with its supported features in {}",
                human(started.elapsed())
            );
            return Ok(());
        }
        if started.elapsed() >= std::time::Duration::from_secs(60) {
            bail!(
                "GatewayClass {name} was not accepted with supported features within 60s \
                 (accepted: {accepted}, features listed: {features})"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits (at most three minutes) until the suite's base namespaces are gone.
async fn wait_namespaces_gone(layout: &Layout) {
    let Ok(client) = cluster::admin_client(layout).await else {
        return;
    };
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    let deadline = Instant::now() + std::time::Duration::from_secs(180);
    while Instant::now() < deadline {
        let listed = namespaces
            .list_metadata(&kube::api::ListParams::default())
            .await
            .map(|l| {
                l.items.iter().any(|n| {
                    n.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("gateway-conformance-"))
                })
            });
        if !matches!(listed, Ok(true)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    say!("warning: the suite's namespaces are still terminating");
}

fn kubeconfig_for_cluster(args: &UpstreamArgs) -> Result<PathBuf> {
    let path = args
        .kubeconfig
        .clone()
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")))
        .context("no kubeconfig: pass --kubeconfig")?;
    if !path.exists() {
        bail!("the kubeconfig {} does not exist", path.display());
    }
    Ok(path)
}

fn print_report(path: &PathBuf) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    match ConformanceReport::from_yaml(&text) {
        Ok(report) => {
            for profile in &report.profiles {
                say!("  {:<14} {}", profile.name, profile.summary);
            }
        }
        Err(e) => say!("  (the report does not read as a ConformanceReport: {e})"),
    }
}

pub fn upstream(args: UpstreamArgs) -> Result<ExitCode> {
    super::init_logging(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(upstream_async(args))
}

async fn upstream_async(args: UpstreamArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let binary = tokio::task::spawn_blocking(|| {
        let say = |line: &str| say!("{line}");
        CONFORMANCE.ensure(&["conformance.test"], &say)
    })
    .await??
    .remove(0);
    let ours = ours(&args).await?;
    let gateway_class = args.gateway_class.clone().unwrap_or_else(|| {
        match args.target {
            UpstreamTarget::Local => "gatesim",
            UpstreamTarget::Cluster => "gateway-conformance",
        }
        .to_owned()
    });
    let flags = flags(&args, &gateway_class)?;
    let (kubeconfig, local) = match args.target {
        UpstreamTarget::Local => {
            let local = start_local(&args, &gateway_class).await?;
            (local.layout.kubeconfig(), Some(local))
        }
        UpstreamTarget::Cluster => (kubeconfig_for_cluster(&args)?, None),
    };
    let log = args.log.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("gatesim-upstream-{}.log", std::process::id()))
    });
    say!(
        "\n== upstream conformance suite v1.6.1 ({}), GatewayClass {gateway_class}\n   {} {}",
        binary.display(),
        binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default(),
        flags.to_args().join(" ")
    );
    let run = upstream::Run {
        binary,
        kubeconfig,
        flags,
        log: log.clone(),
    };
    let watchdog = match watchdog_client(&run.kubeconfig).await {
        Ok(client) => Some(upstream::watchdog::spawn(client, |line| {
            say!("  warning: {line}")
        })),
        Err(e) => {
            say!("  (not watching the suite's pods: {e:#})");
            None
        }
    };
    let outcome = upstream::run(&run, |test, verdict| {
        if verdict != Verdict::Skip {
            say!("  {:<4} {test}", verdict.word());
        }
    })
    .await;
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    if let Some(local) = local {
        local.controller.stop().await;
        let stays = !local.started_cluster || args.keep_cluster;
        // The suite cleans up when it ends by itself, unless told not to.
        let cleaned = outcome.as_ref().is_ok_and(|o| o.finished)
            && !args
                .upstream_args
                .iter()
                .any(|a| a.contains("cleanup-base-resources=false"));
        if stays && cleaned {
            // Upstream deletes its namespaces without waiting; the next run on this cluster
            // must not find them terminating.
            wait_namespaces_gone(&local.layout).await;
        }
        if local.started_cluster && !args.keep_cluster {
            let options = DownOptions {
                layout: local.layout,
                keep_logs: false,
            };
            cluster::down(&options)
                .await
                .context("stopping the cluster this command started")?;
            say!("cluster down (this command had started it)");
        }
    }
    let outcome = outcome?;
    let count = |v: Verdict| outcome.verdicts.values().filter(|x| **x == v).count();
    say!(
        "\nupstream: {} passed, {} failed, {} skipped in {} (whole output: {})",
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Skip),
        human(outcome.duration),
        log.display()
    );
    if let Some(path) = &args.report_output {
        print_report(path);
        say!("report: {}", path.display());
    }
    let mut disagreements = 0;
    if let Some((verdicts, from)) = &ours {
        let rows = agreement::compare(&outcome.verdicts, verdicts);
        disagreements = rows
            .iter()
            .filter(|r| r.agreement() == agreement::Agreement::Disagree)
            .count();
        say!(
            "\n== agreement: upstream beside ours\n{}",
            agreement::render(&rows, from)
        );
    }
    say!("time: {} in all", human(started.elapsed()));
    if !outcome.success || count(Verdict::Fail) > 0 {
        say!(
            "upstream reports failures (or did not finish): see {}",
            log.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    if disagreements > 0 {
        say!("{disagreements} disagreement(s): each is a bug in one of the two suites");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A client for the suite's cluster, from the kubeconfig the suite itself is given.
async fn watchdog_client(kubeconfig: &std::path::Path) -> Result<kube::Client> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config =
        kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
            .await
            .context("the kubeconfig")?;
    kube::Client::try_from(config).context("a client")
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn parse(args: &[&str]) -> UpstreamArgs {
        let mut argv = vec!["gatesim", "upstream"];
        argv.extend(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Upstream(args) => *args,
            other => panic!("not upstream: {other:?}"),
        }
    }

    #[test]
    fn upstreams_flags_reach_the_suite_under_their_own_names() {
        let args = parse(&[
            "--conformance-profiles",
            "GATEWAY-HTTP",
            "--supported-features",
            "HTTPRoute303RedirectStatusCode",
            "--exempt-features",
            "GatewayPort8080",
            "--skip-tests",
            "A,B",
            "--run-test",
            "C",
            "--skip-provisional-tests",
            "--allow-crds-mismatch",
            "--report-output",
            "r.yaml",
            "--organization",
            "o",
            "--project",
            "p",
            "--url",
            "u",
            "--version",
            "v1",
            "--contact",
            "c1,c2",
            "--mode",
            "m",
            "--gateway-class",
            "gc",
            "--keep-cluster",
            "--state-dir",
            "/tmp/s",
            "--",
            "--debug",
            "--cleanup-base-resources=false",
        ]);
        assert!(args.keep_cluster);
        assert_eq!(
            args.state.state_dir.as_deref(),
            Some(std::path::Path::new("/tmp/s"))
        );
        let argv = flags(&args, "gc").expect("flags").to_args();
        for expected in [
            "--gateway-class=gc",
            "--conformance-profiles=GATEWAY-HTTP",
            "--supported-features=HTTPRoute303RedirectStatusCode",
            "--exempt-features=GatewayPort8080",
            "--skip-tests=A,B",
            "--run-test=C",
            "--skip-provisional-tests",
            "--allow-crds-mismatch",
            "--report-output=r.yaml",
            "--organization=o",
            "--project=p",
            "--url=u",
            "--version=v1",
            "--contact=c1,c2",
            "--mode=m",
            "--debug",
            "--cleanup-base-resources=false",
        ] {
            assert!(
                argv.iter().any(|a| a == expected),
                "{expected} missing from {argv:?}"
            );
        }
    }

    #[test]
    fn a_report_about_someone_elses_implementation_needs_its_details() {
        let args = parse(&["--target", "cluster", "--report-output", "r.yaml"]);
        let error = flags(&args, "gc").unwrap_err().to_string();
        assert!(error.contains("--report-output needs --"), "{error}");
        // Ours has defaults.
        let args = parse(&["--report-output", "r.yaml"]);
        let argv = flags(&args, "gatesim").unwrap().to_args();
        assert!(
            argv.iter().any(|a| a == "--project=gatesim-reference"),
            "{argv:?}"
        );
    }

    #[tokio::test]
    async fn our_verdicts_come_from_a_junit_file_or_from_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("ours.xml");
        std::fs::write(
            &junit,
            r#"<testsuites><testsuite name="x"><testcase name="HTTPRouteWeight" classname="x" time="1"/></testsuite></testsuites>"#,
        )
        .unwrap();
        let args = parse(&["--compare-junit", junit.to_str().unwrap()]);
        let (verdicts, from) = ours(&args).await.unwrap().expect("compared");
        assert_eq!(verdicts.get("HTTPRouteWeight"), Some(&Verdict::Pass));
        assert_eq!(from, junit.display().to_string());
        assert!(ours(&parse(&["--no-compare"])).await.unwrap().is_none());
        let both = Cli::try_parse_from([
            "gatesim",
            "upstream",
            "--no-compare",
            "--compare-junit",
            "x",
        ]);
        assert!(
            both.is_err(),
            "--no-compare and --compare-junit exclude each other"
        );
    }

    #[test]
    fn a_missing_controller_binary_is_named() {
        let args = parse(&["--controller-bin", "/nonexistent/gatesim-controller"]);
        let error = controller_binary(&args).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/gatesim-controller"), "{error}");
    }
}
