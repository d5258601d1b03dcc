//! Semantic checks of the traffic steps (`expect-http`, `expect-weights`, `expect-access-log`):
//! what the schema cannot say, each error at the node it is about.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use super::access_log::{ExpectAccessLog, SCENARIO_DIR};
use super::doc::Doc;
use super::error::YamlPath;
use super::expect::{Burst, ExpectHttp, ExpectWeights, HttpCase, HttpRequest, Protocol, Scheme};
use super::validate::{Catalog, Checked, non_empty};

/// Largest generated body: enough for any buffer limit a scenario tests.
const MAX_BODY_SIZE: usize = 64 << 20;
/// Most requests one burst sends.
const MAX_BURST: u32 = 1000;

fn check_request(
    doc: Doc<'_>,
    at: &YamlPath,
    request: &HttpRequest,
    catalog: &Catalog<'_>,
) -> Checked {
    if !request.path.starts_with('/') {
        return Err(doc.error(
            &at.key("path"),
            format!("a request path starts with `/`, got `{}`", request.path),
        ));
    }
    if request.scheme != Scheme::Https {
        for (field, set) in [
            ("sni", request.sni.is_some()),
            ("trust", request.trust.is_some()),
        ] {
            if set {
                return Err(doc.error(
                    &at.key(field),
                    format!("`{field}` applies to HTTPS only; add `scheme: https`"),
                ));
            }
        }
    }
    if request.scheme == Scheme::Https && request.protocol == Protocol::H2c {
        return Err(doc.error(
            &at.key("protocol"),
            "h2c is cleartext HTTP/2 and cannot be used with `scheme: https`",
        ));
    }
    if let Some(trust) = &request.trust
        && catalog.certificates_named(trust).is_empty()
    {
        return Err(doc.error(
            &at.key("trust"),
            format!("no TestCertificate `{trust}` in this scenario or its base"),
        ));
    }
    if let Some(size) = request.body_size {
        if request.body.is_some() {
            return Err(doc.error(&at.key("bodySize"), "give `body` or `bodySize`, not both"));
        }
        if size == 0 || size > MAX_BODY_SIZE {
            return Err(doc.error(
                &at.key("bodySize"),
                format!("`bodySize` is from 1 to {MAX_BODY_SIZE} bytes, got {size}"),
            ));
        }
    }
    if request.upgrade.is_some() {
        if request.protocol != Protocol::Http1 {
            return Err(doc.error(
                &at.key("upgrade"),
                "the probe upgrades HTTP/1.1 connections only; leave `protocol` at http1",
            ));
        }
        if request.body.is_some() || request.body_size.is_some() {
            return Err(doc.error(&at.key("upgrade"), "an upgrade request carries no body"));
        }
    }
    Ok(())
}

pub(super) fn check_http(
    doc: Doc<'_>,
    at: &YamlPath,
    http: &ExpectHttp,
    catalog: &Catalog<'_>,
) -> Checked {
    non_empty(doc, &at.key("cases"), &http.cases, "case")?;
    if http.consecutive == Some(0) {
        return Err(doc.error(&at.key("consecutive"), "`consecutive` must be at least 1"));
    }
    for (i, case) in http.cases.iter().enumerate() {
        check_case(doc, &at.key("cases").index(i), case, catalog)?;
    }
    Ok(())
}

fn check_status_code(doc: Doc<'_>, at: &YamlPath, code: u16) -> Checked {
    if (100..=599).contains(&code) {
        Ok(())
    } else {
        Err(doc.error(at, format!("{code} is not an HTTP status code")))
    }
}

fn check_case(doc: Doc<'_>, at: &YamlPath, case: &HttpCase, catalog: &Catalog<'_>) -> Checked {
    check_request(doc, &at.key("request"), &case.request, catalog)?;
    let response = at.key("response");
    if case.response.status.is_some() && case.response.statuses.is_some() {
        return Err(doc.error(
            &response.key("statuses"),
            "give `status` or `statuses`, not both",
        ));
    }
    if case.response.statuses.as_ref().is_some_and(Vec::is_empty) {
        return Err(doc.error(&response.key("statuses"), "list at least one status"));
    }
    let codes = case.statuses();
    let field = if case.response.statuses.is_some() {
        "statuses"
    } else {
        "status"
    };
    for code in &codes {
        check_status_code(doc, &response.key(field), *code)?;
    }
    if case.redirect.is_some() && !codes.iter().any(|c| (300..=399).contains(c)) {
        return Err(doc.error(
            &at.key("redirect"),
            "`redirect` is checked on 3xx replies; expect a 3xx status",
        ));
    }
    if let (Some(min), Some(max)) = (case.response.min_latency, case.response.max_latency)
        && max < min
    {
        return Err(doc.error(
            &response.key("maxLatency"),
            format!(
                "`maxLatency` ({:?}) is below `minLatency` ({:?})",
                max.0, min.0
            ),
        ));
    }
    if case.expects_no_backend() {
        for (field, set) in [
            ("namespace", case.namespace.is_some()),
            ("expectedRequest", case.expected_request.is_some()),
        ] {
            if set {
                return Err(doc.error(
                    &at.key(field),
                    format!(
                        "`backend: none` says no backend answers, so there is no `{field}` to check"
                    ),
                ));
            }
        }
    }
    if let Some(burst) = &case.burst {
        if case.request.upgrade.is_some() {
            return Err(doc.error(
                &at.key("burst"),
                "a burst sends plain requests; it cannot be combined with `upgrade`",
            ));
        }
        check_burst(doc, &at.key("burst"), burst)?;
    }
    Ok(())
}

fn check_burst(doc: Doc<'_>, at: &YamlPath, burst: &Burst) -> Checked {
    if burst.requests == 0 || burst.requests > MAX_BURST {
        return Err(doc.error(
            &at.key("requests"),
            format!(
                "a burst sends from 1 to {MAX_BURST} requests, got {}",
                burst.requests
            ),
        ));
    }
    if burst.concurrent && burst.statuses.is_some() {
        return Err(doc.error(
            &at.key("statuses"),
            "concurrent replies have no order: give `maxPassing` (with optional `minPassing` and \
             `then`) instead of `statuses`",
        ));
    }
    match (&burst.statuses, burst.max_passing) {
        (Some(_), Some(_)) | (None, None) => Err(doc.error(
            at,
            "give the exact `statuses` of the burst or `maxPassing` (with optional `minPassing` \
             and `then`), one of the two",
        )),
        (Some(statuses), None) => {
            if statuses.len() != burst.requests as usize {
                return Err(doc.error(
                    &at.key("statuses"),
                    format!(
                        "`statuses` lists {} statuses for {} requests",
                        statuses.len(),
                        burst.requests
                    ),
                ));
            }
            for (field, set) in [
                ("minPassing", burst.min_passing.is_some()),
                ("then", burst.then.is_some()),
            ] {
                if set {
                    return Err(doc.error(
                        &at.key(field),
                        format!("`{field}` goes with `maxPassing`, not with `statuses`"),
                    ));
                }
            }
            for (i, code) in statuses.iter().enumerate() {
                check_status_code(doc, &at.key("statuses").index(i), *code)?;
            }
            Ok(())
        }
        (None, Some(max)) => {
            if max >= burst.requests {
                return Err(doc.error(
                    &at.key("maxPassing"),
                    format!(
                        "`maxPassing` ({max}) must be below `requests` ({}), or no reply would \
                         have to be limited",
                        burst.requests
                    ),
                ));
            }
            if let Some(min) = burst.min_passing
                && min > max
            {
                return Err(doc.error(
                    &at.key("minPassing"),
                    format!("`minPassing` ({min}) is above `maxPassing` ({max})"),
                ));
            }
            if let Some(then) = burst.then {
                check_status_code(doc, &at.key("then"), then)?;
            }
            Ok(())
        }
    }
}

fn check_shares<K: std::fmt::Display>(
    doc: Doc<'_>,
    at: &YamlPath,
    shares: &BTreeMap<K, f64>,
) -> Checked {
    for (key, share) in shares {
        if !(0.0..=1.0).contains(share) {
            return Err(doc.error(
                &at.key(&key.to_string()),
                format!("a share is between 0 and 1, got {share}"),
            ));
        }
    }
    let total: f64 = shares.values().sum();
    if (total - 1.0).abs() > 1e-6 {
        let shown = (total * 1e6).round() / 1e6;
        return Err(doc.error(
            at,
            format!("the shares must add up to 1, they add up to {shown}"),
        ));
    }
    Ok(())
}

pub(super) fn check_weights(
    doc: Doc<'_>,
    at: &YamlPath,
    weights: &ExpectWeights,
    catalog: &Catalog<'_>,
) -> Checked {
    check_request(doc, &at.key("request"), &weights.request, catalog)?;
    if weights.distribution.is_empty() && weights.statuses.is_empty() {
        return Err(doc.error(
            at,
            "list at least one backend in `distribution` or one status in `statuses`",
        ));
    }
    if !weights.distribution.is_empty() {
        check_shares(doc, &at.key("distribution"), &weights.distribution)?;
    }
    if !weights.statuses.is_empty() {
        check_shares(doc, &at.key("statuses"), &weights.statuses)?;
    }
    for (field, value) in [("samples", weights.samples), ("attempts", weights.attempts)] {
        if value == Some(0) {
            return Err(doc.error(&at.key(field), format!("`{field}` must be at least 1")));
        }
    }
    if let Some(tolerance) = weights.tolerance
        && !(tolerance > 0.0 && tolerance < 1.0)
    {
        return Err(doc.error(
            &at.key("tolerance"),
            format!("a tolerance is between 0 and 1, got {tolerance}"),
        ));
    }
    Ok(())
}

pub(super) fn check_access_log(doc: Doc<'_>, at: &YamlPath, log: &ExpectAccessLog) -> Checked {
    let file = Path::new(&log.file);
    let inside = !log.file.is_empty()
        && !log.file.contains(SCENARIO_DIR)
        && file
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(doc.error(
            &at.key("file"),
            format!(
                "`file` is a path relative to the scenario directory ({SCENARIO_DIR}), without \
                 `..`, got `{}`",
                log.file
            ),
        ));
    }
    non_empty(doc, &at.key("lines"), &log.lines, "line")?;
    for (i, line) in log.lines.iter().enumerate() {
        let here = at.key("lines").index(i);
        match (&line.contains, &line.json) {
            (None, None) => {
                return Err(doc.error(&here, "a line entry needs `contains` or `json` (or both)"));
            }
            (_, Some(fields)) if fields.is_empty() => {
                return Err(doc.error(&here.key("json"), "list at least one field"));
            }
            _ => {}
        }
    }
    Ok(())
}
