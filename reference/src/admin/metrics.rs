//! Prometheus text exposition, written by hand: a few counters do not warrant a metrics crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::provider::kubernetes::DecodeErrors;
use crate::provider::status::StatusMetrics;
use crate::timing::{DURATION_BUCKETS, Histogram};
use crate::xds::{NodeStatus, SnapshotCache};

/// Outcomes of a NACK investigation (`controller::contain::Outcome::label`).
const CONTAINMENT_OUTCOMES: [&str; 4] =
    ["quarantined", "gateway_fault", "not_reproduced", "failed"];

/// Renders a histogram as a Prometheus family, or, with an empty `help`, as one labelled
/// series of a family the caller declared.
fn render_histogram(
    h: &Histogram,
    out: &mut Exposition,
    name: &str,
    help: &str,
    label: Option<(&str, &str)>,
) {
    if !help.is_empty() {
        out.family(name, "histogram", help);
    }
    let plain: Vec<(&str, &str)> = label.into_iter().collect();
    let bucket = format!("{name}_bucket");
    let bounds = DURATION_BUCKETS.iter().map(f64::to_string);
    let counts = h.buckets.iter().copied();
    for (le, count) in bounds
        .chain(["+Inf".to_string()])
        .zip(counts.chain([h.count]))
    {
        let mut labels = plain.clone();
        labels.push(("le", &le));
        out.sample(&bucket, &labels, count as f64);
    }
    out.sample(&format!("{name}_sum"), &plain, h.sum);
    out.sample(&format!("{name}_count"), &plain, h.count as f64);
}

/// What NACK containment did (see `controller::contain`).
#[derive(Debug, Default)]
struct Containment {
    enabled: bool,
    duration: Histogram,
    /// Investigations per outcome, in the order of `CONTAINMENT_OUTCOMES`.
    runs: [u64; CONTAINMENT_OUTCOMES.len()],
    checks: u64,
    quarantined: u64,
    quarantines: u64,
    releases: u64,
}

#[derive(Debug, Default)]
struct Inner {
    translation: Mutex<Histogram>,
    /// Time per stage of the way from an input change to the proxies (see `crate::timing`).
    stages: Mutex<BTreeMap<&'static str, Histogram>>,
    /// What the last translation took over from the one before.
    reused: Mutex<crate::translate::Reused>,
    routes: AtomicU64,
    gateways: AtomicU64,
    translation_errors: AtomicU64,
    containment: Mutex<Containment>,
    /// The status writer's own counters, when there is a writer (Kubernetes provider).
    status: OnceLock<Arc<StatusMetrics>>,
    /// Objects the Kubernetes provider's watches could not decode.
    decode_errors: OnceLock<Arc<DecodeErrors>>,
}

/// What the controller records about its own work. Clones share the counters.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// One translation: how long it took and how big its output was.
    pub fn record_translation(&self, duration: Duration, routes: usize, gateways: usize) {
        self.inner
            .translation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(duration);
        self.inner.routes.store(routes as u64, Ordering::Relaxed);
        self.inner
            .gateways
            .store(gateways as u64, Ordering::Relaxed);
    }

    /// One pass of a stage between an input change and the proxies: `provider` (noticing
    /// and reading the change), `queue` (waiting for the previous translation), `prepare`,
    /// `translate`, `snapshot` (packing and handing the result to the xDS cache), `publish`
    /// (statuses and admin views).
    pub fn record_stage(&self, stage: &'static str, duration: Duration) {
        self.inner
            .stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(stage)
            .or_default()
            .observe(duration);
    }

    /// What the last translation took over from the one before, and what it built.
    pub fn record_reuse(&self, reused: crate::translate::Reused) {
        *self.inner.reused.lock().unwrap_or_else(|e| e.into_inner()) = reused;
    }

    /// A translation that could not produce configuration for some object.
    pub fn record_translation_error(&self) {
        self.inner
            .translation_errors
            .fetch_add(1, Ordering::Relaxed);
    }

    fn containment(&self) -> std::sync::MutexGuard<'_, Containment> {
        self.inner
            .containment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Whether NACK containment has an Envoy to judge configurations with.
    pub fn set_containment_enabled(&self, enabled: bool) {
        self.containment().enabled = enabled;
    }

    /// One investigation of a rejected configuration: how long it took, how many
    /// configurations Envoy checked, and its outcome (`Outcome::label`).
    pub fn record_containment(&self, duration: Duration, checks: usize, outcome: &str) {
        let mut c = self.containment();
        c.duration.observe(duration);
        c.checks += checks as u64;
        if let Some(i) = CONTAINMENT_OUTCOMES.iter().position(|o| *o == outcome) {
            c.runs[i] += 1;
        }
    }

    /// Objects that entered and left quarantine, and how many are in it now.
    pub fn record_quarantine(&self, added: usize, released: usize, now: usize) {
        let mut c = self.containment();
        c.quarantines += added as u64;
        c.releases += released as u64;
        c.quarantined = now as u64;
    }

    /// Publish the status writer's counters with the rest.
    pub fn attach_status(&self, status: Arc<StatusMetrics>) {
        let _ = self.inner.status.set(status);
    }

    /// Counts the objects the Kubernetes provider could not decode.
    pub fn attach_decode_errors(&self, errors: Arc<DecodeErrors>) {
        let _ = self.inner.decode_errors.set(errors);
    }

    /// The whole exposition: these counters and the xDS state of every node.
    pub fn render(&self, cache: &SnapshotCache) -> String {
        let mut out = Exposition::default();
        self.render_translation(&mut out);
        self.render_stages(&mut out, cache);
        self.render_containment(&mut out);
        render_xds(&mut out, cache);
        out.text
    }

    fn render_translation(&self, out: &mut Exposition) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        render_histogram(
            &self
                .inner
                .translation
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            out,
            "gatesim_translation_duration_seconds",
            "Time taken by one translation.",
            None,
        );
        let i = &self.inner;
        out.single(
            "gatesim_translation_routes",
            "gauge",
            "Routes in the last translation.",
            load(&i.routes),
        );
        out.single(
            "gatesim_translation_gateways",
            "gauge",
            "Gateways in the last translation.",
            load(&i.gateways),
        );
        out.single(
            "gatesim_translation_errors_total",
            "counter",
            "Translation errors.",
            load(&i.translation_errors),
        );
        if let Some(errors) = i.decode_errors.get() {
            out.single(
                "gatesim_watch_decode_errors_total",
                "counter",
                "Watched objects skipped because they could not be decoded.",
                errors.failures() as f64,
            );
        }
        if let Some(status) = i.status.get() {
            let c = status.counts();
            let rows: [(&str, &str, u64); 5] = [
                (
                    "gatesim_status_writes_total",
                    "Status patches written.",
                    c.written,
                ),
                (
                    "gatesim_status_unchanged_total",
                    "Status updates that needed no write.",
                    c.unchanged,
                ),
                (
                    "gatesim_status_gone_total",
                    "Status updates for objects that no longer exist.",
                    c.gone,
                ),
                (
                    "gatesim_status_retries_total",
                    "Status writes retried after a conflict or error.",
                    c.retried,
                ),
                (
                    "gatesim_status_write_errors_total",
                    "Status writes that failed for good.",
                    c.failed,
                ),
            ];
            for (name, help, value) in rows {
                out.single(name, "counter", help, value as f64);
            }
        }
    }
}

impl Metrics {
    /// The controller's stages, then the proxies' own (`apply`: from a snapshot set in the
    /// cache to its proxy having ACKed all of it).
    fn render_stages(&self, out: &mut Exposition, cache: &SnapshotCache) {
        let name = "gatesim_stage_duration_seconds";
        out.family(
            name,
            "histogram",
            "Time per stage from an input change to the proxies serving it.",
        );
        let stages = self.inner.stages.lock().unwrap_or_else(|e| e.into_inner());
        for (stage, h) in stages.iter() {
            render_histogram(h, out, name, "", Some(("stage", stage)));
        }
        render_histogram(&cache.rollouts(), out, name, "", Some(("stage", "apply")));
        let r = *self.inner.reused.lock().unwrap_or_else(|e| e.into_inner());
        let name = "gatesim_translation_parts";
        out.family(
            name,
            "gauge",
            "Parts of the last translation taken over from the one before, or built.",
        );
        for (part, taken, built) in [
            ("routes", r.routes, r.routes_built),
            ("proxies", r.proxies, r.proxies_built),
            ("virtual_hosts", r.virtual_hosts, r.virtual_hosts_built),
            ("route_statuses", r.route_statuses, r.route_statuses_built),
        ] {
            out.sample(name, &[("part", part), ("how", "taken")], taken as f64);
            out.sample(name, &[("part", part), ("how", "built")], built as f64);
        }
    }

    fn render_containment(&self, out: &mut Exposition) {
        let c = self.containment();
        out.single(
            "gatesim_containment_enabled",
            "gauge",
            "1 when a rejected configuration is bisected to quarantine the objects behind it.",
            f64::from(u8::from(c.enabled)),
        );
        render_histogram(
            &c.duration,
            out,
            "gatesim_containment_duration_seconds",
            "Time taken by one investigation of a configuration a proxy rejected.",
            None,
        );
        let name = "gatesim_containment_runs_total";
        out.family(
            name,
            "counter",
            "Investigations of rejected configurations, by outcome.",
        );
        for (outcome, runs) in CONTAINMENT_OUTCOMES.iter().zip(c.runs) {
            out.sample(name, &[("outcome", outcome)], runs as f64);
        }
        let rows: [(&str, &str, &str, u64); 4] = [
            (
                "gatesim_containment_checks_total",
                "counter",
                "Configurations Envoy checked offline during investigations.",
                c.checks,
            ),
            (
                "gatesim_quarantined_objects",
                "gauge",
                "Objects left out of every Gateway because Envoy rejected them.",
                c.quarantined,
            ),
            (
                "gatesim_quarantines_total",
                "counter",
                "Objects put in quarantine.",
                c.quarantines,
            ),
            (
                "gatesim_quarantine_releases_total",
                "counter",
                "Objects released from quarantine (changed or deleted).",
                c.releases,
            ),
        ];
        for (name, kind, help, value) in rows {
            out.single(name, kind, help, value as f64);
        }
    }
}

fn render_xds(out: &mut Exposition, cache: &SnapshotCache) {
    let nodes = cache.nodes();
    out.single(
        "gatesim_xds_snapshots_set_total",
        "counter",
        "Snapshots handed to the xDS cache, changed or not.",
        cache.snapshots_set() as f64,
    );
    type Get = fn(&NodeStatus) -> Option<f64>;
    let per_node: [(&str, &str, &str, Get); 3] = [
        (
            "gatesim_xds_connected_streams",
            "gauge",
            "Connected ADS streams.",
            |n| Some(n.streams as f64),
        ),
        (
            "gatesim_xds_acked_revision",
            "gauge",
            "Highest input revision ACKed in full.",
            |n| n.acked_revision.map(|r| r as f64),
        ),
        (
            "gatesim_xds_snapshot_revision",
            "gauge",
            "Input revision of the current snapshot.",
            |n| n.snapshot_revision.map(|r| r as f64),
        ),
    ];
    for (name, kind, help, get) in per_node {
        out.family(name, kind, help);
        for n in &nodes {
            if let Some(v) = get(n) {
                out.sample(name, &[("node", &n.node_id)], v);
            }
        }
    }
    type Count = fn(&crate::xds::TypeStatus) -> u64;
    let per_type: [(&str, &str, Count); 3] = [
        ("gatesim_xds_pushes_total", "xDS responses sent.", |t| {
            t.pushes
        }),
        (
            "gatesim_xds_acks_total",
            "xDS responses Envoy accepted.",
            |t| t.acks,
        ),
        (
            "gatesim_xds_nacks_total",
            "xDS responses Envoy rejected.",
            |t| t.nacks,
        ),
    ];
    for (name, help, get) in per_type {
        out.family(name, "counter", help);
        for n in &nodes {
            for (ty, t) in &n.types {
                out.sample(name, &[("node", &n.node_id), ("type", ty)], get(t) as f64);
            }
        }
    }
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.record_translation(Duration::from_micros(700), 3, 1);
        m.record_translation(Duration::from_millis(30), 5, 2);
        m.record_translation_error();
        let status = Arc::new(StatusMetrics::default());
        status.written.store(1, Ordering::Relaxed);
        m.attach_status(status);
        let text = m.render(&SnapshotCache::new());
        assert!(
            text.contains("gatesim_translation_duration_seconds_bucket{le=\"0.0005\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("gatesim_translation_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("gatesim_translation_duration_seconds_bucket{le=\"0.05\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gatesim_translation_duration_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gatesim_translation_duration_seconds_count 2\n"),
            "{text}"
        );
        assert!(text.contains("gatesim_translation_routes 5\n"), "{text}");
        assert!(text.contains("gatesim_translation_gateways 2\n"), "{text}");
        assert!(
            text.contains("gatesim_translation_errors_total 1\n"),
            "{text}"
        );
        assert!(text.contains("gatesim_status_writes_total 1\n"), "{text}");
    }

    #[test]
    fn stages_are_one_labelled_family() {
        let m = Metrics::new();
        m.record_stage("translate", Duration::from_millis(2));
        m.record_stage("provider", Duration::from_micros(80));
        let text = m.render(&SnapshotCache::new());
        assert_eq!(
            text.matches("# TYPE gatesim_stage_duration_seconds histogram")
                .count(),
            1,
            "{text}"
        );
        for line in [
            "gatesim_stage_duration_seconds_bucket{stage=\"translate\",le=\"0.001\"} 0\n",
            "gatesim_stage_duration_seconds_bucket{stage=\"translate\",le=\"0.0025\"} 1\n",
            "gatesim_stage_duration_seconds_bucket{stage=\"provider\",le=\"0.0001\"} 1\n",
            "gatesim_stage_duration_seconds_count{stage=\"translate\"} 1\n",
            "gatesim_stage_duration_seconds_count{stage=\"apply\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn containment_is_counted() {
        let m = Metrics::new();
        let text = m.render(&SnapshotCache::new());
        assert!(text.contains("gatesim_containment_enabled 0\n"), "{text}");
        m.set_containment_enabled(true);
        m.record_containment(Duration::from_millis(300), 7, "quarantined");
        m.record_containment(Duration::from_millis(80), 2, "gateway_fault");
        m.record_quarantine(2, 0, 2);
        m.record_quarantine(0, 1, 1);
        let text = m.render(&SnapshotCache::new());
        for line in [
            "gatesim_containment_enabled 1\n",
            "gatesim_containment_duration_seconds_bucket{le=\"0.1\"} 1\n",
            "gatesim_containment_duration_seconds_bucket{le=\"0.5\"} 2\n",
            "gatesim_containment_duration_seconds_count 2\n",
            "gatesim_containment_runs_total{outcome=\"quarantined\"} 1\n",
            "gatesim_containment_runs_total{outcome=\"gateway_fault\"} 1\n",
            "gatesim_containment_runs_total{outcome=\"failed\"} 0\n",
            "gatesim_containment_checks_total 9\n",
            "gatesim_quarantined_objects 1\n",
            "gatesim_quarantines_total 2\n",
            "gatesim_quarantine_releases_total 1\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
