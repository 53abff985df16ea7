//! Leaf certificates of every kind: the request a subject makes, issuance under the org's
//! issuing CA, a leaf read back from disk, and the `Plan` of its files.

use super::check;
use super::ext::{add_revocation_info, csr_pem, key_id, serial, subject, validity};
use super::OrgCa;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{KeyAlg, Kind, San};
use crate::profile::{LeafSpec, OrgSpec};
use crate::store::{LeafFiles, Mode, Plan};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

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
    let fits = cn.chars().count() <= crate::profile::MAX_COMMON_NAME;
    params.distinguished_name = subject(org, fits.then_some(cn.as_str()))?;
    params.key_identifier_method = key_id(key);
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
    super::ext::check_permitted(
        &ca.issuing().der,
        &spec.sans,
        &format!(
            "the {} `{}` of org `{}`",
            spec.kind.name(),
            spec.name,
            org.name
        ),
    )?;
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
    crate::lint::check_new(
        &der,
        Some(&ca.issuing().der),
        crate::lint::Expect::Leaf(spec.kind),
        &format!("the new {} cert {}", spec.kind.name(), spec.name),
    )?;
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
    let csr_pem = match files.csr.as_ref().filter(|p| super::csr_fits(p, &der)) {
        Some(p) => String::from_utf8_lossy(&crate::store::read(p)?).into_owned(),
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
        // A client sends its chain to a server, which holds the root already (RFC 8446 4.4.2
        // lets the sender leave it out); a server's chain file keeps the root, as NGINX and
        // Canton configs written for the openssl procedure expect.
        let tail: String = if leaf.spec.kind == Kind::Client {
            ca.below_root().map(|c| c.pem.as_str()).collect()
        } else {
            ca.chain_pem()
        };
        plan.add(p, format!("{}{tail}", leaf.pem).into_bytes(), Mode::Public);
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
    name: &crate::model::Label,
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
