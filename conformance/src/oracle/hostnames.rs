//! Hostnames as the specification defines them: a name is exact, or `*.` followed by a suffix
//! that matches one or more leading labels; a listener without a hostname matches every name.

/// Whether the request host `host` is matched by `pattern`.
pub fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .and_then(|rest| rest.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty()),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// Whether every host `inner` can match is also matched by `outer`.
fn contains(outer: &str, inner: &str) -> bool {
    if outer == inner {
        return true;
    }
    match (outer.strip_prefix("*."), inner.strip_prefix("*.")) {
        (Some(_), Some(inner_suffix)) => matches(outer, inner_suffix),
        (Some(_), None) => matches(outer, inner),
        (None, _) => false,
    }
}

/// The hostnames a route serves under a listener: each route hostname the listener's hostname
/// contains, and the listener's hostname where a route hostname contains it. `None` in the
/// result stands for "any host" (neither side names one).
pub fn intersection(listener: Option<&str>, route: &[String]) -> Vec<Option<String>> {
    match (listener, route.is_empty()) {
        (None, true) => vec![None],
        (None, false) => route.iter().cloned().map(Some).collect(),
        (Some(l), true) => vec![Some(l.to_owned())],
        (Some(l), false) => {
            let mut out: Vec<Option<String>> = Vec::new();
            for r in route {
                let h = if contains(l, r) {
                    r.clone()
                } else if contains(r, l) {
                    l.to_owned()
                } else {
                    continue;
                };
                if !out.contains(&Some(h.clone())) {
                    out.push(Some(h));
                }
            }
            out
        }
    }
}

/// How specific a matching hostname is, for precedence: an exact name beats any wildcard, then
/// more characters win. `None` (any host) is the least specific.
pub fn specificity(h: Option<&str>) -> (u8, usize) {
    match h {
        None => (0, 0),
        Some(h) if h.starts_with("*.") => (1, h.len()),
        Some(h) => (2, h.len()),
    }
}

/// The most specific of `names` matching `host` (`None` entries match everything).
pub fn best_match<'a>(names: &'a [Option<String>], host: &str) -> Option<Option<&'a str>> {
    names
        .iter()
        .map(Option::as_deref)
        .filter(|n| n.is_none_or(|n| matches(n, host)))
        .max_by_key(|n| specificity(*n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_need_a_label() {
        assert!(matches("*.fz.test", "a.fz.test"));
        assert!(matches("*.fz.test", "x.a.fz.test"));
        assert!(!matches("*.fz.test", "fz.test"));
        assert!(!matches("*.fz.test", "afz.test"));
        assert!(matches("a.fz.test", "a.fz.test"));
    }

    #[test]
    fn intersections() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            intersection(Some("*.fz.test"), &s(&["a.fz.test", "c.other.test"])),
            vec![Some("a.fz.test".to_owned())]
        );
        assert_eq!(
            intersection(Some("x.a.fz.test"), &s(&["*.fz.test"])),
            vec![Some("x.a.fz.test".to_owned())]
        );
        assert_eq!(
            intersection(Some("*.a.fz.test"), &s(&["*.fz.test"])),
            vec![Some("*.a.fz.test".to_owned())]
        );
        assert!(intersection(Some("a.fz.test"), &s(&["b.fz.test"])).is_empty());
        assert_eq!(intersection(None, &[]), vec![None]);
    }
}
