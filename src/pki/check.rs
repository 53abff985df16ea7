//! The checks a TLS stack makes, reused by issuance ("validation as it goes") and by
//! `hapki verify`: chain to the org root with rustls-webpki for the usage of a leaf's kind, the
//! names of a server cert, the key matching the cert, CA signatures and validity. Each failure is
//! a `CheckError` that says why; its Display is the sentence fragment callers put after the file
//! name.

use crate::model::Kind;
use crate::model::{fmt_time, San};
use crate::pki::OrgCa;
use ::time::OffsetDateTime;
use rcgen::{KeyPair, PublicKeyData};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::fmt;
use std::path::Path;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why a certificate failed a check. Display gives the fragment that follows the file name
/// ("… expired at 2027-01-01 00:00:00 UTC").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// The bytes are not an X.509 certificate x509-parser can read.
    NotX509,
    /// The private key is not the certificate's.
    KeyMismatch,
    /// A CA cert whose signature its parent's key does not verify.
    NotSignedByParent,
    /// A root whose self-signature does not verify.
    BadSelfSignature,
    /// A CA cert without basicConstraints CA:TRUE.
    NotCa,
    NotYetValid {
        not_before: OffsetDateTime,
    },
    Expired {
        not_after: OffsetDateTime,
    },
    /// No path to the org root through its intermediates.
    UnknownIssuer,
    /// The EKU lacks what a leaf of `kind` is used for.
    MissingEku {
        kind: Kind,
    },
    CaUsedAsLeaf,
    /// A signature in the path that its issuer's key does not verify.
    BadSignature,
    PathLenConstraint,
    /// A name the cert carries is outside a CA's nameConstraints.
    OutsideNameConstraints,
    BadDer,
    /// Any other refusal of rustls-webpki, kept as it said it.
    Refused(webpki::Error),
    /// The root cert cannot serve as a trust anchor.
    UnusableRoot(webpki::Error),
    /// The profile names a DNS name rustls would not accept as a server name.
    InvalidDnsName(String),
    /// A server cert that is not valid for one of the names asked for.
    NameMismatch(San),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CheckError as C;
        match self {
            C::NotX509 => f.write_str("is not a valid X.509 certificate"),
            C::KeyMismatch => {
                f.write_str("the private key does not match the certificate's public key")
            }
            C::NotSignedByParent => f.write_str("is not signed by its parent CA"),
            C::BadSelfSignature => f.write_str("is not a valid self-signed root"),
            C::NotCa => f.write_str("is not a CA certificate (basicConstraints CA:TRUE missing)"),
            C::NotYetValid { not_before } => {
                write!(f, "is not valid until {}", fmt_time(*not_before))
            }
            C::Expired { not_after } => write!(f, "expired at {}", fmt_time(*not_after)),
            C::UnknownIssuer => {
                f.write_str("does not chain to the org root through its intermediate")
            }
            C::MissingEku { kind } => write!(
                f,
                "lacks the extended key usage a {} cert needs ({})",
                kind.name(),
                if *kind == Kind::Server {
                    "serverAuth"
                } else {
                    "clientAuth"
                }
            ),
            C::CaUsedAsLeaf => f.write_str("is a CA certificate where a leaf was expected"),
            C::BadSignature => f.write_str("has a signature its issuer's key does not verify"),
            C::PathLenConstraint => f.write_str("breaks a CA's path length constraint"),
            C::OutsideNameConstraints => f.write_str(
                "names something outside its issuing CA's name constraints (rustls-webpki: NameConstraintViolation)",
            ),
            C::BadDer => f.write_str("is not a well-formed DER certificate"),
            C::Refused(e) => write!(f, "is refused by rustls-webpki ({e:?})"),
            C::UnusableRoot(e) => write!(f, "has an unusable root certificate ({e:?})"),
            C::InvalidDnsName(d) => write!(f, "names `{d}`, which is not a valid DNS name"),
            C::NameMismatch(san) => write!(f, "is not valid for the name {san}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// Callers whose own errors are still sentences (the JWK checks) take the fragment as it is.
impl From<CheckError> for String {
    fn from(e: CheckError) -> String {
        e.to_string()
    }
}

pub fn unix(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        t.unix_timestamp().max(0) as u64
    ))
}

pub fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, CheckError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|_| CheckError::NotX509)
}

pub fn not_after(der: &CertificateDer<'_>, path: &Path) -> crate::error::Result<OffsetDateTime> {
    parse(der)
        .map(|c| c.validity().not_after.to_datetime())
        .map_err(|m| crate::error::Error::input(format!("{} {m}; restore it", path.display())))
}

/// The cert's public key is the key pair's.
pub fn key_matches(der: &CertificateDer<'_>, key: &dyn PublicKeyData) -> Result<(), CheckError> {
    let cert = parse(der)?;
    if cert.public_key().raw == key.subject_public_key_info().as_slice() {
        Ok(())
    } else {
        Err(CheckError::KeyMismatch)
    }
}

/// A CA cert: signed by its parent (or itself), a CA, valid at `now`, and matching `key` when
/// one is given (`hapki verify` checks the key file on its own, and a CA key may be offline).
pub fn ca_cert(
    der: &CertificateDer<'_>,
    parent: Option<&CertificateDer<'_>>,
    key: Option<&dyn PublicKeyData>,
    now: OffsetDateTime,
) -> Result<(), CheckError> {
    let cert = parse(der)?;
    let parent_cert = parent.map(parse).transpose()?;
    cert.verify_signature(parent_cert.as_ref().map(|p| p.public_key()))
        .map_err(|_| match parent {
            Some(_) => CheckError::NotSignedByParent,
            None => CheckError::BadSelfSignature,
        })?;
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        _ => return Err(CheckError::NotCa),
    }
    validity(&cert, now)?;
    match key {
        Some(key) => key_matches(der, key),
        None => Ok(()),
    }
}

fn validity(cert: &X509Certificate<'_>, now: OffsetDateTime) -> Result<(), CheckError> {
    let v = cert.validity();
    if now < v.not_before.to_datetime() {
        return Err(CheckError::NotYetValid {
            not_before: v.not_before.to_datetime(),
        });
    }
    if now > v.not_after.to_datetime() {
        return Err(CheckError::Expired {
            not_after: v.not_after.to_datetime(),
        });
    }
    Ok(())
}

/// Verifies `der` as rustls would: a path to `root` through `intermediates`, for the usage of
/// `kind` (server certs: serverAuth; client, proxy-backend and JWT signing: clientAuth, which a
/// cert without EKU also passes), at `now`.
pub fn chain(
    der: &CertificateDer<'_>,
    kind: Kind,
    intermediates: &[CertificateDer<'_>],
    root: &CertificateDer<'_>,
    now: OffsetDateTime,
) -> Result<(), CheckError> {
    let anchor = webpki::anchor_from_trusted_cert(root).map_err(CheckError::UnusableRoot)?;
    let ee = webpki::EndEntityCert::try_from(der).map_err(|e| describe(e, kind))?;
    let usage = match kind {
        Kind::Server => webpki::KeyUsage::server_auth(),
        _ => webpki::KeyUsage::client_auth(),
    };
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        intermediates,
        unix(now),
        usage,
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| describe(e, kind))
}

/// A server cert is valid for each of `names` (DNS names and IPs), as a client checks it.
pub fn names(der: &CertificateDer<'_>, names: &[San]) -> Result<(), CheckError> {
    let ee = webpki::EndEntityCert::try_from(der).map_err(|e| describe(e, Kind::Server))?;
    for san in names {
        let name = match san {
            San::Dns(d) if d.starts_with("*.") => continue,
            San::Dns(d) => ServerName::try_from(d.as_str())
                .map_err(|_| CheckError::InvalidDnsName(d.clone()))?
                .to_owned(),
            San::Ip(ip) => ServerName::IpAddress((*ip).into()),
        };
        ee.verify_is_valid_for_subject_name(&name)
            .map_err(|_| CheckError::NameMismatch(san.clone()))?;
    }
    Ok(())
}

/// Everything issuance checks on a new leaf.
pub fn leaf(
    der: &CertificateDer<'_>,
    kind: Kind,
    sans: &[San],
    key: &KeyPair,
    ca: &OrgCa,
    now: OffsetDateTime,
) -> Result<(), CheckError> {
    chain(der, kind, &ca.intermediates_der(), &ca.root().der, now)?;
    if kind == Kind::Server {
        names(der, sans)?;
    }
    key_matches(der, key)
}

/// webpki's errors are enums whose Display is Debug; this keeps the ones a user can act on
/// apart, each with what its sentence needs.
pub fn describe(e: webpki::Error, kind: Kind) -> CheckError {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => CheckError::UnknownIssuer,
        E::CertExpired { not_after, .. } => CheckError::Expired {
            not_after: from_unix(not_after),
        },
        E::CertNotValidYet { not_before, .. } => CheckError::NotYetValid {
            not_before: from_unix(not_before),
        },
        E::RequiredEkuNotFoundContext(_) => CheckError::MissingEku { kind },
        E::CaUsedAsEndEntity => CheckError::CaUsedAsLeaf,
        E::InvalidSignatureForPublicKey => CheckError::BadSignature,
        E::PathLenConstraintViolated => CheckError::PathLenConstraint,
        E::NameConstraintViolation => CheckError::OutsideNameConstraints,
        E::BadDer | E::BadDerTime | E::TrailingData(_) => CheckError::BadDer,
        other => CheckError::Refused(other),
    }
}

/// webpki's times come from the cert's X.509 validity, which ends at 9999-12-31, well inside
/// `OffsetDateTime`'s range; the clamp only keeps this total.
fn from_unix(t: UnixTime) -> OffsetDateTime {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or_else(|_| time::PrimitiveDateTime::MAX.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;
    use crate::model::{KeyAlg, Label};
    use crate::pki::{adhoc_spec, build_ca, issue_leaf, Leaf};
    use crate::profile::{OrgSpec, Topology};
    use time::Duration;

    const PROFILE: &str = "[defaults]\nca_key = \"ecdsa-p256\"\nleaf_key = \"ecdsa-p256\"\ntier = 2\n[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n";

    /// 2026-01-01T00:00:00Z: every test issues and checks at pinned times.
    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
    }

    fn org() -> OrgSpec {
        Topology::parse(PROFILE, "p.toml").unwrap().orgs.remove(0)
    }

    fn ca(org: &OrgSpec) -> OrgCa {
        let keys = (0..2)
            .map(|_| crate::keys::CaKey::plain(keys::generate(KeyAlg::EcdsaP256).unwrap()))
            .collect();
        build_ca(org, 2, None, keys, t0()).unwrap()
    }

    fn leaf(org: &OrgSpec, ca: &OrgCa, name: &str, kind: Kind) -> Leaf {
        let spec = adhoc_spec(
            org,
            &Label::parse(name, "name").unwrap(),
            kind,
            &[],
            None,
            None,
        );
        let key = keys::generate(spec.key).unwrap();
        issue_leaf(org, ca, &spec, key, t0()).unwrap()
    }

    #[test]
    fn a_fresh_leaf_passes_and_fails_for_each_reason() {
        let org = org();
        let ca = ca(&org);
        let server = leaf(&org, &ca, "node1", Kind::Server);
        let sans = server.spec.sans.clone();
        let check = |at| leaf_check(&server, &ca, &server.key, &sans, at);
        assert_eq!(check(t0()), Ok(()));

        let later = t0() + Duration::days(3650);
        let Err(CheckError::Expired { not_after }) = check(later) else {
            panic!("{:?}", check(later))
        };
        assert!(not_after < later && not_after > t0());
        assert_eq!(
            CheckError::Expired { not_after }.to_string(),
            format!("expired at {}", fmt_time(not_after))
        );
        assert!(matches!(
            check(t0() - Duration::days(30)),
            Err(CheckError::NotYetValid { .. })
        ));

        let other_key = keys::generate(KeyAlg::EcdsaP256).unwrap();
        assert_eq!(
            leaf_check(&server, &ca, &other_key, &sans, t0()),
            Err(CheckError::KeyMismatch)
        );
        let extra = vec![San::Dns("elsewhere.p.com".into())];
        assert_eq!(
            leaf_check(&server, &ca, &server.key, &extra, t0()),
            Err(CheckError::NameMismatch(extra[0].clone()))
        );
        assert_eq!(
            CheckError::NameMismatch(extra[0].clone()).to_string(),
            "is not valid for the name DNS:elsewhere.p.com"
        );
    }

    fn leaf_check(
        l: &Leaf,
        ca: &OrgCa,
        key: &KeyPair,
        sans: &[San],
        at: OffsetDateTime,
    ) -> Result<(), CheckError> {
        super::leaf(&l.der, l.spec.kind, sans, key, ca, at)
    }

    #[test]
    fn another_orgs_ca_and_another_usage_are_told_apart() {
        let org = org();
        let (ours, theirs) = (ca(&org), ca(&org));
        let client = leaf(&org, &ours, "admin", Kind::Client);
        let root = &ours.root().der;
        let mid = ours.intermediates_der();
        assert_eq!(chain(&client.der, Kind::Client, &mid, root, t0()), Ok(()));
        let err = chain(&client.der, Kind::Server, &mid, root, t0()).unwrap_err();
        assert_eq!(err, CheckError::MissingEku { kind: Kind::Server });
        assert_eq!(
            err.to_string(),
            "lacks the extended key usage a server cert needs (serverAuth)"
        );
        // Another org's CAs carry the same names, so webpki finds them and their key refuses
        // the signature; without the intermediate, no issuer is found at all.
        let foreign = theirs.intermediates_der();
        let err = chain(
            &client.der,
            Kind::Client,
            &foreign,
            &theirs.root().der,
            t0(),
        );
        assert_eq!(err, Err(CheckError::BadSignature));
        let err = chain(&client.der, Kind::Client, &[], root, t0());
        assert_eq!(err, Err(CheckError::UnknownIssuer));
    }

    #[test]
    fn ca_certs_are_checked_for_signature_ca_flag_validity_and_key() {
        let org = org();
        let (ours, theirs) = (ca(&org), ca(&org));
        let (root, mid) = (&ours.levels[0], &ours.levels[1]);
        assert_eq!(
            ca_cert(
                &root.der,
                None,
                root.key.as_ref().map(|k| k as &dyn rcgen::PublicKeyData),
                t0()
            ),
            Ok(())
        );
        assert_eq!(
            ca_cert(
                &mid.der,
                Some(&root.der),
                mid.key.as_ref().map(|k| k as &dyn rcgen::PublicKeyData),
                t0()
            ),
            Ok(())
        );
        let foreign_root = &theirs.root().der;
        assert_eq!(
            ca_cert(&mid.der, Some(foreign_root), None, t0()),
            Err(CheckError::NotSignedByParent)
        );
        // An intermediate is not self-signed.
        assert_eq!(
            ca_cert(&mid.der, None, None, t0()),
            Err(CheckError::BadSelfSignature)
        );
        assert_eq!(
            ca_cert(
                &root.der,
                None,
                mid.key.as_ref().map(|k| k as &dyn rcgen::PublicKeyData),
                t0()
            ),
            Err(CheckError::KeyMismatch)
        );
        let far = t0() + Duration::days(365 * 40);
        assert!(matches!(
            ca_cert(&root.der, None, None, far),
            Err(CheckError::Expired { .. })
        ));
        let server = leaf(&org, &ours, "node1", Kind::Server);
        assert_eq!(
            ca_cert(&server.der, Some(&mid.der), None, t0()),
            Err(CheckError::NotCa)
        );
    }

    #[test]
    fn garbage_is_not_x509_and_the_sentences_stay_as_they_were() {
        let der = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(parse(&der).err(), Some(CheckError::NotX509));
        for (e, s) in [
            (CheckError::NotX509, "is not a valid X.509 certificate"),
            (
                CheckError::KeyMismatch,
                "the private key does not match the certificate's public key",
            ),
            (
                CheckError::UnknownIssuer,
                "does not chain to the org root through its intermediate",
            ),
            (
                CheckError::NotCa,
                "is not a CA certificate (basicConstraints CA:TRUE missing)",
            ),
            (
                CheckError::InvalidDnsName("a..b".into()),
                "names `a..b`, which is not a valid DNS name",
            ),
        ] {
            assert_eq!(e.to_string(), s);
        }
    }
}
