//! Certificate lint: the RFC 5280 rules a certificate is checked against, as typed findings with
//! stable codes. It owns the rules (names and their string types and lengths, serial, validity
//! encoding, extension criticality, key usage against basic constraints and EKU, SAN syntax,
//! AKI/SKI, size), the pre-issuance check every cert hapki builds passes before it is written,
//! and the findings `hapki lint` prints for any certificate.
//!
//! x509-parser reads the certificate; the rules are written here because no maintained Rust crate
//! lints certificates (zlint and pkilint are Go and Python tools, which the tests run).

mod rules;

use crate::error::{Error, Result};
use crate::model::Kind;
use x509_parser::prelude::{FromDer, X509Certificate};

pub use rules::{Code, Role};

/// How much a finding matters. Errors break RFC 5280 (a MUST); warnings break a SHOULD or a
/// common relying party; notices are worth knowing and are not faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Notice,
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        }
    }
}

/// One rule a certificate breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// A sentence saying what is wrong, with the value at fault.
    pub message: String,
}

/// What a certificate is meant to be, when the caller knows (hapki does for its own certs):
/// the lint then also checks the kind's key usages, EKU and basic constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Ca,
    Leaf(Kind),
}

/// The largest DER certificate that is accepted: TLS stacks and tools (and hapki's own readers)
/// cap a certificate well below the 16 MiB a TLS message could carry, and 64 KiB is the common
/// floor.
pub const MAX_CERT_LEN: usize = 65_535;

/// A DER certificate that could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotACert(pub String);

/// The findings of one DER certificate. `issuer` is the cert that signed it, when known (for
/// a self-signed cert, the cert itself is taken): the AKI is then checked against its SKI.
pub fn lint(
    der: &[u8],
    issuer: Option<&[u8]>,
    expect: Option<Expect>,
) -> std::result::Result<Vec<Finding>, NotACert> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| NotACert(format!("it is not a DER X.509 certificate ({e})")))?;
    let issuer = match issuer {
        Some(d) => Some(
            X509Certificate::from_der(d)
                .map_err(|e| NotACert(format!("its issuer is not a certificate ({e})")))?
                .1,
        ),
        None => None,
    };
    let mut out = rules::check(&cert, der.len() - rest.len(), issuer.as_ref(), expect);
    if !rest.is_empty() {
        out.push(Finding {
            code: Code::TrailingData,
            severity: Severity::Error,
            message: format!("{} bytes follow the certificate's DER encoding", rest.len()),
        });
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(out)
}

/// The pre-issuance lint of a certificate hapki has just built: any finding above a notice is
/// a bug in hapki, reported with its code. `what` names the cert ("the new server cert db").
pub fn check_new(der: &[u8], issuer: Option<&[u8]>, expect: Expect, what: &str) -> Result<()> {
    let findings = lint(der, issuer, Some(expect))
        .map_err(|NotACert(m)| Error::bug(format!("{what}: {m}")))?;
    // The issuer name is the issuer cert's subject, copied byte for byte (chains are built by
    // name): a CA already on disk, made by another tool or an older hapki, may have string types
    // hapki would not choose, and that is no bug in the new cert. A new root is its own issuer,
    // and its subject findings still count.
    let inherited = |f: &Finding| {
        issuer.is_some_and(|i| i != der)
            && matches!(
                f.code,
                Code::NameStringType(Role::Issuer)
                    | Code::NameStringTooLong(Role::Issuer)
                    | Code::NameStringEmpty(Role::Issuer)
                    | Code::CountryInvalid(Role::Issuer)
            )
    };
    match findings
        .iter()
        .find(|f| f.severity > Severity::Notice && !inherited(f))
    {
        None => Ok(()),
        Some(f) => Err(Error::bug(format!(
            "{what} fails the pre-issuance lint: {} {}: {}",
            f.severity.name(),
            f.code.as_str(),
            f.message
        ))),
    }
}

#[cfg(test)]
mod tests;
