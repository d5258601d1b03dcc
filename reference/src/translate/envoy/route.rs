//! Route entries for HTTPRoute rules.

use envoy_types::pb::envoy::config::core::v3::{DataSource, RuntimeFractionalPercent, data_source};
use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, HeaderMatcher, QueryParameterMatcher, RedirectAction, RetryPolicy, Route,
    RouteAction, RouteMatch, WeightedCluster, header_matcher::HeaderMatchSpecifier,
    query_parameter_matcher::QueryParameterMatchSpecifier, redirect_action, route, route_action,
    route_match::PathSpecifier, weighted_cluster,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    RegexMatchAndSubstitute, RegexMatcher, StringMatcher, string_matcher::MatchPattern,
};
use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, fractional_percent::DenominatorType};

use super::{header, millis, options, u32v};
use crate::translate::routes::http::{
    DirectIr, HeaderMods, HttpMatchIr, HttpRuleIr, PathMatch, PathModifier, Redirect, RuleAction,
    ValueMatch, WeightedBackend,
};

/// What a route needs to know about the listener it is served on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListenerCtx {
    pub port: i32,
    pub scheme: &'static str,
}

/// Append the Envoy routes for one (rule, match) pair to `out`: usually one; two when part of
/// the rule's weight belongs to invalid backends, whose share is answered with 500 by a first
/// route that takes exactly that fraction of requests. (Appending in place matters: a `Route`
/// is a large value, and translating thousands of them is mostly moving memory otherwise.)
pub(crate) fn routes(
    out: &mut Vec<Route>,
    name: &str,
    rule: &HttpRuleIr,
    m: &HttpMatchIr,
    ctx: ListenerCtx,
) {
    let base = Route {
        name: name.to_string(),
        r#match: Some(route_match(m)),
        ..Default::default()
    };
    let action = match &rule.action {
        RuleAction::Redirect(r) => route::Action::Redirect(redirect(r, m, ctx)),
        RuleAction::Direct(d) => route::Action::DirectResponse(direct(d)),
        RuleAction::Forward {
            backends,
            invalid_weight,
        } => {
            let valid: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
            if valid == 0 {
                route::Action::DirectResponse(internal_error())
            } else {
                if *invalid_weight > 0 {
                    let total = valid + u64::from(*invalid_weight);
                    let share = (u64::from(*invalid_weight) * 1_000_000 / total) as u32;
                    let mut failing = base.clone();
                    failing.name = format!("{name}/invalid-backends");
                    if let Some(rm) = failing.r#match.as_mut() {
                        rm.runtime_fraction = Some(RuntimeFractionalPercent {
                            default_value: Some(FractionalPercent {
                                numerator: share,
                                denominator: DenominatorType::Million as i32,
                            }),
                            runtime_key: String::new(),
                        });
                    }
                    failing.action = Some(route::Action::DirectResponse(internal_error()));
                    out.push(failing);
                }
                route::Action::Route(forward(rule, m, backends))
            }
        }
    };
    let mut r = base;
    apply_header_mods(&mut r, &rule.request_headers, &rule.response_headers);
    r.action = Some(action);
    if let Some(o) = &rule.options {
        options::apply_route(&mut r, o);
    }
    out.push(r);
}

fn internal_error() -> DirectResponseAction {
    direct(&DirectIr::internal_error())
}

fn direct(d: &DirectIr) -> DirectResponseAction {
    DirectResponseAction {
        status: d.status,
        body: d.body.as_ref().map(|b| DataSource {
            specifier: Some(data_source::Specifier::InlineString(b.clone())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn apply_header_mods(r: &mut Route, req: &HeaderMods, resp: &HeaderMods) {
    r.request_headers_to_add = header_options(req);
    r.request_headers_to_remove = req.remove.clone();
    r.response_headers_to_add = header_options(resp);
    r.response_headers_to_remove = resp.remove.clone();
}

fn header_options(
    m: &HeaderMods,
) -> Vec<envoy_types::pb::envoy::config::core::v3::HeaderValueOption> {
    m.set
        .iter()
        .map(|(n, v)| header(n, v, true))
        .chain(m.add.iter().map(|(n, v)| header(n, v, false)))
        .collect()
}

fn string_matcher(v: &ValueMatch) -> StringMatcher {
    StringMatcher {
        match_pattern: Some(match v {
            ValueMatch::Exact(s) => MatchPattern::Exact(s.clone()),
            ValueMatch::Regex(s) => MatchPattern::SafeRegex(regex(s)),
        }),
        ..Default::default()
    }
}

fn regex(s: &str) -> RegexMatcher {
    RegexMatcher {
        regex: s.to_string(),
        ..Default::default()
    }
}

fn route_match(m: &HttpMatchIr) -> RouteMatch {
    let path = match &m.path {
        PathMatch::Exact(p) => PathSpecifier::Path(p.clone()),
        PathMatch::Prefix(p) if p == "/" => PathSpecifier::Prefix("/".into()),
        // Element-wise: `/foo` matches `/foo` and `/foo/bar`, never `/foobar`.
        PathMatch::Prefix(p) => PathSpecifier::PathSeparatedPrefix(p.clone()),
        PathMatch::Regex(r) => PathSpecifier::SafeRegex(regex(r)),
    };
    let mut headers: Vec<HeaderMatcher> = m
        .headers
        .iter()
        .map(|(name, v)| HeaderMatcher {
            name: name.clone(),
            header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(string_matcher(v))),
            ..Default::default()
        })
        .collect();
    if let Some(method) = &m.method {
        headers.push(HeaderMatcher {
            name: ":method".into(),
            header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(string_matcher(
                &ValueMatch::Exact(method.clone()),
            ))),
            ..Default::default()
        });
    }
    RouteMatch {
        path_specifier: Some(path),
        headers,
        query_parameters: m
            .query
            .iter()
            .map(|(name, v)| QueryParameterMatcher {
                name: name.clone(),
                query_parameter_match_specifier: Some(QueryParameterMatchSpecifier::StringMatch(
                    string_matcher(v),
                )),
            })
            .collect(),
        ..Default::default()
    }
}

/// A path modifier as a regex substitution on the path (never the query string), so that both
/// full replacement and prefix replacement keep the query, and prefix replacement follows the
/// Gateway API's element-wise rules (`/foo` → `/` turns `/foo/bar` into `/bar`, not `//bar`).
fn path_rewrite(modifier: &PathModifier, m: &HttpMatchIr) -> Option<RegexMatchAndSubstitute> {
    let (pattern, substitution) = match modifier {
        PathModifier::Full(p) => ("^.*$".to_string(), p.clone()),
        PathModifier::Prefix(replacement) => {
            let prefix = match &m.path {
                PathMatch::Prefix(p) | PathMatch::Exact(p) => p.as_str(),
                // A prefix replacement needs a prefix match; the CRD rejects other combinations.
                PathMatch::Regex(_) => return None,
            };
            let replacement = replacement.trim_end_matches('/');
            let prefix = prefix.trim_end_matches('/');
            if replacement.is_empty() {
                // `/prefix`, `/prefix/`, `/prefix/rest` → `/`, `/`, `/rest`.
                (format!("^{}/*", regex::escape(prefix)), "/".to_string())
            } else if prefix.is_empty() {
                // Prefix `/`: `/rest` → `<replacement>/rest`.
                ("^/".to_string(), format!("{replacement}/"))
            } else {
                (
                    format!("^{}", regex::escape(prefix)),
                    replacement.to_string(),
                )
            }
        }
    };
    Some(RegexMatchAndSubstitute {
        pattern: Some(regex(&pattern)),
        substitution,
    })
}

fn forward(rule: &HttpRuleIr, m: &HttpMatchIr, backends: &[WeightedBackend]) -> RouteAction {
    // A Lambda function is configured on the weighted cluster that invokes it, which Envoy
    // consults before the route.
    let plain = backends.len() == 1
        && backends[0].request_headers.is_empty()
        && backends[0].response_headers.is_empty()
        && backends[0].lambda.is_none();
    let cluster_specifier = if plain {
        route_action::ClusterSpecifier::Cluster(backends[0].target.cluster.clone())
    } else {
        route_action::ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: backends
                .iter()
                .map(|b| {
                    let mut w = weighted_cluster::ClusterWeight {
                        name: b.target.cluster.clone(),
                        weight: Some(u32v(b.weight)),
                        request_headers_to_add: header_options(&b.request_headers),
                        request_headers_to_remove: b.request_headers.remove.clone(),
                        response_headers_to_add: header_options(&b.response_headers),
                        response_headers_to_remove: b.response_headers.remove.clone(),
                        ..Default::default()
                    };
                    if let Some(call) = &b.lambda {
                        super::lambda::per_route(&mut w.typed_per_filter_config, call);
                    }
                    w
                })
                .collect(),
            ..Default::default()
        })
    };
    let mut action = RouteAction {
        cluster_specifier: Some(cluster_specifier),
        ..Default::default()
    };
    if let Some(h) = &rule.rewrite.hostname {
        action.host_rewrite_specifier = Some(
            route_action::HostRewriteSpecifier::HostRewriteLiteral(h.clone()),
        );
    }
    if let Some(p) = &rule.rewrite.path {
        action.regex_rewrite = path_rewrite(p, m);
    }
    if let Some(ms) = rule.request_timeout_ms {
        action.timeout = Some(millis(ms));
    }
    if let Some(ms) = rule.backend_timeout_ms {
        action.retry_policy = Some(RetryPolicy {
            num_retries: Some(u32v(0)),
            per_try_timeout: Some(millis(ms)),
            ..Default::default()
        });
        if rule.request_timeout_ms.is_none() {
            action.timeout = Some(millis(ms));
        }
    }
    action
}

fn redirect(r: &Redirect, m: &HttpMatchIr, ctx: ListenerCtx) -> RedirectAction {
    use redirect_action::RedirectResponseCode as Code;
    let scheme = r.scheme.as_deref().unwrap_or(ctx.scheme);
    // The Gateway API's port rules: an explicit port; else the scheme's well-known port when the
    // scheme changes; else the listener's port. The port is left out of Location when it is
    // the scheme's default.
    let port = match (r.port, r.scheme.as_deref()) {
        (Some(p), _) => p,
        (None, Some("https")) => 443,
        (None, Some(_)) => 80,
        (None, None) => ctx.port,
    };
    let default_port = matches!((scheme, port), ("http", 80) | ("https", 443));
    RedirectAction {
        scheme_rewrite_specifier: r
            .scheme
            .as_ref()
            .map(|s| redirect_action::SchemeRewriteSpecifier::SchemeRedirect(s.clone())),
        host_redirect: r.hostname.clone().unwrap_or_default(),
        port_redirect: if default_port { 0 } else { port as u32 },
        response_code: match r.status {
            301 => Code::MovedPermanently,
            303 => Code::SeeOther,
            307 => Code::TemporaryRedirect,
            308 => Code::PermanentRedirect,
            _ => Code::Found,
        } as i32,
        path_rewrite_specifier: r
            .path
            .as_ref()
            .and_then(|p| path_rewrite(p, m))
            .map(redirect_action::PathRewriteSpecifier::RegexRewrite),
        ..Default::default()
    }
}
