//! The path to an offline root (docs/offline-root.md): `hapki ca csr` makes the key of the CA
//! below the root here and writes its request, `hapki ca sign` issues it on the root's machine
//! (appending it to the root's index and signing the root's CRL again), and `hapki ca import`
//! installs what the root's machine sent back: the CA cert, the root cert and the root's CRL.
//!
//! Tier 2: the request is the intermediate's, which then issues leaves here. Tier 3: the
//! request is the policy CA's; the issuing CA below it is made here by `hapki init`, since the
//! policy key is here too. Only the root is ever offline.

use super::EXIT_OK;
use crate::cadb::{self, Index};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::issue::OrgWork;
use crate::keys::{self, ca_key};
use crate::model::{fmt_time, CaLevel};
use crate::pki::{self, check, Ca, OrgCa};
use crate::profile::{OrgSpec, Topology};
use crate::store::{Mode, OrgLayout, Plan};
use clap::Args;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use std::path::{Path, PathBuf};

pub const CA_CSR_HELP: &str = "On the org's machine, where the root key is NOT kept: makes the key of the CA below the root \
(the intermediate for tier 2, the policy CA for tier 3) and writes its certificate request. A key already \
there is kept (a new request for it: renewal, or new name constraints). Carry the CSR to the root's \
machine and run `hapki ca sign` there; bring back what it writes and run `hapki ca import`.

EXAMPLES:
  hapki ca csr --org participant1
  hapki ca csr --org participant1 --profile my.toml --out /etc/canton/certs

EXIT CODES:
  0  success
  2  bad input (no such org, a one-tier profile), or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct CaCsrArgs {
    /// The org whose CA below the root is requested.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    /// CA tiers: 2 requests the intermediate, 3 the policy CA (default: the tree's, or the profile's).
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub tier: Option<u8>,
    #[command(flatten)]
    pub common: Common,
}

pub const CA_SIGN_HELP: &str = "On the root's machine: checks a CSR that `hapki ca csr` wrote (its signature, the subject \
and CA level the profile gives the org), issues the CA cert (basicConstraints, keyUsage, validity up to \
intermediate_days within the root's, CRL and OCSP locations, and for the issuing CA the name constraints \
of `name_constraints = true`), appends it to the root's index, signs the root's CRL again, and writes one \
PEM file: the new CA cert, the root cert and the root's CRL. Carry that file back and run `hapki ca import`.

EXAMPLES:
  hapki ca sign /media/usb/intermediate.csr.pem --org participant1 --out /offline/pki
  hapki ca sign req.pem --org participant1 --to /media/usb/participant1-intermediate.pem

EXIT CODES:
  0  success
  2  bad input (a CSR that fails a check, no root key here), or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct CaSignArgs {
    /// The certificate request (PEM) from `hapki ca csr`.
    #[arg(value_name = "CSR")]
    pub csr: PathBuf,
    /// The org the CSR is for.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    /// Where to write the cert, root and CRL (default: beside the CSR, `.csr.pem` -> `.cert.pem`).
    #[arg(long, value_name = "FILE")]
    pub to: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

pub const CA_IMPORT_HELP: &str = "On the org's machine: installs what `hapki ca sign` wrote (or a root CRL the root's \
machine signed again) at the layout's paths: the CA cert, the root cert, the trust bundle, the root's CRL and \
the CRL bundle. The CA cert must match the key `hapki ca csr` made here and chain to the org's root; a root \
already installed must be the file's root. Then `hapki init` issues the leaves (and, for tier 3, the issuing CA).

EXAMPLES:
  hapki ca import /media/usb/intermediate.cert.pem --org participant1
  hapki ca import ca.crl.pem --org participant1        # a root CRL signed again on the root's machine

EXIT CODES:
  0  success
  2  a cert that does not match the key here or does not chain to the root, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct CaImportArgs {
    /// The PEM file `hapki ca sign` wrote (CA cert, root cert, root CRL), or a root CRL.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The org it is for.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    #[command(flatten)]
    pub common: Common,
}

/// The CA level right below the root in a hierarchy of `tier` levels.
fn below_root(tier: u8) -> CaLevel {
    if tier == 3 {
        CaLevel::Policy
    } else {
        CaLevel::Intermediate
    }
}

pub fn csr(args: &CaCsrArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let org = topo.org(&args.org)?;
    let out = &args.common.out;
    let layout = OrgLayout::new(out, org.name.as_str(), &org.dns);
    let tier = args
        .tier
        .or_else(|| pki::detect_tier(&layout))
        .unwrap_or(org.tier);
    if tier < 2 {
        return Err(Error::input(format!(
            "org `{}` has a one-tier CA (a root only), so there is no CA below the root to request; use tier 2 or 3 in the profile or --tier",
            org.name
        )));
    }
    let level = below_root(tier);
    let files = layout.ca(level);
    let csr_path = files
        .csr
        .clone()
        .expect("CAs below the root have a CSR path");
    refuse_token(org, "ca csr")?;
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    // A key already here is kept: it is either waiting for its cert, or its CA is in use.
    let (key, fresh) = if files.key.exists() {
        let key = ca_key::load_file(&files.key)?;
        if files.cert.exists() {
            let (der, _) = pki::read_cert(&files.cert)?;
            check::key_matches(&der, &key).map_err(|m| {
                Error::input(format!(
                    "{}: {m}; restore the key of {} before asking for a new cert",
                    files.key.display(),
                    files.cert.display()
                ))
            })?;
        }
        (key, false)
    } else {
        super::preflight(out)?;
        let kp = keys::generate(org.ca_key)?;
        let path = &files.key;
        let key = ca_key::create(
            &org.ca_key_store,
            org.ca_key,
            org.name.as_str(),
            level,
            path,
            Some(kp),
        )?;
        (key, true)
    };
    let params = pki::ca_request(org, tier, level, &key)?;
    let csr_pem = pki::csr_pem(&params, &key)?;
    let mut plan = Plan::new();
    if fresh {
        if let Some(pem) = key.file_pem() {
            plan.add(&files.key, pem.as_bytes(), Mode::Secret);
        }
    }
    plan.add(&csr_path, csr_pem.into_bytes(), Mode::Public);
    super::preflight(out)?;
    plan.commit(&lock)?;
    crate::outln!(
        "{} the {} CA key of {} at {}",
        if fresh { "made" } else { "kept" },
        level.name(),
        org.name,
        files.key.display()
    );
    crate::outln!("wrote the request {}", csr_path.display());
    crate::outln!(
        "Next: carry it to the root's machine and run `hapki ca sign {} --org {}` there; bring back the file it writes and run `hapki ca import FILE --org {}` here",
        file_name(&csr_path),
        org.name,
        org.name
    );
    Ok(EXIT_OK)
}

/// The offline-root steps keep the key of the CA below the root in a file here (plain or
/// encrypted): a key made in a PKCS#11 token has no file to carry a CSR for yet.
fn refuse_token(org: &OrgSpec, command: &str) -> Result<()> {
    match &org.ca_key_store {
        crate::model::CaKeyStore::Pkcs11(_) => Err(Error::input(format!(
            "org `{}` keeps its CA keys in a PKCS#11 token (ca_key_store), and `hapki {command}` works with CA key files only; use ca_key_encryption = \"scrypt\" for this org's offline-root steps, or keep the root in the token too",
            org.name
        ))),
        _ => Ok(()),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The root of `org` with its key, on the root's machine.
fn root_here(layout: &OrgLayout, org: &OrgSpec) -> Result<Ca> {
    let files = layout.ca(CaLevel::Root);
    if !files.cert.exists() {
        return Err(Error::input(format!(
            "{} is missing: org `{}` has no root here; make it with `hapki ca init --tier 1 --org {}` on this (the root's) machine",
            files.cert.display(),
            org.name,
            org.name
        )));
    }
    let ca =
        OrgCa::load(layout, org, 1)?.ok_or_else(|| Error::bug("a root cert without a root"))?;
    let root = ca.levels.into_iter().next().expect("a root");
    if root.key.is_none() {
        return Err(pki::offline_error(
            &files.key,
            CaLevel::Root,
            org.name.as_str(),
            "`hapki ca sign`",
        ));
    }
    Ok(root)
}

pub fn sign(args: &CaSignArgs) -> Result<i32> {
    use rcgen::{BasicConstraints, CertificateSigningRequestParams, IsCa, Issuer};
    let topo = Topology::load(args.common.profile.as_deref())?;
    let org = topo.org(&args.org)?;
    args.common.use_passphrase();
    let now = args.common.now()?;
    let out = &args.common.out;
    let layout = OrgLayout::new(out, org.name.as_str(), &org.dns);
    let bytes = crate::store::read(&args.csr)?;
    let csr_der =
        rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(&bytes).map_err(|_| {
            Error::input(format!(
                "{} holds no PEM certificate request; give the file `hapki ca csr` wrote",
                args.csr.display()
            ))
        })?;
    let req = CertificateSigningRequestParams::from_der(&csr_der).map_err(|e| {
        Error::input(format!(
            "{} is not a certificate request hapki signs ({e}); make it with `hapki ca csr --org {}`",
            args.csr.display(),
            org.name
        ))
    })?;
    // The level it asks for: its pathLenConstraint (0: the issuing CA of two tiers, 1: the
    // policy CA of three), and its name must be the one the profile gives that level.
    let (tier, level) = match req.params.is_ca {
        IsCa::Ca(BasicConstraints::Constrained(0)) => (2, CaLevel::Intermediate),
        IsCa::Ca(BasicConstraints::Constrained(1)) => (3, CaLevel::Policy),
        _ => {
            return Err(Error::input(format!(
                "{} does not ask for a CA below the root (basicConstraints CA with pathLenConstraint 0 or 1); make it with `hapki ca csr --org {}`",
                args.csr.display(),
                org.name
            )))
        }
    };
    let public_raw = rcgen::PublicKeyData::der_bytes(&req.public_key).to_vec();
    let mut params = pki::ca_request_for(org, tier, level, &public_raw)?;
    if req.params.distinguished_name != params.distinguished_name {
        return Err(Error::input(format!(
            "{} asks for another subject than the profile {} gives the {} CA of org `{}` (CN {}); make the request with the same profile, or sign it with that org's profile",
            args.csr.display(),
            topo.source,
            level.name(),
            org.name,
            pki::ca_common_name(org, level)
        )));
    }
    let lock = args.common.lock()?;
    let root = root_here(&layout, org)?;
    params.serial_number = Some(pki::serial()?);
    let clamped = pki::validity(
        &mut params,
        now,
        org.intermediate_days,
        Some(root.not_after),
    );
    params.use_authority_key_identifier_extension = true;
    pki::add_revocation_info(&mut params, org);
    let issuer = Issuer::from_ca_cert_der(&root.der, root.key()?)
        .map_err(|e| Error::bug(format!("the root as issuer: {e}")))?;
    let cert = params
        .signed_by(&req.public_key, &issuer)
        .map_err(|e| Error::bug(format!("signing the {} CA: {e}", level.name())))?;
    let der = cert.der().clone();
    check::ca_cert(&der, Some(&root.der), None, now)
        .map_err(|m| Error::bug(format!("the new {} CA of {}: {m}", level.name(), org.name)))?;
    crate::lint::check_new(
        &der,
        Some(&root.der),
        crate::lint::Expect::Ca,
        &format!("the new {} CA of {}", level.name(), org.name),
    )?;
    let pem = cert.pem();

    let mut plan = Plan::new();
    if !layout.index_attr(CaLevel::Root).exists() {
        plan.add(layout.index_attr(CaLevel::Root), cadb::ATTR, Mode::Public);
    }
    cadb::record_issued(&mut plan, &layout, CaLevel::Root, &der, &pem)?;
    let index = Index::load(&layout.index(CaLevel::Root))?;
    let root_ca = OrgCa { levels: vec![root] };
    let signed = crate::crl::publish(
        &mut plan,
        &layout,
        org,
        &root_ca,
        &[(CaLevel::Root, &index)],
        now,
        None,
    )?;
    let crl_pem = &signed[0].1.pem;
    let to = args.to.clone().unwrap_or_else(|| {
        let name = file_name(&args.csr);
        let stem = name.strip_suffix(".csr.pem").unwrap_or(&name);
        args.csr.with_file_name(format!("{stem}.cert.pem"))
    });
    super::preflight(out)?;
    plan.commit(&lock)?;
    let bundle = format!("{pem}{}{crl_pem}", root_ca.root().pem);
    let serial = cadb::Record::of_cert(&der)?.serial;
    crate::export::write_to(&to, bundle.as_bytes(), 0o644).map_err(|e| {
        Error::input(format!(
            "{e} (the cert is issued and kept at {})",
            layout.newcert(CaLevel::Root, &serial).display()
        ))
    })?;
    let fp = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &root_ca.root().der);
    crate::outln!(
        "issued the {} CA of {} (serial {serial}, until {}{}), recorded in {}",
        level.name(),
        org.name,
        fmt_time(params.not_after),
        if clamped { ", the root's end" } else { "" },
        layout.index(CaLevel::Root).display()
    );
    crate::outln!(
        "signed {} (next update {})",
        layout.crl_pem(CaLevel::Root).display(),
        fmt_time(now + time::Duration::days(org.root_crl_days as i64))
    );
    crate::outln!(
        "wrote {} (the CA cert, the root cert and the root's CRL)",
        to.display()
    );
    crate::outln!("root SHA-256 fingerprint: {}", hex_colons(fp.as_ref()));
    crate::outln!(
        "Next: carry {} to the org's machine and run `hapki ca import {} --org {}` there",
        to.display(),
        file_name(&to),
        org.name
    );
    Ok(EXIT_OK)
}

fn hex_colons(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The PEM blocks of the file `ca sign` writes: certificates (in order) and CRLs.
struct Carried {
    certs: Vec<CertificateDer<'static>>,
    crls: Vec<(Vec<u8>, String)>,
}

fn read_carried(path: &Path) -> Result<Carried> {
    let bytes = crate::store::read(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(|c| c.ok())
        .collect();
    let crls: Vec<(Vec<u8>, String)> = CertificateRevocationListDer::pem_slice_iter(&bytes)
        .filter_map(|c| c.ok())
        .map(|c| {
            let der = c.to_vec();
            let pem = pem_of("X509 CRL", &der);
            (der, pem)
        })
        .collect();
    if certs.is_empty() && crls.is_empty() {
        return Err(Error::input(format!(
            "{} holds no PEM certificate or CRL; give the file `hapki ca sign` wrote",
            path.display()
        )));
    }
    Ok(Carried { certs, crls })
}

fn pem_of(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

fn self_signed(der: &CertificateDer<'_>) -> bool {
    check::parse(der).is_ok_and(|c| {
        c.subject().as_raw() == c.issuer().as_raw() && c.verify_signature(None).is_ok()
    })
}

/// Whether the DER CRL `der` is signed by the root `root`.
fn crl_signed_by(der: &[u8], root: &CertificateDer<'_>) -> bool {
    let (Ok((_, crl)), Ok(cert)) = (x509_parser::parse_x509_crl(der), check::parse(root)) else {
        return false;
    };
    crl.issuer().as_raw() == cert.subject().as_raw()
        && crl.verify_signature(cert.public_key()).is_ok()
}

pub fn import(args: &CaImportArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let org = topo.org(&args.org)?;
    refuse_token(org, "ca import")?;
    args.common.use_passphrase();
    let now = args.common.now()?;
    let out = &args.common.out;
    let layout = OrgLayout::new(out, org.name.as_str(), &org.dns);
    let carried = read_carried(&args.file)?;
    let lock = args.common.lock()?;
    let root_files = layout.ca(CaLevel::Root);
    let file = args.file.display();

    // The root: the one installed here, or the file's self-signed cert; both must agree.
    let on_disk = if root_files.cert.exists() {
        Some(pki::read_cert(&root_files.cert)?)
    } else {
        None
    };
    let carried_root = carried.certs.iter().find(|c| self_signed(c)).cloned();
    let (root_der, root_pem, root_new) = match (&on_disk, carried_root) {
        (Some((d, _)), Some(r)) if *d != r => {
            return Err(Error::input(format!(
                "the root certificate in {file} is not the root of org `{}` installed at {}; import only what the org's own root signed",
                org.name,
                root_files.cert.display()
            )))
        }
        (Some((d, p)), _) => (d.clone(), p.clone(), false),
        (None, Some(r)) => {
            let pem = pem_of("CERTIFICATE", &r);
            (r, pem, true)
        }
        (None, None) => {
            return Err(Error::input(format!(
                "{file} holds no root certificate and org `{}` has none at {}; import the whole file `hapki ca sign` wrote",
                org.name,
                root_files.cert.display()
            )))
        }
    };
    // The root's CRL, when the file brings one: it must be the root's own.
    let root_crl = match carried.crls.as_slice() {
        [] => None,
        [one] => {
            if !crl_signed_by(&one.0, &root_der) {
                return Err(Error::input(format!(
                    "the CRL in {file} is not signed by the root of org `{}` ({}); import the CRL its root signed",
                    org.name,
                    root_files.cert.display()
                )));
            }
            if let Ok(old) = crate::crl::read(&layout.crl_der(CaLevel::Root)) {
                let new = crate::crl::parse(&one.0).and_then(|c| c.number);
                if old.number.zip(new).is_some_and(|(o, n)| n < o) {
                    return Err(Error::input(format!(
                        "the CRL in {file} is older (CRL number {:X}) than the root CRL installed at {} ({:X}); import the newest one",
                        new.unwrap_or(0),
                        layout.crl_pem(CaLevel::Root).display(),
                        old.number.unwrap_or(0)
                    )));
                }
            }
            Some(one.clone())
        }
        _ => {
            return Err(Error::input(format!(
                "{file} holds several CRLs; import the one file `hapki ca sign` or `hapki crl` wrote for the root"
            )))
        }
    };
    // The CA cert: any cert of the file that is not the root.
    let ca_der = carried.certs.iter().find(|c| **c != root_der).cloned();
    let root = Ca {
        level: CaLevel::Root,
        key: None,
        not_after: check::not_after(&root_der, &args.file)?,
        der: root_der.clone(),
        pem: root_pem.clone(),
        csr_pem: None,
    };

    let mut plan = Plan::new();
    let mut lines = Vec::new();
    let (ca, new_level) = match ca_der {
        None => {
            // Only a CRL (the root's, signed again on the root's machine): the tree's CA stays.
            let Some(_) = &root_crl else {
                return Err(Error::input(format!(
                    "{file} holds only the root certificate; import the file `hapki ca sign` wrote, with the CA cert in it"
                )));
            };
            let ca = OrgCa::load_complete(&layout, org)?;
            (ca, None)
        }
        Some(der) => {
            let (level, ca) = import_ca(org, &layout, &args.file, &der, root, now)?;
            (ca, Some(level))
        }
    };
    if let Some(level) = new_level {
        let c = ca
            .levels
            .iter()
            .find(|c| c.level == level)
            .expect("imported");
        let files = layout.ca(level);
        if root_new {
            plan.add(&root_files.cert, root_pem.as_bytes(), Mode::Public);
        }
        let bundle: String =
            ca.below_root().map(|c| c.pem.as_str()).collect::<String>() + ca.root().pem.as_str();
        plan.add(layout.trust_bundle(), bundle.into_bytes(), Mode::Public);
        plan.add(layout.root_copy(), ca.root().pem.as_bytes(), Mode::Public);
        plan.add(&files.cert, c.pem.as_bytes(), Mode::Public);
        if let Some(bytes) = crate::export::p12::truststore_update(&layout, &ca)? {
            plan.add(layout.truststore(), bytes, Mode::Public);
        }
        lines.push(format!(
            "installed the {} CA of {} at {}",
            level.name(),
            org.name,
            files.cert.display()
        ));
    }
    if let Some((der, pem)) = &root_crl {
        plan.add(layout.crl_pem(CaLevel::Root), pem.as_bytes(), Mode::Public);
        plan.add(layout.crl_der(CaLevel::Root), der.clone(), Mode::Public);
        let next = crate::crl::parse(der)
            .and_then(|c| c.next_update)
            .map(fmt_time)
            .unwrap_or_else(|| "none".into());
        lines.push(format!(
            "installed the root's CRL at {} (next update {next})",
            layout.crl_pem(CaLevel::Root).display()
        ));
    }
    // The CA levels here (below the root) get their index and a CRL when they have none, or
    // one of another CA (a new cert for the same key keeps its index); then the CRL bundle.
    let mut indexes: Vec<(CaLevel, Index)> = Vec::new();
    for c in ca.levels.iter().filter(|c| c.key.is_some()) {
        let idx = layout.index(c.level);
        if !idx.exists() {
            plan.add(&idx, "", Mode::Public);
            plan.add(layout.index_attr(c.level), cadb::ATTR, Mode::Public);
            indexes.push((c.level, Index::default()));
        } else if !crate::crl::read(&layout.crl_der(c.level))
            .is_ok_and(|i| crate::crl::is_of(&i, c))
        {
            indexes.push((c.level, Index::load(&idx)?));
        }
    }
    let refs: Vec<(CaLevel, &Index)> = indexes.iter().map(|(l, i)| (*l, i)).collect();
    let given: Vec<(CaLevel, &str)> = root_crl
        .iter()
        .map(|(_, pem)| (CaLevel::Root, pem.as_str()))
        .collect();
    crate::crl::publish_with(&mut plan, &layout, org, &ca, &refs, now, None, &given)?;
    super::preflight(out)?;
    plan.commit(&lock)?;
    for l in lines {
        crate::outln!("{l}");
    }
    crate::outln!("wrote {}", layout.crl_bundle().display());
    if new_level.is_some() {
        crate::outln!(
            "Next: `hapki init` (or `hapki issue {}`) issues the leaves under it; `hapki verify {}` checks the tree",
            org.name,
            out.display()
        );
    } else {
        crate::outln!("Next: reload the servers that read the CRLs (nginx -s reload, HAProxy reload, pg_ctl reload)");
    }
    Ok(EXIT_OK)
}

/// Checks the CA cert `der` of the file against the key here and the root, and returns the
/// hierarchy it completes (the root without its key, then this CA).
fn import_ca(
    org: &OrgSpec,
    layout: &OrgLayout,
    file: &Path,
    der: &CertificateDer<'static>,
    root: Ca,
    now: time::OffsetDateTime,
) -> Result<(CaLevel, OrgCa)> {
    let f = file.display();
    let cert = check::parse(der).map_err(|m| Error::input(format!("the CA cert in {f} {m}")))?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("");
    let level = [CaLevel::Intermediate, CaLevel::Policy]
        .into_iter()
        .find(|l| pki::ca_domain(org.name.as_str(), *l, cn) == Some(org.dns.as_str()))
        .ok_or_else(|| {
            Error::input(format!(
                "the CA cert in {f} is named `{cn}`, which is neither the intermediate nor the policy CA of org `{}` ({} or {}); import the cert made for this org",
                org.name,
                pki::ca_common_name(org, CaLevel::Intermediate),
                pki::ca_common_name(org, CaLevel::Policy)
            ))
        })?;
    let files = layout.ca(level);
    if !files.key.exists() {
        return Err(Error::input(format!(
            "{} is missing: the key of the {} CA is made by `hapki ca csr --org {}` on this machine before its cert is signed; import the cert where that key is",
            files.key.display(),
            level.name(),
            org.name
        )));
    }
    let key = ca_key::load_file(&files.key)?;
    check::key_matches(der, &key).map_err(|_| {
        Error::input(format!(
            "the CA cert in {f} is not for the key {} (it was signed from another request); sign the request `hapki ca csr --org {}` wrote here",
            files.key.display(),
            org.name
        ))
    })?;
    check::ca_cert(der, Some(&root.der), None, now).map_err(|m| {
        Error::input(format!(
            "the CA cert in {f} {}; import the cert the org's root ({}) signed",
            match m {
                check::CheckError::NotSignedByParent =>
                    "does not chain to the org root".to_string(),
                other => other.to_string(),
            },
            layout.ca(CaLevel::Root).cert.display()
        ))
    })?;
    let csr_pem = files
        .csr
        .as_ref()
        .filter(|p| pki::csr_fits(p, der))
        .and_then(|p| crate::store::read_text(p).ok());
    let ca = Ca {
        level,
        key: Some(key),
        not_after: cert.validity().not_after.to_datetime(),
        pem: pem_of("CERTIFICATE", der),
        der: der.clone(),
        csr_pem,
    };
    Ok((
        level,
        OrgCa {
            levels: vec![root, ca],
        },
    ))
}

/// What `init` checks of an org's tree before it plans: a CA request waiting for its cert from
/// an offline root (refused: a new root here would orphan it), and an issuing CA whose name
/// constraints are not the profile's (made again here when its parent's key is; refused with
/// the steps when the parent is an offline root). Returns a note for stderr.
pub fn before_init(org: &OrgSpec, w: &mut OrgWork<'_>) -> Result<Option<String>> {
    if w.existing.is_none() {
        for level in [CaLevel::Intermediate, CaLevel::Policy] {
            let f = w.layout.ca(level);
            if let Some(csr) = f.csr.as_ref().filter(|c| c.exists() && f.key.exists()) {
                if !f.cert.exists() {
                    return Err(Error::input(format!(
                        "org `{}` waits for its {} CA cert from its offline root: {} is the request; sign it with `hapki ca sign` on the root's machine and install the result with `hapki ca import FILE --org {}` (or pass --force to make a root here)",
                        org.name,
                        level.name(),
                        csr.display(),
                        org.name
                    )));
                }
            }
        }
        return Ok(None);
    }
    let Some(ca) = w.existing.as_mut() else {
        return Ok(None);
    };
    if ca.levels.len() != CaLevel::for_tier(w.tier).len()
        || ca.levels.len() < 2
        || !ca.constraints_differ(org)
    {
        return Ok(None);
    }
    let issuing = ca.issuing();
    let cert = w.layout.ca(issuing.level).cert;
    let parent = &ca.levels[ca.levels.len() - 2];
    let what = if pki::Permitted::of_cert(&issuing.der).is_none() {
        "has no name constraints, and the profile asks for them (name_constraints = true)"
    } else if org.name_constraints {
        "has other name constraints than the profile asks for (name_constraints = true)"
    } else {
        "has name constraints, and the profile asks for none"
    };
    if parent.key.is_none() {
        return Err(Error::input(format!(
            "the {} CA cert {} of org `{}` {what}, and its root is offline: run `hapki ca csr --org {}` here, `hapki ca sign` on the root's machine and `hapki ca import` here, then `hapki init` (docs/offline-root.md)",
            issuing.level.name(),
            cert.display(),
            org.name,
            org.name
        )));
    }
    let serial = cadb::Record::of_cert(&issuing.der)?.serial;
    let note = format!(
        "note: the {} CA cert {} {what}: making it again with a new key, and every leaf under it; the old one (serial {serial}) stays valid until you revoke it: `hapki revoke --serial {serial} --org {} --reason superseded`",
        issuing.level.name(),
        cert.display(),
        org.name
    );
    ca.levels.pop();
    Ok(Some(note))
}
