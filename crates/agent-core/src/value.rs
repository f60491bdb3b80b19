//! Parsers for parameter values, in the spellings Pacemaker users already write.
//!
//! Booleans follow Pacemaker's `crm_is_true` and `ocf_is_true`, durations
//! follow the `10s`/`500ms`/`2min` forms of operation timeouts (a bare number
//! is seconds, as in Pacemaker). Every parser takes arbitrary text and answers
//! `None` rather than panicking: values come straight from the CIB.

use std::time::Duration;

/// `1/0, true/false, yes/no, on/off, y/n`, any case, surrounding blanks ignored.
pub fn parse_boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" => Some(true),
        "0" | "false" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}

/// A decimal integer with an optional sign.
pub fn parse_integer(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// A whole number with an optional unit: `us`, `ms`, `s`, `min`, `h` and
/// their longer spellings; no unit means seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return None;
    }
    let n: u64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let millis_per: Option<u64> = match unit.as_str() {
        "us" | "usec" | "usecs" => return Some(Duration::from_micros(n)),
        "ms" | "msec" | "msecs" => Some(1),
        "" | "s" | "sec" | "secs" | "second" | "seconds" => Some(1_000),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60_000),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(3_600_000),
        _ => None,
    };
    n.checked_mul(millis_per?).map(Duration::from_millis)
}

/// Items separated by commas and/or blanks; empty items are dropped.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A duration the way meta-data and man pages show it: `20s`, `500ms`, `2min`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".to_owned()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}min", ms / 60_000)
    } else if ms.is_multiple_of(1_000) {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn booleans_in_every_ocf_spelling() {
        for t in ["1", "true", "YES", " on ", "y", "True"] {
            assert_eq!(parse_boolean(t), Some(true), "{t}");
        }
        for t in ["0", "false", "No", "OFF", "n"] {
            assert_eq!(parse_boolean(t), Some(false), "{t}");
        }
        for t in ["", "2", "ja", "truee", "o n"] {
            assert_eq!(parse_boolean(t), None, "{t}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer("42"), Some(42));
        assert_eq!(parse_integer(" -7 "), Some(-7));
        assert_eq!(parse_integer("+3"), Some(3));
        for t in ["", "-", "1.5", "0x10", "1e3", "99999999999999999999", "1 2"] {
            assert_eq!(parse_integer(t), None, "{t}");
        }
    }

    #[test]
    fn durations_like_pacemaker() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("10s"), Some(ms(10_000)));
        assert_eq!(parse_duration("10"), Some(ms(10_000)));
        assert_eq!(parse_duration("500ms"), Some(ms(500)));
        assert_eq!(parse_duration("2min"), Some(ms(120_000)));
        assert_eq!(parse_duration("2m"), Some(ms(120_000)));
        assert_eq!(parse_duration("1h"), Some(ms(3_600_000)));
        assert_eq!(parse_duration(" 3 S "), Some(ms(3_000)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for t in [
            "",
            "s",
            "10x",
            "1.5s",
            "-1s",
            "10 s s",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(t), None, "{t}");
        }
        assert_eq!(parse_duration(&format!("{}h", u64::MAX / 1000)), None);
    }

    #[test]
    fn lists_split_on_commas_and_blanks() {
        assert_eq!(parse_list("a, b  c,,d"), ["a", "b", "c", "d"]);
        assert!(parse_list(" ,, ").is_empty());
    }

    #[test]
    fn durations_format_in_the_largest_exact_unit() {
        assert_eq!(format_duration(Duration::from_secs(20)), "20s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2min");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in any::<String>()) {
            let _ = parse_boolean(&text);
            let _ = parse_integer(&text);
            let _ = parse_duration(&text);
            let _ = parse_list(&text);
        }

        #[test]
        fn formatted_durations_parse_back(ms in 0u64..10_000_000_000) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(d)), Some(d));
        }

        #[test]
        fn integers_round_trip(n in any::<i64>()) {
            prop_assert_eq!(parse_integer(&n.to_string()), Some(n));
        }
    }
}
