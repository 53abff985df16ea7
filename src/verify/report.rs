//! What `hapki verify` says about each file: an `Entry` per file with its findings, each a
//! stable `Code` for machines beside a sentence and a fix for people. docs/verify-codes.md
//! documents every code.

use crate::pki::check::CheckError;
use std::path::{Path, PathBuf};

/// Declares `Code` from one table, so its variants, `Code::ALL` and the spellings of `as_str`
/// cannot disagree.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)*) => {
        /// Why a file was flagged. `as_str` is the stable kebab-case code of `verify --json`;
        /// new codes may be added, existing ones keep their spelling.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }
        }
    };
}

codes! {
    /// A file the layout or the profile expects is not there.
    Missing => "missing",
    /// The file exists but cannot be read (permissions, I/O).
    Unreadable => "unreadable",
    /// Not well-formed PEM: truncated, empty, or no PEM block hapki knows.
    NotPem => "not-pem",
    /// A PEM block of another type than the file must hold (a key where a cert belongs, ...).
    WrongBlock => "wrong-block",
    /// A certificate, CSR or DER file whose contents do not parse.
    Malformed => "malformed",
    /// A private key hapki cannot read (corrupt, or of an unsupported type).
    BadKey => "bad-key",
    /// The private key is not the certificate's.
    KeyMismatch => "key-mismatch",
    /// A copy derived from the cert (DER form, public key, HAProxy PEM key) says something else.
    NotInStep => "not-in-step",
    Expired => "expired",
    NotYetValid => "not-yet-valid",
    /// A warning: the cert expires within `--within`.
    Expiring => "expiring",
    /// The root cert is another PKI's root: the root key does not match it and the CA below
    /// does not chain to it.
    ForeignRoot => "foreign-root",
    /// Does not chain to the org root (unknown issuer, bad signature, a foreign CA).
    WrongIssuer => "wrong-issuer",
    /// A CA cert without basicConstraints CA:TRUE.
    NotCa => "not-ca",
    /// A CA cert where a leaf belongs.
    CaAsLeaf => "ca-as-leaf",
    /// The EKU lacks the usage of the leaf's kind.
    WrongUsage => "wrong-usage",
    PathLen => "path-len",
    /// A server cert not valid for a name the profile asks for.
    MissingName => "missing-name",
    /// The profile names a DNS name rustls does not accept.
    InvalidName => "invalid-name",
    /// Any other refusal of rustls-webpki.
    Rejected => "rejected",
    /// A private key, key folder or token open to group or others.
    WrongMode => "wrong-mode",
    /// A chain file, trust bundle, root copy or HAProxy PEM whose certs are not the expected
    /// ones in the expected order.
    ChainOrder => "chain-order",
    /// A warning: the CSR asks for another key than its cert's.
    StaleCsr => "stale-csr",
    /// A warning: a CA key is not on disk (fine when kept offline).
    KeyOffline => "key-offline",
    /// A warning: the profile asks for encrypted CA keys and this one is plain.
    KeyNotEncrypted => "key-not-encrypted",
    /// An encrypted CA key the given passphrase does not open.
    WrongPassphrase => "wrong-passphrase",
    /// The PKCS#11 token holds no key for this CA cert.
    TokenKeyMissing => "token-key-missing",
    /// A warning: the PKCS#11 token of the profile cannot be reached, so its key is unchecked.
    TokenUnreachable => "token-unreachable",
    /// Cannot be checked because the org's CA has a problem.
    CaBroken => "ca-broken",
    /// Cannot be checked because its leaf cert has a problem.
    LeafBroken => "leaf-broken",
    /// The root CA names another DNS domain than the profile gives the org.
    DomainMismatch => "domain-mismatch",
    /// The root CA's CN does not name the org's domain at all.
    NoDomain => "no-domain",
    /// The JWKS is not JSON.
    NotJson => "not-json",
    /// The JWKS is not a JWK set hapki can read.
    JwksInvalid => "jwks-invalid",
    /// The JWKS holds no key.
    JwksEmpty => "jwks-empty",
    /// A JWKS key fails its own checks (x5c, thumbprint, chain to the org root).
    JwkInvalid => "jwk-invalid",
    /// The JWKS lacks the signing cert's key.
    JwksMissingKey => "jwks-missing-key",
    /// The JWKS has the signing cert's kid with other members.
    JwksStaleKey => "jwks-stale-key",
    /// A warning: the JWKS holds a key that is not the signing cert's.
    JwksExtraKey => "jwks-extra-key",
    /// The JWKS's first key is not the current signing key (verifiers that take the first
    /// key, and the rotation, rely on it).
    JwksOrder => "jwks-order",
    /// A retired signing cert that does not parse or sits in another kid's folder.
    RetiredKeyInvalid => "retired-key-invalid",
    /// The rotation record (`NS/signing/rotation.json`) is not hapki's.
    RotationRecordInvalid => "rotation-record-invalid",
    /// A token that does not verify against the org's JWKS.
    TokenInvalid => "token-invalid",
    /// A token that cannot be checked: no readable JWKS or signing cert.
    NoJwks => "no-jwks",
    /// A warning: a temporary file of an interrupted hapki run.
    TempFile => "temp-file",
    /// A warning: a file outside hapki's layout.
    UnknownFile => "unknown-file",
    /// A warning: a CA index ends in a line a killed run left half-written.
    TornLine => "torn-line",
    /// The CRL bundle lacks the CRL of a CA of the chain.
    CrlBundleIncomplete => "crl-bundle-incomplete",
    /// A cert its CA's index marks revoked is still at its layout path.
    RevokedInUse => "revoked-in-use",
    /// A CRL past its nextUpdate: servers that check it refuse every client.
    CrlExpired => "crl-expired",
    /// A warning: a CRL with less than a quarter of its window left.
    CrlExpiring => "crl-expiring",
    /// A run was stopped among its renames; the next writer finishes or undoes it.
    JournalPending => "journal-pending",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl From<&CheckError> for Code {
    fn from(e: &CheckError) -> Code {
        use CheckError as E;
        match e {
            E::NotX509 | E::BadDer => Code::Malformed,
            E::KeyMismatch => Code::KeyMismatch,
            E::NotSignedByParent | E::BadSelfSignature | E::UnknownIssuer | E::BadSignature => {
                Code::WrongIssuer
            }
            E::NotCa => Code::NotCa,
            E::CaUsedAsLeaf => Code::CaAsLeaf,
            E::NotYetValid { .. } => Code::NotYetValid,
            E::Expired { .. } => Code::Expired,
            E::MissingEku { .. } => Code::WrongUsage,
            E::PathLenConstraint => Code::PathLen,
            E::Refused(_) | E::UnusableRoot(_) | E::OutsideNameConstraints => Code::Rejected,
            E::InvalidDnsName(_) => Code::InvalidName,
            E::NameMismatch(_) => Code::MissingName,
        }
    }
}

/// What is wrong with a file before the caller knows the fix: what the readers of files return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: Code,
    pub what: String,
}

impl Fault {
    pub fn new(code: Code, what: impl Into<String>) -> Fault {
        Fault {
            code,
            what: what.into(),
        }
    }
}

impl From<CheckError> for Fault {
    fn from(e: CheckError) -> Fault {
        Fault::new(Code::from(&e), e.to_string())
    }
}

/// The verdict on one file (or private folder).
#[derive(Clone, Debug)]
pub struct Entry {
    pub file: PathBuf,
    pub kind: String,
    pub problems: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

/// One thing found about a file: its code, what is wrong, and how to fix it in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub what: String,
    /// Empty when there is nothing to do about this file itself (e.g. its CA is what is broken).
    pub fix: String,
}

/// The sentence of `--json`'s `problems`: what, then the fix.
impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fix.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}; {}", self.what, self.fix)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Problem,
    Warning,
}

impl Entry {
    pub(super) fn new(file: &Path, kind: impl Into<String>) -> Entry {
        Entry {
            file: file.to_path_buf(),
            kind: kind.into(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn status(&self) -> Status {
        if !self.problems.is_empty() {
            Status::Problem
        } else if !self.warnings.is_empty() {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    pub(super) fn problem(&mut self, code: Code, what: impl Into<String>, fix: &str) {
        // A folder where a file belongs reads as a missing file to every check, but the fix
        // that writes the file fails until the folder is out of the way.
        if code == Code::Missing && self.file.is_dir() {
            let mut away = self.file.clone().into_os_string();
            away.push(".moved-away");
            let away = std::path::PathBuf::from(away);
            return self.problems.push(Finding {
                code,
                what: "is a folder where a file belongs".into(),
                fix: format!(
                    "move it out of the way with `mv {} {}`{}{fix}",
                    super::fix::shell(&self.file),
                    super::fix::shell(&away),
                    if fix.is_empty() { "" } else { " and then " }
                ),
            });
        }
        self.problems.push(Finding {
            code,
            what: what.into(),
            fix: fix.to_string(),
        });
    }

    pub(super) fn warn(&mut self, code: Code, what: impl Into<String>, fix: &str) {
        self.warnings.push(Finding {
            code,
            what: what.into(),
            fix: fix.to_string(),
        });
    }

    /// A problem a reader of the file returned.
    pub(super) fn fault(&mut self, f: impl Into<Fault>, fix: &str) {
        let f = f.into();
        self.problem(f.code, f.what, fix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_and_spelled_once() {
        let doc = include_str!("../../docs/verify-codes.md");
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} is the code of two variants");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{s} is not kebab-case"
            );
            assert!(
                doc.contains(&format!("`{s}`")),
                "docs/verify-codes.md does not document `{s}`"
            );
        }
    }

    #[test]
    fn check_errors_map_to_their_codes() {
        assert_eq!(Code::from(&CheckError::KeyMismatch), Code::KeyMismatch);
        assert_eq!(Code::from(&CheckError::UnknownIssuer), Code::WrongIssuer);
        let f = Fault::from(CheckError::NotCa);
        assert_eq!(f.code, Code::NotCa);
        assert_eq!(f.what, CheckError::NotCa.to_string());
    }
}
