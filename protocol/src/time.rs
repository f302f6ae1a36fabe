//! RFC 3339 timestamps, formatted and parsed without a date-time dependency.
//!
//! The platform writes `created_at` with up to nanosecond precision and a `Z` suffix; deadlines
//! in `handle_a2a` are written in UTC with milliseconds. Parsing accepts any numeric offset.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, secs_of_day) = split_days(d.as_secs() as i64);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        date,
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        d.subsec_millis()
    )
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (the platform's own precision).
pub fn format_rfc3339_nanos(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, secs_of_day) = split_days(d.as_secs() as i64);
    format!(
        "{}T{:02}:{:02}:{:02}.{:09}Z",
        date,
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        d.subsec_nanos()
    )
}

fn split_days(secs: i64) -> (String, i64) {
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (format!("{y:04}-{m:02}-{d:02}"), secs.rem_euclid(86_400))
}

/// Parses an RFC 3339 timestamp (`2026-05-06T06:42:13.123456Z`, `…+02:00`). Times before 1970
/// are not supported.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: u32 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &frac[..digits.min(9)];
        nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        // Bytes, not string slices: a multi-byte character here must not panic.
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let (h, m) = (two_digits(rest, 1)?, two_digits(rest, 4)?);
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// The two ASCII digits of `s` at byte `at`, as a number.
fn two_digits(s: &str, at: usize) -> Option<i64> {
    match s.as_bytes().get(at..at + 2)? {
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some(i64::from((a - b'0') * 10 + (b - b'0'))),
        _ => None,
    }
}

// Howard Hinnant's civil-calendar algorithms (public domain).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = UNIX_EPOCH + Duration::new(1_778_049_733, 123_456_789);
        let s = format_rfc3339_nanos(t);
        assert_eq!(s, "2026-05-06T06:42:13.123456789Z");
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(format_rfc3339_millis(t), "2026-05-06T06:42:13.123Z");
    }

    #[test]
    fn parses_offsets_and_short_fractions() {
        let z = parse_rfc3339("2026-05-06T06:42:13.5Z").unwrap();
        let plus = parse_rfc3339("2026-05-06T08:42:13.5+02:00").unwrap();
        assert_eq!(z, plus);
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z").map(|_| ()), Some(()));
        assert!(parse_rfc3339("2026-05-06 06:42:13Z").is_some());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-05-06T06:42:13",
            "2026-05-06T06:42:13.Z",
            "2026-05-06T06:42:13+0\u{e9}00",
            "2026-05-06T06:42:13+\u{e9}:000",
            "2026-05-06T06:42:13+-1:00",
            "2026-05-06T06:42:13+24:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
