//! Regular expressions as Envoy runs them: Google RE2, which Envoy 1.40 runs in Latin-1 mode
//! (a regex matches bytes; `\x{100}` is an invalid escape there).
//!
//! The `regex-syntax` crate parses a close relative of RE2's syntax. What it rejects, RE2
//! rejects too (backreferences, lookaround); what it accepts beyond RE2 is refused here:
//! the flags `u`, `x` and `R`, nested classes and class set operations (which RE2 reads as
//! literal brackets, a different regex), `\u`/`\U` escapes, the extra word-boundary
//! assertions, stacked repetitions (`a**`, `a{2}{3}`), repetition counts over 1000 and nested
//! counted repetitions whose counts multiply past 1000. So is everything beyond ASCII
//! (characters, escapes, Unicode classes such as `\pL`): Latin-1 RE2 would match it byte by
//! byte, not as the characters the regex names. Paths arrive percent-encoded anyway.
//!
//! Envoy then refuses a regex whose compiled RE2 program is larger than the runtime key
//! `re2.max_program_size.error_level`. [`program_size`] estimates that size from above, so a
//! regex accepted here is accepted by Envoy.

mod size;

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassSet, ClassSetItem, Flag, FlagsItemKind, GroupKind,
    HexLiteralKind, LiteralKind, RepetitionKind, RepetitionRange,
};

/// The RE2 program size Envoy is configured to accept (`re2.max_program_size.error_level`,
/// written into every bootstrap this controller produces).
///
/// Envoy's default of 100 refuses everyday regexes: one path segment such as
/// `[a-zA-Z0-9_-]{1,64}` compiles to over 300 instructions. The limit bounds the memory and
/// matching work of one regex (an instruction is 16 bytes); 32768 instructions, what Istio
/// configures, is far above what a route needs (a path regex has at most 1024 characters, and
/// one written without counted repetitions compiles to a few thousand at most) and far
/// below RE2's own compile budget of about 350,000.
pub const MAX_PROGRAM_SIZE: u64 = 32_768;

/// RE2's largest repetition count, alone or multiplied through nested counted repetitions.
const MAX_REPEAT: u32 = 1000;

/// Check that RE2 accepts `pattern` and that Envoy's program size limit does.
pub fn check(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("must not be empty (Envoy refuses an empty regex)".into());
    }
    let estimate = program_size(pattern)?;
    if estimate > MAX_PROGRAM_SIZE {
        return Err(format!(
            "{pattern:?} is too complex: its RE2 program would have up to {estimate} \
             instructions, more than the {MAX_PROGRAM_SIZE} Envoy is configured to accept"
        ));
    }
    Ok(())
}

/// The upper bound of the RE2 program size of `pattern`, once RE2 is known to accept it.
pub fn program_size(pattern: &str) -> Result<u64, String> {
    let ast = parse(pattern)?;
    let mut compat = Compat {
        pattern,
        problem: None,
    };
    compat.walk(&ast, MAX_REPEAT);
    match compat.problem {
        Some(problem) => Err(problem),
        None => Ok(size::estimate(&ast)),
    }
}

fn parse(pattern: &str) -> Result<Ast, String> {
    ast::parse::ParserBuilder::new()
        // RE2 allows 1000 levels; this is stricter and keeps every walk below shallow.
        .nest_limit(100)
        .build()
        .parse(pattern)
        .map_err(|e| {
            format!(
                "{pattern:?} is not a valid RE2 regex: {} at offset {}",
                e.kind(),
                e.span().start.offset
            )
        })
}

/// Finds the first construct RE2 would refuse or read differently.
struct Compat<'a> {
    pattern: &'a str,
    problem: Option<String>,
}

impl Compat<'_> {
    fn refuse(&mut self, span: &ast::Span, why: &str) {
        if self.problem.is_none() {
            let text = &self.pattern[span.start.offset..span.end.offset];
            self.problem = Some(format!(
                "{:?} is not a valid RE2 regex: {text:?} at offset {}: {why}",
                self.pattern, span.start.offset
            ));
        }
    }

    /// `budget` is what is left of RE2's repetition limit by the counted repetitions around
    /// this node.
    fn walk(&mut self, ast: &Ast, budget: u32) {
        if self.problem.is_some() {
            return;
        }
        match ast {
            Ast::Empty(_) | Ast::Dot(_) | Ast::ClassPerl(_) => {}
            Ast::ClassUnicode(c) => self.refuse(
                &c.span,
                "Envoy's RE2 matches bytes (Latin-1): Unicode classes would not match \
                 characters beyond ASCII",
            ),
            Ast::Flags(f) => self.flags(&f.flags),
            Ast::Literal(l) => self.literal(l),
            Ast::Assertion(a) => match a.kind {
                AssertionKind::StartLine
                | AssertionKind::EndLine
                | AssertionKind::StartText
                | AssertionKind::EndText
                | AssertionKind::WordBoundary
                | AssertionKind::NotWordBoundary => {}
                _ => self.refuse(&a.span, "RE2 supports only ^ $ \\A \\z \\b \\B"),
            },
            Ast::ClassBracketed(c) => self.class_set(&c.kind),
            Ast::Repetition(r) => self.repetition(r, budget),
            Ast::Group(g) => {
                match &g.kind {
                    GroupKind::NonCapturing(flags) => self.flags(flags),
                    GroupKind::CaptureName { name, .. } => {
                        if !name.name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                            self.refuse(
                                &name.span,
                                "RE2 capture names are letters, digits and '_'",
                            );
                        }
                    }
                    GroupKind::CaptureIndex(_) => {}
                }
                self.walk(&g.ast, budget);
            }
            Ast::Alternation(a) => a.asts.iter().for_each(|x| self.walk(x, budget)),
            Ast::Concat(c) => c.asts.iter().for_each(|x| self.walk(x, budget)),
        }
    }

    fn flags(&mut self, flags: &ast::Flags) {
        for item in &flags.items {
            if let FlagsItemKind::Flag(f) = &item.kind {
                let name = match f {
                    Flag::Unicode => "u",
                    Flag::IgnoreWhitespace => "x",
                    Flag::CRLF => "R",
                    Flag::CaseInsensitive
                    | Flag::MultiLine
                    | Flag::DotMatchesNewLine
                    | Flag::SwapGreed => continue,
                };
                self.refuse(
                    &item.span,
                    &format!("RE2 has no flag {name:?} (only i, m, s and U)"),
                );
            }
        }
    }

    fn literal(&mut self, l: &ast::Literal) {
        if !l.c.is_ascii() {
            return self.refuse(
                &l.span,
                "Envoy's RE2 matches bytes (Latin-1): write ASCII only (paths arrive \
                 percent-encoded)",
            );
        }
        match &l.kind {
            LiteralKind::HexFixed(HexLiteralKind::X) | LiteralKind::HexBrace(HexLiteralKind::X) => {
            }
            LiteralKind::HexFixed(_) | LiteralKind::HexBrace(_) => self.refuse(
                &l.span,
                "RE2 writes code points as \\x{...}, not \\u or \\U",
            ),
            LiteralKind::Special(ast::SpecialLiteralKind::Space) => {
                self.refuse(&l.span, "RE2 has no escaped space outside verbose mode")
            }
            LiteralKind::Superfluous if !l.c.is_ascii_punctuation() => {
                self.refuse(&l.span, "RE2 does not know this escape")
            }
            _ => {}
        }
    }

    fn class_set(&mut self, set: &ClassSet) {
        match set {
            ClassSet::BinaryOp(op) => self.refuse(
                &op.span,
                "RE2 has no class set operations (&&, --, ~~): it would read them literally",
            ),
            ClassSet::Item(item) => self.class_item(item),
        }
    }

    fn class_item(&mut self, item: &ClassSetItem) {
        match item {
            ClassSetItem::Bracketed(b) => self.refuse(
                &b.span,
                "RE2 has no nested classes: it would read the inner '[' literally",
            ),
            ClassSetItem::Union(u) => u.items.iter().for_each(|i| self.class_item(i)),
            ClassSetItem::Literal(l) => self.literal(l),
            ClassSetItem::Range(r) => {
                self.literal(&r.start);
                self.literal(&r.end);
            }
            ClassSetItem::Unicode(u) => self.refuse(
                &u.span,
                "Envoy's RE2 matches bytes (Latin-1): Unicode classes would not match \
                 characters beyond ASCII",
            ),
            ClassSetItem::Empty(_) | ClassSetItem::Ascii(_) | ClassSetItem::Perl(_) => {}
        }
    }

    fn repetition(&mut self, r: &ast::Repetition, budget: u32) {
        if let Ast::Repetition(inner) = &*r.ast {
            return self.refuse(
                &ast::Span::new(inner.op.span.start, r.op.span.end),
                "RE2 does not allow one repetition operator right after another",
            );
        }
        let RepetitionKind::Range(range) = &r.op.kind else {
            return self.walk(&r.ast, budget);
        };
        let (min, max) = match *range {
            RepetitionRange::Exactly(n) => (n, Some(n)),
            RepetitionRange::AtLeast(n) => (n, None),
            RepetitionRange::Bounded(a, b) => (a, Some(b)),
        };
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
            return self.refuse(
                &r.op.span,
                &format!("RE2 allows repetition counts up to {MAX_REPEAT}"),
            );
        }
        // RE2 divides its limit by each enclosing count (the larger one, or the minimum of an
        // open-ended repetition); nothing may be left at zero.
        let count = max.unwrap_or(min);
        // A count of 0 divides nothing.
        let left = budget.checked_div(count).unwrap_or(budget);
        if left == 0 {
            return self.refuse(
                &r.op.span,
                &format!(
                    "RE2 allows nested counted repetitions to multiply to at most {MAX_REPEAT}"
                ),
            );
        }
        self.walk(&r.ast, left);
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn refuses_what_re2_refuses_or_reads_differently() {
        for (bad, why) in [
            ("(", "not a valid RE2 regex"),
            ("(a)\\1", "not a valid RE2 regex"),
            ("a{1001}", "up to 1000"),
            ("(?=a)a", "not a valid RE2 regex"),
            ("(?x)a b", "no flag \"x\""),
            ("(?u)a", "no flag \"u\""),
            ("\\u0041", "\\x{...}"),
            ("[[a]]", "nested classes"),
            ("[a-z&&[^x]]", "set operations"),
            ("a{,5}", "not a valid RE2 regex"),
            ("a{2}{3}", "one repetition operator right after another"),
            ("(a{10}){101}", "multiply"),
            ("(a{10}){200}", "multiply"),
            ("((a{2}){3}){200}", "multiply"),
            ("\\p{Greek}", "Unicode classes"),
            ("[\\pL]", "Unicode classes"),
            ("\\PN", "Unicode classes"),
            ("caf\u{e9}", "ASCII only"),
            ("[\u{e0}-\u{ff}]", "ASCII only"),
            ("\\x{e9}", "ASCII only"),
            ("\\<a", "only ^ $"),
            ("\\b{start}a", "only ^ $"),
            ("(?<a.b>x)", "capture names"),
            ("", "must not be empty"),
        ] {
            let err = check(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn accepts_everyday_regexes() {
        for ok in [
            "/api/v[0-9]+/(users|groups)/[a-zA-Z0-9_-]{1,64}",
            "^/static/.*\\.(css|js|png)$",
            "(?i)bearer [a-z0-9._~+/-]+=*",
            "(?P<id>\\d+)",
            "(?<id>\\d+)",
            "[[:alpha:]][[:^digit:]]\\x41\\x{7e}",
            "a{2}(b{10}){100}",
            "a*?b+?c??",
            "\\A\\b\\B\\z",
            "\\.\\-\\%",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }
}
