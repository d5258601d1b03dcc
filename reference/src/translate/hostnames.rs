//! Hostname matching as the Gateway API defines it: exact names and `*.` suffix wildcards.
//!
//! A wildcard `*.example.com` matches any name with at least one more label in front
//! (`a.example.com`, `a.b.example.com`) but not `example.com` itself. A listener without a
//! hostname matches every name.

use std::cmp::Ordering;

/// Whether `name` (exact or wildcard) is matched by `pattern` (exact or wildcard): every host
/// `name` can stand for is also covered by `pattern`.
pub fn covers(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    match pattern.strip_prefix('*') {
        // `*.example.com` covers `a.example.com`, `*.a.example.com`, but not `example.com`.
        Some(suffix) => {
            let rest = name.strip_prefix('*').unwrap_or(name);
            rest.len() > suffix.len() && rest.ends_with(suffix)
        }
        None => false,
    }
}

/// The hostnames a route can serve on a listener: the intersection of the listener's hostname
/// (none = any) with the route's hostnames (none = any). `None` from a listener and an empty
/// route list give `["*"]`, meaning every host. An empty result means the two do not
/// intersect.
pub fn intersect(listener: Option<&str>, route: &[String]) -> Vec<String> {
    let mut out: Vec<String> = match (listener, route.is_empty()) {
        (None, true) => vec!["*".to_string()],
        (None, false) => route.to_vec(),
        (Some(l), true) => vec![l.to_string()],
        (Some(l), false) => route
            .iter()
            .filter_map(|r| {
                if covers(l, r) {
                    Some(r.clone())
                } else if covers(r, l) {
                    Some(l.to_string())
                } else {
                    None
                }
            })
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

/// Whether the domain `d` (as produced by `intersect`, `"*"` meaning any) is covered by a
/// listener hostname (`None` covers everything).
pub fn listener_covers(listener: Option<&str>, d: &str) -> bool {
    match listener {
        None => true,
        Some(_) if d == "*" => false,
        Some(l) => covers(l, d),
    }
}

/// Whether effective hostname `e` (`"*"` = any) covers domain `d`.
pub fn domain_covers(e: &str, d: &str) -> bool {
    e == "*" || covers(e, d)
}

/// A hostname pattern as a lookup key that a domain's covering patterns can be found by
/// without building their text: `*.x` is `(true, ".x")`, `"*"` is `(true, "")`, and an exact
/// name is `(false, name)`. A Gateway of ten thousand domains looks up four patterns each.
pub type HostKey<'a> = (bool, &'a str);

pub fn host_key(h: &str) -> HostKey<'_> {
    match h.strip_prefix('*') {
        Some(rest) => (true, rest),
        None => (false, h),
    }
}

/// Every hostname pattern that covers `d` (per `domain_covers`), as keys: `d` itself, the
/// wildcards of each of its parent domains, and `"*"`.
pub fn covering(d: &str) -> impl Iterator<Item = HostKey<'_>> {
    let labels = d.strip_prefix("*.").unwrap_or(d);
    let parents = (d != "*").then(|| {
        labels
            .match_indices('.')
            .map(|(i, _)| (true, &labels[i..]))
            .chain([(true, "")])
    });
    std::iter::once(host_key(d)).chain(parents.into_iter().flatten())
}

/// Specificity of a hostname for precedence: exact names beat wildcards, longer beats shorter;
/// `"*"` (any) is least specific. Larger is more specific.
pub fn specificity(h: &str) -> (u8, usize) {
    if h == "*" {
        (0, 0)
    } else if h.starts_with('*') {
        (1, h.len())
    } else {
        (2, h.len())
    }
}

/// Orders listener hostnames from most to least specific (`None` last).
pub fn cmp_listener_specificity(a: Option<&str>, b: Option<&str>) -> Ordering {
    specificity(b.unwrap_or("*")).cmp(&specificity(a.unwrap_or("*")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_covers_subdomains_only() {
        assert!(covers("*.example.com", "a.example.com"));
        assert!(covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "aexample.com"));
        assert!(covers("*.example.com", "*.a.example.com"));
        assert!(!covers("*.a.example.com", "*.example.com"));
        assert!(covers("a.example.com", "a.example.com"));
        assert!(!covers("a.example.com", "b.example.com"));
    }

    #[test]
    fn intersections() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(intersect(None, &[]), s(&["*"]));
        assert_eq!(intersect(Some("*.wildcard.io"), &[]), s(&["*.wildcard.io"]));
        assert_eq!(
            intersect(
                Some("*.wildcard.io"),
                &s(&["foo.wildcard.io", "bar.com", "*.wildcard.io"])
            ),
            s(&["*.wildcard.io", "foo.wildcard.io"])
        );
        assert_eq!(
            intersect(Some("very.specific.com"), &s(&["*.specific.com"])),
            s(&["very.specific.com"])
        );
        assert!(intersect(Some("foo.com"), &s(&["bar.com"])).is_empty());
        assert_eq!(intersect(Some("*.a.com"), &s(&["*.com"])), s(&["*.a.com"]));
    }

    #[test]
    fn covering_patterns_are_exactly_those_that_cover() {
        let text = |(wildcard, rest): HostKey<'_>| match wildcard {
            true => format!("*{rest}"),
            false => rest.to_string(),
        };
        for d in ["a.b.example.com", "*.b.example.com", "example.com", "*"] {
            let c: Vec<String> = covering(d).map(text).collect();
            for p in &c {
                assert_eq!(text(host_key(p)), *p, "a key gives its pattern back");
            }
            for p in &c {
                assert!(domain_covers(p, d), "{p} should cover {d}");
            }
            for p in [
                "*.example.com",
                "*.com",
                "*.b.example.com",
                "x.example.com",
                "*.a.b.example.com",
            ] {
                assert_eq!(
                    c.contains(&p.to_string()),
                    domain_covers(p, d),
                    "{p} vs {d}: {c:?}"
                );
            }
        }
    }

    #[test]
    fn listener_coverage() {
        assert!(listener_covers(None, "*"));
        assert!(!listener_covers(Some("*.a.com"), "*"));
        assert!(listener_covers(Some("*.a.com"), "x.a.com"));
    }
}
