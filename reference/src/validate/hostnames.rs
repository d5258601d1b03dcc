//! Hostnames as the Gateway API defines them: RFC 1123 host names in lower case, at most 253
//! characters, never an IP address, optionally (where the field allows it) led by a wildcard
//! label `*.` that stands alone as the first label.

/// Check a hostname; `wildcard` says whether a leading `*.` label is allowed.
pub fn hostname(s: &str, wildcard: bool) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 253 {
        return Err(format!(
            "must be at most 253 characters long, is {}",
            s.len()
        ));
    }
    let rest = match s.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        Some(_) => return Err(format!("{s:?}: a wildcard is not allowed here")),
        None => s,
    };
    if s.parse::<std::net::IpAddr>().is_ok() || looks_like_ipv4(rest) {
        return Err(format!("{s:?} is an IP address; a hostname is required"));
    }
    for label in rest.split('.') {
        if label.contains('*') {
            let hint = if wildcard {
                "a wildcard must be the whole first label, as in *.example.com"
            } else {
                "a wildcard is not allowed here"
            };
            return Err(format!("{s:?}: {hint}"));
        }
        if label.len() > 63 {
            return Err(format!(
                "{s:?}: label {}... is {} characters long; a label has at most 63",
                &label[..8],
                label.len()
            ));
        }
        let b = label.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let ok = !b.is_empty()
            && edge(b[0])
            && edge(b[b.len() - 1])
            && b.iter().all(|&c| edge(c) || c == b'-');
        if !ok {
            return Err(format!(
                "{s:?} is not a valid hostname: lower-case labels of letters, digits and '-' \
                 joined by '.'{}",
                if wildcard {
                    ", optionally led by a wildcard label *."
                } else {
                    ""
                }
            ));
        }
    }
    Ok(())
}

/// Four all-digit labels: what a resolver would take for an IPv4 address even where
/// `IpAddr` parsing is stricter (leading zeros, for example).
fn looks_like_ipv4(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() == 4
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::hostname;

    #[test]
    fn the_api_forms_and_what_it_forbids() {
        for ok in [
            "example.com",
            "*.example.com",
            "a-b.c1.io",
            "localhost",
            "x",
        ] {
            assert_eq!(hostname(ok, true), Ok(()), "{ok}");
        }
        for bad in [
            "www.*.example.com",
            "*example.com",
            "**.example.com",
            "*",
            "192.168.0.1",
            "010.0.0.1",
            "::1",
            "a b.com",
            "Example.com",
            "a..b",
            "-a.com",
            "a-.com",
            "a.com.",
            "",
        ] {
            assert!(hostname(bad, true).is_err(), "{bad}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(
            hostname(&long_label, true)
                .unwrap_err()
                .contains("at most 63")
        );
        assert!(
            hostname(&"a".repeat(300), true)
                .unwrap_err()
                .contains("253")
        );
        assert!(hostname("*.example.com", false).is_err());
    }
}
