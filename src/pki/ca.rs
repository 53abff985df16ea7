//! CA hierarchies (one, two or three tiers): loading what is on disk, building the missing
//! levels, and the `Plan` of their files.

use super::check;
use super::ext::{add_revocation_info, ca_common_name, csr_pem, serial, subject, validity};
use super::read_cert;
use crate::error::{Error, Result};
use crate::keys::{ca_key, CaKey};
use crate::model::CaLevel;
use crate::profile::OrgSpec;
use crate::store::{Mode, OrgLayout, Plan};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyUsagePurpose, PublicKeyData};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

/// One CA certificate with its key.
pub struct Ca {
    pub level: CaLevel,
    /// `None` for a root whose key is kept elsewhere (an offline root, docs/offline-root.md):
    /// everything that does not sign with it still works.
    pub key: Option<CaKey>,
    pub der: CertificateDer<'static>,
    pub pem: String,
    pub csr_pem: Option<String>,
    pub not_after: OffsetDateTime,
}

/// An org's CA hierarchy, root first; the last level signs leaves.
pub struct OrgCa {
    pub levels: Vec<Ca>,
}

impl Ca {
    /// The key to sign with, or the sentence that says it is offline. Callers that know the
    /// tree's layout check first with `OrgCa::signing_key`, whose sentence names the file.
    pub fn key(&self) -> Result<&CaKey> {
        self.key.as_ref().ok_or_else(|| {
            Error::input(format!(
                "the {} CA's key is not in this tree: the root is offline; run this where the root key is kept (docs/offline-root.md)",
                self.level.name()
            ))
        })
    }
}

/// The sentence for a command that needs the key of the CA at `level`, which is not at `key`:
/// the root is offline (exit 2, nothing changed).
pub fn offline_error(key: &std::path::Path, level: CaLevel, org: &str, needed_for: &str) -> Error {
    Error::input(format!(
        "{} is not here: the {} CA of org `{org}` is offline, and {needed_for} needs its key; run it on the root's machine, or use `hapki ca csr` / `ca sign` / `ca import` (docs/offline-root.md)",
        key.display(),
        level.name()
    ))
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
    /// The keys are opened as `org`'s profile keeps them (a file, plain or encrypted, or a
    /// PKCS#11 token).
    pub fn load(layout: &OrgLayout, org: &OrgSpec, tier: u8) -> Result<Option<OrgCa>> {
        let mut levels: Vec<Ca> = Vec::new();
        for &level in CaLevel::for_tier(tier) {
            let files = layout.ca(level);
            if !files.cert.exists() {
                break;
            }
            let (der, pem) = read_cert(&files.cert)?;
            let key = open_key(org, level, &files, &der)?;
            // Only the root may be kept elsewhere (an offline root): a level below it without
            // its key is a hierarchy cut short, which `ensure` completes.
            if key.is_none() && level != CaLevel::Root {
                break;
            }
            let not_after = check::not_after(&der, &files.cert)?;
            if let Some(key) = &key {
                check::key_matches(&der, key).map_err(|m| {
                    if level == CaLevel::Root {
                        if let Some(e) = swapped_root(layout, &files.cert, key) {
                            return e;
                        }
                    }
                    Error::input(format!(
                        "{}: {m}; restore the matching key or re-create the CA with `hapki ca init --force`",
                        files.key.display()
                    ))
                })?;
            }
            if let Some(parent) = levels.last() {
                // A CA of another PKI (cert and key) put in this level's place: nothing may be
                // issued under it, since nothing it signs chains to the org's root.
                let signed = check::parse(&der).is_ok_and(|c| {
                    check::parse(&parent.der)
                        .is_ok_and(|p| c.verify_signature(Some(p.public_key())).is_ok())
                });
                if !signed {
                    return Err(Error::input(format!(
                        "{} was not signed by the {} CA above it ({}), so nothing it signs chains to the org's root (a CA of another PKI?); put the org's {} cert and key back, or re-create the CA with `hapki ca init --org {} --force`",
                        files.cert.display(),
                        parent.level.name(),
                        layout.ca(parent.level).cert.display(),
                        level.name(),
                        layout.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                    )));
                }
            }
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
        match OrgCa::load(layout, org, tier)? {
            Some(ca) if ca.levels.len() == CaLevel::for_tier(tier).len() => Ok(ca),
            _ => Err(Error::input(format!(
                "org `{}` has no complete CA under {}; create it first with `hapki ca init --org {}`",
                org.name,
                layout.dir.display(),
                org.name
            ))),
        }
    }

    /// The key of the CA at `level`, or the sentence naming its missing file under `layout`.
    pub fn signing_key(
        &self,
        layout: &OrgLayout,
        level: CaLevel,
        org: &str,
        needed_for: &str,
    ) -> Result<&CaKey> {
        let ca = self
            .levels
            .iter()
            .find(|c| c.level == level)
            .ok_or_else(|| Error::bug(format!("org `{org}` has no {} CA here", level.name())))?;
        ca.key
            .as_ref()
            .ok_or_else(|| offline_error(&layout.ca(level).key, level, org, needed_for))
    }

    /// Whether the issuing CA's nameConstraints differ from what the profile asks of it now
    /// (the flag turned on or off, or other extra SANs).
    pub fn constraints_differ(&self, org: &OrgSpec) -> bool {
        let want =
            super::ext::name_constraints_for(org, self.levels.len() as u8, self.issuing().level);
        match (want, super::ext::Permitted::of_cert(&self.issuing().der)) {
            (None, None) => false,
            (Some(w), Some(h)) => !w.same(&h),
            _ => true,
        }
    }

    /// Whether the root's key is kept elsewhere (an offline root).
    pub fn root_offline(&self) -> bool {
        self.root().key.is_none()
    }

    pub(crate) fn issuer(&self) -> Result<Issuer<'static, &CaKey>> {
        let ca = self.issuing();
        Issuer::from_ca_cert_der(&ca.der, ca.key()?)
            .map_err(|e| Error::bug(format!("cannot use the CA certificate as issuer: {e}")))
    }
}

/// When the root cert at `cert` does not match the root key `key`: is the cert the odd one
/// out (another PKI's root put in its place, the key still the org's)? It is when the CA cert
/// below the root was signed by the key. Then the error names the cert, and the copy that
/// still holds the org's root (the root copy, the trust bundle), so nothing is ever issued
/// under, or copied from, the foreign cert.
fn swapped_root(layout: &OrgLayout, cert: &std::path::Path, key: &CaKey) -> Option<Error> {
    use rustls_pki_types::pem::PemObject;
    use x509_parser::prelude::FromDer;
    let below = [CaLevel::Policy, CaLevel::Intermediate]
        .into_iter()
        .map(|l| layout.ca(l).cert)
        .find(|p| p.exists())?;
    let (below, _) = read_cert(&below).ok()?;
    let below = check::parse(&below).ok()?;
    let spki = key.subject_public_key_info();
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki.as_slice()).ok()?;
    below.verify_signature(Some(&spki)).ok()?;
    let own = [layout.root_copy(), layout.trust_bundle()]
        .into_iter()
        .find(|p| {
            crate::store::read(p).is_ok_and(|b| {
                CertificateDer::pem_slice_iter(&b)
                    .filter_map(|c| c.ok())
                    .last()
                    .is_some_and(|d| check::key_matches(&d, key).is_ok())
            })
        });
    let what = format!(
        "{} is not this org's root: it does not match the root key {}, and the CA below was signed by that key (another PKI's root put in its place?)",
        cert.display(),
        layout.ca(CaLevel::Root).key.display()
    );
    Some(Error::input(match own {
        Some(p) if p == layout.root_copy() => format!(
            "{what}; put the org's root back with `cp {} {}` and run again",
            p.display(),
            cert.display()
        ),
        Some(p) => format!(
            "{what}; put the org's root back (the last certificate of {}) with `awk '/-BEGIN CERTIFICATE-/{{b=\"\"}} {{b=b $0 \"\\n\"}} END{{printf \"%s\", b}}' {} > {}` and run again",
            p.display(),
            p.display(),
            cert.display()
        ),
        None => format!(
            "{what}; put back the org's root cert (the one whose key is that key) from a backup or a chain file that still ends with it (`hapki verify` names one) and run again"
        ),
    }))
}

/// The key of a CA cert on disk: its file, or its token key (`ca_key::open`).
fn open_key(
    org: &OrgSpec,
    level: CaLevel,
    files: &crate::store::CaFiles,
    der: &CertificateDer<'_>,
) -> Result<Option<CaKey>> {
    let cert = check::parse(der).map_err(|m| {
        Error::input(format!(
            "{}: {m}; restore it or re-create the CA with `hapki ca init --force`",
            files.cert.display()
        ))
    })?;
    let spki_key = cert.public_key().subject_public_key.data.to_vec();
    ca_key::open(
        &org.ca_key_store,
        org.name.as_str(),
        level,
        &files.key,
        &spki_key,
    )
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

/// What a CA of `level` in a hierarchy of `tier` levels asks for: its name, key usages and
/// path length (a CSR holds no more; the issuer adds serial and validity).
pub(crate) fn ca_request(
    org: &OrgSpec,
    tier: u8,
    level: CaLevel,
    key: &impl PublicKeyData,
) -> Result<CertificateParams> {
    ca_request_for(org, tier, level, key.der_bytes())
}

/// `ca_request` for the raw subjectPublicKey of a key held elsewhere (a CSR's, `hapki ca sign`).
pub(crate) fn ca_request_for(
    org: &OrgSpec,
    tier: u8,
    level: CaLevel,
    public_raw: &[u8],
) -> Result<CertificateParams> {
    let all = CaLevel::for_tier(tier);
    let below = all.len() - 1 - all.iter().position(|l| *l == level).unwrap_or(0);
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(org, Some(&ca_common_name(org, level)))?;
    params.key_identifier_method = super::ext::key_id_raw(public_raw);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.is_ca = IsCa::Ca(if level == CaLevel::Root {
        BasicConstraints::Unconstrained
    } else {
        BasicConstraints::Constrained(below as u8)
    });
    // A CSR carries no nameConstraints (rcgen writes none in a request): the issuer adds them.
    params.name_constraints =
        super::ext::name_constraints_for(org, tier, level).map(|p| p.to_rcgen());
    Ok(params)
}

/// Builds a CA hierarchy for `org`, keeping the levels of `existing` (from the root down) and
/// creating the rest with `new_keys` (one per missing level, in order).
pub fn build_ca(
    org: &OrgSpec,
    tier: u8,
    existing: Option<OrgCa>,
    mut new_keys: Vec<CaKey>,
    now: OffsetDateTime,
) -> Result<OrgCa> {
    let mut levels = existing.map(|e| e.levels).unwrap_or_default();
    let all = CaLevel::for_tier(tier);
    new_keys.reverse();
    for &level in &all[levels.len()..] {
        let key = new_keys
            .pop()
            .ok_or_else(|| Error::bug("fewer CA keys than CA levels"))?;
        let mut params = ca_request(org, tier, level, &key)?;
        params.serial_number = Some(serial()?);
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
                let issuer = Issuer::from_ca_cert_der(&parent.der, parent.key()?)
                    .map_err(|e| Error::bug(format!("issuer: {e}")))?;
                (params.signed_by(&key, &issuer), Some(csr))
            }
        };
        let cert = cert.map_err(|e| Error::bug(format!("signing the {} CA: {e}", level.name())))?;
        let der = cert.der().clone();
        let parent_der = levels.last().map(|p: &Ca| p.der.clone());
        check::ca_cert(&der, parent_der.as_ref(), Some(&key), now)
            .map_err(|m| Error::bug(format!("the new {} CA of {}: {m}", level.name(), org.name)))?;
        crate::lint::check_new(
            &der,
            Some(parent_der.as_deref().unwrap_or(&der)),
            crate::lint::Expect::Ca,
            &format!("the new {} CA of {}", level.name(), org.name),
        )?;
        levels.push(Ca {
            level,
            der,
            pem: cert.pem(),
            key: Some(key),
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
        if let Some(pem) = c.key.as_ref().and_then(CaKey::file_pem) {
            plan.add(&files.key, pem.as_bytes(), Mode::Secret);
        }
        if let (Some(p), Some(csr)) = (&files.csr, &c.csr_pem) {
            plan.add(p, csr.as_bytes(), Mode::Public);
        }
        plan.add(&files.cert, c.pem.as_bytes(), Mode::Public);
    }
    plan
}

/// What `init` rewrites of a kept CA: the trust bundle and the root copy when they are missing
/// or say anything else than the CA certs, and a CA CSR that is missing or broken (made again
/// from the cert and its key).
pub fn ca_repair_plan(org: &OrgSpec, layout: &OrgLayout, ca: &OrgCa) -> Result<Plan> {
    let mut plan = ca_plan(layout, ca, ca.levels.len()).only_stale(&[]);
    for c in &ca.levels[1..] {
        let (Some(path), Some(key)) = (layout.ca(c.level).csr, &c.key) else {
            continue;
        };
        if !super::csr_fits(&path, &c.der) {
            let params = ca_request(org, ca.levels.len() as u8, c.level, key)?;
            plan.add(path, super::ext::csr_pem(&params, key)?, Mode::Public);
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;
    use crate::model::KeyAlg;
    use crate::profile::Topology;
    use std::path::Path;

    #[test]
    fn the_root_cert_is_the_last_file_of_a_ca_plan() {
        let topo = Topology::parse(
            "[defaults]\nca_key = \"ecdsa-p256\"\ntier = 3\n[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n",
            "p.toml",
        )
        .unwrap();
        let org = &topo.orgs[0];
        let keys = (0..3)
            .map(|_| CaKey::plain(keys::generate(KeyAlg::EcdsaP256).unwrap()))
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
