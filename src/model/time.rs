//! Durations (`30s`, `1d`), points in time (RFC 3339 or Unix seconds), days of validity, and
//! the one way times are shown.

use crate::error::{Error, Result};
use ::time::OffsetDateTime;
use std::str::FromStr;

/// A duration given as `30s`, `15m`, `12h` or `1d` (a bare number is seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span(pub i64);

impl FromStr for Span {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::input(format!(
                "the duration `{s}` is not valid; write a positive number with a unit, e.g. `30s`, `15m`, `12h` or `1d`"
            ))
        };
        let t = s.trim().trim_start_matches('+');
        let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => (&t[..i], &t[i..]),
            None => (t, "s"),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(bad()),
        };
        match n.checked_mul(mult) {
            Some(v) if v > 0 && v <= 100 * 365 * 86400 => Ok(Span(v)),
            _ => Err(bad()),
        }
    }
}

impl Span {
    /// A span that may be zero (`0s`): `verify --within 0s` warns of nothing, `--wait 0s`
    /// does not wait.
    pub fn parse_or_zero(s: &str) -> Result<Span> {
        let t = s.trim().trim_start_matches('+');
        let digits = t.trim_end_matches(['s', 'm', 'h', 'd']);
        if !digits.is_empty() && digits.bytes().all(|b| b == b'0') && t.len() - digits.len() <= 1 {
            return Ok(Span(0));
        }
        s.parse()
    }
}

/// A point in time given as RFC 3339 (`2026-11-26T12:00:00Z`) or Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At(pub OffsetDateTime);

impl FromStr for At {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if let Ok(secs) = s.parse::<i64>() {
            if let Ok(t) = OffsetDateTime::from_unix_timestamp(secs) {
                return Ok(At(t));
            }
        }
        OffsetDateTime::parse(s, &::time::format_description::well_known::Rfc3339)
            .map(At)
            .map_err(|_| {
                Error::input(format!(
                    "the time `{s}` is not valid; give RFC 3339 such as `2026-11-26T12:00:00Z` or Unix seconds"
                ))
            })
    }
}

impl At {
    /// The time a command's `--at` gives, or now when there is none.
    pub fn or_now(at: Option<&str>) -> Result<OffsetDateTime> {
        match at {
            Some(s) => s.parse::<At>().map(|a| a.0),
            None => Ok(OffsetDateTime::now_utc()),
        }
    }
}

/// Validity in days: a positive whole number, at most 100 years.
pub fn parse_days(s: &str) -> Result<u32> {
    match s.trim().parse::<i64>() {
        Ok(n) if (1..=36500).contains(&n) => Ok(n as u32),
        _ => Err(Error::input(format!(
            "the number of days `{s}` is not valid; give a whole number from 1 to 36500"
        ))),
    }
}

/// Formats a time as RFC 3339 UTC, the way every message and report shows it.
pub fn fmt_time(t: OffsetDateTime) -> String {
    t.to_offset(::time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
