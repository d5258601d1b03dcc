//! A JSON writer that reproduces Go's `json.MarshalIndent(v, "", " ")` byte for byte.
//!
//! The probe and implementations under test may compare echo replies textually (and
//! upstream's own tests do), so escaping and layout follow `encoding/json`, not serde_json:
//! `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`; U+2028/U+2029 are escaped; every
//! invalid UTF-8 byte becomes one U+FFFD; empty objects and arrays stay `{}` / `[]`.

/// A JSON value in the shape Go marshals: object members keep the order given here
/// (struct field order, or sorted keys for maps, which the caller supplies).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GoValue {
    /// A Go string; raw bytes because header values need not be UTF-8.
    Str(Vec<u8>),
    /// A Go unsigned integer, written in decimal.
    Uint(u64),
    Array(Vec<GoValue>),
    Object(Vec<(String, GoValue)>),
}

impl GoValue {
    pub(crate) fn str(s: impl AsRef<[u8]>) -> Self {
        GoValue::Str(s.as_ref().to_vec())
    }
}

/// `json.MarshalIndent(v, "", " ")`: one space per nesting level, no trailing newline.
pub(crate) fn marshal_indent(value: &GoValue) -> String {
    let mut out = String::with_capacity(512);
    write_value(&mut out, value, 0);
    out
}

/// `json.Marshal(v)`: compact form, used for error bodies.
pub(crate) fn marshal_compact(value: &GoValue) -> String {
    let mut out = String::new();
    write_compact(&mut out, value);
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push(' ');
    }
}

fn write_value(out: &mut String, value: &GoValue, depth: usize) {
    match value {
        GoValue::Str(bytes) => write_string(out, bytes),
        GoValue::Uint(n) => out.push_str(&n.to_string()),
        GoValue::Array(items) if items.is_empty() => out.push_str("[]"),
        GoValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        GoValue::Object(members) if members.is_empty() => out.push_str("{}"),
        GoValue::Object(members) => {
            out.push('{');
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_string(out, key.as_bytes());
                out.push_str(": ");
                write_value(out, member, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn write_compact(out: &mut String, value: &GoValue) {
    match value {
        GoValue::Str(bytes) => write_string(out, bytes),
        GoValue::Uint(n) => out.push_str(&n.to_string()),
        GoValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        GoValue::Object(members) => {
            out.push('{');
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key.as_bytes());
                out.push(':');
                write_compact(out, member);
            }
            out.push('}');
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(out: &mut String, unit: u32) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xf) as usize] as char);
    }
}

/// Go's string encoding with HTML escaping on (the `encoding/json` default).
fn write_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    let mut rest = bytes;
    while !rest.is_empty() {
        let (valid, invalid_at) = match std::str::from_utf8(rest) {
            Ok(s) => (s, None),
            Err(e) => {
                let (head, _) = rest.split_at(e.valid_up_to());
                // `head` is valid UTF-8 by construction; the fallback is unreachable.
                (
                    std::str::from_utf8(head).unwrap_or_default(),
                    Some(e.valid_up_to()),
                )
            }
        };
        for c in valid.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => push_u_escape(out, c as u32),
                c if (c as u32) < 0x20 => push_u_escape(out, c as u32),
                c => out.push(c),
            }
        }
        match invalid_at {
            // Go decodes rune by rune and replaces each undecodable byte on its own.
            Some(at) => {
                out.push_str("\\ufffd");
                rest = &rest[at + 1..];
            }
            None => rest = &[],
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_layout_matches_marshal_indent() {
        let v = GoValue::Object(vec![
            ("a".into(), GoValue::str("x")),
            (
                "h".into(),
                GoValue::Object(vec![(
                    "K".into(),
                    GoValue::Array(vec![GoValue::str("1"), GoValue::str("2")]),
                )]),
            ),
            ("e".into(), GoValue::Object(vec![])),
        ]);
        assert_eq!(
            marshal_indent(&v),
            "{\n \"a\": \"x\",\n \"h\": {\n  \"K\": [\n   \"1\",\n   \"2\"\n  ]\n },\n \"e\": {}\n}"
        );
        assert_eq!(
            marshal_compact(&v),
            "{\"a\":\"x\",\"h\":{\"K\":[\"1\",\"2\"]},\"e\":{}}"
        );
    }

    #[test]
    fn escapes_like_encoding_json() {
        let v = GoValue::Str(b"<a&b>\"\\\n\x01\x08\x0c\xe2\x80\xa8 \xff\xf0\x9f\x98".to_vec());
        assert_eq!(
            marshal_compact(&v),
            "\"\\u003ca\\u0026b\\u003e\\\"\\\\\\n\\u0001\\b\\f\\u2028 \\ufffd\\ufffd\\ufffd\\ufffd\""
        );
        assert_eq!(marshal_compact(&GoValue::str("héllo ✓")), "\"héllo ✓\"");
    }
}
