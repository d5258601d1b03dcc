//! A failed comparison, rendered for people: which field, expected against observed, and
//! what was observed around it (the request, status, headers, echo reply or body).

use std::fmt;

use super::{ProbeRequest, ProbeResponse};
use crate::echo::EchoReply;

/// One failed check of [`super::compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was checked, e.g. `status`, `path`, `request header x-version`, `backend`.
    pub field: String,
    pub expected: String,
    pub observed: String,
    /// The request and response, rendered (multi-line).
    pub context: String,
}

impl Mismatch {
    pub(crate) fn new(
        field: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
        req: &ProbeRequest,
        res: &ProbeResponse,
    ) -> Self {
        Mismatch {
            field: field.into(),
            expected: expected.into(),
            observed: observed.into(),
            context: render_context(req, res),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}\n{}",
            self.field, self.expected, self.observed, self.context
        )
    }
}

impl std::error::Error for Mismatch {}

/// How much of a non-echo body to show.
const BODY_PREVIEW: usize = 512;

fn render_context(req: &ProbeRequest, res: &ProbeResponse) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "  request: {} {} (host {:?}, {:?})\n",
        req.method,
        req.url(),
        req.authority(),
        req.protocol
    ));
    out.push_str(&format!("  response: {} {}\n", res.status, res.proto));
    let mut names: Vec<&str> = res.headers.keys().map(|k| k.as_str()).collect();
    names.dedup();
    for name in names {
        let values: Vec<String> = res
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        out.push_str(&format!("    {name}: {}\n", values.join(",")));
    }
    match &res.echo {
        Some(echo) => render_echo(&mut out, echo),
        None => {
            if let Some(err) = &res.echo_error {
                out.push_str(&format!("  echo reply: unreadable JSON ({err})\n"));
            }
            let preview: String = String::from_utf8_lossy(&res.body)
                .chars()
                .take(BODY_PREVIEW)
                .collect();
            let cut = if res.body.len() > preview.len() {
                " (truncated)"
            } else {
                ""
            };
            out.push_str(&format!(
                "  body ({} bytes): {preview:?}{cut}\n",
                res.body.len()
            ));
        }
    }
    out
}

fn render_echo(out: &mut String, echo: &EchoReply) {
    out.push_str(&format!(
        "  echo reply: pod {:?} namespace {:?}\n    {} {} host {:?} {}\n",
        echo.pod, echo.namespace, echo.method, echo.path, echo.host, echo.proto
    ));
    for (name, values) in &echo.headers {
        out.push_str(&format!("    {name}: {}\n", values.join(",")));
    }
    if let Some(tls) = &echo.tls {
        out.push_str(&format!(
            "    tls: {} sni {:?} alpn {:?} {}\n",
            tls.version, tls.server_name, tls.negotiated_protocol, tls.cipher_suite
        ));
    }
}
