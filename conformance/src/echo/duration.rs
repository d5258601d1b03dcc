//! Go's `time.ParseDuration`, including its error texts.
//!
//! echo-basic answers `?delay=` with this parser and reports its errors in a 500 body, so
//! timeout scenarios written against upstream (`?delay=1.5s`, `?delay=500ms`) behave alike.

use std::time::Duration;

/// A duration as Go represents it: signed nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub i64);

impl GoDuration {
    /// How long to sleep; Go's `time.Sleep` returns at once for zero or negative values.
    pub fn sleep_time(self) -> Duration {
        Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }
}

/// A parse failure whose `Display` is exactly Go's error string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

/// Go's `time.quote`: ASCII kept (with `"` and `\` escaped), anything else as `\xNN` bytes.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s.as_bytes() {
        if !(b' '..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(b as char);
        }
    }
    out.push('"');
    out
}

fn invalid(orig: &str) -> DurationError {
    DurationError(format!("time: invalid duration {}", quote(orig)))
}

/// Consumes leading decimal digits; `None` on overflow past 2^63 (Go's error case).
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > (1u64 << 63) / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > 1u64 << 63 {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Consumes fraction digits, keeping as many as fit, and the scale that divides them.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1.0f64;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if !overflow {
            if x > (u64::MAX >> 1) / 10 {
                overflow = true;
            } else {
                let y = x * 10 + u64::from(s[i] - b'0');
                if y > 1u64 << 63 {
                    overflow = true;
                } else {
                    x = y;
                    scale *= 10.0;
                }
            }
        }
        i += 1;
    }
    (x, scale, &s[i..])
}

/// Parses `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` as Go does.
pub fn parse_go_duration(orig: &str) -> Result<GoDuration, DurationError> {
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(GoDuration(0));
    }
    if s.is_empty() {
        return Err(invalid(orig));
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid(orig));
        }
        let before = s.len();
        let (mut v, rest) = leading_int(s).ok_or_else(|| invalid(orig))?;
        s = rest;
        let pre = before != s.len();

        let mut post = false;
        let mut frac = (0u64, 1.0f64);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let (f, scale, rest) = leading_fraction(s);
            s = rest;
            frac = (f, scale);
            post = before != s.len();
        }
        if !pre && !post {
            return Err(invalid(orig));
        }

        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError(format!(
                "time: missing unit in duration {}",
                quote(orig)
            )));
        }
        let unit_text = String::from_utf8_lossy(&s[..unit_len]).into_owned();
        s = &s[unit_len..];
        let unit = unit_nanos(&unit_text).ok_or_else(|| {
            DurationError(format!(
                "time: unknown unit {} in duration {}",
                quote(&unit_text),
                quote(orig)
            ))
        })?;
        if v > (1u64 << 63) / unit {
            return Err(invalid(orig));
        }
        v *= unit;
        if frac.0 > 0 {
            // Go converts through float64 here, so the rounding matches.
            v += (frac.0 as f64 * (unit as f64 / frac.1)) as u64;
            if v > 1u64 << 63 {
                return Err(invalid(orig));
            }
        }
        total += v;
        if total > 1u64 << 63 {
            return Err(invalid(orig));
        }
    }
    if neg {
        // -2^63 is representable.
        return Ok(GoDuration(0i64.wrapping_sub_unsigned(total)));
    }
    if total > (1u64 << 63) - 1 {
        return Err(invalid(orig));
    }
    Ok(GoDuration(total as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        parse_go_duration(s).unwrap().0
    }

    fn err(s: &str) -> String {
        parse_go_duration(s).unwrap_err().to_string()
    }

    #[test]
    fn accepts_go_forms() {
        assert_eq!(ns("0"), 0);
        assert_eq!(ns("200ms"), 200_000_000);
        assert_eq!(ns("1.5s"), 1_500_000_000);
        assert_eq!(ns("1h2m3s"), 3_723_000_000_000);
        assert_eq!(ns(".5s"), 500_000_000);
        assert_eq!(ns("1.s"), 1_000_000_000);
        assert_eq!(ns("-3us"), -3_000);
        assert_eq!(ns("+2µs"), 2_000);
        assert_eq!(ns("7μs"), 7_000);
        assert_eq!(ns("9223372036854775807ns"), i64::MAX);
        assert_eq!(ns("-9223372036854775808ns"), i64::MIN);
    }

    #[test]
    fn rejects_with_go_messages() {
        assert_eq!(err(""), "time: invalid duration \"\"");
        assert_eq!(err("abc"), "time: invalid duration \"abc\"");
        assert_eq!(err("1"), "time: missing unit in duration \"1\"");
        assert_eq!(err("1x"), "time: unknown unit \"x\" in duration \"1x\"");
        assert_eq!(err("."), "time: invalid duration \".\"");
        assert_eq!(
            err("9223372036854775808ns"),
            "time: invalid duration \"9223372036854775808ns\""
        );
        assert_eq!(
            err("1é"),
            "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\""
        );
    }
}
