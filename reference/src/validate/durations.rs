//! Gateway API durations (GEP-2257) as the API writes them: one to four `<number><unit>`
//! parts, each number of one to five digits, units `h`, `m`, `s` and `ms` (`1h30m`, `500ms`).
//! Validation checks the form with it, and translation reads timeouts with it.

/// Check the form of a duration and return its length in milliseconds.
pub fn parse(s: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "{s:?} is not a duration: one to four parts of up to five digits and a unit \
             (h, m, s, ms), such as 1h30m or 500ms"
        )
    };
    let mut rest = s;
    let mut parts = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let (factor, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            return Err(invalid());
        };
        rest = &rest[len..];
        total += n * factor;
        parts += 1;
    }
    if parts == 0 || parts > 4 {
        return Err(invalid());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn forms() {
        assert_eq!(parse("1h30m"), Ok(5_400_000));
        assert_eq!(parse("500ms"), Ok(500));
        assert_eq!(parse("0s"), Ok(0));
        assert_eq!(parse("1h1m1s1ms"), Ok(3_661_001));
        for bad in [
            "",
            "1d",
            "123456s",
            "1h1m1s1ms1h",
            "s",
            "1.5s",
            "-1s",
            "1 s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
