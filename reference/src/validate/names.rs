//! Name formats the Gateway API borrows from Kubernetes: DNS labels and subdomains (groups,
//! namespaces, listener and section names), kinds, label keys and values, controller names.
//!
//! Each check returns why a value does not fit, in words a person editing the value can act
//! on; the caller attaches the field path.

/// A DNS label as RFC 1123 defines it, in lower case: letters, digits and `-`, starting and
/// ending with a letter or digit.
fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && edge(b[0]) && edge(b[b.len() - 1]) && b.iter().all(|&c| edge(c) || c == b'-')
}

/// A namespace name: one DNS label of at most 63 characters.
pub fn namespace(s: &str) -> Result<(), String> {
    if s.len() > 63 {
        return Err(format!(
            "must be at most 63 characters long, is {}",
            s.len()
        ));
    }
    if !is_label(s) {
        return Err(format!(
            "{s:?} is not a valid namespace name: lower-case letters, digits and '-', \
             starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A DNS subdomain of at most 253 characters: labels joined by dots (an API group, a
/// listener, section or rule name).
pub fn subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err(format!(
            "must be at most 253 characters long, is {}",
            s.len()
        ));
    }
    if !s.split('.').all(is_label) {
        return Err(format!(
            "{s:?} is not a valid DNS subdomain: lower-case labels of letters, digits and '-' \
             joined by '.'"
        ));
    }
    Ok(())
}

/// An API group: empty (the core group) or a DNS subdomain.
pub fn group(s: &str) -> Result<(), String> {
    if s.is_empty() { Ok(()) } else { subdomain(s) }
}

/// A kind: a letter, then letters, digits and '-', ending with a letter or digit; at most 63
/// characters.
pub fn kind(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err("must not be empty".into());
    }
    if b.len() > 63 {
        return Err(format!(
            "must be at most 63 characters long, is {}",
            b.len()
        ));
    }
    let ok = b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-');
    if !ok {
        return Err(format!(
            "{s:?} is not a valid kind: a letter, then letters, digits and '-'"
        ));
    }
    Ok(())
}

/// The name of a referenced object: 1 to 253 characters.
pub fn object_name(s: &str) -> Result<(), String> {
    match s.len() {
        0 => Err("must not be empty".into()),
        n if n > 253 => Err(format!("must be at most 253 characters long, is {n}")),
        _ => Ok(()),
    }
}

/// The name part of a label or annotation key: 1 to 63 characters of letters, digits, '-',
/// '_' and '.', starting and ending with a letter or digit.
fn is_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name.
pub fn label_key(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() < 253 && p.split('.').all(is_label));
    if !prefix_ok || !is_key_name(name) {
        return Err(format!(
            "{s:?} is not a valid key: an optional DNS subdomain prefix and '/', then up to 63 \
             letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A label value: empty, or up to 63 letters, digits, '-', '_' and '.', starting and ending
/// with a letter or digit.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || is_key_name(s) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid label value: up to 63 letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit"
        ))
    }
}

/// A domain-prefixed path such as `example.com/my-controller`: a DNS subdomain, `/`, and a
/// path of URL characters. Controller names and implementation-specific address types use it.
pub fn domain_prefixed(s: &str) -> Result<(), String> {
    let ok = s.split_once('/').is_some_and(|(domain, path)| {
        domain.split('.').all(is_label)
            && !path.is_empty()
            && path
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a domain-prefixed path such as example.com/name"
        ))
    }
}

/// A listener protocol: a name of letters, digits and '-' (HTTP, HTTPS, TLS, TCP, UDP), or a
/// domain-prefixed name for implementation-specific protocols.
pub fn protocol(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 255 {
        return Err(format!("must be 1 to 255 characters long, is {}", b.len()));
    }
    let plain = b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-');
    let prefixed = s.rsplit_once('/').is_some_and(|(domain, name)| {
        !name.is_empty()
            && name.bytes().all(|c| c.is_ascii_alphanumeric())
            && domain.split('.').all(is_label)
    });
    if plain || prefixed {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid protocol name: letters, digits and '-', or a domain-prefixed \
             name such as example.com/PROTO"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(namespace("default").is_ok());
        assert!(namespace("Default").is_err());
        assert!(namespace(&"a".repeat(64)).is_err());
        assert!(subdomain("gateway.networking.k8s.io").is_ok());
        assert!(subdomain("a..b").is_err());
        assert!(subdomain("-a").is_err());
        assert!(group("").is_ok());
        assert!(kind("HTTPRoute").is_ok());
        assert!(kind("1Route").is_err());
        assert!(kind("Route-").is_err());
        assert!(label_key("app.kubernetes.io/name").is_ok());
        assert!(label_key("name").is_ok());
        assert!(label_key("/name").is_err());
        assert!(label_key("a/b/c").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_x").is_ok());
        assert!(label_value("-x").is_err());
        assert!(domain_prefixed("gatesim.dev/reference-controller").is_ok());
        assert!(domain_prefixed("reference-controller").is_err());
        assert!(protocol("HTTP").is_ok());
        assert!(protocol("example.com/PROTO").is_ok());
        assert!(protocol("HTTP/2").is_err());
        assert!(protocol("h t t p").is_err());
    }
}
