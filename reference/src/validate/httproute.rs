//! HTTPRoute: hostnames, parent references, and rules with their matches, filters, backends,
//! timeouts, retries and session persistence.

use super::durations;
use super::filters::{self, Needs};
use super::headers;
use super::hostnames::hostname;
use super::names;
use super::path::{Checker, FieldError};
use super::paths;
use super::refs;
use super::regex;
use crate::api::GATEWAY_GROUP;
use crate::api::HttpRoute;
use crate::api::httproutes::{
    HttpRouteParentRefs, HttpRouteRules, HttpRouteRulesFilters, HttpRouteRulesMatches,
    HttpRouteRulesMatchesHeadersType as HeaderType, HttpRouteRulesMatchesPathType as PathType,
    HttpRouteRulesMatchesQueryParamsType as QueryType,
    HttpRouteRulesSessionPersistenceCookieConfigLifetimeType as Lifetime,
    HttpRouteRulesSessionPersistenceType as PersistenceType,
};

pub fn http_route(route: &HttpRoute) -> Vec<FieldError> {
    let mut c = Checker::new();
    let spec = &route.spec;
    c.field("spec", |c| {
        c.list("hostnames", spec.hostnames.as_deref(), 16, |c, _, h| {
            c.check(hostname(h, true))
        });
        parent_refs(c, spec.parent_refs.as_deref().unwrap_or(&[]));
        if let Some(rules) = &spec.rules {
            c.field("rules", |c| {
                c.min_items(rules.len(), 1);
                // A rule without matches gets one by default.
                let matches: usize = rules
                    .iter()
                    .map(|r| r.matches.as_ref().map_or(1, Vec::len))
                    .sum();
                if matches > 128 {
                    c.fail(format!(
                        "the rules have {matches} matches in total; at most 128 are allowed"
                    ));
                }
            });
            c.list("rules", Some(rules), 16, |c, _, r| rule(c, r));
            for (i, r) in rules.iter().enumerate() {
                let Some(name) = &r.name else { continue };
                if rules[..i].iter().any(|o| o.name.as_ref() == Some(name)) {
                    c.field("rules", |c| {
                        c.index(i, |c| {
                            c.field("name", |c| {
                                c.fail(format!("rule name {name:?} is used by an earlier rule"))
                            })
                        })
                    });
                }
            }
        }
    });
    c.finish()
}

fn parent_refs(c: &mut Checker, parents: &[HttpRouteParentRefs]) {
    c.list("parentRefs", Some(parents), 32, |c, _, p| {
        refs::reference(c, p.into());
        if let Some(s) = &p.section_name {
            c.value("sectionName", names::subdomain(s));
        }
    });
    // References to the same parent must all say which part of it they mean, each a
    // different one.
    for (i, p) in parents.iter().enumerate() {
        let earlier = parents[..i].iter().enumerate().rev();
        for (j, q) in earlier.filter(|(_, q)| parent(q) == parent(p)) {
            let message = if section(p).is_some() != section(q).is_some()
                || port(p).is_some() != port(q).is_some()
            {
                format!(
                    "refers to the same parent as parentRefs[{j}]; both must set sectionName or \
                     port alike"
                )
            } else if section(p) == section(q) && port(p) == port(q) {
                format!("refers to the same parent, section and port as parentRefs[{j}]")
            } else {
                continue;
            };
            c.field("parentRefs", |c| c.index(i, |c| c.fail(message)));
            break;
        }
    }
}

/// The parent a reference names, with the API's defaults.
fn parent(p: &HttpRouteParentRefs) -> (&str, &str, &str, &str) {
    (
        p.group.as_deref().unwrap_or(GATEWAY_GROUP),
        p.kind.as_deref().unwrap_or("Gateway"),
        p.name.as_str(),
        p.namespace.as_deref().unwrap_or(""),
    )
}

fn section(p: &HttpRouteParentRefs) -> Option<&str> {
    p.section_name.as_deref().filter(|s| !s.is_empty())
}

fn port(p: &HttpRouteParentRefs) -> Option<i32> {
    p.port.filter(|&n| n != 0)
}

fn rule(c: &mut Checker, r: &HttpRouteRules) {
    if let Some(n) = &r.name {
        c.value("name", names::subdomain(n));
    }
    c.list("matches", r.matches.as_deref(), 64, |c, _, m| matches(c, m));
    let needs = match &r.filters {
        Some(f) => filters::list(c, "filters", f),
        None => Needs::default(),
    };
    let backends = r.backend_refs.as_deref().unwrap_or(&[]);
    let mut backend_needs = Vec::new();
    c.list("backendRefs", r.backend_refs.as_deref(), 16, |c, i, b| {
        refs::backend(c, b.into());
        if let Some(w) = b.weight {
            c.field("weight", |c| c.range(w.into(), 0, 1_000_000));
        }
        if let Some(fs) = &b.filters {
            // Backend filters share the rule filters' schema; one reader checks both.
            let read: Result<Vec<HttpRouteRulesFilters>, _> = fs
                .iter()
                .map(|f| serde_json::to_value(f).and_then(serde_json::from_value))
                .collect();
            match read {
                Ok(fs) => backend_needs.push((i, filters::list(c, "filters", &fs))),
                Err(e) => c.field("filters", |c| c.fail(format!("cannot be read: {e}"))),
            }
        }
    });
    if needs.redirect && !backends.is_empty() {
        c.field("filters", |c| {
            c.fail("a RequestRedirect filter cannot be used together with backendRefs")
        });
    }
    // ReplacePrefixMatch rewrites the part of the path a PathPrefix match matched, so the rule
    // must have exactly that one match (a rule without matches has the default `/` prefix).
    let single_prefix = match r.matches.as_deref() {
        None => true,
        Some([m]) => m
            .path
            .as_ref()
            .is_none_or(|p| matches!(p.r#type, None | Some(PathType::PathPrefix))),
        Some(_) => false,
    };
    if !single_prefix {
        let message = "ReplacePrefixMatch needs the rule to have exactly one match, of type \
                       PathPrefix";
        if needs.prefix_match {
            c.field("filters", |c| c.fail(message));
        }
        for (i, n) in &backend_needs {
            if n.prefix_match {
                c.field("backendRefs", |c| {
                    c.index(*i, |c| c.field("filters", |c| c.fail(message)))
                });
            }
        }
    }
    if let Some(t) = &r.timeouts {
        c.field("timeouts", |c| {
            let ms = |name: &'static str, v: Option<&String>, c: &mut Checker| {
                let v = v?;
                let parsed = durations::parse(v);
                c.value(name, parsed.clone().map(|_| ()));
                parsed.ok()
            };
            let request = ms("request", t.request.as_ref(), c);
            let backend = ms("backendRequest", t.backend_request.as_ref(), c);
            if let (Some(req), Some(be)) = (request, backend)
                && req != 0
                && be > req
            {
                c.field("backendRequest", |c| {
                    c.fail("must not be longer than the request timeout")
                });
            }
        });
    }
    if let Some(retry) = &r.retry {
        c.field("retry", |c| {
            if let Some(b) = &retry.backoff {
                c.value("backoff", durations::parse(b).map(|_| ()));
            }
            c.list(
                "codes",
                retry.codes.as_deref(),
                usize::MAX,
                |c, _, &code| c.range(code, 400, 599),
            );
        });
    }
    if let Some(s) = &r.session_persistence {
        c.field("sessionPersistence", |c| {
            for (name, v) in [
                ("absoluteTimeout", &s.absolute_timeout),
                ("idleTimeout", &s.idle_timeout),
            ] {
                if let Some(v) = v {
                    c.value(name, durations::parse(v).map(|_| ()));
                }
            }
            if let Some(n) = &s.session_name {
                c.field("sessionName", |c| {
                    c.length(n, 0, 128);
                });
            }
            let cookie = matches!(s.r#type, None | Some(PersistenceType::Cookie));
            if let Some(cfg) = &s.cookie_config {
                if !cookie {
                    c.field("cookieConfig", |c| {
                        c.fail("can only be set with type Cookie")
                    });
                }
                if matches!(cfg.lifetime_type, Some(Lifetime::Permanent))
                    && s.absolute_timeout.is_none()
                {
                    c.field("absoluteTimeout", |c| {
                        c.fail("is required when the cookie lifetimeType is Permanent")
                    });
                }
            }
        });
    }
}

fn matches(c: &mut Checker, m: &HttpRouteRulesMatches) {
    if let Some(p) = &m.path {
        let value = p.value.as_deref().unwrap_or("/");
        match p.r#type.as_ref().unwrap_or(&PathType::PathPrefix) {
            PathType::Exact | PathType::PathPrefix => {
                c.field("path", |c| c.value("value", paths::match_value(value)))
            }
            PathType::RegularExpression => c.field("path", |c| {
                c.field("value", |c| {
                    if c.length(value, 0, 1024) {
                        c.check(regex::check(value));
                    }
                })
            }),
        }
    }
    let headers = m.headers.as_deref();
    c.list("headers", headers, 16, |c, _, h| {
        c.value("name", headers::name(&h.name));
        c.field("value", |c| {
            let shape = headers::value(&h.value);
            let regex = matches!(h.r#type, Some(HeaderType::RegularExpression));
            match (shape, regex) {
                (Err(why), _) => c.fail(why),
                (Ok(()), true) => c.check(regex::check(&h.value)),
                (Ok(()), false) => {}
            }
        });
    });
    c.unique(
        "headers",
        headers.unwrap_or(&[]).iter().map(|h| h.name.as_str()),
        "header",
    );
    let query = m.query_params.as_deref();
    c.list("queryParams", query, 16, |c, _, q| {
        c.value("name", headers::name(&q.name));
        c.field("value", |c| {
            if c.length(&q.value, 1, 1024) && matches!(q.r#type, Some(QueryType::RegularExpression))
            {
                c.check(regex::check(&q.value));
            }
        });
    });
    c.unique(
        "queryParams",
        query.unwrap_or(&[]).iter().map(|q| q.name.as_str()),
        "query parameter",
    );
}
