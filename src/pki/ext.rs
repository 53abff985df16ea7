//! What every certificate hapki makes shares: subject names, serials, validity, the CRL and OCSP
//! locations, and the CSR a subject would have sent.

use crate::error::{Error, Result};
use crate::model::CaLevel;
use crate::model::San;
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
    key_id_raw(key.der_bytes())
}

/// `key_id` of a raw subjectPublicKey (a key known only by its CSR).
pub(crate) fn key_id_raw(public_raw: &[u8]) -> KeyIdMethod {
    let h = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public_raw);
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
/// only the issuer decides (serial, AKI, CRL and OCSP locations, name constraints) is not part
/// of a request.
pub(crate) fn csr_pem(params: &CertificateParams, key: &impl SigningKey) -> Result<String> {
    let mut req = params.clone();
    req.serial_number = None;
    req.use_authority_key_identifier_extension = false;
    req.crl_distribution_points.clear();
    req.name_constraints = None;
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

/// What the nameConstraints of an org's issuing CA permit (`name_constraints = true`): DNS
/// subtrees (a name and every name below it, RFC 5280 4.2.1.10) and IP ranges as address and
/// mask. Never directoryName, which rustls-webpki refuses to process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permitted {
    pub dns: Vec<String>,
    pub ips: Vec<(std::net::IpAddr, std::net::IpAddr)>,
}

impl Permitted {
    /// What the profile asks `org`'s issuing CA to permit: its DNS domain, `localhost`,
    /// 127.0.0.0/8 and ::1, and each extra SAN of its `sans` tables not already inside (a DNS
    /// name as its own subtree, a wildcard's base; an address on its own).
    pub fn of_org(org: &OrgSpec) -> Permitted {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let mut p = Permitted {
            dns: vec![org.dns.clone(), "localhost".into()],
            ips: vec![
                (
                    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                    IpAddr::V4(Ipv4Addr::new(255, 0, 0, 0)),
                ),
                (
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::from(u128::MAX)),
                ),
            ],
        };
        for san in &org.extra_sans {
            if p.allows(san) {
                continue;
            }
            match san {
                San::Dns(d) => p.dns.push(d.strip_prefix("*.").unwrap_or(d).to_string()),
                San::Ip(ip @ IpAddr::V4(_)) => {
                    p.ips.push((*ip, IpAddr::V4(Ipv4Addr::from(u32::MAX))))
                }
                San::Ip(ip @ IpAddr::V6(_)) => {
                    p.ips.push((*ip, IpAddr::V6(Ipv6Addr::from(u128::MAX))))
                }
            }
        }
        p
    }

    /// Whether `san` is inside: a DNS name equal to a permitted one or below it (label-wise,
    /// case-insensitive), an address inside a permitted range of its own family.
    pub fn allows(&self, san: &San) -> bool {
        match san {
            San::Dns(d) => {
                let d = d.strip_prefix("*.").unwrap_or(d).to_ascii_lowercase();
                self.dns.iter().any(|base| {
                    let base = base.trim_start_matches('.').to_ascii_lowercase();
                    d == base || d.ends_with(&format!(".{base}"))
                })
            }
            San::Ip(ip) => self
                .ips
                .iter()
                .any(|(net, mask)| in_range(*ip, *net, *mask)),
        }
    }

    /// The subtrees as the issuer's error message lists them: `acme.com, localhost,
    /// 127.0.0.0/8, ::1/128`.
    pub fn describe(&self) -> String {
        let ips = self.ips.iter().map(|(net, mask)| {
            let bits = match mask {
                std::net::IpAddr::V4(m) => u32::from(*m).count_ones(),
                std::net::IpAddr::V6(m) => u128::from(*m).count_ones(),
            };
            format!("{net}/{bits}")
        });
        self.dns
            .iter()
            .cloned()
            .chain(ips)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The critical extension rcgen writes (rcgen marks nameConstraints critical, as RFC 5280
    /// 4.2.1.10 asks).
    pub fn to_rcgen(&self) -> rcgen::NameConstraints {
        use rcgen::{CidrSubnet, GeneralSubtree};
        let mut permitted: Vec<GeneralSubtree> = self
            .dns
            .iter()
            .cloned()
            .map(GeneralSubtree::DnsName)
            .collect();
        for (net, mask) in &self.ips {
            permitted.push(GeneralSubtree::IpAddress(match (net, mask) {
                (std::net::IpAddr::V4(n), std::net::IpAddr::V4(m)) => {
                    CidrSubnet::V4(n.octets(), m.octets())
                }
                (std::net::IpAddr::V6(n), std::net::IpAddr::V6(m)) => {
                    CidrSubnet::V6(n.octets(), m.octets())
                }
                // `of_org` and `of_cert` only pair an address with a mask of its family.
                (n, _) => CidrSubnet::from_addr_prefix(*n, 128),
            }));
        }
        rcgen::NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: vec![],
        }
    }

    /// The permitted subtrees of a CA cert's nameConstraints: `None` when it has none (or
    /// cannot be read). Kinds hapki never writes (email, URI, directoryName) are left out.
    pub fn of_cert(der: &[u8]) -> Option<Permitted> {
        use x509_parser::extensions::{GeneralName, ParsedExtension};
        use x509_parser::prelude::FromDer;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
        let nc = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::NameConstraints(nc) => Some(nc),
                _ => None,
            })?;
        let mut p = Permitted {
            dns: vec![],
            ips: vec![],
        };
        for sub in nc.permitted_subtrees.iter().flatten() {
            match &sub.base {
                GeneralName::DNSName(d) => p.dns.push(d.to_string()),
                GeneralName::IPAddress(b) if b.len() == 8 => {
                    let a: [u8; 4] = b[..4].try_into().ok()?;
                    let m: [u8; 4] = b[4..].try_into().ok()?;
                    p.ips.push((a.into(), m.into()));
                }
                GeneralName::IPAddress(b) if b.len() == 32 => {
                    let a: [u8; 16] = b[..16].try_into().ok()?;
                    let m: [u8; 16] = b[16..].try_into().ok()?;
                    p.ips.push((a.into(), m.into()));
                }
                _ => {}
            }
        }
        Some(p)
    }

    /// The same subtrees, whatever their order.
    pub fn same(&self, other: &Permitted) -> bool {
        let norm = |p: &Permitted| {
            let mut d: Vec<String> = p.dns.iter().map(|s| s.to_ascii_lowercase()).collect();
            d.sort();
            let mut i = p.ips.clone();
            i.sort();
            (d, i)
        };
        norm(self) == norm(other)
    }
}

fn in_range(ip: std::net::IpAddr, net: std::net::IpAddr, mask: std::net::IpAddr) -> bool {
    use std::net::IpAddr::{V4, V6};
    match (ip, net, mask) {
        (V4(a), V4(n), V4(m)) => u32::from(a) & u32::from(m) == u32::from(n) & u32::from(m),
        (V6(a), V6(n), V6(m)) => u128::from(a) & u128::from(m) == u128::from(n) & u128::from(m),
        _ => false,
    }
}

/// The name constraints the profile asks of `org`'s CA at `level`: on the issuing CA only.
pub(crate) fn name_constraints_for(org: &OrgSpec, tier: u8, level: CaLevel) -> Option<Permitted> {
    let issuing = CaLevel::for_tier(tier).last().copied();
    (org.name_constraints && level != CaLevel::Root && issuing == Some(level))
        .then(|| Permitted::of_org(org))
}

/// Refuses a leaf SAN outside the issuing CA's name constraints (read from its cert, so a
/// profile changed since the CA was made cannot slip a name past them), in one sentence.
pub fn check_permitted(issuing_der: &[u8], sans: &[San], what: &str) -> crate::error::Result<()> {
    let Some(p) = Permitted::of_cert(issuing_der) else {
        return Ok(());
    };
    match sans.iter().find(|s| !p.allows(s)) {
        None => Ok(()),
        Some(s) => Err(Error::input(format!(
            "the SAN {s} of {what} is outside the name constraints of its issuing CA (permitted: {}); leave it out, or add it to the profile's `sans` and make the CA again (docs/profiles.md, name constraints)",
            p.describe()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Topology;

    fn org(extra: &str) -> OrgSpec {
        let text = format!(
            "[defaults]\nca_key = \"ecdsa-p256\"\nname_constraints = true\n[[org]]\nname = \"p\"\ndns = \"customer1.com\"\norganization = \"P\"\nservers = [\"db\"]\n{extra}"
        );
        Topology::parse(&text, "p.toml").unwrap().orgs.remove(0)
    }

    #[test]
    fn the_permitted_names_are_the_domain_loopback_and_the_extra_sans() {
        let p = Permitted::of_org(&org(
            "sans = { db = [\"DNS:pg.customer1.com\", \"DNS:*.pg.example\", \"IP:10.0.0.5\"] }\n",
        ));
        // pg.customer1.com is inside the domain already; the wildcard's base is its subtree.
        assert_eq!(p.dns, ["customer1.com", "localhost", "pg.example"]);
        assert_eq!(
            p.describe(),
            "customer1.com, localhost, pg.example, 127.0.0.0/8, ::1/128, 10.0.0.5/32"
        );
        for ok in [
            "DNS:customer1.com",
            "DNS:A.Customer1.com",
            "DNS:localhost",
            "DNS:x.pg.example",
            "IP:127.8.9.1",
            "IP:::1",
            "IP:10.0.0.5",
        ] {
            assert!(p.allows(&San::parse(ok).unwrap()), "{ok}");
        }
        for no in [
            "DNS:evilcustomer1.com",
            "DNS:customer1.com.evil.org",
            "DNS:other.com",
            "IP:10.0.0.6",
            "IP:128.0.0.1",
            "IP:::2",
        ] {
            assert!(!p.allows(&San::parse(no).unwrap()), "{no}");
        }
    }

    #[test]
    fn the_constraints_read_back_from_a_cert_are_the_ones_written() {
        let org = org("");
        let keys = (0..2)
            .map(|_| {
                crate::keys::generate(crate::model::KeyAlg::EcdsaP256)
                    .map(crate::keys::CaKey::plain)
                    .unwrap()
            })
            .collect();
        let ca =
            crate::pki::build_ca(&org, 2, None, keys, time::OffsetDateTime::now_utc()).unwrap();
        assert_eq!(Permitted::of_cert(&ca.root().der), None);
        let got = Permitted::of_cert(&ca.issuing().der).unwrap();
        assert!(got.same(&Permitted::of_org(&org)), "{got:?}");
        assert!(!ca.constraints_differ(&org));
        let mut off = org.clone();
        off.name_constraints = false;
        assert!(ca.constraints_differ(&off));
    }

    #[test]
    fn a_one_tier_profile_cannot_ask_for_name_constraints() {
        let err = Topology::parse(
            "[defaults]\ntier = 1\nname_constraints = true\n[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n",
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("use tier 2 or 3"), "{err}");
    }
}
