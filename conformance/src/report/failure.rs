//! How a failure reads in plain text: one wording for the JUnit body and the terminal block, so
//! that what CI shows and what a developer sees locally can be compared line by line.

use std::fmt::Write as _;
use std::path::Path;

use crate::outcome::Failure;

/// Where the failure happened, as the scenario errors spell YAML paths: `steps[2].expect-http`,
/// the index counting from 0 as in the file.
pub(crate) fn location(failure: &Failure) -> Option<String> {
    failure
        .step
        .as_ref()
        .map(|(index, key)| format!("steps[{index}].{key}"))
}

/// One line: where, and the first line of what went wrong.
pub(crate) fn headline(failure: &Failure) -> String {
    let first = failure.message.lines().next().unwrap_or("").trim();
    let mut out = String::new();
    if let Some(location) = location(failure) {
        out.push_str(&location);
    }
    if let Some(case) = &failure.case {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "case {case}");
    }
    match (out.is_empty(), first.is_empty()) {
        (true, _) => first.to_owned(),
        (false, true) => out,
        (false, false) => format!("{out}: {first}"),
    }
}

/// The whole story: step, case, expected against observed, and the related status.
pub(crate) fn details(failure: &Failure) -> String {
    let mut out = String::new();
    if let Some(location) = location(failure) {
        let _ = writeln!(out, "step: {location}");
    }
    if let Some(case) = &failure.case {
        let _ = writeln!(out, "case: {case}");
    }
    for line in failure.message.trim_end().lines() {
        let _ = writeln!(out, "{line}");
    }
    if let Some(status) = failure
        .related_status
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        out.push_str("related status:\n");
        for line in status.trim_end().lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// The scenario's directory name (`httproute` for `scenarios/httproute/X.yaml`): the suite's
/// grouping, used as JUnit classname.
pub(crate) fn group(path: &Path) -> String {
    path.parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "scenarios".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(step: Option<(usize, &str)>, case: Option<&str>, message: &str) -> Failure {
        Failure {
            step: step.map(|(i, k)| (i, k.to_owned())),
            case: case.map(str::to_owned),
            message: message.to_owned(),
            related_status: None,
        }
    }

    #[test]
    fn headline_names_what_is_known() {
        assert_eq!(
            headline(&failure(
                Some((2, "expect-http")),
                Some("exact"),
                "expected 200\ngot 404"
            )),
            "steps[2].expect-http case exact: expected 200"
        );
        assert_eq!(headline(&failure(None, None, "boom")), "boom");
        assert_eq!(
            headline(&failure(Some((0, "apply")), None, "")),
            "steps[0].apply"
        );
    }

    #[test]
    fn details_indent_the_related_status() {
        let mut f = failure(Some((1, "expect-status")), None, "expected Accepted=True\n");
        f.related_status = Some("conditions:\n- type: Accepted\n".to_owned());
        assert_eq!(
            details(&f),
            "step: steps[1].expect-status\nexpected Accepted=True\nrelated status:\n  conditions:\n  - type: Accepted\n"
        );
    }

    #[test]
    fn group_is_the_parent_directory() {
        assert_eq!(group(Path::new("scenarios/httproute/X.yaml")), "httproute");
        assert_eq!(group(Path::new("X.yaml")), "scenarios");
    }
}
