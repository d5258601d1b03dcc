//! A YAML writer that lays a JSON document out the way upstream's reports look.
//!
//! Upstream writes its report with `sigs.k8s.io/yaml`: JSON first, then go-yaml v2, which sorts
//! mapping keys, puts sequence items at their parent key's indentation and double-quotes any
//! string that YAML 1.1 would otherwise read as another type (the report's `date` is the usual
//! one). serde_yaml sorts nothing, indents differently and leaves timestamps bare, so reports it
//! wrote would neither diff cleanly against submitted ones nor read back as strings under YAML 1.1.
//! The report is a small tree of maps, lists, strings and counts, so we lay it out ourselves.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// The document as block YAML, keys sorted as go-yaml v2 sorts them for the keys a report has
/// (plain byte order; go-yaml's digit-aware ordering only differs for keys containing digits).
pub(crate) fn to_string(document: &Value) -> String {
    let mut out = String::new();
    match document {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

fn write_mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        write_entry(out, key, &map[key.as_str()], indent);
    }
}

fn write_entry(out: &mut String, key: &str, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    let key = scalar(key);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let _ = writeln!(out, "{pad}{key}:");
            write_mapping(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            let _ = writeln!(out, "{pad}{key}:");
            for item in items {
                write_item(out, item, indent);
            }
        }
        other => {
            let start = indent + key.chars().count() + 2;
            let _ = writeln!(
                out,
                "{pad}{key}: {}",
                fold(&inline(other), start, indent + 2)
            );
        }
    }
}

/// A sequence item: scalars follow the dash; a nested block is written two columns further in
/// and its first line's indentation replaced by the dash, which is how go-yaml nests them.
fn write_item(out: &mut String, item: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    let nested = match item {
        Value::Object(map) if !map.is_empty() => {
            let mut block = String::new();
            write_mapping(&mut block, map, indent + 2);
            block
        }
        Value::Array(items) if !items.is_empty() => {
            let mut block = String::new();
            for inner in items {
                write_item(&mut block, inner, indent + 2);
            }
            block
        }
        other => {
            let _ = writeln!(
                out,
                "{pad}- {}",
                fold(&inline(other), indent + 2, indent + 2)
            );
            return;
        }
    };
    let _ = write!(out, "{pad}- {}", &nested[indent + 2..]);
}

/// A value that fits on its key's line: scalars, and the empty collections.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// go-yaml's line folding (libyaml's `best_width` of 80): a plain or single-quoted scalar breaks
/// at a single space once the line has passed 80 columns, continuing at `indent`. Readers join
/// the lines back with one space, so the value is unchanged. Double-quoted scalars, which only
/// carry escapes or short typed-looking values here, are left on one line.
fn fold(scalar: &str, start_column: usize, indent: usize) -> String {
    const BEST_WIDTH: usize = 80;
    let chars: Vec<char> = scalar.chars().collect();
    if chars.first() == Some(&'"') {
        return scalar.to_owned();
    }
    // In a quoted scalar the quotes themselves are never folded next to.
    let quoted = chars.first() == Some(&'\'');
    let (first, last) = if quoted {
        (2, chars.len().saturating_sub(3))
    } else {
        (0, chars.len().saturating_sub(1))
    };
    let mut out = String::with_capacity(scalar.len());
    let mut column = start_column;
    for (i, &c) in chars.iter().enumerate() {
        let breakable = c == ' '
            && (first..=last).contains(&i)
            && i > 0
            && chars[i - 1] != ' '
            && chars.get(i + 1).is_some_and(|n| *n != ' ');
        if breakable && column > BEST_WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else {
            out.push(c);
            column += 1;
        }
    }
    out
}

/// A string scalar, plain when YAML reads it back as the same string, otherwise quoted.
pub(crate) fn scalar(s: &str) -> String {
    if s.chars().any(needs_escape) {
        double_quoted(s)
    } else if resolves_to_non_string(s) {
        // go-yaml chooses double quotes for these, and so do we, to match its output.
        double_quoted(s)
    } else if plain_is_ambiguous(s) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}'
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) && (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a YAML 1.1 reader would take the bare text as null, a boolean, a number or a
/// timestamp. Errs on the side of quoting: a quoted string is always read back correctly.
fn resolves_to_non_string(s: &str) -> bool {
    static TYPED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:",
            r"~|null|Null|NULL",
            r"|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"|[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])*",
            r"|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?",
            r")$"
        ))
        .expect("the YAML 1.1 type pattern is valid")
    });
    s.is_empty() || TYPED.is_match(s)
}

/// Whether the bare text would not even parse as a plain scalar: indicators at the start,
/// `: ` or ` #` inside, or whitespace at either end.
fn plain_is_ambiguous(s: &str) -> bool {
    const LEADING: &[char] = &[
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ];
    s.starts_with(LEADING)
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace)
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_quoted_only_when_yaml_would_misread_them() {
        assert_eq!(scalar("GATEWAY-HTTP"), "GATEWAY-HTTP");
        assert_eq!(scalar("v1.6.1"), "v1.6.1");
        assert_eq!(
            scalar("Core tests succeeded. Extended tests succeeded."),
            "Core tests succeeded. Extended tests succeeded."
        );
        assert_eq!(scalar("2026-07-20T20:02:46Z"), "\"2026-07-20T20:02:46Z\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("1.5"), "\"1.5\"");
        assert_eq!(scalar("0x1F"), "\"0x1F\"");
        assert_eq!(scalar("@team/gatesim"), "'@team/gatesim'");
        assert_eq!(scalar("a: b"), "'a: b'");
        assert_eq!(scalar("it's"), "it's");
        assert_eq!(scalar("-x 'y'"), "'-x ''y'''");
        assert_eq!(scalar("two\nlines\t\"q\""), "\"two\\nlines\\t\\\"q\\\"\"");
        assert_eq!(scalar("bell\u{7}"), "\"bell\\x07\"");
    }

    #[test]
    fn layout_follows_go_yaml() {
        let doc = json!({
            "b": {"z": 1, "a": [ "x", {"k": "v", "j": []} ]},
            "a": null,
            "c": [[1, 2]],
            "d": {},
        });
        assert_eq!(
            to_string(&doc),
            "a: null\nb:\n  a:\n  - x\n  - j: []\n    k: v\n  z: 1\nc:\n- - 1\n  - 2\nd: {}\n"
        );
    }

    #[test]
    fn long_values_fold_past_eighty_columns_like_go_yaml() {
        let summary = "Core tests partially succeeded with 10 test skips. Extended tests partially succeeded with 1 test skips.";
        let doc = json!({"profiles": [{"summary": summary}], "quoted": format!("@{summary}")});
        let text = to_string(&doc);
        assert_eq!(
            text,
            concat!(
                "profiles:\n",
                "- summary: Core tests partially succeeded with 10 test skips. Extended tests partially\n",
                "    succeeded with 1 test skips.\n",
                "quoted: '@Core tests partially succeeded with 10 test skips. Extended tests partially\n",
                "  succeeded with 1 test skips.'\n",
            )
        );
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn written_yaml_reads_back_as_the_same_document() {
        let doc = json!({
            "date": "2026-07-20T20:02:46+02:00",
            "odd": ["", "null", "no", "123", "1e5", "#x", "a #b", "tab\there", " pad", "x:"],
            "nested": {"list": [{"a": 1, "b": [true, false]}]},
        });
        let text = to_string(&doc);
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, doc, "{text}");
    }
}
