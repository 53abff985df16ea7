//! What every certificate hapki makes shares: subject names, serials, validity, the CRL and OCSP
//! locations, and the CSR a subject would have sent.

use crate::error::{Error, Result};
use crate::model::CaLevel;
use crate::profile::OrgSpec;
use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName, DnType, DnValue,
    KeyIdMethod, PublicKeyData, SerialNumber, SigningKey,
};
use time::{Duration, OffsetDateTime};

/// How far in the past notBefore is set, so peers with a slightly slow clock accept a fresh cert.
pub const BACKDATE: Duration = Duration::minutes(5);

pub(crate) fn serial() -> Result<SerialNumber> {
    // 16 random octets: 126 bits of entropy once the top bit is cleared (a positive INTEGER)
    // and the next one set (so the encoding is exactly 16 octets, never shortened).
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::bug("the system random source failed"))?;
    b[0] = (b[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&b))
}

/// The subject of a hapki cert. RFC 5280 (appendix A) makes countryName a PrintableString;
/// the other attributes are DirectoryStrings, written as UTF8String as RFC 5280 4.1.2.6 asks of
/// new certs. The profile has checked the country is two letters and the lengths fit. A leaf
/// name longer than ub-common-name (64 characters) has no commonName: its SANs name it (as
/// public CAs do); CA names the profile keeps within the bound, since they tell the levels apart.
pub(crate) fn subject(org: &OrgSpec, cn: Option<&str>) -> Result<DistinguishedName> {
    let country = org.country.as_str().try_into().map_err(|_| {
        Error::bug(format!(
            "the country `{}` is not a PrintableString",
            org.country
        ))
    })?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, DnValue::PrintableString(country));
    dn.push(
        DnType::StateOrProvinceName,
        DnValue::Utf8String(org.state.clone()),
    );
    dn.push(
        DnType::OrganizationName,
        DnValue::Utf8String(org.organization.clone()),
    );
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, DnValue::Utf8String(cn.to_string()));
    }
    Ok(dn)
}

/// The subject key identifier of `key` by RFC 7093 section 2 method 1: the leftmost 160 bits of
/// the SHA-256 hash of the subjectPublicKey BIT STRING's value. rcgen's own `KeyIdMethod::Sha256`
/// hashes the whole SubjectPublicKeyInfo, which no RFC names and linters report as unknown.
/// The issuer's AKI repeats this value, as rcgen reads it from the issuer cert's SKI.
pub(crate) fn key_id(key: &impl PublicKeyData) -> KeyIdMethod {
    let h = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.der_bytes());
    KeyIdMethod::PreSpecified(h.as_ref()[..20].to_vec())
}

pub fn ca_common_name(org: &OrgSpec, level: CaLevel) -> String {
    format!("{}{}", ca_name_prefix(org.name.as_str(), level), org.dns)
}

/// The org's DNS domain, read back from the CN of one of its CA certs (`ca_common_name`'s
/// inverse): `None` when the CN is not one hapki writes for `org` at `level`.
pub fn ca_domain<'a>(org: &str, level: CaLevel, cn: &'a str) -> Option<&'a str> {
    cn.strip_prefix(&ca_name_prefix(org, level))
}

/// What a CA's CN says before the org's domain.
fn ca_name_prefix(org: &str, level: CaLevel) -> String {
    match level {
        CaLevel::Root => format!("{org}-root-ca."),
        CaLevel::Policy => "policy-ca.".into(),
        CaLevel::Intermediate => "intermediate-ca.".into(),
    }
}

/// authorityInfoAccess with one OCSP access description (rcgen has no field for it).
fn ocsp_extension(url: &str) -> CustomExtension {
    const AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[
                        1, 3, 6, 1, 5, 5, 7, 48, 1,
                    ]));
                w.next()
                    .write_tagged_implicit(yasna::Tag::context(6), |w| w.write_ia5_string(url));
            })
        })
    });
    CustomExtension::from_oid_content(AIA, der)
}

pub(crate) fn add_revocation_info(params: &mut CertificateParams, org: &OrgSpec) {
    if let Some(crl) = &org.crl_url {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![crl.clone()],
        }];
    }
    if let Some(ocsp) = &org.ocsp_url {
        params.custom_extensions.push(ocsp_extension(ocsp));
    }
}

/// The CSR a subject would have sent for `params`: its name, key and requested extensions. What
/// only the issuer decides (serial, AKI, CRL and OCSP locations) is not part of a request.
pub(crate) fn csr_pem(params: &CertificateParams, key: &impl SigningKey) -> Result<String> {
    let mut req = params.clone();
    req.serial_number = None;
    req.use_authority_key_identifier_extension = false;
    req.crl_distribution_points.clear();
    req.custom_extensions.clear();
    req.serialize_request(key)
        .and_then(|c| c.pem())
        .map_err(|e| Error::bug(format!("building a CSR: {e}")))
}

pub(crate) fn validity(
    params: &mut CertificateParams,
    now: OffsetDateTime,
    days: u32,
    cap: Option<OffsetDateTime>,
) -> bool {
    params.not_before = now - BACKDATE;
    let wanted = now + Duration::days(days as i64);
    match cap {
        Some(cap) if wanted > cap => {
            params.not_after = cap;
            true
        }
        _ => {
            params.not_after = wanted;
            false
        }
    }
}
