//! Domain types that user strings become at the edge, before any crypto runs: names (DNS labels),
//! SAN entries, key algorithms, durations and points in time. Each parser's error is the sentence
//! the user sees.

use crate::error::{Error, Result};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use time::OffsetDateTime;

/// A node, client, proxy or org name: one DNS label (RFC 1123: letters, digits and `-`, 1 to 63
/// characters, no leading or trailing `-`). Names end up in file paths and in DNS SANs, so
/// anything else (`;`, `/`, `..`) is refused before it can reach either.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(String);

impl Label {
    pub fn parse(s: &str, what: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            // DNS names are case-insensitive; one spelling keeps file names and SANs in step.
            Ok(Label(s.to_ascii_lowercase()))
        } else if s.is_empty() {
            Err(Error::input(format!(
                "the {what} is empty; give a DNS label such as `participant1`"
            )))
        } else if s.len() > 63 {
            Err(Error::input(format!(
                "the {what} `{s}` is {} characters long; a DNS label has at most 63",
                s.len()
            )))
        } else {
            Err(Error::input(format!(
                "the {what} `{s}` is not a valid DNS label; use only letters, digits and `-` (not at either end)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS domain such as `customer1.com`: dot-separated labels.
pub fn parse_domain(s: &str, what: &str) -> Result<String> {
    if s.is_empty() || s.len() > 253 {
        return Err(Error::input(format!(
            "the {what} `{s}` is not a DNS domain; give one such as `customer1.com`"
        )));
    }
    let bad = || {
        Error::input(format!(
            "the {what} `{s}` is not a valid DNS name; use labels of letters, digits and `-` separated by dots"
        ))
    };
    for part in s.split('.') {
        Label::parse(part, what).map_err(|_| bad())?;
    }
    // TLS stacks (rustls-webpki among them) refuse a name whose last label is a number, since
    // it reads as an IPv4 address; refuse it here rather than issue a cert no client accepts.
    rustls_pki_types::DnsName::try_from(s).map_err(|_| bad())?;
    Ok(s.to_ascii_lowercase())
}

/// One subjectAltName entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
}

impl San {
    /// Parses `DNS:name`, `IP:addr`, or a bare name / address.
    pub fn parse(s: &str) -> Result<Self> {
        let (tag, value) = match s.split_once(':') {
            Some((t, v)) if t.eq_ignore_ascii_case("dns") => (Some("dns"), v),
            Some((t, v)) if t.eq_ignore_ascii_case("ip") => (Some("ip"), v),
            _ => (None, s),
        };
        if tag == Some("ip") || (tag.is_none() && looks_like_ip(value)) {
            let ip = IpAddr::from_str(value).map_err(|_| {
                Error::input(format!(
                    "the SAN `{s}` is not an IP address; give one such as `127.0.0.1` or `::1`"
                ))
            })?;
            // 0.0.0.0 and :: mean "any address" to a listener; no client connects to them, so a
            // cert naming one is a mistake (the shell procedure made it on every server cert).
            if ip.is_unspecified() {
                return Err(Error::input(format!(
                    "the SAN `{s}` is the unspecified address, which no client connects to; give the address clients use, such as `127.0.0.1`"
                )));
            }
            return Ok(San::Ip(ip));
        }
        if IpAddr::from_str(value).is_ok() {
            return Err(Error::input(format!(
                "the SAN `{s}` is an IP address written as a DNS name; give it as `IP:{value}`"
            )));
        }
        // A wildcard is allowed in the leftmost label only.
        let name = value.strip_prefix("*.").unwrap_or(value);
        parse_domain(name, "SAN").map_err(|_| {
            Error::input(format!(
                "the SAN `{s}` is neither a DNS name nor an IP address; give e.g. `DNS:db.customer1.com` or `IP:10.0.0.5`"
            ))
        })?;
        Ok(San::Dns(value.to_ascii_lowercase()))
    }
}

fn looks_like_ip(s: &str) -> bool {
    s.contains(':') || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(d) => write!(f, "DNS:{d}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// The key algorithms hapki generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum KeyAlg {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl KeyAlg {
    pub const NAMES: &'static str = "rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384, ed25519";

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyAlg::Rsa2048 | KeyAlg::Rsa3072 | KeyAlg::Rsa4096)
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Rsa2048 => "rsa2048",
            KeyAlg::Rsa3072 => "rsa3072",
            KeyAlg::Rsa4096 => "rsa4096",
            KeyAlg::EcdsaP256 => "ecdsa-p256",
            KeyAlg::EcdsaP384 => "ecdsa-p384",
            KeyAlg::Ed25519 => "ed25519",
        }
    }
}

impl FromStr for KeyAlg {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "rsa2048" | "rsa-2048" => KeyAlg::Rsa2048,
            "rsa3072" | "rsa-3072" => KeyAlg::Rsa3072,
            "rsa4096" | "rsa-4096" => KeyAlg::Rsa4096,
            "ecdsa-p256" | "p256" | "p-256" | "ec256" => KeyAlg::EcdsaP256,
            "ecdsa-p384" | "p384" | "p-384" | "ec384" => KeyAlg::EcdsaP384,
            "ed25519" => KeyAlg::Ed25519,
            _ => {
                return Err(Error::input(format!(
                    "the key algorithm `{s}` is not one hapki knows; use one of {}",
                    KeyAlg::NAMES
                )))
            }
        })
    }
}

impl fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(At)
            .map_err(|_| {
                Error::input(format!(
                    "the time `{s}` is not valid; give RFC 3339 such as `2026-11-26T12:00:00Z` or Unix seconds"
                ))
            })
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
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(Label::parse("participant1", "name").is_ok());
        assert_eq!(Label::parse("Db-1", "name").unwrap().as_str(), "db-1");
        for bad in ["", "bad;name", "a/b", "-a", "a-", "a.b", &"x".repeat(64)] {
            assert!(Label::parse(bad, "name").is_err(), "{bad}");
        }
    }

    #[test]
    fn sans() {
        assert_eq!(
            San::parse("IP:::1").unwrap(),
            San::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("10.0.0.5").unwrap(),
            San::Ip("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            San::parse("DNS:Db.X.com").unwrap(),
            San::Dns("db.x.com".into())
        );
        assert!(San::parse("IP:300.1.1.1").is_err());
        assert!(San::parse("IP:0.0.0.0").is_err());
        assert!(San::parse("::").is_err());
        assert!(San::parse("999.1.1.1").is_err());
        assert!(San::parse("bad;name").is_err());
        assert!(San::parse("DNS:10.0.0.5").is_err());
        assert!(San::parse("DNS:pg.10").is_err());
        assert!(San::parse("DNS:pg.0x1f").is_err());
    }

    #[test]
    fn spans_and_times() {
        assert_eq!("1d".parse::<Span>().unwrap(), Span(86400));
        assert_eq!("3600s".parse::<Span>().unwrap(), Span(3600));
        assert_eq!("+30m".parse::<Span>().unwrap(), Span(1800));
        assert!("0s".parse::<Span>().is_err());
        assert!("-1d".parse::<Span>().is_err());
        assert!("1w".parse::<Span>().is_err());
        assert_eq!("0".parse::<At>().unwrap().0.unix_timestamp(), 0);
        assert_eq!(
            "2026-11-26T12:00:00Z"
                .parse::<At>()
                .unwrap()
                .0
                .unix_timestamp(),
            1795694400
        );
        assert!(parse_days("0").is_err());
        assert!(parse_days("-3").is_err());
        assert_eq!(parse_days("365").unwrap(), 365);
    }
}
