//! Access log format strings, checked as Envoy parses them: text with command operators
//! `%COMMAND%`, `%COMMAND(argument)%` or `%COMMAND(argument):length%`. Envoy rejects a
//! configuration whose format names a command it does not know (or lacks a required
//! argument), and with it the whole listener, so such a format is refused with the command
//! and its position.

use serde_json::{Map, Value};

use super::values::Findings;

/// Commands that take an argument in parentheses, which must be there.
const WITH_ARGUMENT: &[&str] = &[
    "REQ",
    "RESP",
    "TRAILER",
    "DYNAMIC_METADATA",
    "CLUSTER_METADATA",
    "UPSTREAM_METADATA",
    "FILTER_STATE",
    "UPSTREAM_FILTER_STATE",
    "ENVIRONMENT",
];

/// Commands whose argument (a time format) may be left out.
const OPTIONAL_ARGUMENT: &[&str] = &[
    "START_TIME",
    "EMIT_TIME",
    "DOWNSTREAM_PEER_CERT_V_START",
    "DOWNSTREAM_PEER_CERT_V_END",
];

/// Commands without an argument.
const PLAIN: &[&str] = &[
    "PROTOCOL",
    "UPSTREAM_PROTOCOL",
    "REQUEST_DURATION",
    "REQUEST_TX_DURATION",
    "RESPONSE_DURATION",
    "RESPONSE_TX_DURATION",
    "DURATION",
    "BYTES_RECEIVED",
    "BYTES_SENT",
    "UPSTREAM_WIRE_BYTES_SENT",
    "UPSTREAM_WIRE_BYTES_RECEIVED",
    "UPSTREAM_HEADER_BYTES_SENT",
    "UPSTREAM_HEADER_BYTES_RECEIVED",
    "DOWNSTREAM_WIRE_BYTES_SENT",
    "DOWNSTREAM_WIRE_BYTES_RECEIVED",
    "DOWNSTREAM_HEADER_BYTES_SENT",
    "DOWNSTREAM_HEADER_BYTES_RECEIVED",
    "REQUEST_HEADERS_BYTES",
    "RESPONSE_HEADERS_BYTES",
    "RESPONSE_TRAILERS_BYTES",
    "RESPONSE_CODE",
    "RESPONSE_CODE_DETAILS",
    "CONNECTION_TERMINATION_DETAILS",
    "RESPONSE_FLAGS",
    "RESPONSE_FLAGS_LONG",
    "ROUTE_NAME",
    "VIRTUAL_CLUSTER_NAME",
    "UPSTREAM_HOST",
    "UPSTREAM_CLUSTER",
    "UPSTREAM_LOCAL_ADDRESS",
    "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
    "UPSTREAM_LOCAL_PORT",
    "UPSTREAM_REMOTE_ADDRESS",
    "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
    "UPSTREAM_REMOTE_PORT",
    "UPSTREAM_TRANSPORT_FAILURE_REASON",
    "UPSTREAM_REQUEST_ATTEMPT_COUNT",
    "DOWNSTREAM_REMOTE_ADDRESS",
    "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_REMOTE_PORT",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_DIRECT_REMOTE_PORT",
    "DOWNSTREAM_LOCAL_ADDRESS",
    "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_LOCAL_PORT",
    "DOWNSTREAM_LOCAL_URI_SAN",
    "DOWNSTREAM_PEER_URI_SAN",
    "DOWNSTREAM_LOCAL_SUBJECT",
    "DOWNSTREAM_PEER_SUBJECT",
    "DOWNSTREAM_PEER_ISSUER",
    "DOWNSTREAM_TLS_SESSION_ID",
    "DOWNSTREAM_TLS_CIPHER",
    "DOWNSTREAM_TLS_VERSION",
    "DOWNSTREAM_PEER_FINGERPRINT_256",
    "DOWNSTREAM_PEER_FINGERPRINT_1",
    "DOWNSTREAM_PEER_SERIAL",
    "DOWNSTREAM_PEER_CERT",
    "DOWNSTREAM_TRANSPORT_FAILURE_REASON",
    "CONNECTION_ID",
    "REQUESTED_SERVER_NAME",
    "HOSTNAME",
    "LOCAL_REPLY_BODY",
    "STREAM_ID",
    "ACCESS_LOG_TYPE",
    "UNIQUE_ID",
    "TRACE_ID",
];

/// Every command gatesim lets through, for tests that hand them all to Envoy.
#[cfg(test)]
pub(crate) fn known_commands() -> impl Iterator<Item = String> {
    let with = WITH_ARGUMENT.iter().map(|c| match *c {
        "REQ" | "RESP" | "TRAILER" => format!("%{c}(X-A?X-B):10%"),
        "ENVIRONMENT" => format!("%{c}(HOME)%"),
        "DYNAMIC_METADATA" | "CLUSTER_METADATA" | "UPSTREAM_METADATA" => {
            format!("%{c}(ns:key)%")
        }
        _ => format!("%{c}(key)%"),
    });
    let optional = OPTIONAL_ARGUMENT
        .iter()
        .flat_map(|c| [format!("%{c}%"), format!("%{c}(%s)%")]);
    with.chain(optional)
        .chain(PLAIN.iter().map(|c| format!("%{c}%")))
}

/// Check one format string: every `%` starts a known command (a literal `%` cannot be
/// written; Envoy has no escape for it).
pub(crate) fn format(s: &str) -> Result<(), String> {
    let mut rest = s;
    let mut offset = 0;
    while let Some(start) = rest.find('%') {
        let at = offset + start;
        let after = &rest[start + 1..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let name = &after[..name_len];
        let mut tail = &after[name_len..];
        let mut argument = None;
        if let Some(inner) = tail.strip_prefix('(') {
            let Some(close) = inner.find(')') else {
                return Err(format!("%{name}( at position {at} is not closed with )"));
            };
            argument = Some(&inner[..close]);
            tail = &inner[close + 1..];
        }
        if let Some(len) = tail.strip_prefix(':') {
            let digits = len.bytes().take_while(u8::is_ascii_digit).count();
            tail = &len[digits..];
        }
        let Some(next) = tail.strip_prefix('%') else {
            return Err(format!(
                "position {at}: a % must start a command such as %REQ(:PATH)% (a literal % \
                 cannot be written)"
            ));
        };
        command(name, argument).map_err(|why| format!("position {at}: {why}"))?;
        offset = s.len() - next.len();
        rest = next;
    }
    Ok(())
}

fn command(name: &str, argument: Option<&str>) -> Result<(), String> {
    if WITH_ARGUMENT.contains(&name) {
        match argument {
            None | Some("") => Err(format!("%{name}% needs an argument, as %{name}(...)%")),
            Some(_) => Ok(()),
        }
    } else if OPTIONAL_ARGUMENT.contains(&name) {
        Ok(())
    } else if PLAIN.contains(&name) {
        match argument {
            Some(_) => Err(format!("%{name}% takes no argument")),
            None => Ok(()),
        }
    } else {
        Err(format!("%{name}% is not an Envoy command gatesim knows"))
    }
}

/// A JSON format: string values are format strings, numbers and booleans are written as
/// they are, objects nest; lists and nulls are refused (Envoy rejects them).
pub(crate) fn json_format(f: &mut Findings, path: &str, fields: &Map<String, Value>) {
    for (key, value) in fields {
        let at = format!("{path}.{key}");
        match value {
            Value::String(s) => f.check(&at, format(s)),
            Value::Object(o) => json_format(f, &at, o),
            Value::Number(_) | Value::Bool(_) => {}
            Value::Array(_) | Value::Null => f.at(
                &at,
                "must be a format string, a number, a boolean or an object",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn commands_are_parsed_as_envoy_parses_them() {
        assert!(
            format("[x] %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE%\n")
                .is_ok()
        );
        assert!(format("%START_TIME(%Y)% %START_TIME% %REQ(USER-AGENT):20%").is_ok());
        assert!(format("no commands at all").is_ok());
        assert!(
            format("%NOPE%")
                .unwrap_err()
                .contains("%NOPE% is not an Envoy command")
        );
        assert!(format("100% sure").unwrap_err().contains("position 3"));
        assert!(format("%REQ%").unwrap_err().contains("needs an argument"));
        assert!(format("%REQ(:PATH").unwrap_err().contains("not closed"));
        assert!(
            format("%RESPONSE_CODE(x)%")
                .unwrap_err()
                .contains("takes no argument")
        );
        assert!(format("%%").is_err());
    }
}
