//! HTTPRoute filters, on a rule or on a backendRef (both share one schema and are checked by
//! the same code).

use super::headers;
use super::hostnames::hostname;
use super::path::{Checker, Fault};
use super::paths;
use super::refs;
use crate::api::httproutes::{HttpRouteRulesFilters as Filter, HttpRouteRulesFiltersType as Type};

/// A request or response header modifier (two types of one shape).
macro_rules! header_modifier {
    ($c:expr, $name:literal, $m:expr) => {
        if let Some(m) = $m {
            let (set, add) = (name_values!(m.set), name_values!(m.add));
            $c.field($name, |c| header_mods(c, set, add, m.remove.as_deref()));
        }
    };
}

/// A list of headers to set or add, as (name, value) pairs.
macro_rules! name_values {
    ($list:expr) => {
        $list
            .iter()
            .flatten()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect::<Vec<(&str, &str)>>()
    };
}

/// What a filter list asks of the rule's matches: a ReplacePrefixMatch modifier needs exactly
/// one PathPrefix match.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Needs {
    pub prefix_match: bool,
    pub redirect: bool,
}

/// Check the filter list field `name` of the current value; returns what the filters need
/// from their rule.
pub(crate) fn list(c: &mut Checker, name: &'static str, filters: &[Filter]) -> Needs {
    let mut needs = Needs::default();
    c.field(name, |c| {
        c.max_items(filters.len(), 16);
        let has = |t: Type| filters.iter().any(|f| f.r#type == t);
        if has(Type::RequestRedirect) && has(Type::UrlRewrite) {
            c.fail_with(
                Fault::Filters,
                "RequestRedirect and URLRewrite filters cannot be combined",
            );
        }
        for (i, f) in filters.iter().enumerate() {
            let once = matches!(
                f.r#type,
                Type::Cors
                    | Type::RequestHeaderModifier
                    | Type::ResponseHeaderModifier
                    | Type::RequestRedirect
                    | Type::UrlRewrite
            );
            let first = filters[..i].iter().position(|o| o.r#type == f.r#type);
            c.index(i, |c| {
                if let (true, Some(first)) = (once, first) {
                    c.field("type", |c| {
                        c.fail_with(
                            Fault::Filters,
                            format!(
                                "a {} filter cannot be repeated ({name}[{first}] is one)",
                                type_name(&f.r#type)
                            ),
                        )
                    });
                }
                filter(c, f, &mut needs);
            });
        }
    });
    needs
}

fn type_name(t: &Type) -> &'static str {
    match t {
        Type::RequestHeaderModifier => "RequestHeaderModifier",
        Type::ResponseHeaderModifier => "ResponseHeaderModifier",
        Type::RequestMirror => "RequestMirror",
        Type::RequestRedirect => "RequestRedirect",
        Type::UrlRewrite => "URLRewrite",
        Type::ExtensionRef => "ExtensionRef",
        Type::Cors => "CORS",
        Type::ExternalAuth => "ExternalAuth",
    }
}

fn filter(c: &mut Checker, f: &Filter, needs: &mut Needs) {
    // Exactly the settings field of the filter's type is set.
    let settings: [(Type, &'static str, bool); 8] = [
        (
            Type::RequestHeaderModifier,
            "requestHeaderModifier",
            f.request_header_modifier.is_some(),
        ),
        (
            Type::ResponseHeaderModifier,
            "responseHeaderModifier",
            f.response_header_modifier.is_some(),
        ),
        (
            Type::RequestMirror,
            "requestMirror",
            f.request_mirror.is_some(),
        ),
        (
            Type::RequestRedirect,
            "requestRedirect",
            f.request_redirect.is_some(),
        ),
        (Type::UrlRewrite, "urlRewrite", f.url_rewrite.is_some()),
        (
            Type::ExtensionRef,
            "extensionRef",
            f.extension_ref.is_some(),
        ),
        (Type::Cors, "cors", f.cors.is_some()),
        (
            Type::ExternalAuth,
            "externalAuth",
            f.external_auth.is_some(),
        ),
    ];
    for (t, field, set) in settings {
        let own = t == f.r#type;
        if own && !set {
            c.field(field, |c| {
                c.fail(format!("is required for a {} filter", type_name(&t)))
            });
        } else if !own && set {
            c.field(field, |c| {
                c.fail(format!(
                    "must not be set on a {} filter",
                    type_name(&f.r#type)
                ))
            });
        }
    }
    header_modifier!(c, "requestHeaderModifier", &f.request_header_modifier);
    header_modifier!(c, "responseHeaderModifier", &f.response_header_modifier);
    if let Some(r) = &f.request_redirect {
        use crate::api::httproutes::HttpRouteRulesFiltersRequestRedirectPathType as T;
        needs.redirect = true;
        c.field("requestRedirect", |c| {
            if let Some(p) = r.port {
                c.field("port", |c| c.range(p.into(), 1, 65535));
            }
            if let Some(s) = r.status_code
                && ![301, 302, 303, 307, 308].contains(&s)
            {
                c.field("statusCode", |c| {
                    c.fail(format!(
                        "{s} is not a redirect status: 301, 302, 303, 307 or 308"
                    ))
                });
            }
            let path = r.path.as_ref().map(|p| PathModifier {
                prefix: matches!(p.r#type, T::ReplacePrefixMatch),
                full: p.replace_full_path.as_deref(),
                prefix_match: p.replace_prefix_match.as_deref(),
            });
            destination(c, r.hostname.as_deref(), path, needs);
        });
    }
    if let Some(r) = &f.url_rewrite {
        use crate::api::httproutes::HttpRouteRulesFiltersUrlRewritePathType as T;
        c.field("urlRewrite", |c| {
            let path = r.path.as_ref().map(|p| PathModifier {
                prefix: matches!(p.r#type, T::ReplacePrefixMatch),
                full: p.replace_full_path.as_deref(),
                prefix_match: p.replace_prefix_match.as_deref(),
            });
            destination(c, r.hostname.as_deref(), path, needs);
        });
    }
    if let Some(m) = &f.request_mirror {
        c.field("requestMirror", |c| {
            let b = &m.backend_ref;
            c.field("backendRef", |c| refs::backend(c, b.into()));
            if let Some(p) = m.percent {
                c.field("percent", |c| c.range(p.into(), 0, 100));
            }
            if let Some(fr) = &m.fraction {
                c.field("fraction", |c| {
                    let denominator = fr.denominator.unwrap_or(100);
                    c.field("numerator", |c| c.at_least(fr.numerator.into(), 0));
                    c.field("denominator", |c| c.at_least(denominator.into(), 1));
                    if fr.numerator > denominator {
                        c.field("numerator", |c| {
                            c.fail("must not be greater than the denominator")
                        });
                    }
                });
                if m.percent.is_some() {
                    c.fail("only one of percent and fraction may be set");
                }
            }
        });
    }
    if let Some(e) = &f.extension_ref {
        c.field("extensionRef", |c| refs::reference(c, e.into()));
    }
    if let Some(cors) = &f.cors {
        c.field("cors", |c| {
            let origins = cors.allow_origins.as_deref();
            c.list("allowOrigins", origins, 64, |c, _, o| c.check(origin(o)));
            star_alone(c, "allowOrigins", origins);
            let methods = cors.allow_methods.as_deref();
            c.list("allowMethods", methods, 9, |c, _, m| {
                const METHODS: [&str; 10] = [
                    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
                    "*",
                ];
                if !METHODS.contains(&m.as_str()) {
                    c.fail(format!("{m:?} is not an HTTP method (or *)"));
                }
            });
            star_alone(c, "allowMethods", methods);
            let allow = cors.allow_headers.as_deref();
            c.list("allowHeaders", allow, 64, |c, _, h| {
                c.check(headers::name(h))
            });
            star_alone(c, "allowHeaders", allow);
            let expose = cors.expose_headers.as_deref();
            c.list("exposeHeaders", expose, 64, |c, _, h| {
                c.check(headers::name(h))
            });
            for (name, items) in [
                ("allowOrigins", origins),
                ("allowMethods", methods),
                ("allowHeaders", allow),
                ("exposeHeaders", expose),
            ] {
                c.unique(
                    name,
                    items.unwrap_or(&[]).iter().map(String::as_str),
                    "value",
                );
            }
            if let Some(age) = cors.max_age {
                c.field("maxAge", |c| c.at_least(age.into(), 1));
            }
        });
    }
    if let Some(a) = &f.external_auth {
        c.field("externalAuth", |c| {
            use crate::api::httproutes::HttpRouteRulesFiltersExternalAuthProtocol as P;
            let b = &a.backend_ref;
            c.field("backendRef", |c| refs::backend(c, b.into()));
            let (grpc, http) = (matches!(a.protocol, P::Grpc), matches!(a.protocol, P::Http));
            if grpc != a.grpc.is_some() {
                c.field("grpc", |c| c.fail("is set exactly when protocol is GRPC"));
            }
            if http != a.http.is_some() {
                c.field("http", |c| c.fail("is set exactly when protocol is HTTP"));
            }
            if let Some(g) = &a.grpc {
                c.field("grpc", |c| {
                    let list = g.allowed_headers.as_deref();
                    c.field("allowedHeaders", |c| {
                        c.max_items(list.map_or(0, <[_]>::len), 64)
                    });
                    c.unique(
                        "allowedHeaders",
                        list.unwrap_or(&[]).iter().map(String::as_str),
                        "header",
                    );
                });
            }
            if let Some(h) = &a.http {
                c.field("http", |c| {
                    if let Some(p) = &h.path {
                        c.value("path", paths::plain(p));
                    }
                    for (name, list) in [
                        ("allowedHeaders", h.allowed_headers.as_deref()),
                        (
                            "allowedResponseHeaders",
                            h.allowed_response_headers.as_deref(),
                        ),
                    ] {
                        c.field(name, |c| c.max_items(list.map_or(0, <[_]>::len), 64));
                        c.unique(
                            name,
                            list.unwrap_or(&[]).iter().map(String::as_str),
                            "header",
                        );
                    }
                });
            }
        });
    }
}

/// The path a redirect or rewrite puts in place, as written.
struct PathModifier<'a> {
    /// ReplacePrefixMatch rather than ReplaceFullPath.
    prefix: bool,
    full: Option<&'a str>,
    prefix_match: Option<&'a str>,
}

/// The hostname and path of a redirect or rewrite; the path sets the field its type names,
/// and only that one.
fn destination(
    c: &mut Checker,
    host: Option<&str>,
    path: Option<PathModifier<'_>>,
    needs: &mut Needs,
) {
    if let Some(h) = host {
        c.value("hostname", hostname(h, false));
    }
    let Some(p) = path else { return };
    let (own, own_name, other, other_name) = if p.prefix {
        (
            p.prefix_match,
            "replacePrefixMatch",
            p.full,
            "replaceFullPath",
        )
    } else {
        (
            p.full,
            "replaceFullPath",
            p.prefix_match,
            "replacePrefixMatch",
        )
    };
    let type_name = if p.prefix {
        "ReplacePrefixMatch"
    } else {
        "ReplaceFullPath"
    };
    c.field("path", |c| {
        match own {
            None => c.field(own_name, |c| {
                c.fail(format!("is required when type is {type_name}"))
            }),
            Some(v) => c.value(own_name, paths::modifier(v, p.prefix)),
        }
        if other.is_some() {
            c.field(other_name, |c| {
                c.fail(format!("must not be set when type is {type_name}"))
            });
        }
    });
    needs.prefix_match |= p.prefix && p.prefix_match.is_some();
}

/// `set` and `add` as (name, value) pairs.
fn header_mods(
    c: &mut Checker,
    set: Vec<(&str, &str)>,
    add: Vec<(&str, &str)>,
    remove: Option<&[String]>,
) {
    for (field, items) in [("set", set), ("add", add)] {
        c.field(field, |c| {
            c.max_items(items.len(), 16);
            for (i, (name, value)) in items.iter().enumerate() {
                c.index(i, |c| {
                    c.value("name", headers::modifiable_name(name));
                    c.value("value", headers::value(value));
                });
            }
        });
        c.unique(field, items.iter().map(|(n, _)| *n), "header");
    }
    if let Some(remove) = remove {
        c.list("remove", Some(remove), 16, |c, _, name| {
            c.check(headers::modifiable_name(name));
        });
        c.unique("remove", remove.iter().map(String::as_str), "header");
    }
}

/// A CORS origin: `*`, or `http(s)://host[:port]` where host may start with a `*.` label.
fn origin(o: &str) -> Result<(), String> {
    if o.is_empty() || o.len() > 253 {
        return Err(format!("must be 1 to 253 characters long, is {}", o.len()));
    }
    if o == "*" {
        return Ok(());
    }
    let bad = || format!("{o:?} is not an origin: * or http(s)://host[:port]");
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let host = host.strip_prefix("*.").unwrap_or(host);
    let host_ok = host == "*"
        || (!host.is_empty()
            && host.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if port_ok && host_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// `*` must be the only item of a list when present.
fn star_alone(c: &mut Checker, name: &'static str, items: Option<&[String]>) {
    let items = items.unwrap_or(&[]);
    if items.len() > 1 && items.iter().any(|i| i == "*") {
        c.field(name, |c| {
            c.fail("\"*\" cannot be combined with other values")
        });
    }
}
