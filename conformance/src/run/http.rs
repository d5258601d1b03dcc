//! `expect-http` and `expect-weights`: the format's cases mapped onto the probe, sent to the
//! Gateway's address once the target says the configuration is in place (the ACK barrier on
//! `sim`), then repeated until consistent as upstream's `AwaitConvergence` does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::exec::{Execution, StepFailure};
use crate::probe::{
    self, BurstJudge, BurstSpec, Convergence, Expectation, ExpectedRedirect, ExpectedRequest,
    ProbeRequest, WeightSampling,
};
use crate::scenario::{
    Burst, ExpectHttp, ExpectWeights, GatewayRef, HttpCase, HttpRequest, Protocol, Scheme, Upgrade,
    defaults,
};
use crate::target::BarrierError;

/// How long a Gateway may take to get an address (upstream `GatewayMustHaveAddress`).
const ADDRESS_TIMEOUT: Duration = Duration::from_secs(180);

impl Execution<'_> {
    fn convergence(&self, consecutive: Option<u32>, within: Option<Duration>) -> Convergence {
        let settings = self.env.settings();
        Convergence {
            consecutive: consecutive
                .or(settings.consecutive)
                .unwrap_or(defaults::CONSECUTIVE),
            within: within.or(settings.within).unwrap_or(defaults::WITHIN),
            poll_interval: settings.poll_interval,
        }
    }

    /// The ACK barrier for one Gateway: a NACK fails the step at once; a barrier that does not
    /// lift in time is noted and the probes decide.
    async fn barrier(
        &self,
        gateway: &GatewayRef,
        bound: Duration,
    ) -> Result<Option<String>, StepFailure> {
        let began = Instant::now();
        let result = self
            .env
            .target()
            .await_acked(gateway, self.revision, bound)
            .await;
        tracing::debug!(%gateway, revision = self.revision, took = ?began.elapsed(), ok = result.is_ok(), "ACK barrier");
        match result {
            Ok(()) => Ok(None),
            Err(e @ BarrierError::Rejected { .. }) => Err(StepFailure {
                case: None,
                message: e.to_string(),
                related: self.related_status(Some(gateway)).await,
            }),
            Err(e @ BarrierError::Timeout { .. }) => Ok(Some(e.to_string())),
        }
    }

    /// Where to send a step's requests, once the Gateway's proxy holds every change made so
    /// far (or, failing that within `bound`, a note saying so for the failure text).
    async fn gateway_ready(
        &self,
        gateway: &GatewayRef,
        listener: Option<&str>,
        bound: Duration,
    ) -> Result<(SocketAddr, Option<String>), StepFailure> {
        let addr = self
            .env
            .target()
            .gateway_endpoint(gateway, listener, ADDRESS_TIMEOUT)
            .await
            .map_err(|e| StepFailure {
                case: None,
                message: e.to_string(),
                related: None,
            })?;
        let note = self.barrier(gateway, bound).await?;
        Ok((addr, note))
    }

    pub(super) async fn expect_http(&self, step: &ExpectHttp) -> Result<(), StepFailure> {
        let conv = self.convergence(step.consecutive, step.within.map(|t| t.0));
        let (addr, note) = self
            .gateway_ready(&step.gateway, step.listener.as_deref(), conv.within)
            .await?;
        let runs = step
            .cases
            .iter()
            .enumerate()
            .map(|(i, case)| async move { (i, self.run_case(addr, case, &conv).await) });
        for (i, result) in join_all(runs).await {
            if let Err(mut message) = result {
                if let Some(note) = &note {
                    message.push_str(&format!("\n(ACK barrier: {note})"));
                }
                return Err(StepFailure {
                    case: Some(step.cases[i].display_name(i)),
                    message,
                    related: self.related_status(Some(&step.gateway)).await,
                });
            }
        }
        Ok(())
    }

    async fn run_case(
        &self,
        addr: SocketAddr,
        case: &HttpCase,
        conv: &Convergence,
    ) -> Result<(), String> {
        let started = Instant::now();
        let req = self.probe_request(addr, &case.request)?;
        let exp = self.expectation(case);
        match &case.burst {
            None => {
                probe::await_consistent(&req, &exp, conv)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Some(burst) => {
                // A burst is one attempt as a whole: its sequence is the evidence, so one
                // matching burst is enough and a failed one is repeated only within the bound.
                let spec = burst_spec(burst);
                let once = Convergence {
                    consecutive: 1,
                    ..*conv
                };
                probe::await_convergence(&once, || probe::send_burst(&req, &exp, &spec))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        for mirror in &case.mirrored_to {
            self.await_mirror(
                &mirror.namespace,
                &mirror.backend,
                &case.request.path,
                started,
                conv,
            )
            .await?;
        }
        Ok(())
    }

    /// Mirrored copies arrive on their own schedule; wait for one within the bound.
    async fn await_mirror(
        &self,
        namespace: &str,
        backend: &str,
        path: &str,
        since: Instant,
        conv: &Convergence,
    ) -> Result<(), String> {
        let deadline = since + conv.within;
        loop {
            match self
                .env
                .target()
                .saw_request(namespace, backend, path, since)
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(format!("mirroredTo {namespace}/{backend}: {e}")),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "mirroredTo: expected backend {namespace}/{backend} to receive a copy of the \
                     request for {path:?} within {:?}, but none of its replicas saw one",
                    conv.within
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn probe_request(
        &self,
        addr: SocketAddr,
        request: &HttpRequest,
    ) -> Result<ProbeRequest, String> {
        let mut req = ProbeRequest::new(addr, request.path.clone());
        req.scheme = match request.scheme {
            Scheme::Http => probe::Scheme::Http,
            Scheme::Https => probe::Scheme::Https,
        };
        req.protocol = match request.protocol {
            Protocol::Http1 => probe::Protocol::Http1,
            Protocol::H2 => probe::Protocol::H2,
            Protocol::H2c => probe::Protocol::H2c,
        };
        req.host = request.host.clone();
        let offset = self.env.target().port_offset();
        if req.host.is_none() && offset != 0 {
            // Where listener ports are shifted, the Host header still names the listener's own
            // port, so Envoy sees (and redirects with) what a client of port 80 would send.
            let mut logical = ProbeRequest::new(
                std::net::SocketAddr::new(addr.ip(), addr.port().saturating_sub(offset)),
                "/",
            );
            logical.scheme = req.scheme;
            req.host = Some(logical.address_authority());
        }
        req.method = request.method().to_owned();
        req.headers = request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        req.body = match request.body_size {
            Some(size) => Some(vec![b'x'; size]),
            None => request.body.clone().map(String::into_bytes),
        };
        req.upgrade = request.upgrade.map(|u| match u {
            Upgrade::Websocket => probe::Upgrade::Websocket,
        });
        let has = |name: &str| request.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
        req.fresh_request_key = has("x-echo-fail-times") && !has("x-echo-request-key");
        req.sni = request.sni.clone();
        req.timeout = self.env.settings().request_timeout;
        if request.scheme == Scheme::Https {
            req.trust = self.trust(request.trust.as_deref())?;
        }
        Ok(req)
    }

    /// CA bundles to trust: the named TestCertificates, or every one of the run.
    fn trust(&self, named: Option<&str>) -> Result<Vec<String>, String> {
        let certs = self.env.certs();
        let Some(name) = named else {
            return Ok(certs.all_trust());
        };
        let pems: Vec<String> = self
            .scenario
            .trusted_certificates(name)
            .into_iter()
            .filter_map(|c| certs.get(&c.metadata.namespace, &c.metadata.name))
            .map(|c| c.ca_cert_pem.clone())
            .collect();
        if pems.is_empty() {
            return Err(format!(
                "trust: no generated TestCertificate named {name:?} in this run"
            ));
        }
        Ok(pems)
    }

    fn expectation(&self, case: &HttpCase) -> Expectation {
        let view = case.expected_request();
        let no_backend = case.expects_no_backend();
        Expectation {
            statuses: case.statuses(),
            request: Some(ExpectedRequest {
                host: view.host.map(str::to_owned),
                method: Some(view.method.to_owned()),
                path: Some(view.path.to_owned()),
                headers: view
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                absent_headers: view.absent_headers.to_vec(),
                protocol: view.protocol.map(str::to_owned),
                ..ExpectedRequest::default()
            }),
            backend: case.backend.clone().filter(|_| !no_backend),
            namespace: case.namespace.clone(),
            headers: case
                .response
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            absent_headers: case.response.absent_headers.clone(),
            body: case.response.body.clone(),
            body_contains: case.response.body_contains.clone(),
            redirect: case.redirect.as_ref().map(|r| ExpectedRedirect {
                scheme: r.scheme.clone(),
                host: r.host.clone(),
                port: r.port,
                path: r.path.clone(),
            }),
            protocol: None,
            min_latency: case.response.min_latency.map(|t| t.0),
            max_latency: case.response.max_latency.map(|t| t.0),
            no_backend,
        }
    }

    pub(super) async fn expect_weights(&self, step: &ExpectWeights) -> Result<(), StepFailure> {
        let conv = self.convergence(None, None);
        let (addr, note) = self
            .gateway_ready(&step.gateway, step.listener.as_deref(), conv.within)
            .await?;
        let req = self
            .probe_request(addr, &step.request)
            .map_err(|message| StepFailure {
                case: None,
                message,
                related: None,
            })?;
        let statuses: std::collections::BTreeMap<u16, f64> = step
            .statuses
            .iter()
            .map(|(code, share)| (code.0, *share))
            .collect();
        let sampling = WeightSampling {
            distribution: step.distribution.clone(),
            statuses: statuses.clone(),
            samples: step.samples() as usize,
            concurrency: 10,
            tolerance: step.tolerance(),
            attempts: step.attempts(),
        };
        // Every reply must have a listed status (200 when only backends are listed), and a 200
        // must be an echo reply, as upstream checks each sample.
        let check = Expectation {
            statuses: if statuses.is_empty() {
                vec![200]
            } else {
                statuses.keys().copied().collect()
            },
            ..Expectation::default()
        };
        match probe::sample_weights(&req, &check, &sampling).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let mut message = e.to_string();
                if let Some(note) = note {
                    message.push_str(&format!("\n(ACK barrier: {note})"));
                }
                Err(StepFailure {
                    case: None,
                    message,
                    related: self.related_status(Some(&step.gateway)).await,
                })
            }
        }
    }
}

fn burst_spec(burst: &Burst) -> BurstSpec {
    let judge = match (&burst.statuses, burst.max_passing) {
        (Some(statuses), _) => BurstJudge::Sequence(statuses.clone()),
        (None, max) => BurstJudge::Passing {
            min: burst.min_passing.unwrap_or(defaults::BURST_MIN_PASSING),
            max: max.unwrap_or_default(),
            then: burst.then.unwrap_or(defaults::BURST_THEN),
        },
    };
    BurstSpec {
        requests: burst.requests,
        judge,
        concurrent: burst.concurrent,
    }
}
