//! An org's CA: each level's cert, key and CSR, the org's DNS domain read from the CA names,
//! the trust bundle and the root copy.

use super::files::*;
use super::fix::shell;
use super::report::*;
use super::OrgCheck;
use crate::keys;
use crate::model::{CaKeyStore, CaLevel};
use crate::pki::{self, check};
use crate::store::OrgLayout;
use rayon::prelude::*;
use rustls_pki_types::pem::SectionKind;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};

/// An org's CA certs as read, root first.
pub(super) struct CaChain {
    pub(super) levels: Vec<(CaLevel, PathBuf, CertificateDer<'static>)>,
    /// Every level the layout shows was begun is here and parses, so chain files and bundles
    /// can be compared with it.
    pub(super) complete: bool,
    /// And every level checks out, so leaves can be checked against it.
    pub(super) sound: bool,
    /// The root cert on disk is another PKI's; the org's own, found in a copy, stands in.
    pub(super) root_restored: bool,
}

/// The shell command that puts the org's root back at `to` from `from`: a copy of the root
/// copy, or the last certificate of a trust bundle or chain file (the root is always last).
pub(super) fn restore_root(from: &Path, to: &Path, single: bool) -> String {
    if single {
        format!("`cp {} {}`", shell(from), shell(to))
    } else {
        format!(
            "`awk '/-BEGIN CERTIFICATE-/{{b=\"\"}} {{b=b $0 \"\\n\"}} END{{printf \"%s\", b}}' {} > {}` (the last certificate of that file)",
            shell(from),
            shell(to)
        )
    }
}

impl CaChain {
    pub(super) fn root(&self) -> &CertificateDer<'static> {
        &self.levels[0].2
    }

    /// Below the root, issuing CA first: what sits between a leaf and the root.
    pub(super) fn intermediates(&self) -> Vec<CertificateDer<'static>> {
        self.levels[1..]
            .iter()
            .rev()
            .map(|(_, _, d)| d.clone())
            .collect()
    }

    /// Issuing CA first, root last: the tail of chain files, trust bundles and x5c.
    pub(super) fn upward(&self) -> Vec<CertificateDer<'static>> {
        self.levels
            .iter()
            .rev()
            .map(|(_, _, d)| d.clone())
            .collect()
    }

    pub(super) fn upward_paths(&self) -> Vec<&Path> {
        self.levels
            .iter()
            .rev()
            .map(|(_, p, _)| p.as_path())
            .collect()
    }

    pub(super) fn upward_words(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.levels.iter().rev().map(|(l, _, _)| level_word(*l))
    }

    /// Which of the org's CA certs `der` is.
    pub(super) fn which(&self, der: &[u8]) -> Option<&'static str> {
        self.levels
            .iter()
            .find(|(_, _, d)| d.as_ref() == der)
            .map(|(l, _, _)| level_word(*l))
    }
}

/// What `root_swap` found.
pub(super) struct RootSwap {
    own: Option<(PathBuf, CertificateDer<'static>)>,
}

pub(super) fn level_word(l: CaLevel) -> &'static str {
    match l {
        CaLevel::Root => "root",
        CaLevel::Policy => "policy CA",
        CaLevel::Intermediate => "intermediate",
    }
}

pub(super) fn level_kind(l: CaLevel) -> &'static str {
    match l {
        CaLevel::Root => "root CA",
        CaLevel::Policy => "policy CA",
        CaLevel::Intermediate => "intermediate CA",
    }
}

impl<'a, 't> OrgCheck<'a, 't> {
    /// The delegated OCSP responders `init` makes for `hapki serve`: each cert readable, issued
    /// by its CA and not expired, its key private and matching; `init` replaces one that is not.
    pub(super) fn check_responders(&mut self, layout: &OrgLayout, ca: Option<&CaChain>) {
        for level in [CaLevel::Root, CaLevel::Policy, CaLevel::Intermediate] {
            let f = layout.ocsp_responder(level);
            self.claimed.insert(f.cert.clone());
            self.claimed.insert(f.key.clone());
            if !self.exists(&f.cert) && !self.exists(&f.key) {
                continue;
            }
            let fix = format!("make a new one with {}", self.fix.hapki("init"));
            let mut e = Entry::new(&f.cert, "OCSP responder cert");
            let mut k = Entry::new(&f.key, "OCSP responder key");
            match read_cert(&f.cert) {
                Err(m) => e.fault(m, &fix),
                Ok(der) => {
                    if let Ok(c) = check::parse(&der) {
                        let issuer = ca
                            .filter(|ca| ca.complete)
                            .and_then(|ca| ca.levels.iter().find(|(l, _, _)| *l == level))
                            .and_then(|(_, _, d)| check::parse(d).ok());
                        if issuer.is_some_and(|i| i.subject().as_raw() != c.issuer().as_raw()) {
                            e.problem(
                                Code::WrongIssuer,
                                format!("was not issued by the {} CA", level_word(level)),
                                &fix,
                            );
                        }
                        if c.validity().not_after.to_datetime() < self.o.now {
                            e.problem(Code::Expired, "has expired", &fix);
                        }
                    }
                    self.private_key(&mut k, &f.key, Some(&der), "the OCSP responder cert", &fix);
                }
            }
            self.entries.push(e);
            self.entries.push(k);
        }
    }

    /// Checks every CA level present (or begun: its folder exists), and reads the org's DNS
    /// domain from the CN of the root (`NS-root-ca.D`) or of a CA below it.
    pub(super) fn check_ca(&mut self) -> (Option<CaChain>, Option<String>) {
        let layout = OrgLayout {
            dir: self.site.dir.clone(),
            dns: String::new(),
        };
        let recreate = self.recreate_ca();
        let swap = self.root_swap(&layout);
        // The root is another PKI's and no copy holds the org's: nothing below can be checked.
        let mut foreign = false;
        let mut restored = false;
        let mut levels: Vec<(CaLevel, PathBuf, CertificateDer<'static>)> = Vec::new();
        let (mut sound, mut complete) = (true, true);
        let mut domain = None;
        for &level in &[CaLevel::Root, CaLevel::Policy, CaLevel::Intermediate] {
            let files = layout.ca(level);
            let begun = level == CaLevel::Root
                || self.exists(&files.cert)
                || self.site.dir.join(level.name()).is_dir();
            if !begun {
                continue;
            }
            self.claimed.extend(
                [&files.cert, &files.key]
                    .into_iter()
                    .chain(&files.csr)
                    .cloned(),
            );
            let mut e = Entry::new(&files.cert, format!("{} cert", level_kind(level)));
            let der = if !self.exists(&files.cert) {
                // `init` keeps the levels above and creates this one (and the leaves under it).
                e.problem(
                    Code::Missing,
                    format!(
                        "is missing, so no leaf of org `{}` can chain to its root",
                        self.site.name
                    ),
                    &format!(
                        "create it and re-issue the leaves under it with {}",
                        self.fix.hapki("init")
                    ),
                );
                None
            } else {
                match read_cert(&files.cert) {
                    Ok(d) => Some(d),
                    Err(m) => {
                        e.fault(m, &format!("restore it, or {recreate}"));
                        None
                    }
                }
            };
            let Some(mut der) = der else {
                self.entries.push(e);
                (sound, complete) = (false, false);
                continue;
            };
            if let (CaLevel::Root, Some(swap)) = (level, &swap) {
                let key = file_name(&files.key);
                let what = format!(
                    "is not the root of org `{}`: it does not match the root key {key}, and the CA below does not chain to it (another PKI's root put in its place?)",
                    self.site.name
                );
                match &swap.own {
                    // The org's root is still in a copy: check the rest against it, so the
                    // one swapped file is the one problem.
                    Some((from, own)) => {
                        e.problem(
                            Code::ForeignRoot,
                            what,
                            &format!(
                                "put the org's root back with {}",
                                restore_root(from, &files.cert, *from == layout.root_copy())
                            ),
                        );
                        der = own.clone();
                        restored = true;
                    }
                    None => {
                        e.problem(
                            Code::ForeignRoot,
                            what,
                            &format!(
                                "put back the org's root cert (the one whose key is {key}) from a backup, never copy this one into chain files; or {recreate}"
                            ),
                        );
                        foreign = true;
                    }
                }
            }
            let parent = levels.last().map(|(_, _, d)| d);
            if !complete {
                e.problem(
                    Code::CaBroken,
                    "cannot be checked, since a CA above it is missing or broken (see its line)",
                    "",
                );
            } else if foreign {
                (sound, complete) = (false, false);
            } else if let Err(m) = check::ca_cert(&der, parent, None, self.o.now) {
                e.fault(m, &recreate);
                sound = false;
            }
            if let Ok(c) = check::parse(&der) {
                let cn = c
                    .subject()
                    .iter_common_name()
                    .next()
                    .and_then(|a| a.as_str().ok())
                    .unwrap_or("");
                domain = domain.or(pki::ca_domain(&self.site.name, level, cn).map(str::to_string));
                self.expiry(&mut e, &c, &recreate);
            }
            self.entries.push(e);
            if let Some(csr) = &files.csr {
                self.claimed.insert(csr.clone());
                let mut e = Entry::new(csr, format!("{} CSR", level_kind(level)));
                self.csr(&mut e, csr, Some(&der), &recreate);
                self.entries.push(e);
            }
            levels.push((level, files.cert, der));
        }
        // The CA keys (RSA 4096 by default) are the slowest files to parse: do them together.
        let keys: Vec<Entry> = levels
            .par_iter()
            .map(|(level, cert, der)| {
                let path = layout.ca(*level).key;
                let mut e = Entry::new(&path, format!("{} key", level_kind(*level)));
                let store = self.site.spec.map(|s| &s.ca_key_store);
                if let (false, Some(CaKeyStore::Pkcs11(uri))) = (self.exists(&path), store) {
                    self.token_key(&mut e, uri, *level, der, &recreate);
                } else if !self.exists(&path) && *level == CaLevel::Root {
                    e.warn(Code::KeyOffline,
                        "is not here: fine when the root is kept offline (docs/offline-root.md); the CAs below it go on issuing, and a new CA below it or the root's CRL is signed on the root's machine",
                        "",
                    );
                } else if !self.exists(&path) {
                    e.warn(Code::KeyOffline,
                        format!(
                            "is not here: fine if it is kept offline, but hapki cannot issue under this CA without it (and {} would replace the CA)",
                            self.fix.hapki("init")
                        ),
                        "put it back before issuing",
                    );
                } else if *level == CaLevel::Root && swap.is_some() {
                    // The key is the org's; the root cert's line says what was swapped.
                    secret_mode(&mut e, &path);
                } else {
                    let fix = format!("restore the CA's own key, or {recreate}");
                    self.ca_key(&mut e, &path, der, &file_name(cert), &fix);
                    if matches!(store, Some(CaKeyStore::Encrypted(_)))
                        && crate::store::read(&path)
                            .is_ok_and(|b| !keys::encrypted::is_encrypted(&b))
                    {
                        e.warn(
                            Code::KeyNotEncrypted,
                            "is a plain key file, while the profile asks for encrypted CA keys (ca_key_encryption)",
                            &format!(
                                "encrypt it in place with {} --passphrase-file FILE",
                                self.fix.hapki("init")
                            ),
                        );
                    }
                }
                e
            })
            .collect();
        self.entries.extend(keys);
        let has_root = levels.first().is_some_and(|(l, _, _)| *l == CaLevel::Root);
        let chain = has_root.then_some(CaChain {
            levels,
            complete,
            sound,
            root_restored: restored,
        });
        (chain, domain)
    }

    /// A root cert swapped for another PKI's root while the root key stayed: the key does not
    /// match the cert, and the CA cert below the root was signed by the key, not by the cert.
    /// Only looked at when the CA below does not chain to the root (a sound tree pays no key
    /// load). `own` is a copy that still holds the org's root (the root copy, the trust bundle, a
    /// chain file).
    fn root_swap(&self, layout: &OrgLayout) -> Option<RootSwap> {
        use rcgen::PublicKeyData;
        use x509_parser::prelude::FromDer;
        let root = layout.ca(CaLevel::Root);
        let der = read_cert(&root.cert).ok()?;
        let below = [CaLevel::Policy, CaLevel::Intermediate]
            .into_iter()
            .map(|l| layout.ca(l).cert)
            .find(|p| self.exists(p))?;
        let below = read_cert(&below).ok()?;
        let (cert, child) = (check::parse(&der).ok()?, check::parse(&below).ok()?);
        if child.verify_signature(Some(cert.public_key())).is_ok() {
            return None;
        }
        let key = keys::load(&root.key).ok()?;
        if check::key_matches(&der, &key).is_ok() {
            return None;
        }
        let spki_der = key.subject_public_key_info();
        let (_, spki) =
            x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der.as_slice()).ok()?;
        child.verify_signature(Some(&spki)).ok()?;
        // Every chain file ends with the root too.
        let chains = (self.files.iter()).filter(|p| {
            let n = file_name(p);
            n.contains("-chain.") && n.ends_with(".cert.pem")
        });
        let own = [layout.root_copy(), layout.trust_bundle()]
            .into_iter()
            .filter(|p| self.exists(p))
            .chain(chains.cloned())
            .find_map(|p| {
                let certs = read_sections(&p).ok()?;
                let (_, d) = certs
                    .into_iter()
                    .rev()
                    .find(|(k, _)| *k == SectionKind::Certificate)?;
                let d = CertificateDer::from(d);
                check::key_matches(&d, &key).ok()?;
                check::ca_cert(&d, None, None, self.o.now).ok()?;
                Some((p, d))
            });
        Some(RootSwap { own })
    }

    /// The trust bundle (issuing CA up to the root) and the copy of the root beside it.
    pub(super) fn check_bundles(&mut self, layout: &OrgLayout, ca: &CaChain) {
        let bundle = layout.trust_bundle();
        self.claimed.insert(bundle.clone());
        let mut e = Entry::new(&bundle, "trust bundle");
        let order = ca.upward_words().collect::<Vec<_>>().join(" then ");
        self.cert_list(
            &mut e,
            &bundle,
            &ca.upward(),
            &ca.upward_paths(),
            ca,
            None,
            &order,
        );
        self.entries.push(e);

        // The JVM's truststore: it must open with `changeit` and hold exactly the CA's certs.
        let store = layout.truststore();
        self.claimed.insert(store.clone());
        let mut e = Entry::new(&store, "truststore (PKCS#12)");
        let fix = format!("write it again with {}", self.fix.hapki("init"));
        if !self.exists(&store) {
            e.problem(Code::Missing, "is missing", &fix);
        } else {
            let pw = crate::export::TRUSTSTORE_PASSWORD;
            let held = crate::store::read_io(&store, crate::store::CAP)
                .ok()
                .and_then(|b| crate::export::p12::trusted_certs(&b, pw));
            let mut want: Vec<Vec<u8>> = ca.upward().iter().map(|c| c.to_vec()).collect();
            want.sort();
            match held.map(|h| h.into_iter().map(|(_, d)| d).collect::<Vec<_>>()) {
                None => e.problem(
                    Code::Malformed,
                    format!("does not open as PKCS#12 with the password `{pw}`"),
                    &fix,
                ),
                Some(mut h) => {
                    h.sort();
                    if h != want {
                        e.problem(
                            Code::ChainOrder,
                            "holds other certificates than the org's CA certs",
                            &fix,
                        );
                    }
                }
            }
        }
        self.entries.push(e);

        let copy = layout.root_copy();
        self.claimed.insert(copy.clone());
        let mut e = Entry::new(&copy, "root CA copy");
        let root = [ca.root().clone()];
        self.cert_list(
            &mut e,
            &copy,
            &root,
            &[&ca.levels[0].1],
            ca,
            None,
            "the root",
        );
        self.entries.push(e);
    }

    /// A CA key the profile keeps in a PKCS#11 token: found there by label and matched with
    /// its cert when the token can be reached (a token on another machine only warns).
    fn token_key(
        &self,
        e: &mut Entry,
        uri: &crate::model::Pkcs11Uri,
        level: CaLevel,
        cert: &CertificateDer<'_>,
        recreate: &str,
    ) {
        let Ok(c) = check::parse(cert) else {
            return;
        };
        let label = keys::ca_key::label(&self.site.name, level);
        match keys::pkcs11::find(uri, &label, c.public_key().subject_public_key.data.as_ref()) {
            Ok(Some(_)) => {}
            Ok(None) => e.problem(
                Code::TokenKeyMissing,
                format!(
                    "is not a file (ca_key_store is a PKCS#11 token), and the token `{}` holds no key labelled `{label}` that matches the CA cert",
                    uri.token
                ),
                &format!("restore the token, or {recreate}"),
            ),
            Err(err) => e.warn(
                Code::TokenUnreachable,
                format!("is in a PKCS#11 token that cannot be reached, so it was not checked: {err}"),
                "",
            ),
        }
    }

    /// A CA's private key. Nothing loads it at run time (hapki does, fully, whenever it issues),
    /// so an RSA key is matched by its public part without the costly validation of a load.
    pub(super) fn ca_key(
        &self,
        e: &mut Entry,
        path: &Path,
        cert: &CertificateDer<'_>,
        cert_name: &str,
        fix: &str,
    ) {
        if let Ok(bytes) = crate::store::read(path) {
            if keys::encrypted::is_encrypted(&bytes) {
                secret_mode(e, path);
                encrypted_ca_key(e, path, &bytes, cert, cert_name, fix);
                return;
            }
        }
        let rsa_cert = check::parse(cert)
            .ok()
            .and_then(|c| keys::shape::spki_rsa(c.public_key().raw))
            .map(|k| (k.modulus, k.exponent));
        if let Some(public) = rsa_cert {
            let Some((_, pkcs8)) = self.key_der(e, path, fix) else {
                return;
            };
            match keys::rsa_public_parts(&pkcs8) {
                Some(parts) if parts == public => {}
                Some(_) => e.problem(Code::KeyMismatch, another_key(cert_name), fix),
                None => e.problem(Code::BadKey,
                    "holds a private key that is not a well-formed RSA PKCS#8 key, while its certificate's is RSA",
                    fix,
                ),
            }
            return;
        }
        self.private_key(e, path, Some(cert), cert_name, fix);
    }
}

/// An encrypted CA key: its scheme is checked without the passphrase; with one given to the
/// run (`--passphrase-file`, `HAPKI_PASSPHRASE_FILE`; verify never prompts) it is opened and
/// matched with its cert.
fn encrypted_ca_key(
    e: &mut Entry,
    path: &Path,
    pem: &[u8],
    cert: &CertificateDer<'_>,
    cert_name: &str,
    fix: &str,
) {
    if let Err(why) = keys::encrypted::describe(pem, path) {
        e.problem(
            Code::BadKey,
            format!("holds an encrypted key hapki cannot open: {why}"),
            fix,
        );
        return;
    }
    if !keys::passphrase::given() {
        return;
    }
    let opened = keys::passphrase::get(path, false)
        .and_then(|p| keys::encrypted::decrypt(pem, path, &p.bytes, &p.from));
    match opened {
        Err(err) => e.problem(
            Code::WrongPassphrase,
            format!("cannot be opened: {err}"),
            "",
        ),
        Ok(k) => {
            if check::key_matches(cert, &k).is_err() {
                e.problem(Code::KeyMismatch, another_key(cert_name), fix);
            }
        }
    }
}
