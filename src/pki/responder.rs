//! Delegated OCSP responders (RFC 6960 4.2.2.2): one per CA, issued by that CA, that signs
//! `hapki serve`'s OCSP answers about the certs the CA issued, so the CA key stays offline-able.
//! Each carries EKU OCSPSigning, id-pkix-ocsp-nocheck (clients need not check the responder's
//! own revocation), a critical keyUsage digitalSignature, CA:FALSE, AKI and SKI, and a leaf's
//! validity capped at its issuer's.

use super::ext::{key_id, serial, subject, validity};
use super::{Ca, OrgCa};
use crate::error::{Error, Result};
use crate::keys;
use crate::model::CaLevel;
use crate::profile::OrgSpec;
use crate::store::{Mode, OrgLayout, Plan, ResponderFiles};
use rcgen::{
    CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use time::OffsetDateTime;

/// id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1); its value is NULL.
const OCSP_NOCHECK: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];

/// The responder's common name: `ocsp.D`, `root-ocsp.D`, `policy-ocsp.D`.
pub fn common_name(org: &OrgSpec, level: CaLevel) -> String {
    match level {
        CaLevel::Intermediate => format!("ocsp.{}", org.dns),
        CaLevel::Root => format!("root-ocsp.{}", org.dns),
        CaLevel::Policy => format!("policy-ocsp.{}", org.dns),
    }
}

/// A new responder cert (PEM) and key for `ca`.
pub fn issue(org: &OrgSpec, ca: &Ca, now: OffsetDateTime) -> Result<(String, KeyPair)> {
    let key = keys::generate(org.leaf_key)?;
    let pem = issue_with(org, ca, &key, now)?;
    Ok((pem, key))
}

/// A new responder cert (PEM) for `ca` on `key` (a key of `org.leaf_key`, which the issuance
/// engine generates in its batch with the run's other keys).
pub fn issue_with(org: &OrgSpec, ca: &Ca, key: &KeyPair, now: OffsetDateTime) -> Result<String> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(org, Some(&common_name(org, ca.level)))?;
    params.key_identifier_method = key_id(key);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    params.serial_number = Some(serial()?);
    params.use_authority_key_identifier_extension = true;
    let mut nocheck = CustomExtension::from_oid_content(OCSP_NOCHECK, vec![0x05, 0x00]);
    nocheck.set_criticality(false);
    params.custom_extensions.push(nocheck);
    validity(&mut params, now, org.leaf_days, Some(ca.not_after));
    let issuer = Issuer::from_ca_cert_der(&ca.der, ca.key()?)
        .map_err(|e| Error::bug(format!("cannot use the CA certificate as issuer: {e}")))?;
    let cert = params
        .signed_by(key, &issuer)
        .map_err(|e| Error::bug(format!("signing the OCSP responder cert: {e}")))?;
    Ok(cert.pem())
}

/// Whether the responder on disk can go on answering for `ca` at `now`: its key matches its
/// cert, the cert names `ca` as issuer (subject and key identifier, so a re-created CA with the
/// same name does not count) and it is within its validity.
pub fn current(files: &ResponderFiles, ca: &Ca, now: OffsetDateTime) -> bool {
    use x509_parser::prelude::*;
    let (Ok(cert_pem), Ok(key_pem)) = (
        crate::store::read(&files.cert),
        crate::store::read(&files.key),
    ) else {
        return false;
    };
    let Ok(key) = std::str::from_utf8(&key_pem)
        .ok()
        .and_then(|k| KeyPair::from_pem(k).ok())
        .ok_or(())
    else {
        return false;
    };
    let Ok((_, pem)) = parse_x509_pem(&cert_pem) else {
        return false;
    };
    let (Ok((_, cert)), Ok((_, issuer))) = (
        X509Certificate::from_der(&pem.contents),
        X509Certificate::from_der(&ca.der),
    ) else {
        return false;
    };
    let ski = |c: &X509Certificate| {
        c.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
    };
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    let t = now.unix_timestamp();
    cert.public_key().raw == &key.subject_public_key_info()[..]
        && cert.issuer().as_raw() == issuer.subject().as_raw()
        && aki.is_some()
        && aki == ski(&issuer)
        && cert.validity().not_before.timestamp() <= t
        && t < cert.validity().not_after.timestamp()
}

/// The responder files of every CA of `ca` that has none, or one that no longer fits the CA
/// (re-created, expired, key lost): what `init` adds to its plan.
pub fn plan_for(
    org: &OrgSpec,
    layout: &OrgLayout,
    ca: &OrgCa,
    now: OffsetDateTime,
) -> Result<Plan> {
    let mut plan = Plan::new();
    for level in &ca.levels {
        let files = layout.ocsp_responder(level.level);
        // An offline root signs no responder here: `hapki serve` answers for the CAs whose
        // keys are present (the root's OCSP is the root machine's business).
        if level.key.is_none() || current(&files, level, now) {
            continue;
        }
        let (pem, key) = issue(org, level, now)?;
        plan.extend(files_plan(&files, &pem, &key));
    }
    Ok(plan)
}

/// The files of one responder.
pub fn files_plan(files: &ResponderFiles, pem: &str, key: &KeyPair) -> Plan {
    let mut plan = Plan::new();
    plan.add(&files.key, key.serialize_pem().into_bytes(), Mode::Secret);
    plan.add(&files.cert, pem.as_bytes(), Mode::Public);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyAlg;
    use crate::pki::build_ca;
    use crate::profile::Topology;

    #[test]
    fn one_responder_per_level_kept_while_it_fits_and_replaced_for_a_new_ca() {
        let topo = Topology::parse(
            "[defaults]\nca_key = \"ecdsa-p256\"\nleaf_key = \"ecdsa-p256\"\ntier = 3\n[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n",
            "p.toml",
        )
        .unwrap();
        let org = &topo.orgs[0];
        let now = OffsetDateTime::now_utc();
        let new_ca = || {
            let keys = (0..3)
                .map(|_| crate::keys::CaKey::plain(keys::generate(KeyAlg::EcdsaP256).unwrap()))
                .collect();
            build_ca(org, 3, None, keys, now).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let layout = OrgLayout::new(dir.path(), "p", "p.com");
        let ca = new_ca();
        let plan = plan_for(org, &layout, &ca, now).unwrap();
        let paths: Vec<_> = plan.paths().map(|p| p.to_path_buf()).collect();
        for level in [CaLevel::Root, CaLevel::Policy, CaLevel::Intermediate] {
            let f = layout.ocsp_responder(level);
            assert!(
                paths.contains(&f.cert) && paths.contains(&f.key),
                "{level:?}"
            );
        }
        assert!(paths
            .iter()
            .any(|p| p.ends_with("policy/certs/policy-ocsp.p.com.cert.pem")));
        let lock = crate::store::Lock::take(dir.path(), std::time::Duration::ZERO).unwrap();
        plan.commit(&lock).unwrap();
        drop(lock);
        assert!(plan_for(org, &layout, &ca, now).unwrap().is_empty());
        // A re-created CA (same names, new keys) gets new responders.
        let other = new_ca();
        assert_eq!(plan_for(org, &layout, &other, now).unwrap().len(), 6);
        // So does one whose responder has expired.
        let later = now + time::Duration::days(org.leaf_days as i64 + 1);
        assert_eq!(plan_for(org, &layout, &ca, later).unwrap().len(), 6);
    }
}
