//! `/simkube/v1/...`: faults and counters over HTTP, for tools that are not in-process.
//!
//! | Method and path                    | Body / answer                                  |
//! |------------------------------------|------------------------------------------------|
//! | `GET /simkube/v1/faults`           | the active faults                              |
//! | `DELETE /simkube/v1/faults`        | clears every fault                             |
//! | `POST /simkube/v1/faults/errors`   | `{"verb"?, "resource"?, "code", "count"}`      |
//! | `POST /simkube/v1/faults/latency`  | `{"verb"?, "resource"?, "millis"}`             |
//! | `POST /simkube/v1/faults/drop-watches` | answers `{"dropped": n}`                   |
//! | `POST /simkube/v1/faults/compact`  | forgets watch history (resumes get 410)        |
//! | `GET /simkube/v1/stats`            | request and watch counters                     |

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{error_response, json_response, read_body};
use crate::error::ApiError;
use crate::faults::{ErrorFault, Faults, LatencyFault};
use crate::server::Core;

pub(super) async fn handle(core: Arc<Core>, rest: &str, req: Request) -> Response {
    let faults = Faults::new(core);
    match serve(&faults, rest, req).await {
        Ok(resp) => resp,
        Err(err) => error_response(&err),
    }
}

async fn body<T: DeserializeOwned>(req: Request) -> Result<T, ApiError> {
    let bytes = read_body(req.into_body()).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid fault: {e}")))
}

async fn serve(faults: &Faults, rest: &str, req: Request) -> Result<Response, ApiError> {
    let ok = || json_response(StatusCode::OK, &json!({}));
    match (req.method().clone(), rest) {
        (Method::GET, "faults") => Ok(json_response(StatusCode::OK, &faults.active())),
        (Method::DELETE, "faults") => {
            faults.clear();
            Ok(ok())
        }
        (Method::POST, "faults/errors") => {
            faults.inject_error(body::<ErrorFault>(req).await?)?;
            Ok(ok())
        }
        (Method::POST, "faults/latency") => {
            faults.add_latency(body::<LatencyFault>(req).await?);
            Ok(ok())
        }
        (Method::POST, "faults/drop-watches") => Ok(json_response(
            StatusCode::OK,
            &json!({"dropped": faults.drop_watches()}),
        )),
        (Method::POST, "faults/compact") => {
            faults.compact_history();
            Ok(ok())
        }
        (Method::GET, "stats") => Ok(json_response(StatusCode::OK, &faults.stats())),
        (_, other) => Err(ApiError::no_route(&format!("/simkube/v1/{other}"))),
    }
}
