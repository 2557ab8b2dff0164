//! Prometheus-style durations (`5m`, `1h30m`, `30d`, `4w`).
//!
//! Specs, alert-window catalogs and config files all speak Prometheus' duration grammar
//! (`model.ParseDuration`): units `y w d h m s ms`, largest first, no spaces, `y` = 365 days.
//! Display follows `model.Duration.String()` so that rule names (`ratio_rate4w`) match Sloth
//! byte for byte: `28d` prints as `4w`, `24h` as `1d`, `0` as `0s`.

use std::fmt;
use std::str::FromStr;

/// A non-negative span of time with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

const MS: u64 = 1;
const SECOND: u64 = 1000 * MS;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const YEAR: u64 = 365 * DAY;

/// Units in the order the grammar requires them.
const UNITS: [(&str, u64); 7] = [
    ("y", YEAR),
    ("w", WEEK),
    ("d", DAY),
    ("h", HOUR),
    ("m", MINUTE),
    ("s", SECOND),
    ("ms", MS),
];

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty input.
    #[error("empty duration")]
    Empty,
    /// Input does not follow the grammar (`90`, `5 m`, `1h5d`, `5q`).
    #[error("invalid duration {0:?}: expected a Prometheus duration such as 30s, 5m, 1h30m, 30d")]
    Invalid(String),
    /// `0`, `0s` and friends where a positive span is needed.
    #[error("duration {0:?} must be greater than zero")]
    Zero(String),
    /// The value does not fit in 64 bits of milliseconds.
    #[error("duration {0:?} is too large")]
    Overflow(String),
}

impl Duration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms)
    }
    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s * SECOND)
    }
    /// A duration of `m` minutes.
    pub const fn from_mins(m: u64) -> Self {
        Duration(m * MINUTE)
    }
    /// A duration of `h` hours.
    pub const fn from_hours(h: u64) -> Self {
        Duration(h * HOUR)
    }
    /// A duration of `d` days.
    pub const fn from_days(d: u64) -> Self {
        Duration(d * DAY)
    }
    /// Whole milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }
    /// Whole seconds (truncated).
    pub const fn as_secs(self) -> u64 {
        self.0 / SECOND
    }
    /// Hours as Go's `time.Duration.Hours()` computes them (whole hours plus the remainder),
    /// so burn factors come out bit-for-bit like Sloth's.
    pub fn hours(self) -> f64 {
        let ns = self.0 as u128 * 1_000_000;
        let hour_ns = HOUR as u128 * 1_000_000;
        (ns / hour_ns) as f64 + (ns % hour_ns) as f64 / (60.0 * 60.0 * 1e9)
    }
    /// Convert to a standard library duration.
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
    /// Parse and require a strictly positive value.
    pub fn parse_positive(s: &str) -> Result<Self, DurationError> {
        let d: Duration = s.parse()?;
        if d.0 == 0 {
            return Err(DurationError::Zero(s.to_string()));
        }
        Ok(d)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        if s == "0" {
            return Ok(Duration(0));
        }
        let invalid = || DurationError::Invalid(s.to_string());
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut next_unit = 0; // index into UNITS: units must appear largest first, once each
        let mut total: u64 = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(invalid());
            }
            let number: u64 = s[start..i]
                .parse()
                .map_err(|_| DurationError::Overflow(s.to_string()))?;
            let ustart = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[ustart..i];
            let pos = UNITS[next_unit..]
                .iter()
                .position(|(name, _)| *name == unit)
                .ok_or_else(invalid)?;
            let (_, mult) = UNITS[next_unit + pos];
            next_unit += pos + 1;
            total = number
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| DurationError::Overflow(s.to_string()))?;
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Mirrors prometheus/common model.Duration.String().
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        let mut out = String::new();
        let mut unit = |name: &str, mult: u64, exact: bool| {
            if exact && !ms.is_multiple_of(mult) {
                return;
            }
            let n = ms / mult;
            if n > 0 {
                out.push_str(&format!("{n}{name}"));
                ms -= n * mult;
            }
        };
        unit("y", YEAR, true);
        unit("w", WEEK, true);
        unit("d", DAY, false);
        unit("h", HOUR, false);
        unit("m", MINUTE, false);
        unit("s", SECOND, false);
        unit("ms", MS, false);
        f.write_str(&out)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_grammar() {
        assert_eq!("5m".parse::<Duration>().unwrap(), Duration::from_mins(5));
        assert_eq!(
            "1h30m".parse::<Duration>().unwrap(),
            Duration::from_mins(90)
        );
        assert_eq!("30d".parse::<Duration>().unwrap(), Duration::from_days(30));
        assert_eq!("1y".parse::<Duration>().unwrap(), Duration::from_days(365));
        assert_eq!(
            "1500ms".parse::<Duration>().unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!("0".parse::<Duration>().unwrap(), Duration::from_millis(0));
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for bad in ["", "90", "5 m", "1h5d", "5q", "m", "5m5m", "-5m", "1.5h"] {
            assert!(
                bad.parse::<Duration>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(Duration::parse_positive("0s").is_err());
    }

    #[test]
    fn displays_like_prometheus_model_duration() {
        let cases = [
            ("28d", "4w"),
            ("7d", "1w"),
            ("14d", "2w"),
            ("24h", "1d"),
            ("72h", "3d"),
            ("30d", "30d"),
            ("90d", "90d"),
            ("5m", "5m"),
            ("90m", "1h30m"),
            ("0s", "0s"),
            ("365d", "1y"),
        ];
        for (input, shown) in cases {
            assert_eq!(
                input.parse::<Duration>().unwrap().to_string(),
                shown,
                "{input}"
            );
        }
    }

    #[test]
    fn hours_match_go() {
        assert_eq!(Duration::from_days(30).hours(), 720.0);
        assert_eq!(Duration::from_mins(5).hours(), 5.0 / 60.0);
    }

    proptest::proptest! {
        #[test]
        fn display_round_trips(ms in 0u64..(10 * YEAR)) {
            let d = Duration::from_millis(ms);
            proptest::prop_assert_eq!(d.to_string().parse::<Duration>().unwrap(), d);
        }
    }
}
