//! Reading a redirect's `Location` the way Go's `resp.Location()` does: resolved against
//! the request URL, dot segments removed, path percent-decoded, host without port.

use crate::echo::gourl::{resolve_path, unescape_path};

/// The parts of a redirect target upstream compares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedirectTarget {
    /// Lower-cased, as Go stores it.
    pub scheme: String,
    /// `URL.Hostname()`: no port, no IPv6 brackets.
    pub host: String,
    /// `URL.Port()`: empty when the Location names none.
    pub port: String,
    /// `URL.Path`: decoded, without the query.
    pub path: String,
}

/// A URL split the way `net/url` splits it; `authority` is `None` when absent.
struct Parts<'a> {
    scheme: Option<String>,
    authority: Option<&'a str>,
    path: &'a str,
    has_query: bool,
}

fn split_scheme(s: &str) -> (Option<String>, &str) {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i > 0 => return (Some(s[..i].to_ascii_lowercase()), &s[i + 1..]),
            _ => break,
        }
    }
    (None, s)
}

fn split(url: &str) -> Parts<'_> {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (scheme, rest) = split_scheme(url);
    let (rest, has_query) = match rest.split_once('?') {
        Some((r, _)) => (r, true),
        None => (rest, false),
    };
    match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            Parts {
                scheme,
                authority: Some(&after[..end]),
                path: &after[end..],
                has_query,
            }
        }
        None => Parts {
            scheme,
            authority: None,
            path: rest,
            has_query,
        },
    }
}

/// Splits an authority into hostname and port, dropping any userinfo.
fn host_and_port(authority: &str) -> Result<(String, String), String> {
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in host {hostport:?}"))?;
        let port = match after {
            "" => "",
            p => p
                .strip_prefix(':')
                .ok_or_else(|| format!("invalid port {after:?} after host"))?,
        };
        (host, port)
    } else {
        hostport.rsplit_once(':').unwrap_or((hostport, ""))
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port {port:?} after host"));
    }
    Ok((host.to_owned(), port.to_owned()))
}

/// Resolves `location` against `base` (the request URL) as `URL.ResolveReference` does.
pub fn parse_location(base: &str, location: &str) -> Result<RedirectTarget, String> {
    let base = split(base);
    let reference = split(location);
    let scheme = reference
        .scheme
        .clone()
        .or_else(|| base.scheme.clone())
        .unwrap_or_default();
    let (authority, raw_path) = if reference.scheme.is_some() || reference.authority.is_some() {
        (reference.authority, resolve_path(reference.path, ""))
    } else if reference.path.is_empty() && !reference.has_query {
        (base.authority, base.path.to_owned())
    } else {
        (base.authority, resolve_path(base.path, reference.path))
    };
    let (host, port) = host_and_port(authority.unwrap_or(""))?;
    let path = unescape_path(&raw_path)
        .ok_or_else(|| format!("invalid escape in Location path {raw_path:?}"))?;
    Ok(RedirectTarget {
        scheme,
        host,
        port,
        path: String::from_utf8_lossy(&path).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(scheme: &str, host: &str, port: &str, path: &str) -> RedirectTarget {
        RedirectTarget {
            scheme: scheme.into(),
            host: host.into(),
            port: port.into(),
            path: path.into(),
        }
    }

    #[test]
    fn absolute_and_relative_locations() {
        let base = "http://10.0.0.1:8080/a/b?q=1";
        assert_eq!(
            parse_location(base, "HTTPS://example.org:8443/new?x#f").unwrap(),
            t("https", "example.org", "8443", "/new")
        );
        assert_eq!(
            parse_location(base, "/x/../y%20z").unwrap(),
            t("http", "10.0.0.1", "8080", "/y z")
        );
        assert_eq!(
            parse_location(base, "c").unwrap(),
            t("http", "10.0.0.1", "8080", "/a/c")
        );
        assert_eq!(
            parse_location(base, "//u@[::1]/p").unwrap(),
            t("http", "::1", "", "/p")
        );
        assert_eq!(
            parse_location(base, "https://example.org").unwrap(),
            t("https", "example.org", "", "")
        );
        assert!(parse_location(base, "http://h:x/").is_err());
        assert!(parse_location(base, "/%zz").is_err());
    }
}
