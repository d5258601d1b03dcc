//! URL paths: the values of Exact and PathPrefix matches, and the paths a redirect or rewrite
//! puts in place.

/// The characters of an RFC 3986 path (unreserved, sub-delims, `:`, `@`, `/`); `%` only as
/// the start of a percent-encoded octet.
fn is_path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c)
}

/// Why `s` is not made of path characters and percent-encoded octets, if it is not.
fn path_characters(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(format!(
                    "{s:?}: '%' must start a percent-encoded octet such as %20"
                ));
            }
            i += 3;
            continue;
        }
        if !is_path_char(c) {
            let what = match c {
                b' ' => "a space".to_string(),
                b'?' => "'?' (a query string is not part of the path)".to_string(),
                b'#' => "'#' (a fragment is not part of the path)".to_string(),
                c if c.is_ascii_control() => format!("the control character 0x{c:02x}"),
                c if c.is_ascii() => format!("{:?}", c as char),
                _ => "a non-ASCII character (percent-encode it)".to_string(),
            };
            return Err(format!("{s:?}: {what} is not allowed in a path"));
        }
        i += 1;
    }
    Ok(())
}

/// The value of an Exact or PathPrefix match.
pub fn match_value(s: &str) -> Result<(), String> {
    if s.len() > 1024 {
        return Err(format!(
            "must be at most 1024 characters long, is {}",
            s.len()
        ));
    }
    if !s.starts_with('/') {
        return Err(format!("{s:?} must start with \"/\""));
    }
    for bad in ["//", "/./", "/../", "%2f", "%2F", "#"] {
        if s.contains(bad) {
            return Err(format!("{s:?} must not contain {bad:?}"));
        }
    }
    for bad in ["/..", "/."] {
        if s.ends_with(bad) {
            return Err(format!("{s:?} must not end with {bad:?}"));
        }
    }
    path_characters(s)
}

/// The path a ReplaceFullPath or ReplacePrefixMatch modifier puts in place. The API only
/// bounds its length; Envoy takes it as the substitution of a regex rewrite, so anything but a
/// plain absolute path (a backslash, a control character, a `?`) is mangled or rejected.
pub fn modifier(s: &str, may_be_empty: bool) -> Result<(), String> {
    if s.len() > 1024 {
        return Err(format!(
            "must be at most 1024 characters long, is {}",
            s.len()
        ));
    }
    if s.is_empty() && may_be_empty {
        return Ok(());
    }
    if !s.starts_with('/') {
        return Err(format!("{s:?} must start with \"/\""));
    }
    path_characters(s)
}

/// A path of an HTTP authorization service (`externalAuth.http.path`).
pub fn plain(s: &str) -> Result<(), String> {
    if s.len() > 1024 {
        return Err(format!(
            "must be at most 1024 characters long, is {}",
            s.len()
        ));
    }
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    path_characters(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_values() {
        for ok in ["/", "/api/v1", "/a%20b", "/~user/x.y", "/a:b@c"] {
            assert_eq!(match_value(ok), Ok(()), "{ok}");
        }
        for bad in [
            "api", "/a#b?c", "/a?b", "/a//b", "/a/./b", "/a/../b", "/a%2fb", "/a/..", "/a/.",
            "/a b", "/é", "/a%zz", "/a\nb",
        ] {
            assert!(match_value(bad).is_err(), "{bad}");
        }
        assert!(
            match_value("api")
                .unwrap_err()
                .contains("must start with \"/\"")
        );
    }

    #[test]
    fn modifiers() {
        assert!(modifier("/new", false).is_ok());
        assert!(modifier("", true).is_ok());
        assert!(modifier("", false).is_err());
        assert!(modifier("/a\\1", false).is_err());
        assert!(modifier("/a?b", false).is_err());
        assert!(modifier("new", false).is_err());
    }
}
