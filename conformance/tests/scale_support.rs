//! Synthetic scenarios of many routes, shared by the large-scenario test and the harness
//! scale bench: `n` HTTPRoutes on the base's `same-namespace` Gateway, alternating between
//! the two infra backends, a status expectation for each, and requests at both ends.
#![allow(dead_code)]

use std::path::Path;

use gatesim_conformance::scenario::{LoadOptions, Scenario};

pub fn many_routes_yaml(name: &str, n: usize) -> String {
    let mut yaml = format!(
        "name: {name}\ndescription: {n} routes on one Gateway\nfeatures: [Gateway, HTTPRoute]\n\
         base: gateway-conformance\nresources:\n"
    );
    for i in 0..n {
        yaml.push_str(&format!(
            "- apiVersion: gateway.networking.k8s.io/v1\n  kind: HTTPRoute\n  \
             metadata: {{name: many-{i}, namespace: gateway-conformance-infra}}\n  spec:\n    \
             parentRefs: [{{name: same-namespace}}]\n    rules:\n    - matches: \
             [{{path: {{type: PathPrefix, value: /many-{i}/}}}}]\n      \
             backendRefs: [{{name: infra-backend-v{}, port: 8080}}]\n",
            i % 2 + 1
        ));
    }
    yaml.push_str("steps:\n- expect-status:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - kind: HTTPRoute\n    namespace: gateway-conformance-infra\n    name: many-{i}\n    \
             parents:\n    - parentRef: {{name: same-namespace}}\n      conditions:\n      \
             - {{type: Accepted, status: \"True\"}}\n      - {{type: ResolvedRefs, status: \"True\"}}\n"
        ));
    }
    let last = n - 1;
    yaml.push_str(&format!(
        "- expect-http:\n    gateway: gateway-conformance-infra/same-namespace\n    cases:\n    \
         - request: {{path: /many-0/x}}\n      backend: infra-backend-v1\n    \
         - request: {{path: /many-{last}/x}}\n      backend: infra-backend-v{}\n",
        last % 2 + 1
    ));
    yaml
}

/// Writes the scenario into `dir` and loads it as `gatesim run` would.
pub fn many_routes(dir: &Path, name: &str, n: usize) -> Scenario {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, many_routes_yaml(name, n)).expect("the scenario is written");
    Scenario::load_with(&path, &LoadOptions::default()).expect("the scenario loads")
}
