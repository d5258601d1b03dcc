//! The commands built on the cluster, run as a user runs them: `gatesim run --target local`,
//! `gatesim upstream` on local and against a kubeconfig, and `gatesim tools`.
//!
//! The first three share the suite's base namespaces and a controller name, so they take turns
//! (and wait until the namespaces of the one before are gone).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

use gatesim_conformance::cluster;
use gatesim_conformance::report::ConformanceReport;
use gatesim_conformance::upstream::HostController;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::json;

use crate::support::{Cluster, check, eventually, gatesim, required};

/// One of the trials that use the suite's base namespaces at a time.
pub static BASE_NAMESPACES: Mutex<()> = Mutex::new(());

pub const BASES: [&str; 3] = [
    "gateway-conformance-infra",
    "gateway-conformance-app-backend",
    "gateway-conformance-web-backend",
];

fn run(args: &[&str]) -> Result<Output, String> {
    Command::new(gatesim())
        .args(args)
        .output()
        .map_err(|e| format!("running gatesim {args:?}: {e}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn succeeded(args: &[&str]) -> Result<String, String> {
    let out = run(args)?;
    check(out.status.success(), || {
        format!("gatesim {args:?} failed ({}):\n{}", out.status, text(&out))
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub async fn bases_gone(cluster: &Cluster) -> Result<(), String> {
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    eventually(Duration::from_secs(180), || async {
        for ns in BASES {
            if namespaces
                .get_opt(ns)
                .await
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Err(format!("namespace {ns} still exists"));
            }
        }
        Ok(())
    })
    .await
}

fn state_dir(cluster: &Cluster) -> String {
    cluster.layout.root.to_string_lossy().into_owned()
}

pub fn scenario(relative: &str) -> String {
    gatesim_conformance::scenario::default_scenarios_dir()
        .join(relative)
        .to_string_lossy()
        .into_owned()
}

/// Scenarios that pass on sim pass on local; a cluster the run did not start keeps running,
/// without the run's base fixtures, and the controller's status writes name it in
/// managedFields.
pub fn run_target_local(cluster: &Cluster) -> Result<(), String> {
    let _turn = BASE_NAMESPACES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let junit = dir.path().join("junit.xml");
    let state = state_dir(cluster);
    let paths = [
        scenario("httproute/HTTPRouteSimpleSameNamespace.yaml"),
        scenario("httproute/HTTPRouteWeight.yaml"),
        scenario("httproute/HTTPRouteHTTPSListener.yaml"),
        scenario("gateway/GatewayModifyListeners.yaml"),
    ];
    let mut args = vec![
        "run",
        "--target",
        "local",
        "--state-dir",
        &state,
        "--keep-cluster",
    ];
    args.extend(["--conformance-profiles", "GATEWAY-HTTP", "--junit"]);
    let junit_arg = junit.to_string_lossy().into_owned();
    args.push(&junit_arg);
    args.extend(paths.iter().map(String::as_str));
    let out = succeeded(&args)?;
    check(
        out.contains("target local") && out.contains("4 passed, 0 failed"),
        || format!("run said:\n{out}"),
    )?;
    let xml = std::fs::read_to_string(&junit).map_err(|e| e.to_string())?;
    check(
        xml.matches("<testcase").count() == 4 && !xml.contains("<failure"),
        || xml.clone(),
    )?;
    cluster.block_on(async {
        bases_gone(cluster).await?;
        let status = cluster::status(&cluster.layout)
            .await
            .map_err(|e| e.to_string())?;
        check(status.iter().all(|p| p.healthy), || {
            format!("the cluster did not outlive the run: {status:?}")
        })?;
        let classes: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &gateway_classes());
        let class = classes.get("gatesim").await.map_err(|e| e.to_string())?;
        let managers: Vec<String> = class
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.subresource.as_deref() == Some("status"))
            .filter_map(|m| m.manager)
            .collect();
        check(managers == ["gatesim-reference-controller"], || {
            format!("status managers: {managers:?}")
        })
    })
}

fn gateway_classes() -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "GatewayClass".into(),
        plural: "gatewayclasses".into(),
    }
}

/// `gatesim-controller` beside `gatesim` (cargo builds it with the workspace's tests).
pub fn controller_binary() -> Result<Option<PathBuf>, String> {
    let path = gatesim().with_file_name("gatesim-controller");
    if path.exists() {
        return Ok(Some(path));
    }
    let why = format!(
        "{} is not built (cargo build -p gatesim-reference)",
        path.display()
    );
    if required() {
        Err(why)
    } else {
        eprintln!("SKIP: upstream trial: {why}");
        Ok(None)
    }
}

fn read_report(path: &Path) -> Result<ConformanceReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ConformanceReport::from_yaml(&text).map_err(|e| e.to_string())
}

/// The upstream suite, unmodified, against the reference controller the command starts on
/// the local cluster; its report, its log and the agreement with our suite on sim.
pub fn upstream_local(cluster: &Cluster) -> Result<(), String> {
    if controller_binary()?.is_none() {
        return Ok(());
    }
    let _turn = BASE_NAMESPACES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (report, log) = (
        dir.path().join("report.yaml"),
        dir.path().join("upstream.log"),
    );
    let state = state_dir(cluster);
    let (report_arg, log_arg) = (
        report.to_string_lossy().into_owned(),
        log.to_string_lossy().into_owned(),
    );
    let out = succeeded(&[
        "upstream",
        "--state-dir",
        &state,
        "--conformance-profiles",
        "GATEWAY-HTTP",
        "--run-test",
        "HTTPRouteSimpleSameNamespace",
        "--report-output",
        &report_arg,
        "--log",
        &log_arg,
    ])?;
    let row = out
        .lines()
        .find(|l| l.starts_with("HTTPRouteSimpleSameNamespace "))
        .unwrap_or_default();
    check(row.contains("PASS") && row.ends_with("agree"), || {
        format!("agreement row {row:?} in:\n{out}")
    })?;
    let log_text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
    check(
        log_text.contains("--- PASS: TestConformance/HTTPRouteSimpleSameNamespace"),
        || format!("the suite's own output lacks the test:\n{log_text}"),
    )?;
    let report = read_report(&report)?;
    check(report.implementation.project == "gatesim-reference", || {
        format!("{:?}", report.implementation)
    })?;
    cluster.block_on(bases_gone(cluster))
}

/// `--target cluster`: any kubeconfig, a controller someone else runs, extra upstream flags
/// after `--`.
pub fn upstream_cluster_target(cluster: &Cluster) -> Result<(), String> {
    let Some(binary) = controller_binary()? else {
        return Ok(());
    };
    let _turn = BASE_NAMESPACES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let log = dir.path().join("controller.log");
    cluster.block_on(async {
        let classes: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &gateway_classes());
        let class = json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "someone-elses"},
            "spec": {"controllerName": gatesim_reference::api::DEFAULT_CONTROLLER_NAME},
        });
        classes
            .patch(
                "someone-elses",
                &PatchParams::apply("test").force(),
                &Patch::Apply(&class),
            )
            .await
            .map_err(|e| e.to_string())?;
        let controller =
            HostController::start(&binary, &cluster.layout.kubeconfig(), dir.path(), &log, 93)
                .await
                .map_err(|e| e.to_string())?;
        let kubeconfig = cluster.layout.kubeconfig().to_string_lossy().into_owned();
        let outcome = run(&[
            "upstream",
            "--target",
            "cluster",
            "--kubeconfig",
            &kubeconfig,
            "--gateway-class",
            "someone-elses",
            "--supported-features",
            "Gateway,HTTPRoute",
            "--run-test",
            "HTTPRouteSimpleSameNamespace",
            "--no-compare",
            "--",
            "--cleanup-base-resources=true",
        ]);
        controller.stop().await;
        let out = outcome?;
        check(out.status.success(), || {
            format!("upstream --target cluster failed:\n{}", text(&out))
        })?;
        let said = text(&out);
        check(
            said.contains("--cleanup-base-resources=true") && said.contains("1 passed, 0 failed"),
            || said.clone(),
        )?;
        check(!said.contains("agreement"), || {
            "--no-compare still compared".into()
        })?;
        bases_gone(cluster).await
    })
}

/// `gatesim tools list` and `build` find what is built; unknown names are refused.
pub fn tools(_cluster: &Cluster) -> Result<(), String> {
    let list = succeeded(&["tools", "list"])?;
    for artifact in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "echo-basic",
        "conformance.test",
        "crds",
    ] {
        let line = list
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(artifact))
            .unwrap_or_default();
        check(!line.is_empty() && !line.contains("not built"), || {
            format!("{artifact}: {line:?} in\n{list}")
        })?;
    }
    let built = succeeded(&["tools", "build", "etcd"])?;
    check(
        built.contains("etcd-v3.6.17/etcd") && !built.contains("building"),
        || built.clone(),
    )?;
    let out = run(&["tools", "build", "kind"])?;
    check(
        !out.status.success() && text(&out).contains("unknown tool"),
        || text(&out),
    )
}
