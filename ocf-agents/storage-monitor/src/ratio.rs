//! The per-address loss threshold: UMHA's `ping_loss_ratio`.
//!
//! UMHA declared a storage address down when `lost / count > ratio`. The
//! ratio is kept as an exact number of millionths, never a float, so that
//! the boundary case UMHA operators rely on (2 of 4 lost with 0.5: still up)
//! cannot be flipped by rounding.

use std::fmt;

/// Millionths in a whole.
const WHOLE: u64 = 1_000_000;

/// A fraction from 0 to 1, exact to a millionth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LossRatio {
    ppm: u32,
}

/// Why a ratio was refused; the message completes "ping_loss_ratio: '<text>' ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatioError {
    #[error("is not a number from 0 to 1 (e.g. 0.5) or a percentage (e.g. 50%)")]
    NotANumber,
    #[error("is outside 0 to 1 (0% to 100%)")]
    OutOfRange,
    #[error("has more than 6 decimal places")]
    TooPrecise,
}

impl LossRatio {
    /// UMHA's default: an address is down when more than half its echoes are lost.
    pub const UMHA_DEFAULT: LossRatio = LossRatio { ppm: 500_000 };

    /// Any loss at all is too much.
    pub const ZERO: LossRatio = LossRatio { ppm: 0 };

    /// `ppm` millionths; `None` above one.
    pub fn from_ppm(ppm: u32) -> Option<Self> {
        (u64::from(ppm) <= WHOLE).then_some(Self { ppm })
    }

    pub fn ppm(self) -> u32 {
        self.ppm
    }

    /// `0.5`, `.25`, `1`, `0` or a percentage `50%`, `12.5 %`. No sign, no exponent.
    pub fn parse(text: &str) -> Result<Self, RatioError> {
        let t = text.trim();
        let (number, scale_digits) = match t.strip_suffix('%') {
            Some(n) => (n.trim_end(), 4usize),
            None => (t, 6usize),
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(RatioError::NotANumber);
        }
        if frac.len() > scale_digits {
            return Err(RatioError::TooPrecise);
        }
        // Leading zeros are harmless; a long integer part is out of range, not a parse error.
        let int = int.trim_start_matches('0');
        if int.len() > 3 {
            return Err(RatioError::OutOfRange);
        }
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| RatioError::NotANumber)?
        };
        let mut frac_value: u64 = 0;
        for i in 0..scale_digits {
            let d = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
            frac_value = frac_value * 10 + d;
        }
        let unit = 10u64.pow(u32::try_from(scale_digits).unwrap_or(6));
        // A ratio with 6 decimals and a percentage with 4 are both millionths.
        let ppm = int * unit + frac_value;
        if ppm > WHOLE {
            return Err(RatioError::OutOfRange);
        }
        u32::try_from(ppm)
            .ok()
            .and_then(Self::from_ppm)
            .ok_or(RatioError::OutOfRange)
    }

    /// Whether `lost` out of `completed` echoes is more loss than allowed.
    /// Nothing completed (no echo could be judged) counts as too much: an
    /// address we know nothing about is not one we may call reachable.
    pub fn exceeded(self, lost: u32, completed: u32) -> bool {
        completed == 0 || u64::from(lost) * WHOLE > u64::from(self.ppm) * u64::from(completed)
    }
}

impl Default for LossRatio {
    fn default() -> Self {
        Self::UMHA_DEFAULT
    }
}

impl fmt::Display for LossRatio {
    /// The shortest decimal: `0.5`, `0.125`, `1`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = u64::from(self.ppm) / WHOLE;
        let frac = u64::from(self.ppm) % WHOLE;
        if frac == 0 {
            return write!(f, "{int}");
        }
        let digits = format!("{frac:06}");
        write!(f, "{int}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(text: &str) -> u32 {
        LossRatio::parse(text).unwrap().ppm()
    }

    #[test]
    fn decimal_and_percent_spellings() {
        assert_eq!(r("0.5"), 500_000);
        assert_eq!(r(" .25 "), 250_000);
        assert_eq!(r("0"), 0);
        assert_eq!(r("1"), 1_000_000);
        assert_eq!(r("1.0"), 1_000_000);
        assert_eq!(r("0.000001"), 1);
        assert_eq!(r("50%"), 500_000);
        assert_eq!(r("12.5 %"), 125_000);
        assert_eq!(r("100%"), 1_000_000);
        assert_eq!(r("007.%"), 70_000);
    }

    #[test]
    fn refusals_say_why() {
        for bad in [
            "", ".", "%", "abc", "-0.1", "+0.5", "1e-1", "0,5", "0.5.1", " 5 0",
        ] {
            assert_eq!(
                LossRatio::parse(bad),
                Err(RatioError::NotANumber),
                "{bad:?}"
            );
        }
        for bad in ["1.5", "2", "100.01%", "101%", "99999999999999999999"] {
            assert_eq!(
                LossRatio::parse(bad),
                Err(RatioError::OutOfRange),
                "{bad:?}"
            );
        }
        assert_eq!(LossRatio::parse("0.1234567"), Err(RatioError::TooPrecise));
        assert_eq!(LossRatio::parse("1.23456%"), Err(RatioError::TooPrecise));
    }

    #[test]
    fn umha_semantics_strictly_more_than() {
        let half = LossRatio::UMHA_DEFAULT;
        assert!(!half.exceeded(0, 4));
        assert!(!half.exceeded(2, 4), "2/4 is not more than 0.5");
        assert!(half.exceeded(3, 4));
        assert!(half.exceeded(4, 4));
        assert!(half.exceeded(0, 0), "nothing judged is not reachable");
        let none = LossRatio::ZERO;
        assert!(!none.exceeded(0, 4));
        assert!(none.exceeded(1, 4));
        let all = LossRatio::from_ppm(1_000_000).unwrap();
        assert!(!all.exceeded(4, 4), "the ratio alone never fails at 1");
        // Thirds are exact too.
        let third = LossRatio::parse("0.333334").unwrap();
        assert!(!third.exceeded(1, 3));
    }

    #[test]
    fn display_round_trips() {
        for text in ["0", "1", "0.5", "0.125", "0.000001", "0.99"] {
            assert_eq!(LossRatio::parse(text).unwrap().to_string(), text);
        }
        assert!(LossRatio::from_ppm(1_000_001).is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = LossRatio::parse(&text);
        }

        #[test]
        fn parse_of_display_is_identity(ppm in 0u32..=1_000_000) {
            let ratio = LossRatio::from_ppm(ppm).unwrap();
            prop_assert_eq!(LossRatio::parse(&ratio.to_string()).unwrap(), ratio);
        }

        #[test]
        fn exceeded_matches_exact_arithmetic(ppm in 0u32..=1_000_000, lost in 0u32..200, extra in 0u32..200) {
            let completed = lost + extra;
            let ratio = LossRatio::from_ppm(ppm).unwrap();
            let expected = completed == 0 || (lost as f64 / completed as f64) * 1e6 > ppm as f64 + 1e-6;
            // The float is only a cross-check away from the exact boundary.
            let exact_boundary = u64::from(lost) * 1_000_000 == u64::from(ppm) * u64::from(completed);
            if !exact_boundary {
                prop_assert_eq!(ratio.exceeded(lost, completed), expected);
            } else {
                prop_assert!(completed == 0 || !ratio.exceeded(lost, completed));
            }
        }
    }
}
