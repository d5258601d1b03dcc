//! Gateway API durations (GEP-2257): one or more `<number><unit>` pairs, units h, m, s, ms;
//! for example `1h`, `500ms`, `1h30m`, `0s`.

pub(crate) fn parse_millis(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("number too large in {s:?}"))?;
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
            return Err(format!("expected a unit (h, m, s, ms) after {n}"));
        };
        rest = &rest[len..];
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} is too large"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_millis;

    #[test]
    fn parses_gep_2257() {
        assert_eq!(parse_millis("0s"), Ok(0));
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("1h30m"), Ok(5_400_000));
        assert_eq!(parse_millis("1m1s1ms"), Ok(61_001));
        assert!(parse_millis("1d").is_err());
        assert!(parse_millis("ms").is_err());
        assert!(parse_millis("").is_err());
    }
}
