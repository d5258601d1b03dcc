//! The agreement table: for every upstream test our suite also has (same ShortName), upstream's
//! verdict beside ours. Two verdicts that both ran and differ are a bug in one of the two
//! suites; a test that one side skipped is listed but cannot disagree.

use std::fmt::Write as _;

use super::verdicts::{Verdict, Verdicts};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub test: String,
    pub upstream: Verdict,
    pub ours: Verdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    Agree,
    Disagree,
    /// One side skipped the test: nothing to compare.
    NotCompared,
}

impl Row {
    pub fn agreement(&self) -> Agreement {
        match (self.upstream, self.ours) {
            (a, b) if a == b => Agreement::Agree,
            (Verdict::Skip, _) | (_, Verdict::Skip) => Agreement::NotCompared,
            _ => Agreement::Disagree,
        }
    }
}

/// The tests both suites have, in upstream's name order.
pub fn compare(upstream: &Verdicts, ours: &Verdicts) -> Vec<Row> {
    upstream
        .iter()
        .filter_map(|(test, &u)| {
            ours.get(test).map(|&o| Row {
                test: test.clone(),
                upstream: u,
                ours: o,
            })
        })
        .collect()
}

/// The table as printed, with a closing count line.
pub fn render(rows: &[Row], ours_from: &str) -> String {
    let width = rows.iter().map(|r| r.test.len()).max().unwrap_or(4).max(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:<8}  {:<8}  agreement",
        "test", "upstream", "ours",
    );
    for row in rows {
        let verdict = match row.agreement() {
            Agreement::Agree => "agree",
            Agreement::Disagree => "DISAGREE: a bug in one of the two suites",
            Agreement::NotCompared => "not compared (skipped on one side)",
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<8}  {verdict}",
            row.test,
            row.upstream.word(),
            row.ours.word()
        );
    }
    let count = |a: Agreement| rows.iter().filter(|r| r.agreement() == a).count();
    let _ = write!(
        out,
        "{} shared tests: {} agree, {} disagree, {} not compared (ours: {ours_from})",
        rows.len(),
        count(Agreement::Agree),
        count(Agreement::Disagree),
        count(Agreement::NotCompared)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shared_tests_are_compared_and_skips_never_disagree() {
        let upstream: Verdicts = [
            ("A".to_owned(), Verdict::Pass),
            ("B".to_owned(), Verdict::Fail),
            ("C".to_owned(), Verdict::Skip),
            ("OnlyUpstream".to_owned(), Verdict::Pass),
        ]
        .into();
        let ours: Verdicts = [
            ("A".to_owned(), Verdict::Pass),
            ("B".to_owned(), Verdict::Pass),
            ("C".to_owned(), Verdict::Pass),
            ("OnlyOurs".to_owned(), Verdict::Fail),
        ]
        .into();
        let rows = compare(&upstream, &ours);
        let got: Vec<(&str, Agreement)> = rows
            .iter()
            .map(|r| (r.test.as_str(), r.agreement()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", Agreement::Agree),
                ("B", Agreement::Disagree),
                ("C", Agreement::NotCompared),
            ]
        );
        let text = render(&rows, "sim");
        assert!(text.contains("DISAGREE"), "{text}");
        assert!(
            text.ends_with("3 shared tests: 1 agree, 1 disagree, 1 not compared (ours: sim)"),
            "{text}"
        );
    }
}
