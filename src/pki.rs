//! Certificate building: CA hierarchies (one, two or three tiers) and leaves of every kind, with
//! the contents SPEC.md prescribes (subject, random serial, key usages, EKUs, SANs, AKI/SKI,
//! optional CRL distribution point and OCSP URL), loading existing CAs from the layout, and the
//! `Plan` of files each produces.

use crate::check;
use crate::error::{Error, Result};
use crate::fsio::{Mode, Plan};
use crate::keys;
use crate::layout::{CaLevel, LeafFiles, OrgLayout};
use crate::profile::{Kind, LeafSpec, OrgSpec};
use crate::types::{KeyAlg, San};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// How far in the past notBefore is set, so peers with a slightly slow clock accept a fresh cert.
pub const BACKDATE: Duration = Duration::minutes(5);

/// One CA certificate with its key.
pub struct Ca {
    pub level: CaLevel,
    pub key: KeyPair,
    pub der: CertificateDer<'static>,
    pub pem: String,
    pub csr_pem: Option<String>,
    pub not_after: OffsetDateTime,
}

/// An org's CA hierarchy, root first; the last level signs leaves.
pub struct OrgCa {
    pub levels: Vec<Ca>,
}

impl OrgCa {
    pub fn root(&self) -> &Ca {
        &self.levels[0]
    }

    pub fn issuing(&self) -> &Ca {
        self.levels.last().expect("an OrgCa always has a root")
    }

    /// The CAs below the root, issuing CA first (the order of chain files and trust bundles).
    pub fn below_root(&self) -> impl Iterator<Item = &Ca> {
        self.levels[1..].iter().rev()
    }

    /// PEM of every CA from the issuing CA up to the root.
    pub fn chain_pem(&self) -> String {
        self.levels.iter().rev().map(|c| c.pem.as_str()).collect()
    }

    pub fn intermediates_der(&self) -> Vec<CertificateDer<'static>> {
        self.below_root().map(|c| c.der.clone()).collect()
    }

    /// Reads the CA levels that exist on disk. `Ok(None)` when there is no root cert.
    /// Missing levels below the root are simply absent: a killed run is completed by `ensure`.
    pub fn load(layout: &OrgLayout, tier: u8) -> Result<Option<OrgCa>> {
        let mut levels = Vec::new();
        for &level in CaLevel::for_tier(tier) {
            let files = layout.ca(level);
            if !files.cert.exists() || !files.key.exists() {
                break;
            }
            let (der, pem) = read_cert(&files.cert)?;
            let key = keys::load(&files.key)?;
            let not_after = check::not_after(&der, &files.cert)?;
            check::key_matches(&der, &key).map_err(|m| {
                Error::input(format!(
                    "{}: {m}; restore the matching key or re-create the CA with `hapki ca init --force`",
                    files.key.display()
                ))
            })?;
            levels.push(Ca {
                level,
                key,
                der,
                pem,
                csr_pem: None,
                not_after,
            });
        }
        Ok((!levels.is_empty()).then_some(OrgCa { levels }))
    }

    /// Loads the complete hierarchy or says which command creates it.
    pub fn load_complete(layout: &OrgLayout, org: &OrgSpec) -> Result<OrgCa> {
        let tier = detect_tier(layout).unwrap_or(org.tier);
        match OrgCa::load(layout, tier)? {
            Some(ca) if ca.levels.len() == CaLevel::for_tier(tier).len() => Ok(ca),
            _ => Err(Error::input(format!(
                "org `{}` has no complete CA under {}; create it first with `hapki ca init --org {}`",
                org.name,
                layout.dir.display(),
                org.name
            ))),
        }
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>> {
        let ca = self.issuing();
        Issuer::from_ca_cert_der(&ca.der, &ca.key)
            .map_err(|e| Error::bug(format!("cannot use the CA certificate as issuer: {e}")))
    }
}

/// The tier of the hierarchy already on disk, if any: the layout tells it. A level counts as
/// present when any of its files is, so a lost intermediate cert (or a run killed before it was
/// written) reads as an incomplete two-tier CA, never as a one-tier CA to issue leaves under.
pub fn detect_tier(layout: &OrgLayout) -> Option<u8> {
    if !layout.ca(CaLevel::Root).cert.exists() {
        return None;
    }
    let present = |level| {
        let f = layout.ca(level);
        f.cert.exists() || f.key.exists() || f.csr.is_some_and(|c| c.exists())
    };
    if present(CaLevel::Policy) {
        Some(3)
    } else if present(CaLevel::Intermediate) || layout.trust_bundle().exists() {
        Some(2)
    } else {
        Some(1)
    }
}

/// Reads a PEM certificate file (the first certificate in it).
pub fn read_cert(path: &Path) -> Result<(CertificateDer<'static>, String)> {
    let bytes = crate::fsio::read(path)?;
    let der = CertificateDer::from_pem_slice(&bytes).map_err(|_| {
        Error::input(format!(
            "{} holds no readable PEM certificate (it may be truncated or of another kind); restore it or re-issue with --force",
            path.display()
        ))
    })?;
    let pem = String::from_utf8_lossy(&bytes).into_owned();
    Ok((der, pem))
}

fn serial() -> Result<SerialNumber> {
    // 16 random octets: 126 bits of entropy once the top bit is cleared (a positive INTEGER)
    // and the next one set (so the encoding is exactly 16 octets, never shortened).
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::bug("the system random source failed"))?;
    b[0] = (b[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&b))
}

fn subject(org: &OrgSpec, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, org.country.as_str());
    dn.push(DnType::StateOrProvinceName, org.state.as_str());
    dn.push(DnType::OrganizationName, org.organization.as_str());
    dn.push(DnType::CommonName, cn);
    dn
}

pub fn ca_common_name(org: &OrgSpec, level: CaLevel) -> String {
    match level {
        CaLevel::Root => format!("{}-root-ca.{}", org.name, org.dns),
        CaLevel::Policy => format!("policy-ca.{}", org.dns),
        CaLevel::Intermediate => format!("intermediate-ca.{}", org.dns),
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

fn add_revocation_info(params: &mut CertificateParams, org: &OrgSpec) {
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
fn csr_pem(params: &CertificateParams, key: &KeyPair) -> Result<String> {
    let mut req = params.clone();
    req.serial_number = None;
    req.use_authority_key_identifier_extension = false;
    req.crl_distribution_points.clear();
    req.custom_extensions.clear();
    req.serialize_request(key)
        .and_then(|c| c.pem())
        .map_err(|e| Error::bug(format!("building a CSR: {e}")))
}

fn validity(
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

/// Builds a CA hierarchy for `org`, keeping the levels of `existing` (from the root down) and
/// creating the rest with `new_keys` (one per missing level, in order).
pub fn build_ca(
    org: &OrgSpec,
    tier: u8,
    existing: Option<OrgCa>,
    mut new_keys: Vec<KeyPair>,
    now: OffsetDateTime,
) -> Result<OrgCa> {
    let mut levels = existing.map(|e| e.levels).unwrap_or_default();
    let all = CaLevel::for_tier(tier);
    new_keys.reverse();
    for &level in &all[levels.len()..] {
        let key = new_keys
            .pop()
            .ok_or_else(|| Error::bug("fewer CA keys than CA levels"))?;
        let below = all.len() - 1 - all.iter().position(|l| *l == level).unwrap_or(0);
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(org, &ca_common_name(org, level));
        params.serial_number = Some(serial()?);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.is_ca = IsCa::Ca(if level == CaLevel::Root {
            BasicConstraints::Unconstrained
        } else {
            BasicConstraints::Constrained(below as u8)
        });
        let days = if level == CaLevel::Root {
            org.root_days
        } else {
            org.intermediate_days
        };
        let (cert, csr_pem) = match levels.last() {
            None => {
                validity(&mut params, now, days, None);
                (params.self_signed(&key), None)
            }
            Some(parent) => {
                validity(&mut params, now, days, Some(parent.not_after));
                params.use_authority_key_identifier_extension = true;
                add_revocation_info(&mut params, org);
                let csr = csr_pem(&params, &key)?;
                let issuer = Issuer::from_ca_cert_der(&parent.der, &parent.key)
                    .map_err(|e| Error::bug(format!("issuer: {e}")))?;
                (params.signed_by(&key, &issuer), Some(csr))
            }
        };
        let cert = cert.map_err(|e| Error::bug(format!("signing the {} CA: {e}", level.name())))?;
        let der = cert.der().clone();
        let parent_der = levels.last().map(|p: &Ca| p.der.clone());
        check::ca_cert(&der, parent_der.as_ref(), Some(&key), now)
            .map_err(|m| Error::bug(format!("the new {} CA of {}: {m}", level.name(), org.name)))?;
        levels.push(Ca {
            level,
            der,
            pem: cert.pem(),
            key,
            csr_pem,
            not_after: params.not_after,
        });
    }
    Ok(OrgCa { levels })
}

/// The files of a CA hierarchy (only the levels built in this run carry a CSR; levels loaded
/// from disk are rewritten byte-identical, so writing them is harmless and keeps the bundle
/// consistent).
pub fn ca_plan(layout: &OrgLayout, ca: &OrgCa, only_new_from: usize) -> Plan {
    // Files land in plan order, and the root cert is what every later run takes as "this org has
    // a CA" (`detect_tier`): so the bundle first, then the levels from the issuing CA up, the
    // root cert last. A run killed before that last rename leaves no root, and the next run
    // starts the org afresh instead of reading a cut-short hierarchy as a shorter one.
    let mut plan = Plan::new();
    if ca.levels.len() > 1 {
        let bundle: String =
            ca.below_root().map(|c| c.pem.as_str()).collect::<String>() + ca.root().pem.as_str();
        plan.add(layout.trust_bundle(), bundle.into_bytes(), Mode::Public);
        plan.add(layout.root_copy(), ca.root().pem.as_bytes(), Mode::Public);
    }
    for c in ca.levels[only_new_from..].iter().rev() {
        let files = layout.ca(c.level);
        plan.add(&files.key, c.key.serialize_pem().into_bytes(), Mode::Secret);
        if let (Some(p), Some(csr)) = (&files.csr, &c.csr_pem) {
            plan.add(p, csr.as_bytes(), Mode::Public);
        }
        plan.add(&files.cert, c.pem.as_bytes(), Mode::Public);
    }
    plan
}

/// A newly issued leaf, checked and ready to write.
pub struct Leaf {
    pub spec: LeafSpec,
    pub key: KeyPair,
    pub der: CertificateDer<'static>,
    pub pem: String,
    pub csr_pem: String,
    /// Its validity was cut to the issuer's notAfter.
    pub clamped: bool,
}

/// What the subject of a leaf asks for: its name, key usages, EKU and SANs (the issuer adds
/// serial, validity, AKI and revocation info).
fn leaf_request(org: &OrgSpec, spec: &LeafSpec, key: &KeyPair) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let cn = match spec.kind {
        Kind::JwtSigning => format!("{}.{}", spec.name, org.dns),
        _ => org.fqdn(spec.name.as_str()),
    };
    params.distinguished_name = subject(org, &cn);
    params.is_ca = IsCa::ExplicitNoCa;
    let rsa = keys::alg_of(key).is_rsa();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if rsa && spec.kind != Kind::JwtSigning {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = match spec.kind {
        Kind::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Kind::Client | Kind::ProxyBackend => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Kind::JwtSigning => vec![],
    };
    params.subject_alt_names = spec
        .sans
        .iter()
        .map(|s| match s {
            San::Dns(d) => d
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|_| Error::input(format!("the SAN `{d}` is not a valid DNS name"))),
            San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_>>()?;
    Ok(params)
}

/// Issues the leaf `spec` of `org` under its issuing CA, and checks it as a TLS stack would.
pub fn issue_leaf(
    org: &OrgSpec,
    ca: &OrgCa,
    spec: &LeafSpec,
    key: KeyPair,
    now: OffsetDateTime,
) -> Result<Leaf> {
    let mut params = leaf_request(org, spec, &key)?;
    params.serial_number = Some(serial()?);
    params.use_authority_key_identifier_extension = true;
    add_revocation_info(&mut params, org);
    let clamped = validity(&mut params, now, spec.days, Some(ca.issuing().not_after));
    let csr_pem = csr_pem(&params, &key)?;
    let cert = params
        .signed_by(&key, &ca.issuer()?)
        .map_err(|e| Error::bug(format!("signing {}: {e}", spec.name)))?;
    let der = cert.der().clone();
    check::leaf(&der, spec.kind, &spec.sans, &key, ca, now).map_err(|m| {
        Error::bug(format!(
            "the new {} cert {}: {m}",
            spec.kind.name(),
            spec.name
        ))
    })?;
    Ok(Leaf {
        spec: spec.clone(),
        pem: cert.pem(),
        der,
        csr_pem,
        key,
        clamped,
    })
}

/// A leaf already on disk (its cert and key checked by the caller) as a `Leaf`, so that the
/// files derived from it (chain, DER forms, public key, HAProxy PEM, CSR) can be written again
/// without a new key. A lost CSR is made again from the same request.
pub fn leaf_from_disk(
    org: &OrgSpec,
    spec: &LeafSpec,
    files: &LeafFiles,
    key: KeyPair,
    der: CertificateDer<'static>,
    pem: String,
) -> Result<Leaf> {
    let csr_pem = match files.csr.as_ref().filter(|p| p.exists()) {
        Some(p) => String::from_utf8_lossy(&crate::fsio::read(p)?).into_owned(),
        None => csr_pem(&leaf_request(org, spec, &key)?, &key)?,
    };
    Ok(Leaf {
        spec: spec.clone(),
        key,
        der,
        pem,
        csr_pem,
        clamped: false,
    })
}

/// The files of an issued leaf.
pub fn leaf_plan(files: &LeafFiles, leaf: &Leaf, ca: &OrgCa) -> Plan {
    let mut plan = Plan::new();
    plan.add(&files.cert, leaf.pem.as_bytes(), Mode::Public);
    plan.add(
        &files.key,
        leaf.key.serialize_pem().into_bytes(),
        Mode::Secret,
    );
    if let Some(p) = &files.csr {
        plan.add(p, leaf.csr_pem.as_bytes(), Mode::Public);
    }
    if let Some(p) = &files.chain {
        plan.add(
            p,
            format!("{}{}", leaf.pem, ca.chain_pem()).into_bytes(),
            Mode::Public,
        );
    }
    if let Some(p) = &files.cert_der {
        plan.add(p, leaf.der.to_vec(), Mode::Public);
    }
    if let Some(p) = &files.key_der {
        plan.add(p, keys::pkcs8_der(&leaf.key), Mode::Secret);
    }
    if let Some(p) = &files.public_key {
        plan.add(p, leaf.key.public_key_pem().into_bytes(), Mode::Public);
    }
    if let Some(p) = &files.haproxy_pem {
        plan.add(
            p,
            format!("{}{}{}", leaf.pem, ca.chain_pem(), leaf.key.serialize_pem()).into_bytes(),
            Mode::Secret,
        );
    }
    plan
}

/// A leaf spec for an ad-hoc `hapki issue NAME --kind K` (or a profile leaf with extra SANs).
pub fn adhoc_spec(
    org: &OrgSpec,
    name: &crate::types::Label,
    kind: Kind,
    extra: &[San],
    days: Option<u32>,
    key: Option<KeyAlg>,
) -> LeafSpec {
    let base = org
        .leaves
        .iter()
        .find(|l| l.name == *name && l.kind == kind)
        .cloned();
    let mut sans = base
        .as_ref()
        .map(|b| b.sans.clone())
        .unwrap_or_else(|| org.default_sans(name, kind));
    for s in extra {
        if !sans.contains(s) {
            sans.push(s.clone());
        }
    }
    LeafSpec {
        name: name.clone(),
        kind,
        sans,
        days: days.unwrap_or(org.leaf_days),
        key: key.unwrap_or(if kind == Kind::JwtSigning {
            org.jwt.as_ref().map(|j| j.key).unwrap_or(org.leaf_key)
        } else {
            org.leaf_key
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Topology;

    #[test]
    fn the_root_cert_is_the_last_file_of_a_ca_plan() {
        let topo = Topology::parse(
            "[defaults]\nca_key = \"ecdsa-p256\"\ntier = 3\n[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n",
            "p.toml",
        )
        .unwrap();
        let org = &topo.orgs[0];
        let keys = (0..3)
            .map(|_| keys::generate(KeyAlg::EcdsaP256).unwrap())
            .collect();
        let ca = build_ca(org, 3, None, keys, OffsetDateTime::now_utc()).unwrap();
        let layout = OrgLayout::new(Path::new("out"), "p", "p.com");
        let plan = ca_plan(&layout, &ca, 0);
        let paths: Vec<&Path> = plan.paths().collect();
        assert_eq!(
            paths.last().copied(),
            Some(layout.ca(CaLevel::Root).cert.as_path())
        );
        // Every level's cert comes after its own key, and the issuing CA's before the policy CA's.
        let at = |p: &Path| paths.iter().position(|q| *q == p).unwrap();
        for level in [CaLevel::Intermediate, CaLevel::Policy, CaLevel::Root] {
            let f = layout.ca(level);
            assert!(at(&f.key) < at(&f.cert), "{level:?}");
        }
        assert!(at(&layout.ca(CaLevel::Intermediate).cert) < at(&layout.ca(CaLevel::Policy).cert));
    }
}
