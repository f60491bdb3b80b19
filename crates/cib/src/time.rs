//! Points in time as Pacemaker records them.
//!
//! The CIB stores epochs in seconds (`node_fenced`, `last-rc-change`), while
//! the fence history prints a calendar date (`2026-11-22 03:29:17Z`, or with a
//! `+01:00` offset in a non-UTC zone, and microseconds in newer releases).
//! Both become a [`UnixTime`], whole seconds, so that comparisons between the
//! two sources cannot mix units or time zones by accident.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Whole seconds since the Unix epoch, UTC.
///
/// Sub-second parts are dropped (floored): Pacemaker 2.1 records only whole
/// seconds, and flooring keeps "strictly after" comparisons conservative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    pub const fn secs(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Floors to the second, also before 1970.
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(i64::try_from(after.as_secs()).unwrap_or(i64::MAX)),
            Err(before) => {
                let d = before.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                let extra = i64::from(d.subsec_nanos() > 0);
                Self(secs.saturating_neg().saturating_sub(extra))
            }
        }
    }

    /// Parse the date Pacemaker's tools print: `YYYY-MM-DD HH:MM:SS`, an
    /// optional `.ffffff` fraction, then `Z` or ` +HH:MM`/` -HH:MM`. A `T`
    /// between date and time is accepted too (ISO 8601).
    pub fn parse_pacemaker(text: &str) -> Option<Self> {
        let t = text.trim();
        let date = t.get(0..10)?;
        let sep = t.get(10..11)?;
        if sep != " " && sep != "T" {
            return None;
        }
        let rest = t.get(11..)?;
        let clock = rest.get(0..8)?;
        let mut tail = rest.get(8..)?;

        let (year, month, day) = parse_date(date)?;
        let (hour, minute, second) = parse_clock(clock)?;

        if let Some(fraction) = tail.strip_prefix('.') {
            let digits = fraction
                .bytes()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(fraction.len());
            if digits == 0 {
                return None;
            }
            tail = fraction.get(digits..)?;
        }

        let offset = parse_offset(tail)?;
        let days = days_from_civil(year, month, day);
        let secs = days
            .checked_mul(86_400)?
            .checked_add(i64::from(hour * 3600 + minute * 60 + second))?
            .checked_sub(offset)?;
        Some(Self(secs))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_date(date: &str) -> Option<(i64, u32, u32)> {
    if date.get(4..5)? != "-" || date.get(7..8)? != "-" {
        return None;
    }
    let year = digits(date.get(0..4)?)?;
    let month = digits(date.get(5..7)?)?;
    let day = digits(date.get(8..10)?)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(i64::from(year), month) {
        return None;
    }
    Some((i64::from(year), month, day))
}

fn parse_clock(clock: &str) -> Option<(u32, u32, u32)> {
    if clock.get(2..3)? != ":" || clock.get(5..6)? != ":" {
        return None;
    }
    let h = digits(clock.get(0..2)?)?;
    let m = digits(clock.get(3..5)?)?;
    let s = digits(clock.get(6..8)?)?;
    // 60 allows a leap second as printed; it lands on the next minute.
    (h < 24 && m < 60 && s <= 60).then_some((h, m, s))
}

/// Seconds east of UTC.
fn parse_offset(tail: &str) -> Option<i64> {
    if tail == "Z" {
        return Some(0);
    }
    let t = tail.strip_prefix(' ').unwrap_or(tail);
    let sign = match t.get(0..1)? {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let body = t.get(1..)?;
    let (h, m) = match body.len() {
        5 if body.get(2..3)? == ":" => (digits(body.get(0..2)?)?, digits(body.get(3..5)?)?),
        4 => (digits(body.get(0..2)?)?, digits(body.get(2..4)?)?),
        2 => (digits(body)?, 0),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * i64::from(h * 3600 + m * 60))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_formats_pacemaker_prints() {
        // From the lab: node_state node_fenced=1795318154 is 03:29:14Z.
        assert_eq!(
            UnixTime::parse_pacemaker("2026-11-22 03:29:14Z"),
            Some(UnixTime::from_secs(1_795_318_154))
        );
        // Pacemaker 3.x adds microseconds.
        assert_eq!(
            UnixTime::parse_pacemaker("2026-11-22 03:29:14.999999Z"),
            Some(UnixTime::from_secs(1_795_318_154))
        );
        // Local zone with an offset: same instant.
        assert_eq!(
            UnixTime::parse_pacemaker("2026-11-22 04:29:14 +01:00"),
            Some(UnixTime::from_secs(1_795_318_154))
        );
        assert_eq!(
            UnixTime::parse_pacemaker("2026-11-21 22:29:14 -05:00"),
            Some(UnixTime::from_secs(1_795_318_154))
        );
        assert_eq!(
            UnixTime::parse_pacemaker("1970-01-01T00:00:00Z"),
            Some(UnixTime::from_secs(0))
        );
    }

    #[test]
    fn rejects_what_it_cannot_read_exactly() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22 03:29:14",
            "2026-13-22 03:29:14Z",
            "2026-02-30 03:29:14Z",
            "2026-11-22 24:00:00Z",
            "2026-11-22 03:29:14.Z",
            "2026-11-22 03:29:14 +1:00",
            "Sun Nov 22 03:29:27 2026",
            "2026-11-22 03:29:14Zjunk",
            "２026-11-22 03:29:14Z",
        ] {
            assert_eq!(UnixTime::parse_pacemaker(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        let t = UnixTime::from_secs(1_795_318_154);
        assert_eq!(t.to_string(), "2026-11-22 03:29:14Z");
        assert_eq!(UnixTime::parse_pacemaker(&t.to_string()), Some(t));
    }

    #[test]
    fn system_time_floors() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1500);
        assert_eq!(UnixTime::from_system_time(t).secs(), 1);
        let t = UNIX_EPOCH - std::time::Duration::from_millis(1500);
        assert_eq!(UnixTime::from_system_time(t).secs(), -2);
    }

    proptest! {
        #[test]
        fn any_second_round_trips(secs in -62_167_219_200i64..=253_402_300_799i64) {
            let t = UnixTime::from_secs(secs);
            prop_assert_eq!(UnixTime::parse_pacemaker(&t.to_string()), Some(t));
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = UnixTime::parse_pacemaker(&s);
        }
    }
}
