//! HTTPRoute: from the API object to the rule IR the Envoy route builder consumes.

use super::delegation::{DelegateRef, delegate_ref};
use super::{ParentRefIr, RouteInfo};
use crate::api::HttpRoute;
use crate::api::httproutes::{
    HttpRouteRules, HttpRouteRulesBackendRefs, HttpRouteRulesBackendRefsFilters,
    HttpRouteRulesFilters, HttpRouteRulesFiltersRequestRedirectPathType as RedirectPathType,
    HttpRouteRulesFiltersRequestRedirectScheme as Scheme, HttpRouteRulesFiltersType as FilterType,
    HttpRouteRulesFiltersUrlRewritePathType as RewritePathType, HttpRouteRulesMatches,
    HttpRouteRulesMatchesHeadersType as HeaderType, HttpRouteRulesMatchesMethod as Method,
    HttpRouteRulesMatchesPathType as PathType, HttpRouteRulesMatchesQueryParamsType as QueryType,
};
use crate::api::k8sgateway::RouteOptions;
use crate::model::{ObjectKey, ResourceSet};
use crate::translate::backends::{self, BackendRefIr, ClusterTarget};
use crate::translate::conditions::{Problem, reason};
use crate::translate::lambda::{self, LambdaCall};
use crate::validate::durations;

pub(crate) const KIND: &str = "HTTPRoute";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathMatch {
    Exact(String),
    /// Element-wise prefix, normalised without a trailing slash ("/" stays "/").
    Prefix(String),
    Regex(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ValueMatch {
    Exact(String),
    Regex(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpMatchIr {
    pub path: PathMatch,
    /// Lower-cased header names, first occurrence of each name only.
    pub headers: Vec<(String, ValueMatch)>,
    pub query: Vec<(String, ValueMatch)>,
    pub method: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderMods {
    pub set: Vec<(String, String)>,
    pub add: Vec<(String, String)>,
    pub remove: Vec<String>,
}

impl HeaderMods {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathModifier {
    Full(String),
    Prefix(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Redirect {
    pub scheme: Option<String>,
    pub hostname: Option<String>,
    pub path: Option<PathModifier>,
    pub port: Option<i32>,
    pub status: u16,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rewrite {
    pub hostname: Option<String>,
    pub path: Option<PathModifier>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WeightedBackend {
    pub target: ClusterTarget,
    pub weight: u32,
    pub request_headers: HeaderMods,
    pub response_headers: HeaderMods,
    /// The function to invoke, when the target is an `aws` Upstream.
    pub lambda: Option<LambdaCall>,
}

/// A fixed answer (a DirectResponse, or 500 for a rule that cannot be served as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectIr {
    pub status: u32,
    pub body: Option<String>,
}

impl DirectIr {
    pub fn internal_error() -> Self {
        Self {
            status: 500,
            body: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RuleAction {
    Redirect(Redirect),
    Direct(DirectIr),
    /// Forward to valid backends; `invalid_weight` is the weight of backends that could not be
    /// resolved, whose share of requests is answered with 500.
    Forward {
        backends: Vec<WeightedBackend>,
        invalid_weight: u32,
    },
}

/// The K8sGateway kinds an `ExtensionRef` filter may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExtensionKind {
    RouteOption,
    DirectResponse,
}

impl ExtensionKind {
    fn of(group: &str, kind: &str) -> Option<Self> {
        match (group, kind) {
            ("gateway.solo.io", "RouteOption") => Some(Self::RouteOption),
            ("gateway.gloo.solo.io", "DirectResponse") => Some(Self::DirectResponse),
            _ => None,
        }
    }
}

/// An `ExtensionRef` filter naming a K8sGateway object in the route's namespace; policy
/// resolution (`translate::policy`) reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExtensionRefIr {
    /// Index of the filter in the rule's `filters`.
    pub position: usize,
    pub kind: ExtensionKind,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HttpRuleIr {
    pub index: usize,
    pub matches: Vec<HttpMatchIr>,
    pub request_headers: HeaderMods,
    pub response_headers: HeaderMods,
    pub rewrite: Rewrite,
    pub action: RuleAction,
    /// Route timeout; `Some(0)` disables Envoy's default.
    pub request_timeout_ms: Option<u64>,
    pub backend_timeout_ms: Option<u64>,
    pub extension_refs: Vec<ExtensionRefIr>,
    /// The effective RouteOption options of the rule, after precedence and merge
    /// (`translate::policy`).
    pub options: Option<Box<RouteOptions>>,
    /// backendRefs that delegate to other HTTPRoutes (`routes::delegation`).
    pub delegations: Vec<DelegateRef>,
}

impl HttpRuleIr {
    /// Whether the rule only delegates: it serves nothing itself, its delegatees serve its
    /// traffic (and what none of them matches is not found).
    pub fn delegates_only(&self) -> bool {
        !self.delegations.is_empty()
            && matches!(&self.action, RuleAction::Forward { backends, invalid_weight: 0 }
                if backends.is_empty())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct HttpRouteIr {
    pub info: RouteInfo,
    pub rules: Vec<HttpRuleIr>,
    /// Why the route cannot be accepted at all (unsupported filter, bad value).
    pub problem: Option<Problem>,
    /// The first unresolvable reference, if any.
    pub resolved_refs: Option<Problem>,
    /// Why some rules answer 500 instead of what they say (filters that cannot be combined):
    /// the route is reported not accepted, and its other rules keep serving.
    pub rules_problem: Option<Problem>,
}

pub(crate) fn route_info(key: &ObjectKey, route: &HttpRoute) -> RouteInfo {
    RouteInfo {
        kind: KIND,
        key: key.clone(),
        generation: route.metadata.generation,
        created: route.metadata.creation_timestamp.as_ref().map(|t| t.0),
        hostnames: route.spec.hostnames.clone().unwrap_or_default(),
        parent_refs: route
            .spec
            .parent_refs
            .iter()
            .flatten()
            .map(|p| ParentRefIr {
                group: p.group.clone(),
                kind: p.kind.clone(),
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                section_name: p.section_name.clone(),
                port: p.port,
            })
            .collect(),
    }
}

pub(crate) fn translate(set: &ResourceSet, key: &ObjectKey, route: &HttpRoute) -> HttpRouteIr {
    let info = route_info(key, route);
    let mut problem = crate::translate::invalid::route(set, route);
    let mut resolved_refs = None;
    let rules = route
        .spec
        .rules
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, rule)| {
            translate_rule(
                set,
                &key.namespace,
                index,
                rule,
                &mut problem,
                &mut resolved_refs,
            )
        })
        .collect();
    HttpRouteIr {
        info,
        rules,
        problem,
        resolved_refs,
        rules_problem: None,
    }
}

fn translate_rule(
    set: &ResourceSet,
    route_ns: &str,
    index: usize,
    rule: &HttpRouteRules,
    problem: &mut Option<Problem>,
    resolved_refs: &mut Option<Problem>,
) -> HttpRuleIr {
    let matches = match rule.matches.as_deref() {
        None | Some([]) => vec![default_match()],
        Some(ms) => ms.iter().map(translate_match).collect(),
    };
    let filters = rule.filters.as_deref().unwrap_or(&[]);
    let parsed = parse_filters(filters);
    if let Err(p) = &parsed {
        problem.get_or_insert(p.clone());
    }
    let parsed = parsed.unwrap_or_default();

    let mut delegations = Vec::new();
    let action = match parsed.redirect {
        Some(r) => RuleAction::Redirect(r),
        None => {
            // Sized to the backendRefs: a backend is a few hundred bytes, and a vector grown
            // from empty keeps room for four, which thousands of kept routes pay for.
            let mut backends = Vec::with_capacity(rule.backend_refs.as_ref().map_or(0, Vec::len));
            let mut invalid_weight = 0u32;
            for (position, br) in rule.backend_refs.iter().flatten().enumerate() {
                if let Some(d) = delegate_ref(
                    route_ns,
                    position,
                    br.group.as_deref(),
                    br.kind.as_deref(),
                    br.namespace.as_deref(),
                    &br.name,
                ) {
                    delegations.push(d);
                    continue;
                }
                let weight = u32::try_from(br.weight.unwrap_or(1)).unwrap_or(0);
                match resolve_backend(set, route_ns, br) {
                    Ok(wb) => {
                        if weight > 0 {
                            backends.push(WeightedBackend { weight, ..wb });
                        }
                    }
                    Err(p) => {
                        resolved_refs.get_or_insert(p);
                        invalid_weight = invalid_weight.saturating_add(weight);
                    }
                }
            }
            RuleAction::Forward {
                backends,
                invalid_weight,
            }
        }
    };

    let timeouts = rule.timeouts.as_ref();
    let parse_timeout = |v: Option<&String>, field: &str, problem: &mut Option<Problem>| {
        v.and_then(|s| match durations::parse(s) {
            Ok(ms) => Some(ms),
            Err(e) => {
                problem.get_or_insert(Problem::new(
                    reason::UNSUPPORTED_VALUE,
                    format!("spec.rules[{index}].timeouts.{field}: {e}"),
                ));
                None
            }
        })
    };
    let request_timeout_ms = parse_timeout(
        timeouts.and_then(|t| t.request.as_ref()),
        "request",
        problem,
    );
    let backend_timeout_ms = parse_timeout(
        timeouts.and_then(|t| t.backend_request.as_ref()),
        "backendRequest",
        problem,
    );

    HttpRuleIr {
        index,
        matches,
        request_headers: parsed.request_headers,
        response_headers: parsed.response_headers,
        rewrite: parsed.rewrite,
        action,
        request_timeout_ms,
        backend_timeout_ms,
        extension_refs: parsed.extension_refs,
        options: None,
        delegations,
    }
}

fn resolve_backend(
    set: &ResourceSet,
    route_ns: &str,
    br: &HttpRouteRulesBackendRefs,
) -> Result<WeightedBackend, Problem> {
    let target = backends::resolve(
        set,
        KIND,
        route_ns,
        &BackendRefIr {
            group: br.group.as_deref(),
            kind: br.kind.as_deref(),
            namespace: br.namespace.as_deref(),
            name: &br.name,
            port: br.port,
        },
    )?;
    // A Parameter filter names the Lambda function of an `aws` Upstream; it is no filter of
    // the rule's kind, so it is taken out before the others are read.
    let (parameters, others): (Vec<_>, Vec<_>) = br.filters.iter().flatten().partition(|f| {
        f.extension_ref
            .as_ref()
            .is_some_and(|e| e.group == lambda::PARAMETER_GROUP && e.kind == lambda::PARAMETER_KIND)
    });
    let lambda = lambda_call(set, &target, &parameters)?;
    // Backend filters share the rule filters' schema; reading them through one type keeps one
    // code path for both.
    let filters: Vec<HttpRouteRulesFilters> = others
        .into_iter()
        .map(|f| serde_json::to_value(f).and_then(serde_json::from_value))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            Problem::new(
                reason::UNSUPPORTED_VALUE,
                format!("backendRef filters: {e}"),
            )
        })?;
    let parsed = parse_filters(&filters)?;
    if parsed.redirect.is_some()
        || parsed.rewrite != Rewrite::default()
        || !parsed.extension_refs.is_empty()
    {
        return Err(Problem::new(
            reason::UNSUPPORTED_VALUE,
            "only header modifier filters are supported on a backendRef",
        ));
    }
    Ok(WeightedBackend {
        target,
        weight: 0,
        request_headers: parsed.request_headers,
        response_headers: parsed.response_headers,
        lambda,
    })
}

/// The Lambda function a backendRef invokes: exactly one Parameter filter for an `aws`
/// Upstream, none for anything else.
fn lambda_call(
    set: &ResourceSet,
    target: &ClusterTarget,
    parameters: &[&HttpRouteRulesBackendRefsFilters],
) -> Result<Option<LambdaCall>, Problem> {
    let aws = target
        .upstream
        .as_ref()
        .and_then(|k| set.upstreams.get(k).map(|u| (k, u)))
        .and_then(|(k, u)| u.spec.aws.as_ref().map(|a| (k, a)));
    let names: Vec<&str> = parameters
        .iter()
        .filter_map(|f| f.extension_ref.as_ref().map(|e| e.name.as_str()))
        .collect();
    let unsupported = |message: String| Problem::new(reason::UNSUPPORTED_VALUE, message);
    match (aws, names.as_slice()) {
        (None, []) => Ok(None),
        (None, _) => Err(unsupported(format!(
            "a {}/{} filter names a Lambda function, and {} is no aws Upstream",
            lambda::PARAMETER_GROUP,
            lambda::PARAMETER_KIND,
            target.cluster
        ))),
        (Some((key, _)), []) => Err(unsupported(format!(
            "the aws Upstream {key} needs an ExtensionRef filter {{group: {}, kind: {}, name: \
             <logicalName>}} on the backendRef naming the Lambda function to invoke",
            lambda::PARAMETER_GROUP,
            lambda::PARAMETER_KIND
        ))),
        (Some((key, aws)), [name]) => lambda::call(set, key, aws, name)
            .map(Some)
            .map_err(|why| Problem::new(reason::BACKEND_NOT_FOUND, why)),
        (Some((key, _)), more) => Err(unsupported(format!(
            "only one Lambda function per backendRef to {key}; the filters name {}",
            more.join(", ")
        ))),
    }
}

fn default_match() -> HttpMatchIr {
    HttpMatchIr {
        path: PathMatch::Prefix("/".into()),
        headers: Vec::new(),
        query: Vec::new(),
        method: None,
    }
}

fn translate_match(m: &HttpRouteRulesMatches) -> HttpMatchIr {
    let path = match &m.path {
        None => PathMatch::Prefix("/".into()),
        Some(p) => {
            let value = p.value.clone().unwrap_or_else(|| "/".into());
            match p.r#type.as_ref().unwrap_or(&PathType::PathPrefix) {
                PathType::Exact => PathMatch::Exact(value),
                PathType::PathPrefix => {
                    let trimmed = value.trim_end_matches('/');
                    PathMatch::Prefix(if trimmed.is_empty() {
                        "/".into()
                    } else {
                        trimmed.into()
                    })
                }
                PathType::RegularExpression => PathMatch::Regex(value),
            }
        }
    };
    let mut headers: Vec<(String, ValueMatch)> = Vec::new();
    for h in m.headers.iter().flatten() {
        let name = h.name.to_ascii_lowercase();
        // Only the first match of a given header name counts.
        if headers.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let v = match h.r#type.as_ref().unwrap_or(&HeaderType::Exact) {
            HeaderType::Exact => ValueMatch::Exact(h.value.clone()),
            HeaderType::RegularExpression => ValueMatch::Regex(h.value.clone()),
        };
        headers.push((name, v));
    }
    let mut query: Vec<(String, ValueMatch)> = Vec::new();
    for q in m.query_params.iter().flatten() {
        // Query parameter names are case-sensitive; again only the first one counts.
        if query.iter().any(|(n, _)| *n == q.name) {
            continue;
        }
        let v = match q.r#type.as_ref().unwrap_or(&QueryType::Exact) {
            QueryType::Exact => ValueMatch::Exact(q.value.clone()),
            QueryType::RegularExpression => ValueMatch::Regex(q.value.clone()),
        };
        query.push((q.name.clone(), v));
    }
    HttpMatchIr {
        path,
        headers,
        query,
        method: m.method.as_ref().map(method_name),
    }
}

fn method_name(m: &Method) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Default)]
struct ParsedFilters {
    request_headers: HeaderMods,
    response_headers: HeaderMods,
    redirect: Option<Redirect>,
    rewrite: Rewrite,
    extension_refs: Vec<ExtensionRefIr>,
}

fn parse_filters(filters: &[HttpRouteRulesFilters]) -> Result<ParsedFilters, Problem> {
    let mut out = ParsedFilters::default();
    for (position, f) in filters.iter().enumerate() {
        let missing = |t: &str| {
            Problem::new(
                reason::UNSUPPORTED_VALUE,
                format!("filter of type {t} has no {t} settings"),
            )
        };
        match f.r#type {
            FilterType::RequestHeaderModifier => {
                let m = f
                    .request_header_modifier
                    .as_ref()
                    .ok_or_else(|| missing("RequestHeaderModifier"))?;
                out.request_headers = header_mods(
                    m.set.iter().flatten().map(|h| (&h.name, &h.value)),
                    m.add.iter().flatten().map(|h| (&h.name, &h.value)),
                    m.remove.as_deref(),
                );
            }
            FilterType::ResponseHeaderModifier => {
                let m = f
                    .response_header_modifier
                    .as_ref()
                    .ok_or_else(|| missing("ResponseHeaderModifier"))?;
                out.response_headers = header_mods(
                    m.set.iter().flatten().map(|h| (&h.name, &h.value)),
                    m.add.iter().flatten().map(|h| (&h.name, &h.value)),
                    m.remove.as_deref(),
                );
            }
            FilterType::RequestRedirect => {
                let r = f
                    .request_redirect
                    .as_ref()
                    .ok_or_else(|| missing("RequestRedirect"))?;
                let path = r.path.as_ref().map(|p| match p.r#type {
                    RedirectPathType::ReplaceFullPath => PathModifier::Full(
                        p.replace_full_path.clone().unwrap_or_else(|| "/".into()),
                    ),
                    RedirectPathType::ReplacePrefixMatch => PathModifier::Prefix(
                        p.replace_prefix_match.clone().unwrap_or_else(|| "/".into()),
                    ),
                });
                let status = match r.status_code.unwrap_or(302) {
                    s @ (301 | 302 | 303 | 307 | 308) => s as u16,
                    other => {
                        return Err(Problem::new(
                            reason::UNSUPPORTED_VALUE,
                            format!("redirect status code {other} is not supported"),
                        ));
                    }
                };
                out.redirect = Some(Redirect {
                    scheme: r.scheme.as_ref().map(|s| match s {
                        Scheme::Http => "http".to_string(),
                        Scheme::Https => "https".to_string(),
                    }),
                    hostname: r.hostname.clone(),
                    path,
                    port: r.port,
                    status,
                });
            }
            FilterType::UrlRewrite => {
                let r = f
                    .url_rewrite
                    .as_ref()
                    .ok_or_else(|| missing("URLRewrite"))?;
                out.rewrite = Rewrite {
                    hostname: r.hostname.clone(),
                    path: r.path.as_ref().map(|p| match p.r#type {
                        RewritePathType::ReplaceFullPath => PathModifier::Full(
                            p.replace_full_path.clone().unwrap_or_else(|| "/".into()),
                        ),
                        RewritePathType::ReplacePrefixMatch => PathModifier::Prefix(
                            p.replace_prefix_match.clone().unwrap_or_else(|| "/".into()),
                        ),
                    }),
                };
            }
            FilterType::ExtensionRef
                if let Some((kind, e)) = f
                    .extension_ref
                    .as_ref()
                    .and_then(|e| ExtensionKind::of(&e.group, &e.kind).map(|kind| (kind, e))) =>
            {
                out.extension_refs.push(ExtensionRefIr {
                    position,
                    kind,
                    name: e.name.clone(),
                });
            }
            FilterType::ExtensionRef => {
                let what = f.extension_ref.as_ref().map_or_else(
                    || "an ExtensionRef filter without extensionRef".to_string(),
                    |e| format!("ExtensionRef to kind {} of group {:?}", e.kind, e.group),
                );
                return Err(Problem::new(
                    reason::UNSUPPORTED_VALUE,
                    format!(
                        "{what} is not supported by this controller (it supports RouteOption of \
                         gateway.solo.io and DirectResponse of gateway.gloo.solo.io)"
                    ),
                ));
            }
            FilterType::RequestMirror | FilterType::Cors | FilterType::ExternalAuth => {
                let name = serde_json::to_value(&f.r#type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(Problem::new(
                    reason::UNSUPPORTED_VALUE,
                    format!("filter type {name} is not supported by this controller"),
                ));
            }
        }
    }
    Ok(out)
}

fn header_mods<'a>(
    set: impl Iterator<Item = (&'a String, &'a String)>,
    add: impl Iterator<Item = (&'a String, &'a String)>,
    remove: Option<&[String]>,
) -> HeaderMods {
    HeaderMods {
        set: set
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect(),
        add: add
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect(),
        remove: remove
            .unwrap_or(&[])
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect(),
    }
}
