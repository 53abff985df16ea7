//! One subjectAltName entry, parsed from `DNS:name` / `IP:addr`.

use super::name::parse_domain;
use crate::error::{Error, Result};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

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
            // The other GeneralName kinds openssl and others spell this way.
            Some((t, _))
                if ["uri", "email", "rid", "dirname", "othername", "upn"]
                    .iter()
                    .any(|k| t.eq_ignore_ascii_case(k)) =>
            {
                return Err(Error::input(format!(
                    "the SAN `{s}` is neither a DNS name nor an IP address; hapki supports only DNS: and IP: SANs (e.g. `DNS:db.customer1.com` or `IP:10.0.0.5`)"
                )));
            }
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
