//! HTTP header (and query parameter) names and values.
//!
//! Names are RFC 7230 tokens, which rules out pseudo-headers (`:authority`) since `:` is not a
//! token character. Values are visible ASCII with single spaces or tabs between words: no
//! control characters, so no header injection through a newline, and nothing Envoy refuses.
//! On top of the API, header modifiers may not touch `host`: Envoy refuses to set, add or
//! remove it (and every pseudo-header), and rejects the whole configuration with it.

/// RFC 7230 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// A header or query parameter name: an RFC 7230 token of 1 to 256 characters.
pub fn name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 256 {
        return Err(format!(
            "must be at most 256 characters long, is {}",
            s.len()
        ));
    }
    if let Some(bad) = s.bytes().find(|&c| !is_tchar(c)) {
        return Err(format!(
            "{s:?} is not a valid name: {} is not allowed (letters, digits and \
             !#$%&'*+-.^_`|~ only)",
            describe_byte(bad)
        ));
    }
    Ok(())
}

/// A header name a modifier may set, add or remove.
pub fn modifiable_name(s: &str) -> Result<(), String> {
    name(s)?;
    if s.eq_ignore_ascii_case("host") {
        return Err(
            "the Host header cannot be modified (use a URLRewrite filter's hostname)".into(),
        );
    }
    Ok(())
}

/// A header value: 1 to 4096 visible ASCII characters, words separated by one space or tab.
pub fn value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 4096 {
        return Err(format!(
            "must be at most 4096 characters long, is {}",
            s.len()
        ));
    }
    let b = s.as_bytes();
    let visible = |c: u8| (b'!'..=b'~').contains(&c);
    if let Some(&bad) = b.iter().find(|&&c| !visible(c) && c != b' ' && c != b'\t') {
        return Err(format!(
            "{} is not allowed in a header value (visible ASCII, single spaces or tabs)",
            describe_byte(bad)
        ));
    }
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    if b.first().is_some_and(blank) || b.last().is_some_and(blank) {
        return Err("must not start or end with a space or tab".into());
    }
    if b.windows(2).any(|w| blank(&w[0]) && blank(&w[1])) {
        return Err("must not contain two spaces or tabs in a row".into());
    }
    Ok(())
}

fn describe_byte(c: u8) -> String {
    match c {
        b'\n' => "a newline".into(),
        b'\r' => "a carriage return".into(),
        b'\t' => "a tab".into(),
        b' ' => "a space".into(),
        c if c.is_ascii_control() => format!("the control character 0x{c:02x}"),
        c if c.is_ascii() => format!("{:?}", c as char),
        _ => "a non-ASCII character".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("x-request-id").is_ok());
        assert!(name("X_Custom.1").is_ok());
        for bad in [":authority", "x bad", "x:y", "x\ny", "", "é"] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
        assert!(name(&"a".repeat(257)).is_err());
        assert!(modifiable_name("Host").is_err());
        assert!(modifiable_name("x-host").is_ok());
    }

    #[test]
    fn values() {
        assert!(value("a b\tc").is_ok());
        assert!(value("100%").is_ok());
        for bad in ["a\nb", "a\rb", " a", "a ", "a  b", "é", "", "a\u{7f}"] {
            assert!(value(bad).is_err(), "{bad:?}");
        }
        assert!(value("a\nb").unwrap_err().contains("newline"));
    }
}
