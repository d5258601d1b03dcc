//! Parsing request paths into what they address.

use crate::kinds::{KindId, KindTable};

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`.
    ResourceList {
        /// API group ("" for core).
        group: String,
        /// Version.
        version: String,
    },
    /// A resource collection, object or subresource.
    Resource(ResourcePath),
    /// `/simkube/v1/<rest>`: the fault and counter API.
    Admin(String),
    /// `/openapi/v3`.
    OpenApiIndex,
    /// `/openapi/v3/<group version path>`.
    OpenApi(String),
    /// `/healthz`, `/readyz`, `/livez`.
    Health,
    /// Nothing served.
    NotFound,
}

/// A path under a served group version that names a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// The kind.
    pub kind: KindId,
    /// Version from the URL.
    pub version: String,
    /// Namespace from the URL (`None`: cluster-scoped kind, or all namespaces).
    pub namespace: Option<String>,
    /// Object name (`None`: the collection).
    pub name: Option<String>,
    /// Subresource (`status`).
    pub subresource: Option<String>,
}

/// Parses a path.
pub fn parse(table: &KindTable, path: &str) -> Route {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez"] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group((*group).to_string()),
        ["api", version] => resource_list("", version),
        ["apis", group, version] => resource_list(group, version),
        ["api", version, rest @ ..] => resource(table, "", version, rest),
        ["apis", group, version, rest @ ..] => resource(table, group, version, rest),
        ["simkube", "v1", rest @ ..] => Route::Admin(rest.join("/")),
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", rest @ ..] => Route::OpenApi(rest.join("/")),
        _ => Route::NotFound,
    }
}

fn resource_list(group: &str, version: &str) -> Route {
    Route::ResourceList {
        group: group.to_string(),
        version: version.to_string(),
    }
}

fn resource(table: &KindTable, group: &str, version: &str, rest: &[&str]) -> Route {
    let served = |plural: &str| {
        table
            .by_resource(group, plural)
            .filter(|id| table.spec(*id).serves(version))
    };
    // `namespaces/<ns>/<plural>...` when <plural> is a namespaced kind of this group;
    // otherwise `namespaces/<name>[/status]` addresses the Namespace itself.
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, ..]
            if served(plural).is_some_and(|id| table.spec(id).namespaced) =>
        {
            (Some((*ns).to_string()), &rest[2..])
        }
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        _ => return Route::NotFound,
    };
    let Some(kind) = served(plural) else {
        return Route::NotFound;
    };
    let spec = table.spec(kind);
    // A namespaced kind's single objects live under their namespace.
    if spec.namespaced && namespace.is_none() && name.is_some() {
        return Route::NotFound;
    }
    if subresource.is_some_and(|s| s != "status" || !spec.status_subresource) {
        return Route::NotFound;
    }
    Route::Resource(ResourcePath {
        kind,
        version: version.to_string(),
        namespace,
        name: name.map(String::from),
        subresource: subresource.map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(&KindTable::new(), path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let t = KindTable::new();
        let r = res("/apis/gateway.networking.k8s.io/v1beta1/namespaces/ns/gateways/gw/status");
        assert_eq!(t.spec(r.kind).kind, "Gateway");
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref()),
            (Some("ns"), Some("gw"))
        );
        assert_eq!(r.subresource.as_deref(), Some("status"));

        let r = res("/api/v1/namespaces/ns/status");
        assert_eq!(t.spec(r.kind).kind, "Namespace");
        assert_eq!((r.namespace, r.name.as_deref()), (None, Some("ns")));

        let r = res("/api/v1/namespaces/ns/services");
        assert_eq!(t.spec(r.kind).kind, "Service");
        assert_eq!(r.name, None);

        let r = res("/apis/gateway.networking.k8s.io/v1/httproutes");
        assert_eq!((r.namespace, r.name), (None, None), "all-namespaces list");
    }

    #[test]
    fn unserved_paths_are_not_found() {
        let t = KindTable::new();
        for p in [
            "/apis/gateway.networking.k8s.io/v1beta1/namespaces/ns/grpcroutes",
            "/apis/gateway.networking.k8s.io/v1/gateways/gw",
            "/api/v1/namespaces/ns/configmaps/c/status",
            "/apis/gateway.networking.k8s.io/v1/namespaces/ns/gateways/gw/scale",
            "/apis/example.com/v1/widgets",
        ] {
            assert_eq!(parse(&t, p), Route::NotFound, "{p}");
        }
    }
}
