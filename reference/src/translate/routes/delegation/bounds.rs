//! Whether a delegatee's match lies within the delegating rule's match.
//!
//! K8sGateway's rule: the parent's match must be a path prefix; the child's path must start
//! with it; the child must carry every header and query parameter match of the parent (same
//! name, type and value) and the parent's method when it has one. A child match that does not
//! is dropped. gatesim reads "start with" element-wise, as the Gateway API defines a path
//! prefix: `/team1` contains `/team1` and `/team1/orders` but not `/team10`, which a plain string
//! prefix would let escape the parent's bounds. A regular-expression child path is dropped too,
//! since what it matches cannot be checked against the prefix.

use crate::translate::routes::http::{HttpMatchIr, PathMatch};

/// Whether `child` lies within `parent`.
pub(crate) fn contains(parent: &HttpMatchIr, child: &HttpMatchIr) -> bool {
    let PathMatch::Prefix(prefix) = &parent.path else {
        return false;
    };
    let path = match &child.path {
        PathMatch::Exact(p) | PathMatch::Prefix(p) => p,
        PathMatch::Regex(_) => return false,
    };
    let within = prefix == "/"
        || path
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    within
        && parent.headers.iter().all(|h| child.headers.contains(h))
        && parent.query.iter().all(|q| child.query.contains(q))
        && parent
            .method
            .as_ref()
            .is_none_or(|m| child.method.as_ref() == Some(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::routes::http::ValueMatch;

    fn m(path: PathMatch, headers: &[(&str, &str)], method: Option<&str>) -> HttpMatchIr {
        HttpMatchIr {
            path,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), ValueMatch::Exact(v.to_string())))
                .collect(),
            query: Vec::new(),
            method: method.map(str::to_string),
        }
    }

    fn prefix(p: &str) -> PathMatch {
        PathMatch::Prefix(p.into())
    }

    #[test]
    fn paths_are_contained_element_wise() {
        let parent = m(prefix("/team1"), &[], None);
        for (child, inside) in [
            (prefix("/team1"), true),
            (prefix("/team1/orders"), true),
            (PathMatch::Exact("/team1/status".into()), true),
            (prefix("/team10"), false),
            (prefix("/team"), false),
            (prefix("/"), false),
            (PathMatch::Regex("/team1/.*".into()), false),
        ] {
            assert_eq!(
                contains(&parent, &m(child.clone(), &[], None)),
                inside,
                "{child:?}"
            );
        }
        let root = m(prefix("/"), &[], None);
        assert!(contains(&root, &m(prefix("/anything"), &[], None)));
    }

    #[test]
    fn only_a_prefix_parent_delegates() {
        for parent in [
            PathMatch::Exact("/a".into()),
            PathMatch::Regex("/a.*".into()),
        ] {
            assert!(!contains(
                &m(parent, &[], None),
                &m(prefix("/a"), &[], None)
            ));
        }
    }

    #[test]
    fn the_parents_headers_and_method_are_required() {
        let parent = m(prefix("/a"), &[("x-team", "blue")], Some("GET"));
        assert!(contains(
            &parent,
            &m(
                prefix("/a/b"),
                &[("x-team", "blue"), ("x-more", "1")],
                Some("GET")
            )
        ));
        assert!(!contains(
            &parent,
            &m(prefix("/a/b"), &[("x-team", "blue")], None)
        ));
        assert!(!contains(
            &parent,
            &m(prefix("/a/b"), &[("x-team", "red")], Some("GET"))
        ));
        assert!(!contains(&parent, &m(prefix("/a/b"), &[], Some("GET"))));
    }
}
