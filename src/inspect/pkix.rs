//! The X.509 side of `inspect`: PEM and DER files holding certificates, CSRs, private keys
//! (PKCS#8, PKCS#1, SEC1) and public keys. Certificates, CSRs and public keys are parsed with
//! x509-parser, private keys with `keys::shape` (the RustCrypto key crates). A private key is
//! reduced to its format, type and size here, so no caller ever holds more of it than that.

use super::{colon_hex, sha256, window, Item, Parsed, Text, EXPECTED};
use crate::error::{Error, Result};
use crate::keys::shape::{self, Format, Shape};
use crate::model::fmt_time;
use ::time::OffsetDateTime;
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use serde::Serialize;
use spki::ObjectIdentifier;
use std::borrow::Cow;
use std::net::IpAddr;
use std::path::Path;
use x509_parser::asn1_rs::Oid;
use x509_parser::objects::oid_registry;
use x509_parser::prelude::*;
use x509_parser::public_key::{PublicKey, RSAPublicKey};

// ---- the report model ----

#[derive(Serialize)]
pub struct CertInfo {
    subject: String,
    issuer: String,
    self_signed: bool,
    serial: String,
    not_before: String,
    not_after: String,
    status: &'static str,
    status_text: String,
    #[serde(flatten)]
    extensions: Extensions,
    public_key: KeyInfo,
    signature_algorithm: String,
    sha256_fingerprint: String,
}

#[derive(Serialize)]
pub struct CrlView {
    issuer: String,
    this_update: String,
    next_update: Option<String>,
    /// `current` (nextUpdate ahead), `expired` (nextUpdate passed: every TLS server checking it
    /// refuses every client of the CA), `not_yet_valid`, or `no_next_update`.
    status: &'static str,
    status_text: String,
    crl_number: Option<String>,
    authority_key_id: Option<String>,
    revoked_count: usize,
    revoked: Vec<RevokedEntry>,
    signature_algorithm: String,
    sha256_fingerprint: String,
}

#[derive(Serialize)]
struct RevokedEntry {
    serial: String,
    revoked_at: String,
    reason: Option<&'static str>,
}

/// The few lines that identify a cert inside another document (a JWKS's `x5c`).
#[derive(Serialize)]
pub(super) struct CertSummary {
    subject: String,
    issuer: String,
    not_after: String,
    status: &'static str,
    sha256_fingerprint: String,
}

impl CertSummary {
    pub(super) fn describe(&self) -> String {
        let status = match self.status {
            "not_yet_valid" => "not yet valid",
            s => s,
        };
        format!("{}, not after {} ({status})", self.subject, self.not_after)
    }
}

#[derive(Serialize)]
pub struct CsrInfo {
    subject: String,
    public_key: KeyInfo,
    signature_algorithm: String,
    signature_valid: Option<bool>,
    #[serde(flatten)]
    requested: Extensions,
}

#[derive(Serialize)]
pub struct PrivateKeyInfo {
    format: &'static str,
    key: KeyInfo,
}

#[derive(Serialize)]
pub struct PublicKeyInfo {
    key: KeyInfo,
}

/// What a key is, never what it holds.
#[derive(Serialize)]
pub struct KeyInfo {
    algorithm: String,
    bits: Option<u32>,
    curve: Option<String>,
    public_key_sha256: Option<String>,
}

#[derive(Serialize)]
struct Flags {
    critical: bool,
    values: Vec<String>,
}

#[derive(Serialize)]
struct Constraints {
    critical: bool,
    ca: bool,
    path_len: Option<u32>,
}

#[derive(Serialize, Default)]
struct Extensions {
    sans: Vec<String>,
    key_usage: Option<Flags>,
    extended_key_usage: Option<Flags>,
    basic_constraints: Option<Constraints>,
    subject_key_id: Option<String>,
    authority_key_id: Option<String>,
    crl_distribution_points: Vec<String>,
    ocsp: Vec<String>,
    ca_issuers: Vec<String>,
    other_extensions: Vec<String>,
}

// ---- reading files ----

/// Every PEM block of the file, in order. Blocks of a kind hapki does not read are reported as
/// warnings, or as the error when nothing else is in the file.
pub(super) fn from_pem(path: &Path, bytes: &[u8], now: OffsetDateTime) -> Result<Parsed> {
    let mut items = Vec::new();
    let mut warnings = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(|e| pem_error(path, &e, items.len()))?;
        let bad = |what: &str| {
            Error::input(format!(
                "{}: its {} PEM block is not {what} (the data inside is damaged or truncated); restore the file from a good copy or re-issue it",
                path.display(),
                ordinal(items.len() + 1),
            ))
        };
        let item = match kind {
            SectionKind::Certificate => Item::Certificate(
                cert_info(&der, now).ok_or_else(|| bad("a valid X.509 certificate"))?,
            ),
            SectionKind::Csr => Item::Csr(csr_info(&der).ok_or_else(|| bad("a valid CSR"))?),
            SectionKind::PrivateKey => {
                Item::PrivateKey(pkcs8(&der).ok_or_else(|| bad("a valid PKCS#8 private key"))?)
            }
            SectionKind::RsaPrivateKey => {
                Item::PrivateKey(pkcs1(&der).ok_or_else(|| bad("a valid PKCS#1 RSA private key"))?)
            }
            SectionKind::EcPrivateKey => {
                Item::PrivateKey(sec1(&der).ok_or_else(|| bad("a valid SEC1 EC private key"))?)
            }
            SectionKind::PublicKey => {
                Item::PublicKey(public_key_info(&der).ok_or_else(|| bad("a valid public key"))?)
            }
            SectionKind::Crl => {
                Item::Crl(crl_view(&der, now).ok_or_else(|| bad("a valid X.509 CRL"))?)
            }
            // Labels pki-types does not know: named below.
            _ => continue,
        };
        items.push(item);
    }
    // pki-types passes over blocks whose label it does not know; name every block not shown
    // rather than pretend the file holds nothing.
    let unread: Vec<String> = pem_labels(bytes)
        .filter(|l| !SHOWN.contains(&l.as_str()))
        .collect();
    if items.is_empty() {
        let label = unread.first().map(String::as_str).unwrap_or_default();
        return Err(Error::input(if label.contains("ENCRYPTED") {
            format!(
                "{} holds an encrypted private key (`{label}`); hapki reads unencrypted keys only",
                path.display()
            )
        } else {
            format!(
                "{} holds a PEM block labelled `{label}`, which hapki cannot read; expected {EXPECTED}",
                path.display()
            )
        }));
    }
    for l in unread {
        warnings.push(format!(
            "skipped a PEM block labelled `{l}`, which hapki cannot read"
        ));
    }
    Ok(Parsed {
        encoding: "pem",
        items,
        warnings,
    })
}

/// The PEM labels `inspect` shows.
const SHOWN: &[&str] = &[
    "CERTIFICATE",
    "CERTIFICATE REQUEST",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "PUBLIC KEY",
    "X509 CRL",
];

/// The label of every `-----BEGIN LABEL-----` line, the way pki-types finds them (at the start
/// of a line). Written by hand because no PEM crate does this the same way: pki-types (hapki's
/// one PEM reader, here as in keys, token, pki and verify) passes over blocks of a label it does
/// not know without naming them, and the `pem` crate finds armour in the middle of a line (a
/// JWKS quoting a PEM would be taken for PEM) and silently drops a truncated last block, which
/// `inspect` must name.
pub(super) fn pem_labels(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes
        .split(|b| *b == b'\n' || *b == b'\r')
        .filter_map(|line| {
            let rest = line.strip_prefix(b"-----BEGIN ")?;
            let end = rest.iter().position(|b| *b == b'-')?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        })
}

fn pem_error(path: &Path, e: &pem::Error, complete: usize) -> Error {
    let after = match complete {
        0 => String::new(),
        n => format!(" after {n} complete block{}", if n == 1 { "" } else { "s" }),
    };
    let what = match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            let label = String::from_utf8_lossy(end_marker);
            format!("is a truncated PEM file: its `-----BEGIN {label}-----` block has no `-----END {label}-----` line{after}")
        }
        pem::Error::IllegalSectionStart { line } => format!(
            "has a malformed PEM header line `{}`{after}",
            String::from_utf8_lossy(line).trim()
        ),
        pem::Error::Base64Decode(_) => {
            format!("has a PEM block whose base64 text is damaged{after}")
        }
        other => format!("cannot be read as PEM ({other}){after}"),
    };
    Error::input(format!(
        "{} {what}; restore the file from a good copy or re-issue it",
        path.display()
    ))
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A DER file: a certificate, CSR, private key or public key, tried in that order (their outer
/// structures differ, so at most one parses).
pub(super) fn from_der(path: &Path, bytes: &[u8], now: OffsetDateTime) -> Result<Parsed> {
    let item = cert_info(bytes, now)
        .map(Item::Certificate)
        .or_else(|| csr_info(bytes).map(Item::Csr))
        .or_else(|| crl_view(bytes, now).map(Item::Crl))
        .or_else(|| {
            pkcs8(bytes)
                .or_else(|| pkcs1(bytes))
                .or_else(|| sec1(bytes))
                .map(Item::PrivateKey)
        })
        .or_else(|| public_key_info(bytes).map(Item::PublicKey));
    match item {
        Some(item) => Ok(Parsed {
            encoding: "der",
            items: vec![item],
            warnings: Vec::new(),
        }),
        None => Err(der_error(path, bytes)),
    }
}

/// A DER file that parses as nothing: say whether it was cut short, the usual cause.
fn der_error(path: &Path, bytes: &[u8]) -> Error {
    let declared = match bytes.get(1) {
        Some(&n) if n < 0x80 => Some(2 + n as usize),
        Some(&n) if (0x81..=0x84).contains(&n) => {
            let len_bytes = (n & 0x7f) as usize;
            bytes.get(2..2 + len_bytes).map(|l| {
                let len = l.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
                len.saturating_add(2 + len_bytes)
            })
        }
        _ => None,
    };
    match declared {
        Some(d) if d > bytes.len() => Error::input(format!(
            "{} is truncated DER: its outer structure declares {d} bytes but the file has {}; restore it from a good copy or re-issue it",
            path.display(),
            bytes.len()
        )),
        _ => super::unknown(path),
    }
}

// ---- certificates and CSRs ----

fn cert_info(der: &[u8], now: OffsetDateTime) -> Option<CertInfo> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    let nb = c.validity().not_before.to_datetime();
    let na = c.validity().not_after.to_datetime();
    let (status, status_text) = window(now, Some(nb), Some(na));
    let self_signed =
        c.subject().as_raw() == c.issuer().as_raw() && c.verify_signature(None).is_ok();
    Some(CertInfo {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        self_signed,
        serial: serial_hex(c.raw_serial()),
        not_before: fmt_time(nb),
        not_after: fmt_time(na),
        status,
        status_text,
        extensions: extensions(c.extensions()),
        public_key: spki_info(c.public_key()),
        signature_algorithm: oid_name(&c.signature_algorithm.algorithm),
        sha256_fingerprint: colon_hex(&sha256(c.as_raw())),
    })
}

pub(super) fn cert_summary(der: &[u8], now: OffsetDateTime) -> Option<CertSummary> {
    let c = cert_info(der, now)?;
    Some(CertSummary {
        subject: c.subject,
        issuer: c.issuer,
        not_after: c.not_after,
        status: c.status,
        sha256_fingerprint: c.sha256_fingerprint,
    })
}

// ---- CRLs ----

fn crl_view(der: &[u8], now: OffsetDateTime) -> Option<CrlView> {
    let (rest, crl) = x509_parser::parse_x509_crl(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let this = crl.last_update().to_datetime();
    let next = crl.next_update().map(|t| t.to_datetime());
    let (status, status_text) = match window(now, Some(this), next) {
        ("valid", _) => (
            "current",
            format!(
                "current, next update due in {}",
                super::fmt_span(next.map_or(0, |n| (n - now).whole_seconds()))
            ),
        ),
        ("expired", _) => (
            "expired",
            format!(
                "EXPIRED {} ago: servers that check it refuse every client of this CA; run `hapki crl`",
                super::fmt_span(next.map_or(0, |n| (n - now).whole_seconds()))
            ),
        ),
        ("no_expiry", _) => ("no_next_update", "no next update given".to_string()),
        (s, text) => (s, text),
    };
    let authority_key_id = extensions(crl.extensions()).authority_key_id;
    let revoked: Vec<RevokedEntry> = crl
        .iter_revoked_certificates()
        .map(|r| RevokedEntry {
            serial: serial_hex(r.raw_serial()),
            revoked_at: fmt_time(r.revocation_date.to_datetime()),
            reason: r.reason_code().map(|(_, c)| reason_name(c.0)),
        })
        .collect();
    Some(CrlView {
        issuer: crl.issuer().to_string(),
        this_update: fmt_time(this),
        next_update: next.map(fmt_time),
        status,
        status_text,
        // Decimal, as `openssl crl -text` prints it.
        crl_number: crl.crl_number().map(|n| n.to_string()),
        authority_key_id,
        revoked_count: revoked.len(),
        revoked,
        signature_algorithm: oid_name(&crl.signature_algorithm.algorithm),
        sha256_fingerprint: colon_hex(&sha256(der)),
    })
}

/// The CRLReason names of RFC 5280 5.3.1 (as `openssl ca` writes them in an index).
fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown",
    }
}

fn csr_info(der: &[u8]) -> Option<CsrInfo> {
    let (_, csr) = X509CertificationRequest::from_der(der).ok()?;
    let info = &csr.certification_request_info;
    let requested = info
        .iter_attributes()
        .find_map(|a| match a.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(r) => Some(extensions(&r.extensions)),
            _ => None,
        })
        .unwrap_or_default();
    let signature_valid = match csr.verify_signature() {
        Ok(()) => Some(true),
        Err(X509Error::SignatureUnsupportedAlgorithm) => None,
        Err(_) => Some(false),
    };
    Some(CsrInfo {
        subject: info.subject.to_string(),
        public_key: spki_info(&info.subject_pki),
        signature_algorithm: oid_name(&csr.signature_algorithm.algorithm),
        signature_valid,
        requested,
    })
}

/// The serial as `openssl x509 -serial` prints it: the integer's value, without the sign octet.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    raw[start..].iter().map(|b| format!("{b:02X}")).collect()
}

fn extensions(exts: &[X509Extension<'_>]) -> Extensions {
    let mut out = Extensions::default();
    for ext in exts {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                out.sans.extend(san.general_names.iter().map(general_name));
            }
            ParsedExtension::KeyUsage(ku) => {
                out.key_usage = Some(Flags {
                    critical: ext.critical,
                    values: key_usages(ku),
                });
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                out.extended_key_usage = Some(Flags {
                    critical: ext.critical,
                    values: ext_key_usages(eku),
                });
            }
            ParsedExtension::BasicConstraints(bc) => {
                out.basic_constraints = Some(Constraints {
                    critical: ext.critical,
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                });
            }
            ParsedExtension::SubjectKeyIdentifier(ki) => {
                out.subject_key_id = Some(colon_hex(ki.0));
            }
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                out.authority_key_id = aki.key_identifier.as_ref().map(|k| colon_hex(k.0));
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        out.crl_distribution_points
                            .extend(names.iter().map(location));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for ad in aia.iter() {
                    match ad.access_method.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.48.1" => out.ocsp.push(location(&ad.access_location)),
                        "1.3.6.1.5.5.7.48.2" => out.ca_issuers.push(location(&ad.access_location)),
                        _ => {}
                    }
                }
            }
            other => {
                let mut s = format!("{} ({})", oid_name(&ext.oid), ext.oid.to_id_string());
                if other.error().is_some() {
                    s.push_str(", unparseable");
                }
                if ext.critical {
                    s.push_str(", critical");
                }
                out.other_extensions.push(s);
            }
        }
    }
    out
}

fn general_name(g: &GeneralName<'_>) -> String {
    match g {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::IPAddress(b) => match <[u8; 4]>::try_from(*b)
            .map(IpAddr::from)
            .or_else(|_| <[u8; 16]>::try_from(*b).map(IpAddr::from))
        {
            Ok(ip) => format!("IP:{ip}"),
            Err(_) => format!("IP:{}", colon_hex(b)),
        },
        GeneralName::RFC822Name(e) => format!("email:{e}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        GeneralName::DirectoryName(n) => format!("DirName:{n}"),
        GeneralName::RegisteredID(o) => format!("RID:{}", o.to_id_string()),
        GeneralName::OtherName(o, _) => format!("othername:{}", o.to_id_string()),
        _ => "(unsupported name form)".to_string(),
    }
}

/// A URL location is shown bare; anything else keeps its form prefix.
fn location(g: &GeneralName<'_>) -> String {
    match g {
        GeneralName::URI(u) => u.to_string(),
        other => general_name(other),
    }
}

fn key_usages(ku: &KeyUsage) -> Vec<String> {
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_string())
    .collect()
}

fn ext_key_usages(eku: &ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut v: Vec<String> = [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_string())
    .collect();
    v.extend(eku.other.iter().map(|o| o.to_id_string()));
    v
}

/// The registry's short name of an OID, or its dotted form.
fn oid_name(oid: &Oid<'_>) -> String {
    oid_registry()
        .get(oid)
        .map(|e| e.sn().to_string())
        .unwrap_or_else(|| oid.to_id_string())
}

// ---- keys ----

/// The algorithm name and, for EC, the name of its curve.
fn algorithm(oid: &Oid<'_>, curve: Option<&Oid<'_>>) -> (String, Option<String>) {
    let is = |known: ObjectIdentifier| oid.as_bytes() == known.as_bytes();
    if is(shape::EC_PUBLIC_KEY) {
        return ("EC".into(), curve.map(curve_name));
    }
    let name = match oid.to_id_string().as_str() {
        _ if is(shape::RSA_ENCRYPTION) => "RSA",
        _ if is(shape::RSA_PSS) => "RSA-PSS",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.2.840.10040.4.1" => "DSA",
        _ => return (oid_name(oid), None),
    };
    (name.into(), None)
}

fn curve_name(oid: &Oid<'_>) -> String {
    match oid.to_id_string().as_str() {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        _ => oid_name(oid),
    }
}

pub(super) fn curve_bits(curve: &str) -> Option<u32> {
    match curve {
        "P-256" | "secp256k1" => Some(256),
        "P-384" => Some(384),
        "P-521" => Some(521),
        _ => None,
    }
}

/// The exact size of an RSA modulus (big-endian, possibly with a sign octet), in bits.
pub(super) fn modulus_bits(n: &[u8]) -> Option<u32> {
    let start = n.iter().position(|b| *b != 0)?;
    Some((n.len() - start - 1) as u32 * 8 + (8 - n[start].leading_zeros()))
}

fn spki_info(spki: &SubjectPublicKeyInfo<'_>) -> KeyInfo {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    let (alg, curve) = algorithm(&spki.algorithm.algorithm, curve.as_ref());
    let bits = match alg.as_str() {
        "RSA" | "RSA-PSS" => RSAPublicKey::from_der(&spki.subject_public_key.data)
            .ok()
            .and_then(|(_, k)| modulus_bits(k.modulus)),
        "EC" => curve
            .as_deref()
            .and_then(curve_bits)
            .or_else(|| match spki.parsed() {
                Ok(PublicKey::EC(p)) => Some(p.key_size() as u32).filter(|b| *b > 0),
                _ => None,
            }),
        _ => None,
    };
    KeyInfo {
        algorithm: alg,
        bits,
        curve,
        public_key_sha256: Some(colon_hex(&sha256(spki.raw))),
    }
}

fn public_key_info(der: &[u8]) -> Option<PublicKeyInfo> {
    let (rest, spki) = SubjectPublicKeyInfo::from_der(der).ok()?;
    rest.is_empty().then(|| PublicKeyInfo {
        key: spki_info(&spki),
    })
}

/// An OID of the RustCrypto crates as x509-parser's, for the names of its registry.
fn x509_oid(oid: &ObjectIdentifier) -> Oid<'static> {
    Oid::new(Cow::Owned(oid.as_bytes().to_vec()))
}

/// A private key's format, type and size, from what `keys::shape` read of its structure.
fn private_key_info(shape: Option<Shape>, der: &[u8]) -> Option<PrivateKeyInfo> {
    let shape = shape?;
    let curve_oid = shape.curve.as_ref().map(x509_oid);
    let (algorithm, curve) = algorithm(&x509_oid(&shape.algorithm), curve_oid.as_ref());
    let bits = match algorithm.as_str() {
        "RSA" | "RSA-PSS" => modulus_bits(&shape.rsa.as_ref()?.modulus),
        "EC" => curve.as_deref().and_then(curve_bits),
        _ => None,
    };
    let der = der.to_vec();
    let key = match shape.format {
        Format::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
        Format::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        Format::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
    };
    Some(PrivateKeyInfo {
        format: shape.format.name(),
        key: KeyInfo {
            algorithm,
            bits,
            curve,
            public_key_sha256: public_half_sha256(&key),
        },
    })
}

/// PKCS#8 PrivateKeyInfo (RFC 5208 / 5958).
fn pkcs8(der: &[u8]) -> Option<PrivateKeyInfo> {
    private_key_info(shape::pkcs8(der), der)
}

/// PKCS#1 RSAPrivateKey.
fn pkcs1(der: &[u8]) -> Option<PrivateKeyInfo> {
    private_key_info(shape::pkcs1(der), der)
}

/// SEC1 ECPrivateKey (RFC 5915), with its curve.
fn sec1(der: &[u8]) -> Option<PrivateKeyInfo> {
    private_key_info(shape::sec1(der), der)
}

/// The SHA-256 of the key's SubjectPublicKeyInfo, so a reader can match it to a cert's;
/// `None` for keys the crypto backend cannot load (odd sizes, uncommon curves).
fn public_half_sha256(key: &PrivateKeyDer<'_>) -> Option<String> {
    let kp = rcgen::KeyPair::try_from(key).ok()?;
    Some(colon_hex(&sha256(
        &rcgen::PublicKeyData::subject_public_key_info(&kp),
    )))
}

// ---- human text ----

impl KeyInfo {
    fn describe(&self) -> String {
        match (&self.curve, self.bits) {
            (Some(c), _) => format!("{} {c}", self.algorithm),
            (None, Some(b)) => format!("{} {b} bits", self.algorithm),
            (None, None) => self.algorithm.clone(),
        }
    }
}

impl Flags {
    fn describe(&self) -> String {
        let v = if self.values.is_empty() {
            "(none)".to_string()
        } else {
            self.values.join(", ")
        };
        if self.critical {
            format!("{v} (critical)")
        } else {
            v
        }
    }
}

impl Constraints {
    fn describe(&self) -> String {
        let mut s = if self.ca { "CA:TRUE" } else { "CA:FALSE" }.to_string();
        if let Some(n) = self.path_len {
            s.push_str(&format!(", pathlen:{n}"));
        }
        if self.critical {
            s.push_str(" (critical)");
        }
        s
    }
}

impl Extensions {
    fn human(&self, t: &mut Text) {
        t.list("SANs", &self.sans);
        t.opt("key usage", self.key_usage.as_ref().map(Flags::describe));
        t.opt(
            "extended key usage",
            self.extended_key_usage.as_ref().map(Flags::describe),
        );
        t.opt(
            "basic constraints",
            self.basic_constraints.as_ref().map(Constraints::describe),
        );
        t.opt("subject key id", self.subject_key_id.as_ref());
        t.opt("authority key id", self.authority_key_id.as_ref());
        t.list("CRL distribution", &self.crl_distribution_points);
        t.list("OCSP", &self.ocsp);
        t.list("CA issuers", &self.ca_issuers);
        t.list("other extensions", &self.other_extensions);
    }
}

impl CertInfo {
    pub(super) fn human(&self, t: &mut Text) {
        t.field("subject", &self.subject);
        let issuer = if self.self_signed {
            format!("{} (self-signed)", self.issuer)
        } else {
            self.issuer.clone()
        };
        t.field("issuer", issuer);
        t.field("serial", &self.serial);
        t.field("not before", &self.not_before);
        t.field("not after", &self.not_after);
        t.field("status", &self.status_text);
        self.extensions.human(t);
        t.field("public key", self.public_key.describe());
        t.field("signature algorithm", &self.signature_algorithm);
        t.field("SHA-256 fingerprint", &self.sha256_fingerprint);
        t.opt(
            "public key SHA-256",
            self.public_key.public_key_sha256.as_ref(),
        );
    }
}

impl CrlView {
    /// How many revoked serials the text shows; `--json` lists them all.
    const SHOWN: usize = 20;

    pub(super) fn human(&self, t: &mut Text) {
        t.field("issuer", &self.issuer);
        t.opt("CRL number", self.crl_number.as_ref());
        t.field("this update", &self.this_update);
        t.field("next update", self.next_update.as_deref().unwrap_or("none"));
        t.field("status", &self.status_text);
        t.opt("authority key id", self.authority_key_id.as_ref());
        t.field("revoked", self.revoked_count);
        for r in self.revoked.iter().take(Self::SHOWN) {
            let reason = r.reason.map(|x| format!(" ({x})")).unwrap_or_default();
            t.field("", format_args!("{} at {}{reason}", r.serial, r.revoked_at));
        }
        if self.revoked_count > Self::SHOWN {
            t.field(
                "",
                format_args!(
                    "... and {} more (`hapki inspect --json` lists them all)",
                    self.revoked_count - Self::SHOWN
                ),
            );
        }
        t.field("signature algorithm", &self.signature_algorithm);
        t.field("SHA-256 fingerprint", &self.sha256_fingerprint);
    }
}

impl CsrInfo {
    pub(super) fn human(&self, t: &mut Text) {
        t.field("subject", &self.subject);
        t.field("public key", self.public_key.describe());
        t.field("signature algorithm", &self.signature_algorithm);
        t.field(
            "signature",
            match self.signature_valid {
                Some(true) => "valid (self-signed by the requested key)",
                Some(false) => "INVALID: the request is not signed by its own key",
                None => "not checked (unsupported algorithm)",
            },
        );
        self.requested.human(t);
        t.opt(
            "public key SHA-256",
            self.public_key.public_key_sha256.as_ref(),
        );
    }
}

impl PrivateKeyInfo {
    pub(super) fn human(&self, t: &mut Text) {
        t.field("format", self.format);
        t.field("key", self.key.describe());
        t.opt("public key SHA-256", self.key.public_key_sha256.as_ref());
    }
}

impl PublicKeyInfo {
    pub(super) fn human(&self, t: &mut Text) {
        t.field("key", self.key.describe());
        t.opt("public key SHA-256", self.key.public_key_sha256.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::time::Duration;

    #[test]
    fn a_crl_shows_each_entry_and_its_state_and_the_text_stops_at_twenty() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "inspect test CA");
        let issuer = rcgen::Issuer::new(ca, key);
        let at = OffsetDateTime::from_unix_timestamp(1_796_119_200).unwrap();
        let reasons = [
            Some(rcgen::RevocationReason::KeyCompromise),
            Some(rcgen::RevocationReason::Superseded),
            None,
        ];
        let der = rcgen::CertificateRevocationListParams {
            this_update: at,
            next_update: at + Duration::days(7),
            crl_number: rcgen::SerialNumber::from_slice(&[0x01, 0x00]),
            issuing_distribution_point: None,
            revoked_certs: (0u32..25)
                .map(|i| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(&(0x7e00 + i).to_be_bytes()),
                    revocation_time: at - Duration::hours(i64::from(i)),
                    reason_code: reasons[i as usize % 3],
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)
        .unwrap()
        .der()
        .to_vec();
        let v = crl_view(&der, at + Duration::days(1)).unwrap();
        assert_eq!(v.status, "current");
        assert_eq!(v.crl_number.as_deref(), Some("256"));
        assert_eq!(v.issuer, "CN=inspect test CA");
        assert_eq!(v.revoked_count, 25);
        assert_eq!(v.revoked[0].serial, "7E00");
        assert_eq!(v.revoked[0].reason, Some("keyCompromise"));
        assert_eq!(v.revoked[1].reason, Some("superseded"));
        assert_eq!(v.revoked[2].reason, None);
        assert_eq!(v.revoked[3].revoked_at, "2026-12-01T07:00:00Z");
        let mut t = Text(String::new());
        v.human(&mut t);
        assert!(t.0.contains("7E13 at "), "{}", t.0);
        assert!(!t.0.contains("7E14 at "), "{}", t.0);
        assert!(t.0.contains("... and 5 more"), "{}", t.0);
        assert_eq!(
            crl_view(&der, at + Duration::days(8)).unwrap().status,
            "expired"
        );
        assert_eq!(
            crl_view(&der, at - Duration::days(1)).unwrap().status,
            "not_yet_valid"
        );
        // Trailing bytes after the CRL: not a CRL file.
        let mut longer = der.clone();
        longer.push(0);
        assert!(crl_view(&longer, at).is_none());
    }

    #[test]
    fn modulus_sizes() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0, 0]), Some(24));
        assert_eq!(modulus_bits(&[0x7f, 0, 0]), Some(23));
        assert_eq!(modulus_bits(&[0, 0]), None);
    }

    #[test]
    fn serials() {
        assert_eq!(serial_hex(&[0x00, 0x8a, 0x01]), "8A01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x4f, 0x00]), "4F00");
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(23), "23rd");
    }
}
