//! Names: one DNS label (org, node, client, proxy) and DNS domains.

use crate::error::{Error, Result};
use std::fmt;

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
