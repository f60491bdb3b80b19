//! Times on the command line: `--since 2h`, `--since 2026-11-22T08:00:00Z`,
//! `--now 1763798400`.

use chrono::{DateTime, Utc};

use crate::CliError;

/// An absolute time (RFC 3339 or epoch seconds) or an age before `now`
/// (`90s`, `10min`, `2h`, `3d`).
pub fn parse_time(text: &str, now: i64) -> Result<i64, CliError> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    parse_age(text)
        .map(|age| now.saturating_sub(age))
        .ok_or_else(|| {
            CliError::Invalid(format!(
                "{text:?} is neither a time (RFC 3339 or epoch seconds) nor an age such as 90s, 10min, 2h, 3d"
            ))
        })
}

fn parse_age(text: &str) -> Option<i64> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(digits);
    let n: i64 = n.parse().ok()?;
    let unit = match unit.trim() {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// RFC 3339 in UTC, whole seconds: how every report prints a time.
pub fn format_epoch(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

pub fn now() -> i64 {
    Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_relative_and_bad() {
        let now = 1_000_000;
        assert_eq!(parse_time("123", now).ok(), Some(123));
        assert_eq!(parse_time("1970-01-01T00:02:03Z", now).ok(), Some(123));
        assert_eq!(parse_time("2h", now).ok(), Some(now - 7200));
        assert_eq!(parse_time("10min", now).ok(), Some(now - 600));
        assert_eq!(parse_time("3d", now).ok(), Some(now - 3 * 86_400));
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("5 parsecs", now).is_err());
        assert!(parse_time("99999999999999999999h", now).is_err());
        assert_eq!(format_epoch(123), "1970-01-01T00:02:03Z");
    }
}
