//! Settings `gloo.invalidConfigPolicy.replaceInvalidRoutes`: a route the controller refuses
//! for the values of its filters, timeouts or backends still answers on its matches, with the
//! configured fixed response, instead of disappearing (and letting a broader route of someone
//! else take its traffic). It stays reported as not accepted, saying why.
//!
//! A route whose matches, hostnames or parentRefs are at fault is left out as before: there is
//! nothing sound to match on.

use super::http::{DirectIr, HeaderMods, HttpRouteIr, Rewrite, RuleAction};
use crate::api::HttpRoute;
use crate::validate::{self, Seg};

pub(crate) fn replace_if_invalid(
    route: &HttpRoute,
    ir: &mut HttpRouteIr,
    response: &(u32, String),
) {
    let Some(problem) = ir.problem.take() else {
        return;
    };
    let sound = validate::http_route(route).iter().all(|e| {
        e.path.index_under(&["spec", "rules"]).is_some()
            && !e.path.0.iter().any(|s| matches!(s, Seg::Field("matches")))
    });
    if !sound {
        ir.problem = Some(problem);
        return;
    }
    let (status, body) = response;
    for rule in &mut ir.rules {
        rule.action = RuleAction::Direct(DirectIr {
            status: *status,
            body: (!body.is_empty()).then(|| body.clone()),
        });
        rule.request_headers = HeaderMods::default();
        rule.response_headers = HeaderMods::default();
        rule.rewrite = Rewrite::default();
        rule.request_timeout_ms = None;
        rule.backend_timeout_ms = None;
        rule.options = None;
        rule.extension_refs.clear();
        rule.delegations.clear();
    }
    ir.rules_problem = Some(problem);
}
