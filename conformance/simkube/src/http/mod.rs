//! The HTTP surface: one fallback handler that parses the path and dispatches, since the
//! Kubernetes URL space (groups, versions, namespaces, subresources) is easier to parse
//! than to enumerate as routes.

mod admin;
mod render;
mod resources;
mod route;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::error::ApiError;
use crate::server::Core;
use crate::{discovery, openapi};
use route::Route;

/// The router serving `core`.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new().fallback(handle).with_state(core)
}

async fn handle(State(core): State<Arc<Core>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let table = core.store.table();
    let found = match route::parse(table, &path) {
        Route::Version => Some(discovery::version()),
        Route::CoreVersions => Some(discovery::core_versions(&core.addr.to_string())),
        Route::Groups => Some(discovery::group_list(table)),
        Route::Group(g) => discovery::group(table, &g),
        Route::ResourceList { group, version } => discovery::resource_list(table, &group, &version),
        Route::OpenApiIndex => Some(openapi::index(table)),
        Route::OpenApi(gv) => openapi::group_version(table, &gv),
        Route::Health => {
            return Response::new(Body::from("ok"));
        }
        Route::Admin(rest) => return admin::handle(core, &rest, req).await,
        Route::Resource(target) => return resources::handle(core, target, req).await,
        Route::NotFound => None,
    };
    match found {
        Some(doc) => json_response(StatusCode::OK, &doc),
        None => error_response(&ApiError::no_route(&path)),
    }
}

/// A JSON response.
pub(crate) fn json_response(code: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = Response::new(Body::from(bytes));
            *resp.status_mut() = code;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => error_response(&ApiError::internal(format!("encoding response: {e}"))),
    }
}

/// A `Status` failure response.
pub(crate) fn error_response(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &err.to_status())
}

/// The query string as a map (the last of repeated parameters wins).
pub(crate) fn query(req_uri: &http::Uri) -> Result<HashMap<String, String>, ApiError> {
    Query::<Vec<(String, String)>>::try_from_uri(req_uri)
        .map(|Query(pairs)| pairs.into_iter().collect())
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

/// Reads a whole request body.
pub(crate) async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, 64 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))
}
