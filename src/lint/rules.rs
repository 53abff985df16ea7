//! The rules themselves, each naming the RFC 5280 section it comes from.

use super::{Expect, Finding, Severity, MAX_CERT_LEN};
use crate::model::Kind;
use x509_parser::asn1_rs::{Any, FromDer as _, Tag};
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::prelude::{X509Certificate, X509Name};

/// Which name of the certificate a name finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Subject,
    Issuer,
}

/// Every finding, by its stable code (`Code::as_str`, which `hapki lint` prints and docs/lint.md
/// lists). Codes are never renamed: scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    TrailingData,
    CertTooLarge,
    VersionNotV3,
    SerialNotPositive,
    SerialTooLong,
    SignatureAlgorithmMismatch,
    ValidityEncoding,
    ValidityInverted,
    NameStringType(Role),
    NameStringTooLong(Role),
    NameStringEmpty(Role),
    CountryInvalid(Role),
    SubjectEmptyWithoutSan,
    ExtensionDuplicate,
    ExtensionUnreadable,
    UnknownCriticalExtension,
    BasicConstraintsMissing,
    BasicConstraintsNotCritical,
    PathLenWithoutCa,
    KeyUsageMissing,
    KeyUsageNotCritical,
    KeyUsageEmpty,
    CaWithoutKeyCertSign,
    KeyCertSignWithoutCa,
    KeyUsageEkuInconsistent,
    EkuEmpty,
    SanEmpty,
    SanCriticality,
    SanDnsInvalid,
    SanDnsSingleLabel,
    SanIpInvalid,
    AkiMissing,
    AkiCritical,
    AkiNoKeyId,
    AkiMismatch,
    SkiMissing,
    SkiCritical,
    SkiMethodUnknown,
    NameConstraintsNotCritical,
    NameConstraintsOnLeaf,
    NameConstraintsEmpty,
    NameConstraintsDirectoryName,
    KindMismatch,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        use Role::*;
        match self {
            Code::TrailingData => "trailing-data",
            Code::CertTooLarge => "cert-too-large",
            Code::VersionNotV3 => "version-not-v3",
            Code::SerialNotPositive => "serial-not-positive",
            Code::SerialTooLong => "serial-too-long",
            Code::SignatureAlgorithmMismatch => "signature-algorithm-mismatch",
            Code::ValidityEncoding => "validity-encoding",
            Code::ValidityInverted => "validity-inverted",
            Code::NameStringType(Subject) => "subject-string-type",
            Code::NameStringType(Issuer) => "issuer-string-type",
            Code::NameStringTooLong(Subject) => "subject-string-too-long",
            Code::NameStringTooLong(Issuer) => "issuer-string-too-long",
            Code::NameStringEmpty(Subject) => "subject-string-empty",
            Code::NameStringEmpty(Issuer) => "issuer-string-empty",
            Code::CountryInvalid(Subject) => "subject-country-invalid",
            Code::CountryInvalid(Issuer) => "issuer-country-invalid",
            Code::SubjectEmptyWithoutSan => "subject-empty-without-san",
            Code::ExtensionDuplicate => "extension-duplicate",
            Code::ExtensionUnreadable => "extension-unreadable",
            Code::UnknownCriticalExtension => "unknown-critical-extension",
            Code::BasicConstraintsMissing => "basic-constraints-missing",
            Code::BasicConstraintsNotCritical => "basic-constraints-not-critical",
            Code::PathLenWithoutCa => "path-len-without-ca",
            Code::KeyUsageMissing => "key-usage-missing",
            Code::KeyUsageNotCritical => "key-usage-not-critical",
            Code::KeyUsageEmpty => "key-usage-empty",
            Code::CaWithoutKeyCertSign => "ca-without-key-cert-sign",
            Code::KeyCertSignWithoutCa => "key-cert-sign-without-ca",
            Code::KeyUsageEkuInconsistent => "key-usage-eku-inconsistent",
            Code::EkuEmpty => "eku-empty",
            Code::SanEmpty => "san-empty",
            Code::SanCriticality => "san-criticality",
            Code::SanDnsInvalid => "san-dns-invalid",
            Code::SanDnsSingleLabel => "san-dns-single-label",
            Code::SanIpInvalid => "san-ip-invalid",
            Code::AkiMissing => "aki-missing",
            Code::AkiCritical => "aki-critical",
            Code::AkiNoKeyId => "aki-no-key-id",
            Code::AkiMismatch => "aki-mismatch",
            Code::SkiMissing => "ski-missing",
            Code::SkiCritical => "ski-critical",
            Code::SkiMethodUnknown => "ski-method-unknown",
            Code::NameConstraintsNotCritical => "name-constraints-not-critical",
            Code::NameConstraintsOnLeaf => "name-constraints-on-leaf",
            Code::NameConstraintsEmpty => "name-constraints-empty",
            Code::NameConstraintsDirectoryName => "name-constraints-directory-name",
            Code::KindMismatch => "kind-mismatch",
        }
    }
}

struct Out(Vec<Finding>);

impl Out {
    fn add(&mut self, code: Code, severity: Severity, message: impl Into<String>) {
        self.0.push(Finding {
            code,
            severity,
            message: message.into(),
        });
    }
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;
const N: Severity = Severity::Notice;

pub(super) fn check(
    cert: &X509Certificate<'_>,
    len: usize,
    issuer: Option<&X509Certificate<'_>>,
    expect: Option<Expect>,
) -> Vec<Finding> {
    let mut out = Out(vec![]);
    if len > MAX_CERT_LEN {
        out.add(
            Code::CertTooLarge,
            E,
            format!("the certificate is {len} bytes; keep it under {MAX_CERT_LEN} bytes (64 KiB), which TLS stacks and tools accept"),
        );
    }
    if cert.version().0 != 2 {
        // Extensions need v3 (a MUST); a v1 cert without them is legal but obsolete: RFC 5280
        // certificates carry the SKI, AKI and basic constraints only v3 has.
        let ext = !cert.extensions().is_empty();
        out.add(
            Code::VersionNotV3,
            if ext { E } else { W },
            format!(
                "the certificate is version {}{} (RFC 5280 4.1.2.1: v3)",
                cert.version().0 + 1,
                if ext { " but has extensions" } else { "" }
            ),
        );
    }
    serial(cert.raw_serial(), &mut out);
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        out.add(
            Code::SignatureAlgorithmMismatch,
            E,
            "the signature algorithm differs from the one inside tbsCertificate (RFC 5280 4.1.1.2)",
        );
    }
    validity(cert, &mut out);
    name(cert.subject(), Role::Subject, &mut out);
    name(cert.issuer(), Role::Issuer, &mut out);
    extensions(cert, issuer, &mut out);
    if let Some(expect) = expect {
        kind(cert, expect, &mut out);
    }
    out.0
}

/// RFC 5280 4.1.2.2: a positive INTEGER of at most 20 octets.
fn serial(raw: &[u8], out: &mut Out) {
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        out.add(
            Code::SerialNotPositive,
            E,
            "the serial number is negative (RFC 5280 4.1.2.2: a positive integer)",
        );
    } else if raw.iter().all(|b| *b == 0) {
        out.add(
            Code::SerialNotPositive,
            E,
            "the serial number is zero (RFC 5280 4.1.2.2: a positive integer)",
        );
    }
    if raw.len() > 20 {
        out.add(
            Code::SerialTooLong,
            E,
            format!(
                "the serial number is {} octets (RFC 5280 4.1.2.2: at most 20)",
                raw.len()
            ),
        );
    }
}

/// RFC 5280 4.1.2.5: UTCTime for dates through 2049, GeneralizedTime from 2050.
fn validity(cert: &X509Certificate<'_>, out: &mut Out) {
    let v = cert.validity();
    if v.not_after < v.not_before {
        out.add(Code::ValidityInverted, E, "notAfter is before notBefore");
    }
    // x509-parser reads both encodings into one time type, so the tags are read from the
    // tbsCertificate's own bytes: version [0]?, serial, signature, issuer, validity.
    let Some(tags) = validity_tags(cert.tbs_certificate.as_ref()) else {
        return;
    };
    for ((tag, t), which) in tags
        .into_iter()
        .zip([v.not_before, v.not_after])
        .zip(["notBefore", "notAfter"])
    {
        let year = t.to_datetime().year();
        let want = if year < 2050 {
            Tag::UtcTime
        } else {
            Tag::GeneralizedTime
        };
        if tag != want {
            out.add(
                Code::ValidityEncoding,
                E,
                format!(
                    "{which} (year {year}) is a {} (RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050)",
                    if tag == Tag::UtcTime { "UTCTime" } else { "GeneralizedTime" }
                ),
            );
        }
    }
}

fn validity_tags(tbs: &[u8]) -> Option<[Tag; 2]> {
    let (_, seq) = Any::from_der(tbs).ok()?;
    let mut rest = seq.data;
    let (r, first) = Any::from_der(rest).ok()?;
    rest = r;
    let mut skip = if first.header.is_contextspecific() {
        3
    } else {
        2
    };
    while skip > 0 {
        rest = Any::from_der(rest).ok()?.0;
        skip -= 1;
    }
    let (_, validity) = Any::from_der(rest).ok()?;
    let (r, nb) = Any::from_der(validity.data).ok()?;
    let (_, na) = Any::from_der(r).ok()?;
    Some([nb.tag(), na.tag()])
}

/// The upper bound (RFC 5280 appendix A, ub-*) of an attribute, and whether it must be a
/// PrintableString (countryName, serialNumber, dnQualifier) rather than a DirectoryString.
fn attribute_rule(oid: &str) -> Option<(&'static str, usize, bool)> {
    Some(match oid {
        "2.5.4.6" => ("countryName", 2, true),
        "2.5.4.3" => ("commonName", 64, false),
        "2.5.4.10" => ("organizationName", 64, false),
        "2.5.4.11" => ("organizationalUnitName", 64, false),
        "2.5.4.7" => ("localityName", 128, false),
        "2.5.4.8" => ("stateOrProvinceName", 128, false),
        "2.5.4.12" => ("title", 64, false),
        "2.5.4.5" => ("serialNumber", 64, true),
        "2.5.4.46" => ("dnQualifier", usize::MAX, true),
        "2.5.4.4" => ("surname", 32768, false),
        "2.5.4.42" => ("givenName", 32768, false),
        "2.5.4.41" => ("name", 32768, false),
        "2.5.4.17" => ("postalCode", 40, false),
        "2.5.4.9" => ("streetAddress", 128, false),
        "2.5.4.65" => ("pseudonym", 128, false),
        "1.2.840.113549.1.9.1" => ("emailAddress", 255, false),
        _ => return None,
    })
}

fn tag_name(t: Tag) -> String {
    match t {
        Tag::PrintableString => "PrintableString".into(),
        Tag::Utf8String => "UTF8String".into(),
        Tag::T61String => "TeletexString".into(),
        Tag::BmpString => "BMPString".into(),
        Tag::UniversalString => "UniversalString".into(),
        Tag::Ia5String => "IA5String".into(),
        other => format!("an ASN.1 value of tag {}", other.0),
    }
}

/// The characters of a string value, or `None` when its bytes are not of its type.
fn chars_of(tag: Tag, data: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String => std::str::from_utf8(data).ok().map(str::to_string),
        Tag::PrintableString => {
            let ok = data
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(b));
            ok.then(|| String::from_utf8_lossy(data).into_owned())
        }
        Tag::Ia5String => data
            .is_ascii()
            .then(|| String::from_utf8_lossy(data).into_owned()),
        Tag::T61String => Some(data.iter().map(|b| *b as char).collect()),
        Tag::BmpString => data.len().is_multiple_of(2).then(|| {
            char::decode_utf16(data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect()
        }),
        Tag::UniversalString => data.len().is_multiple_of(4).then(|| {
            data.chunks(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or('\u{fffd}')
                })
                .collect()
        }),
        _ => None,
    }
}

/// RFC 5280 4.1.2.4 and 4.1.2.6, appendix A: string types and upper bounds of each attribute.
fn name(n: &X509Name<'_>, role: Role, out: &mut Out) {
    let who = match role {
        Role::Subject => "subject",
        Role::Issuer => "issuer",
    };
    for atv in n.iter_attributes() {
        let oid = atv.attr_type().to_id_string();
        let Some((attr, ub, printable)) = attribute_rule(&oid) else {
            continue;
        };
        let value = atv.attr_value();
        let tag = value.tag();
        let email = oid == "1.2.840.113549.1.9.1";
        let allowed: &[Tag] = if email {
            &[Tag::Ia5String]
        } else if printable {
            &[Tag::PrintableString]
        } else {
            &[Tag::PrintableString, Tag::Utf8String]
        };
        let legacy = !printable
            && !email
            && [Tag::T61String, Tag::BmpString, Tag::UniversalString].contains(&tag);
        if !allowed.contains(&tag) {
            out.add(
                Code::NameStringType(role),
                if legacy { W } else { E },
                format!(
                    "the {who} {attr} is a {}; RFC 5280 wants {}",
                    tag_name(tag),
                    allowed
                        .iter()
                        .map(|t| tag_name(*t))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            );
        }
        let Some(text) = chars_of(tag, value.data) else {
            out.add(
                Code::NameStringType(role),
                E,
                format!(
                    "the {who} {attr} holds bytes that are not a valid {}",
                    tag_name(tag)
                ),
            );
            continue;
        };
        let n = text.chars().count();
        if n == 0 {
            out.add(
                Code::NameStringEmpty(role),
                E,
                format!("the {who} {attr} is empty"),
            );
        } else if n > ub {
            out.add(
                Code::NameStringTooLong(role),
                E,
                format!("the {who} {attr} has {n} characters; RFC 5280 allows at most {ub}"),
            );
        }
        if oid == "2.5.4.6" && !(n == 2 && text.bytes().all(|b| b.is_ascii_uppercase())) {
            out.add(
                Code::CountryInvalid(role),
                E,
                format!(
                    "the {who} countryName `{}` is not a two-letter ISO 3166 code such as `US`",
                    text.escape_debug()
                ),
            );
        }
    }
}

/// RFC 1034 3.5 preferred name syntax (as RFC 5280 4.2.1.6 asks), with an optional leading
/// `*.` wildcard label. Written here because rustls-pki-types' `DnsName` accepts underscores,
/// which TLS stacks tolerate but the RFC does not.
pub(crate) fn dns_name_ok(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

struct Seen<'c, 'a> {
    bc: Option<(&'c X509Extension<'a>, bool, Option<u32>)>,
    ku: Option<(&'c X509Extension<'a>, u16)>,
    eku: Option<(bool, bool, usize)>,
    san: Option<(&'c X509Extension<'a>, usize)>,
    aki: Option<(&'c X509Extension<'a>, Option<&'a [u8]>)>,
    ski: Option<(&'c X509Extension<'a>, &'a [u8])>,
}

fn extensions(cert: &X509Certificate<'_>, issuer: Option<&X509Certificate<'_>>, out: &mut Out) {
    let mut oids = std::collections::BTreeSet::new();
    let mut s = Seen {
        bc: None,
        ku: None,
        eku: None,
        san: None,
        aki: None,
        ski: None,
    };
    let mut nc_seen: Option<bool> = None;
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        if !oids.insert(oid.clone()) {
            out.add(
                Code::ExtensionDuplicate,
                E,
                format!("the extension {oid} appears more than once (RFC 5280 4.2)"),
            );
        }
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                s.bc = Some((ext, bc.ca, bc.path_len_constraint))
            }
            ParsedExtension::KeyUsage(ku) => s.ku = Some((ext, ku.flags)),
            ParsedExtension::ExtendedKeyUsage(e) => {
                let n = usize::from(e.any)
                    + usize::from(e.server_auth)
                    + usize::from(e.client_auth)
                    + usize::from(e.code_signing)
                    + usize::from(e.email_protection)
                    + usize::from(e.time_stamping)
                    + usize::from(e.ocsp_signing)
                    + e.other.len();
                s.eku = Some((e.server_auth, e.client_auth, n))
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                s.san = Some((ext, san.general_names.len()));
                for g in &san.general_names {
                    general_name(g, out);
                }
            }
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                s.aki = Some((ext, aki.key_identifier.as_ref().map(|k| k.0)))
            }
            ParsedExtension::SubjectKeyIdentifier(k) => s.ski = Some((ext, k.0)),
            ParsedExtension::NameConstraints(nc) => {
                let subtrees = || {
                    [&nc.permitted_subtrees, &nc.excluded_subtrees]
                        .into_iter()
                        .flatten()
                        .flatten()
                };
                nc_seen = Some(ext.critical);
                if subtrees().next().is_none() {
                    out.add(
                        Code::NameConstraintsEmpty,
                        E,
                        "nameConstraints has neither permitted nor excluded subtrees (RFC 5280 4.2.1.10)",
                    );
                }
                if subtrees().any(|t| matches!(t.base, GeneralName::DirectoryName(_))) {
                    out.add(
                        Code::NameConstraintsDirectoryName,
                        W,
                        "nameConstraints has a directoryName subtree, which rustls-webpki refuses to process (the whole chain is rejected)",
                    );
                }
            }
            ParsedExtension::ParseError { error } => out.add(
                Code::ExtensionUnreadable,
                E,
                format!("the extension {oid} cannot be read: {error}"),
            ),
            ParsedExtension::UnsupportedExtension { .. } if ext.critical => out.add(
                Code::UnknownCriticalExtension,
                W,
                format!("the extension {oid} is critical and unknown to most relying parties"),
            ),
            _ => {}
        }
    }

    let self_issued = cert.subject().as_raw() == cert.issuer().as_raw();
    let ca = s.bc.is_some_and(|(_, ca, _)| ca);

    // Name constraints: RFC 5280 4.2.1.10 (only in CA certs, and critical).
    match nc_seen {
        Some(_) if !ca => out.add(
            Code::NameConstraintsOnLeaf,
            E,
            "nameConstraints on a certificate that is not a CA (RFC 5280 4.2.1.10: only in CA certificates)",
        ),
        Some(false) => out.add(
            Code::NameConstraintsNotCritical,
            E,
            "nameConstraints is not critical (RFC 5280 4.2.1.10: MUST be)",
        ),
        _ => {}
    }
    let key_cert_sign = s.ku.is_some_and(|(_, f)| f & (1 << 5) != 0);

    // Basic constraints: RFC 5280 4.2.1.9.
    match s.bc {
        None if key_cert_sign => out.add(
            Code::BasicConstraintsMissing,
            E,
            "keyUsage has keyCertSign but there is no basicConstraints extension with cA TRUE",
        ),
        Some((ext, true, _)) if !ext.critical => out.add(
            Code::BasicConstraintsNotCritical,
            E,
            "basicConstraints of a CA certificate is not critical (RFC 5280 4.2.1.9: MUST be)",
        ),
        Some((_, false, Some(_))) => out.add(
            Code::PathLenWithoutCa,
            E,
            "basicConstraints has a pathLenConstraint but cA is FALSE",
        ),
        _ => {}
    }

    // Key usage: RFC 5280 4.2.1.3.
    match s.ku {
        None if ca => out.add(
            Code::KeyUsageMissing,
            E,
            "a CA certificate has no keyUsage extension (RFC 5280 4.2.1.3: MUST include it)",
        ),
        None => {}
        Some((ext, flags)) => {
            if !ext.critical {
                out.add(
                    Code::KeyUsageNotCritical,
                    W,
                    "keyUsage is not critical (RFC 5280 4.2.1.3: SHOULD be)",
                );
            }
            if flags == 0 {
                out.add(
                    Code::KeyUsageEmpty,
                    E,
                    "keyUsage has no bit set (RFC 5280 4.2.1.3)",
                );
            }
            if ca && !key_cert_sign {
                out.add(
                    Code::CaWithoutKeyCertSign,
                    E,
                    "basicConstraints says cA TRUE but keyUsage lacks keyCertSign",
                );
            }
            if key_cert_sign && s.bc.is_some_and(|(_, ca, _)| !ca) {
                out.add(
                    Code::KeyCertSignWithoutCa,
                    E,
                    "keyUsage has keyCertSign but basicConstraints says cA FALSE (RFC 5280 4.2.1.3)",
                );
            }
            // RFC 5280 4.2.1.12 with the TLS key usages of RFC 5246/8446.
            let tls = flags & (1 | 1 << 2 | 1 << 4) != 0;
            if let Some((server, client, _)) = s.eku {
                if (server || client) && !tls {
                    out.add(
                        Code::KeyUsageEkuInconsistent,
                        W,
                        "the EKU allows TLS but keyUsage has none of digitalSignature, keyEncipherment, keyAgreement",
                    );
                }
            }
        }
    }
    if s.eku.is_some_and(|(_, _, n)| n == 0) {
        out.add(
            Code::EkuEmpty,
            E,
            "extendedKeyUsage lists no purpose (RFC 5280 4.2.1.12: at least one)",
        );
    }

    // Subject alternative name: RFC 5280 4.1.2.6 and 4.2.1.6.
    let empty_subject = cert.subject().iter_attributes().next().is_none();
    match s.san {
        None if empty_subject => out.add(
            Code::SubjectEmptyWithoutSan,
            E,
            "the subject is empty and there is no subjectAltName (RFC 5280 4.1.2.6)",
        ),
        None => {}
        Some((ext, n)) => {
            if n == 0 {
                out.add(
                    Code::SanEmpty,
                    E,
                    "subjectAltName lists no name (RFC 5280 4.2.1.6: at least one)",
                );
            }
            if ext.critical != empty_subject {
                out.add(
                    Code::SanCriticality,
                    if empty_subject { E } else { W },
                    if empty_subject {
                        "subjectAltName is not critical though the subject is empty (RFC 5280 4.2.1.6: MUST be)"
                    } else {
                        "subjectAltName is critical though the subject is not empty (RFC 5280 4.2.1.6: SHOULD NOT be)"
                    },
                );
            }
        }
    }

    // Authority key identifier: RFC 5280 4.2.1.1, MUST be there except on the self-signed
    // cert in which a CA distributes its key.
    match s.aki {
        None if !(self_issued && ca) => out.add(
            Code::AkiMissing,
            E,
            "there is no authorityKeyIdentifier (RFC 5280 4.2.1.1: MUST be there but on a self-signed CA cert)",
        ),
        None => {}
        Some((ext, id)) => {
            if ext.critical {
                out.add(
                    Code::AkiCritical,
                    E,
                    "authorityKeyIdentifier is critical (RFC 5280 4.2.1.1: MUST NOT be)",
                );
            }
            match id {
                None => out.add(
                    Code::AkiNoKeyId,
                    W,
                    "authorityKeyIdentifier has no keyIdentifier (RFC 5280 4.2.1.1: MUST have one)",
                ),
                Some(id) => {
                    let issuer_ski = match issuer {
                        Some(i) => ski_of(i),
                        None if self_issued => s.ski.map(|(_, k)| k),
                        None => None,
                    };
                    if let Some(ski) = issuer_ski {
                        if ski != id {
                            out.add(
                                Code::AkiMismatch,
                                E,
                                format!(
                                    "authorityKeyIdentifier {} is not the issuer's subjectKeyIdentifier {}",
                                    hex(id),
                                    hex(ski)
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    // Subject key identifier: RFC 5280 4.2.1.2, MUST on CAs, SHOULD on end entities.
    match s.ski {
        None => out.add(
            Code::SkiMissing,
            if ca { E } else { W },
            if ca {
                "a CA certificate has no subjectKeyIdentifier (RFC 5280 4.2.1.2: MUST)"
            } else {
                "there is no subjectKeyIdentifier (RFC 5280 4.2.1.2: SHOULD be there)"
            },
        ),
        Some((ext, id)) => {
            if ext.critical {
                out.add(
                    Code::SkiCritical,
                    E,
                    "subjectKeyIdentifier is critical (RFC 5280 4.2.1.2: MUST NOT be)",
                );
            }
            if !known_key_id(cert.public_key().subject_public_key.data.as_ref(), id) {
                out.add(
                    Code::SkiMethodUnknown,
                    N,
                    format!(
                        "subjectKeyIdentifier {} is made by none of RFC 5280 4.2.1.2's or RFC 7093's methods",
                        hex(id)
                    ),
                );
            }
        }
    }
}

fn ski_of<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        })
}

/// RFC 5280 4.2.1.2 methods 1 and 2 (SHA-1), RFC 7093 methods 1 to 3 (truncated SHA-2), over the
/// subjectPublicKey BIT STRING's value.
fn known_key_id(key: &[u8], id: &[u8]) -> bool {
    use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA384, SHA512};
    let sha1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut m2 = sha1.as_ref()[12..].to_vec();
    m2[0] = 0x40 | (m2[0] & 0x0f);
    id == sha1.as_ref()
        || id == m2.as_slice()
        || [&SHA256, &SHA384, &SHA512]
            .iter()
            .any(|alg| id == &digest(alg, key).as_ref()[..20])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn general_name(g: &GeneralName<'_>, out: &mut Out) {
    match g {
        GeneralName::DNSName(d) => {
            if !dns_name_ok(d) {
                out.add(
                    Code::SanDnsInvalid,
                    E,
                    format!(
                        "the DNS SAN `{}` is not a valid host name (RFC 5280 4.2.1.6, RFC 1034 3.5)",
                        d.escape_debug()
                    ),
                );
            } else if !d.contains('.') {
                out.add(
                    Code::SanDnsSingleLabel,
                    N,
                    format!(
                        "the DNS SAN `{d}` is a single label, which only a local resolver knows (public CAs may not issue it)"
                    ),
                );
            }
        }
        GeneralName::IPAddress(ip) if ip.len() != 4 && ip.len() != 16 => out.add(
            Code::SanIpInvalid,
            E,
            format!(
                "an IP SAN is {} octets (RFC 5280 4.2.1.6: 4 for IPv4, 16 for IPv6)",
                ip.len()
            ),
        ),
        GeneralName::Invalid(_, _) => out.add(
            Code::SanDnsInvalid,
            E,
            "a SAN entry cannot be read (for example a DNS name that is not ASCII)",
        ),
        _ => {}
    }
}

/// What hapki means by each kind (docs/layout.md): CA certs sign certs and CRLs; server certs
/// are for TLS servers, client and proxy-backend certs for TLS clients, JWT-signing certs only
/// sign.
fn kind(cert: &X509Certificate<'_>, expect: Expect, out: &mut Out) {
    let ca = cert.is_ca();
    let eku = cert.extended_key_usage().ok().flatten().map(|e| e.value);
    let mut wrong = |m: String| out.add(Code::KindMismatch, E, m);
    match expect {
        Expect::Ca => {
            if !ca {
                wrong("a CA certificate without basicConstraints cA TRUE".into());
            }
        }
        Expect::Leaf(kind) => {
            if ca {
                wrong(format!("a {} certificate says it is a CA", kind.name()));
            }
            let (server, client) = eku.map_or((false, false), |e| (e.server_auth, e.client_auth));
            let ok = match kind {
                Kind::Server => server,
                Kind::Client | Kind::ProxyBackend => client,
                Kind::JwtSigning => eku.is_none(),
            };
            if !ok {
                wrong(format!(
                    "a {} certificate has the wrong extendedKeyUsage",
                    kind.name()
                ));
            }
        }
    }
}
