//! Go's `textproto.CanonicalMIMEHeaderKey`.
//!
//! hyper hands us lower-cased names; echo-basic reports them the way Go's server stores
//! them (`x-forwarded-for` -> `X-Forwarded-For`), and scenarios compare echoed header maps.

/// Bytes Go accepts in a header field name (RFC 7230 token characters).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Upper-cases the first letter and every letter after a hyphen, lower-cases the rest;
/// a name holding a byte outside the token set is returned unchanged, as Go does.
pub fn canonical_header_key(name: &str) -> String {
    if !name.bytes().all(is_token_byte) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::canonical_header_key;

    #[test]
    fn canonicalizes_like_go() {
        assert_eq!(
            canonical_header_key("x-echo-set-header"),
            "X-Echo-Set-Header"
        );
        assert_eq!(canonical_header_key("USER-AGENT"), "User-Agent");
        assert_eq!(canonical_header_key("x_custom"), "X_custom");
        assert_eq!(canonical_header_key("-a--b"), "-A--B");
        assert_eq!(canonical_header_key("bad name"), "bad name");
        assert_eq!(canonical_header_key(""), "");
    }
}
