//! The pieces of Go's `net/url` and `path` that echo-basic and upstream's probe rely on:
//! percent-decoding, query lookup, path escaping and cleaning, dot-segment removal.
//!
//! They matter for the edge cases scenarios exercise on purpose (`//` in paths, encoded
//! slashes, relative redirects), where a generic URL library would normalise differently.

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding; `plus_is_space` for query components. `None` on a malformed escape,
/// where Go's parser fails.
fn unescape(s: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = hex_value(*s.get(i + 1)?)?;
                let lo = hex_value(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// `url.PathUnescape`: what Go stores in `URL.Path`.
pub(crate) fn unescape_path(s: &str) -> Option<Vec<u8>> {
    unescape(s.as_bytes(), false)
}

/// `url.Values.Get` on a raw query: the first value of `key`. Pairs Go rejects (a `;`
/// anywhere, bad escapes) are skipped, as `url.ParseQuery` skips them.
pub(crate) fn query_value(raw_query: &str, key: &str) -> Option<String> {
    for pair in raw_query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (unescape(k.as_bytes(), true), unescape(v.as_bytes(), true))
        else {
            continue;
        };
        if k == key.as_bytes() {
            return Some(String::from_utf8_lossy(&v).into_owned());
        }
    }
    None
}

/// Go's `shouldEscape(c, encodePath)`.
fn path_byte_needs_escape(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b))
}

/// `(&url.URL{Path: p}).EscapedPath()` for a path that starts with `/`.
pub(crate) fn escape_path(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if path_byte_needs_escape(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Go's `path.Clean`: collapse slashes, drop `.`, resolve `..`, no trailing slash.
pub(crate) fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let mut parts: Vec<&[u8]> = Vec::new();
    for elem in path.split(|&b| b == b'/') {
        match elem {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(elem);
                }
            }
            _ => parts.push(elem),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if rooted {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// `net/http`'s `cleanPath`: rooted, cleaned, trailing slash kept.
pub(crate) fn mux_clean_path(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b"/".to_vec();
    }
    let mut rooted = Vec::with_capacity(path.len() + 1);
    if path[0] != b'/' {
        rooted.push(b'/');
    }
    rooted.extend_from_slice(path);
    let mut cleaned = clean(&rooted);
    if rooted.ends_with(b"/") && cleaned != b"/" {
        if rooted.len() == cleaned.len() + 1 && rooted.starts_with(&cleaned) {
            cleaned = rooted;
        } else {
            cleaned.push(b'/');
        }
    }
    cleaned
}

/// `net/url`'s `resolvePath`: merge a reference path with a base and remove dot
/// segments (RFC 3986 5.2), as `URL.ResolveReference` does for every redirect target.
pub(crate) fn resolve_path(base: &str, reference: &str) -> String {
    let full = if reference.is_empty() {
        base.to_owned()
    } else if !reference.starts_with('/') {
        let dir_end = base.rfind('/').map_or(0, |i| i + 1);
        format!("{}{}", &base[..dir_end], reference)
    } else {
        reference.to_owned()
    };
    if full.is_empty() {
        return String::new();
    }
    let mut dst = String::from("/");
    let mut first = true;
    let mut last = "";
    for elem in full.split('/') {
        last = elem;
        if elem == "." {
            first = false;
            continue;
        }
        if elem == ".." {
            let tail = dst[1..].to_owned();
            dst.truncate(1);
            match tail.rfind('/') {
                Some(index) => dst.push_str(&tail[..index]),
                None => first = true,
            }
        } else {
            if !first {
                dst.push('/');
            }
            dst.push_str(elem);
            first = false;
        }
    }
    if last == "." || last == ".." {
        dst.push('/');
    }
    if dst.len() > 1 && dst.as_bytes()[1] == b'/' {
        dst.remove(0);
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lookup_follows_parse_query() {
        assert_eq!(
            query_value("a=1&delay=200ms", "delay").as_deref(),
            Some("200ms")
        );
        assert_eq!(
            query_value("delay=1&delay=2", "delay").as_deref(),
            Some("1")
        );
        assert_eq!(
            query_value("d%65lay=a+b%21", "delay").as_deref(),
            Some("a b!")
        );
        assert_eq!(query_value("delay=1;x=2", "delay"), None);
        assert_eq!(
            query_value("delay=%zz&delay=3", "delay").as_deref(),
            Some("3")
        );
        assert_eq!(query_value("delay", "delay").as_deref(), Some(""));
    }

    #[test]
    fn cleaning_matches_go() {
        assert_eq!(mux_clean_path(b"/a/./b/../c/"), b"/a/c/");
        assert_eq!(mux_clean_path(b"/a//b"), b"/a/b");
        assert_eq!(mux_clean_path(b"/../x"), b"/x");
        assert_eq!(mux_clean_path(b""), b"/");
        assert_eq!(mux_clean_path(b"/status/"), b"/status/");
        assert_eq!(clean(b"a/../.."), b"..");
    }

    #[test]
    fn resolve_removes_dot_segments() {
        assert_eq!(resolve_path("/a/b", "c"), "/a/c");
        assert_eq!(resolve_path("/a/b", "/x/../y/./z"), "/y/z");
        assert_eq!(resolve_path("/a/b/", "../.."), "/");
        assert_eq!(resolve_path("/a/b", ""), "/a/b");
        assert_eq!(resolve_path("", "/p/."), "/p/");
    }

    #[test]
    fn escaping_round_trips() {
        assert_eq!(escape_path(b"/a b/%/\xc3\xa9"), "/a%20b/%25/%C3%A9");
        assert_eq!(unescape_path("/a%20b/%25").unwrap(), b"/a b/%");
        assert!(unescape_path("/%zz").is_none());
    }
}
