//! The checks a TLS stack makes, reused by issuance ("validation as it goes") and by
//! `hapki verify`: chain to the org root with rustls-webpki for the usage of a leaf's kind, the
//! names of a server cert, the key matching the cert, CA signatures and validity. Each failure is
//! a sentence fragment that callers put after the file name.

use crate::model::Kind;
use crate::model::{fmt_time, San};
use crate::pki::OrgCa;
use ::time::OffsetDateTime;
use rcgen::{KeyPair, PublicKeyData};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;
use x509_parser::prelude::{FromDer, X509Certificate};

pub fn unix(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        t.unix_timestamp().max(0) as u64
    ))
}

pub fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, String> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|_| "is not a valid X.509 certificate".to_string())
}

pub fn not_after(der: &CertificateDer<'_>, path: &Path) -> crate::error::Result<OffsetDateTime> {
    parse(der)
        .map(|c| c.validity().not_after.to_datetime())
        .map_err(|m| crate::error::Error::input(format!("{} {m}; restore it", path.display())))
}

/// The cert's public key is the key pair's.
pub fn key_matches(der: &CertificateDer<'_>, key: &KeyPair) -> Result<(), String> {
    let cert = parse(der)?;
    if cert.public_key().raw == key.subject_public_key_info().as_slice() {
        Ok(())
    } else {
        Err("the private key does not match the certificate's public key".into())
    }
}

/// A CA cert: signed by its parent (or itself), a CA, valid at `now`, and matching `key` when
/// one is given (`hapki verify` checks the key file on its own, and a CA key may be offline).
pub fn ca_cert(
    der: &CertificateDer<'_>,
    parent: Option<&CertificateDer<'_>>,
    key: Option<&KeyPair>,
    now: OffsetDateTime,
) -> Result<(), String> {
    let cert = parse(der)?;
    let parent_cert = parent.map(parse).transpose()?;
    cert.verify_signature(parent_cert.as_ref().map(|p| p.public_key()))
        .map_err(|_| match parent {
            Some(_) => "is not signed by its parent CA".to_string(),
            None => "is not a valid self-signed root".to_string(),
        })?;
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        _ => return Err("is not a CA certificate (basicConstraints CA:TRUE missing)".into()),
    }
    validity(&cert, now)?;
    match key {
        Some(key) => key_matches(der, key),
        None => Ok(()),
    }
}

fn validity(cert: &X509Certificate<'_>, now: OffsetDateTime) -> Result<(), String> {
    let v = cert.validity();
    if now < v.not_before.to_datetime() {
        return Err(format!(
            "is not valid until {}",
            fmt_time(v.not_before.to_datetime())
        ));
    }
    if now > v.not_after.to_datetime() {
        return Err(format!(
            "expired at {}",
            fmt_time(v.not_after.to_datetime())
        ));
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
) -> Result<(), String> {
    let anchor = webpki::anchor_from_trusted_cert(root)
        .map_err(|e| format!("has an unusable root certificate ({e:?})"))?;
    let ee = webpki::EndEntityCert::try_from(der).map_err(|e| describe(&e, kind))?;
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
    .map_err(|e| describe(&e, kind))
}

/// A server cert is valid for each of `names` (DNS names and IPs), as a client checks it.
pub fn names(der: &CertificateDer<'_>, names: &[San]) -> Result<(), String> {
    let ee = webpki::EndEntityCert::try_from(der).map_err(|e| describe(&e, Kind::Server))?;
    for san in names {
        let name = match san {
            San::Dns(d) if d.starts_with("*.") => continue,
            San::Dns(d) => ServerName::try_from(d.as_str())
                .map_err(|_| format!("names `{d}`, which is not a valid DNS name"))?
                .to_owned(),
            San::Ip(ip) => ServerName::IpAddress((*ip).into()),
        };
        ee.verify_is_valid_for_subject_name(&name)
            .map_err(|_| format!("is not valid for the name {san}"))?;
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
) -> Result<(), String> {
    chain(der, kind, &ca.intermediates_der(), &ca.root().der, now)?;
    if kind == Kind::Server {
        names(der, sans)?;
    }
    key_matches(der, key)
}

/// webpki's errors are enums whose Display is Debug; users need a sentence fragment.
pub fn describe(e: &webpki::Error, kind: Kind) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => "does not chain to the org root through its intermediate".into(),
        E::CertExpired { not_after, .. } => format!("expired at {}", fmt_unix(*not_after)),
        E::CertNotValidYet { not_before, .. } => {
            format!("is not valid until {}", fmt_unix(*not_before))
        }
        E::RequiredEkuNotFoundContext(_) => format!(
            "lacks the extended key usage a {} cert needs ({})",
            kind.name(),
            if kind == Kind::Server {
                "serverAuth"
            } else {
                "clientAuth"
            }
        ),
        E::CaUsedAsEndEntity => "is a CA certificate where a leaf was expected".into(),
        E::InvalidSignatureForPublicKey => {
            "has a signature its issuer's key does not verify".into()
        }
        E::PathLenConstraintViolated => "breaks a CA's path length constraint".into(),
        E::BadDer | E::BadDerTime | E::TrailingData(_) => {
            "is not a well-formed DER certificate".into()
        }
        other => format!("is refused by rustls-webpki ({other:?})"),
    }
}

fn fmt_unix(t: UnixTime) -> String {
    OffsetDateTime::from_unix_timestamp(t.as_secs() as i64)
        .map(fmt_time)
        .unwrap_or_else(|_| format!("{} (Unix time)", t.as_secs()))
}
