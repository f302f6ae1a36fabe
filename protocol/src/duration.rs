//! How a duration is written on every command line of the project: the host's flags, its
//! environment variables, `molecule dev`, `backend-check`, `mcp` and the backends' own flags.
//!
//! One grammar everywhere: a non-negative decimal number, then an optional unit — `ms`, `s`
//! (`sec`, `secs`), `m` (`min`, `mins`), `h` or `d` — with optional blanks between them. A bare
//! number is seconds. Fractions are exact to the nanosecond (`1.5s`, `0.25h`), so the parser
//! uses integer arithmetic, never floating point.

use std::time::Duration;

/// Units, longest spelling first per value, with their length in nanoseconds.
const UNITS: [(&str, u128); 10] = [
    ("ms", 1_000_000),
    ("secs", 1_000_000_000),
    ("sec", 1_000_000_000),
    ("s", 1_000_000_000),
    ("mins", 60_000_000_000),
    ("min", 60_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("", 1_000_000_000),
];

/// The examples every error message shows.
pub const EXAMPLES: &str = "500ms, 1.5s, 20s, 10m, 2h or 7d (a bare number is seconds)";

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No number where one was expected.
    #[error("{text:?} is not a duration: expected a number and a unit, such as {EXAMPLES}")]
    NotANumber {
        /// What was given.
        text: String,
    },
    /// A unit the grammar does not know.
    #[error("{text:?} has the unknown unit {unit:?}: use ms, s, m, h or d, as in {EXAMPLES}")]
    UnknownUnit {
        /// What was given.
        text: String,
        /// The unit part.
        unit: String,
    },
    /// More than a `Duration` holds.
    #[error("{text:?} is too long a duration")]
    TooLong {
        /// What was given.
        text: String,
    },
}

/// Parses `text` (see the module documentation for the grammar).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_ok(fraction) {
        return Err(DurationError::NotANumber { text: text.into() });
    }
    let unit = unit.trim();
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(DurationError::UnknownUnit {
            text: text.into(),
            unit: unit.into(),
        });
    };
    nanos(whole, fraction, scale)
        .and_then(|n| u64::try_from(n / 1_000_000_000).ok().map(|s| (s, n)))
        .map(|(secs, n)| Duration::new(secs, (n % 1_000_000_000) as u32))
        .ok_or_else(|| DurationError::TooLong { text: text.into() })
}

/// `whole.fraction` units of `scale` nanoseconds, truncated to a nanosecond; `None` on overflow.
fn nanos(whole: &str, fraction: &str, scale: u128) -> Option<u128> {
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole.checked_mul(scale)?;
    // Digits past the 30th cannot add a nanosecond to any unit here.
    let mut place = scale;
    for digit in fraction.bytes().take(30) {
        place /= 10;
        total = total.checked_add(u128::from(digit - b'0') * place)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_and_fractions_parse_exactly() {
        let ms = Duration::from_millis;
        let cases = [
            ("250ms", ms(250)),
            (" 20s ", ms(20_000)),
            ("20 s", ms(20_000)),
            ("5sec", ms(5_000)),
            ("5secs", ms(5_000)),
            ("10m", ms(600_000)),
            ("10min", ms(600_000)),
            ("2mins", ms(120_000)),
            ("2h", ms(7_200_000)),
            ("7d", ms(604_800_000)),
            ("3", ms(3_000)),
            ("1.5", ms(1_500)),
            ("1.5s", ms(1_500)),
            ("0.25h", ms(900_000)),
            (".5s", ms(500)),
            ("2.", ms(2_000)),
            ("0", Duration::ZERO),
            ("1.0000000015s", Duration::new(1, 1)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong_and_show_the_forms() {
        for bad in ["", "s", "ten", ".", "-1s", "1.2.3s", "1e3s"] {
            let e = parse_duration(bad).expect_err(bad).to_string();
            assert!(e.contains("500ms, 1.5s"), "{bad}: {e}");
        }
        assert_eq!(
            parse_duration("5 parsecs").expect_err("unit").to_string(),
            "\"5 parsecs\" has the unknown unit \"parsecs\": use ms, s, m, h or d, as in \
             500ms, 1.5s, 20s, 10m, 2h or 7d (a bare number is seconds)"
        );
        assert_eq!(
            parse_duration("99999999999999999999999d"),
            Err(DurationError::TooLong {
                text: "99999999999999999999999d".into()
            })
        );
    }
}
