//! Checks on single files: PEM blocks, cert lists (chain files, bundles), the HAProxy PEM, the
//! DER forms, public keys, private keys, CSRs, expiry, modes and files outside the layout.

use super::ca::*;
use super::fix::*;
use super::leaf::*;
use super::report::*;
use super::OrgCheck;
use crate::model::fmt_time;
use crate::model::Kind;
use crate::pki::check;
use crate::store::layout::is_private_dir;
use crate::store::LeafFiles;
use rcgen::KeyPair;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use time::Duration;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

pub(super) fn another_key(cert_name: &str) -> String {
    format!("does not match {cert_name} (it is another key)")
}

/// Certs that must be exactly `want`, in order; the problem names what they are instead.
pub(super) fn compare_certs(
    e: &mut Entry,
    got: &[&[u8]],
    want: &[CertificateDer<'_>],
    ca: &CaChain,
    leaf: Option<&CertificateDer<'_>>,
    order: &str,
    fix: &str,
) {
    let expected: Vec<&[u8]> = want.iter().map(|d| d.as_ref()).collect();
    if got == expected {
        return;
    }
    let found: Vec<&str> = got
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if leaf.is_some_and(|l| l.as_ref() == *d) {
                "leaf"
            } else if let Some(w) = ca.which(d) {
                w
            } else if leaf.is_some() && i == 0 {
                "another leaf than the cert beside it"
            } else {
                "a certificate not of this org's CA"
            }
        })
        .collect();
    e.problem(
        Code::ChainOrder,
        format!(
            "must be {order}, in that order, but holds {}",
            if found.is_empty() {
                "no certificate".to_string()
            } else {
                found.join(", ")
            }
        ),
        fix,
    );
}

pub(super) fn mode(p: &Path) -> Option<u32> {
    fs::metadata(p).ok().map(|m| m.permissions().mode())
}

/// A private key is readable by its owner only (0600 or 0400).
pub(super) fn secret_mode(e: &mut Entry, p: &Path) {
    if let Some(m) = mode(p).filter(|m| m & 0o077 != 0) {
        e.problem(
            Code::WrongMode,
            format!(
                "is readable by group or others (mode {:04o}), and it is a private key",
                m & 0o7777
            ),
            &format!("restrict it with `chmod 600 {}`", shell(p)),
        );
    }
}

pub(super) fn unreadable(err: &std::io::Error) -> Fault {
    let s = err.to_string();
    let reason = s.split(" (os error").next().unwrap_or("").to_lowercase();
    Fault::new(Code::Unreadable, format!("cannot be read ({reason})"))
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every PEM block of a file, or why it is not well-formed PEM.
pub(super) fn read_sections(
    path: &Path,
) -> std::result::Result<Vec<(SectionKind, Vec<u8>)>, Fault> {
    let bytes = crate::store::read_io(path, crate::store::CAP).map_err(|e| unreadable(&e))?;
    let mut out = Vec::new();
    for s in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        match s {
            Ok(s) => out.push(s),
            Err(rustls_pki_types::pem::Error::MissingSectionEnd { .. }) => {
                return Err(Fault::new(
                    Code::NotPem,
                    "is truncated: a PEM block has no END line",
                ))
            }
            Err(_) => {
                return Err(Fault::new(
                    Code::NotPem,
                    "is not well-formed PEM (a block is truncated or edited)",
                ))
            }
        }
    }
    if out.is_empty() {
        let what = if bytes.is_empty() {
            "is empty"
        } else {
            "holds no PEM block hapki knows (it may be truncated, or of another format)"
        };
        return Err(Fault::new(Code::NotPem, what));
    }
    Ok(out)
}

/// The first block of a file where a certificate is expected, checked to be one.
pub(super) fn read_cert(path: &Path) -> std::result::Result<CertificateDer<'static>, Fault> {
    match read_sections(path)?.into_iter().next() {
        Some((SectionKind::Certificate, d)) => {
            let der = CertificateDer::from(d);
            check::parse(&der)?;
            Ok(der)
        }
        Some((k, _)) if section_word(k) == "a private key" => Err(Fault::new(
            Code::WrongBlock,
            "holds a private key where a certificate is expected (treat that key as exposed)",
        )),
        Some((k, _)) => Err(Fault::new(
            Code::WrongBlock,
            format!("holds {} where a certificate is expected", section_word(k)),
        )),
        None => Err(Fault::new(Code::NotPem, "holds no PEM block")),
    }
}

pub(super) fn section_word(k: SectionKind) -> &'static str {
    match k {
        SectionKind::Certificate => "a certificate",
        SectionKind::PublicKey => "a public key",
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey => {
            "a private key"
        }
        SectionKind::Crl => "a CRL",
        SectionKind::Csr => "a certificate request",
        _ => "an unexpected PEM block",
    }
}

impl<'a, 't> OrgCheck<'a, 't> {
    /// A file that must hold exactly `want`, in order: a chain file, trust bundle or root copy.
    /// Its fix rebuilds it from `parts`, the files it is made of.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cert_list(
        &self,
        e: &mut Entry,
        path: &Path,
        want: &[CertificateDer<'_>],
        parts: &[&Path],
        ca: &CaChain,
        leaf: Option<&CertificateDer<'_>>,
        order: &str,
    ) {
        let rebuild = format!(
            "{}rebuild it with `cat {} > {}`",
            if ca.root_restored {
                "once the root cert is put back (see its line), "
            } else if !ca.sound {
                "once the CA's own files are right again (see their lines), "
            } else {
                ""
            },
            parts.iter().map(|p| shell(p)).collect::<Vec<_>>().join(" "),
            shell(path)
        );
        if !self.exists(path) {
            return e.problem(Code::Missing, "is missing", &rebuild);
        }
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => return e.fault(m, &rebuild),
        };
        if let Some((k, _)) = sections
            .iter()
            .find(|(k, _)| *k != SectionKind::Certificate)
        {
            return e.problem(
                Code::WrongBlock,
                format!("holds {} where only certificates belong", section_word(*k)),
                &rebuild,
            );
        }
        let got: Vec<&[u8]> = sections.iter().map(|(_, d)| d.as_slice()).collect();
        compare_certs(e, &got, want, ca, leaf, order, &rebuild);
    }

    /// `H-chain.D.cert.pem`: the leaf, then the issuing CA up to the root (`with_root`), or
    /// up to the CA below the root (a client's `C-chain.D.cert.pem`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn chain_file(
        &self,
        e: &mut Entry,
        path: &Path,
        f: &LeafFiles,
        cert: &LeafCert,
        ca: Option<&CaChain>,
        with_root: bool,
        fix: &str,
    ) {
        match (ca.filter(|c| c.complete), &cert.der) {
            (Some(ca), Some(der)) => {
                let n = ca.upward().len() - usize::from(!with_root);
                let mut want = vec![der.clone()];
                want.extend(ca.upward().into_iter().take(n));
                let mut parts = vec![f.cert.as_path()];
                parts.extend(ca.upward_paths().into_iter().take(n));
                let mut order = std::iter::once("leaf")
                    .chain(ca.upward_words().take(n))
                    .collect::<Vec<_>>()
                    .join(", ");
                if !with_root {
                    order += ", no root";
                }
                self.cert_list(e, path, &want, &parts, ca, Some(der), &order);
            }
            _ if !self.exists(path) => e.problem(Code::Missing, "is missing", fix),
            (_, None) => e.problem(
                Code::LeafBroken,
                format!(
                    "cannot be checked, since its leaf {} has a problem",
                    file_name(&f.cert)
                ),
                "it is written again when the leaf is re-issued",
            ),
            (None, _) => e.problem(Code::CaBroken, self.ca_broken(), ""),
        }
    }

    /// `private/H.D.haproxy.pem`, what HAProxy's `crt` loads: the chain file's certs (leaf, then
    /// the issuing CA up to the root), then the leaf's key; a secret, so 0600.
    pub(super) fn haproxy_pem(
        &self,
        e: &mut Entry,
        path: &Path,
        cert: &LeafCert,
        pem_key: Option<&(Vec<u8>, KeyPair)>,
        ca: Option<&CaChain>,
        restore: &str,
    ) {
        if !self.exists(path) {
            return e.problem(Code::Missing, "is missing", restore);
        }
        secret_mode(e, path);
        // issue rewrites a derived file that says something other than its cert and key.
        let rewrite = restore.to_string();
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => return e.fault(m, &rewrite),
        };
        let n = sections
            .iter()
            .take_while(|(k, _)| *k == SectionKind::Certificate)
            .count();
        let key = match &sections[n..] {
            [(SectionKind::PrivateKey, d)] => d,
            [] => {
                return e.problem(
                    Code::WrongBlock,
                    "holds no private key after its certificates",
                    &rewrite,
                )
            }
            [(k, _), ..] => {
                return e.problem(
                    Code::WrongBlock,
                    format!(
                        "must be certificates then one private key, but holds {} after them",
                        section_word(*k)
                    ),
                    &rewrite,
                )
            }
        };
        if let (Some(ca), Some(der)) = (ca.filter(|c| c.complete), &cert.der) {
            let mut want = vec![der.clone()];
            want.extend(ca.upward());
            let order = std::iter::once("leaf")
                .chain(ca.upward_words())
                .collect::<Vec<_>>()
                .join(", ");
            let got: Vec<&[u8]> = sections[..n].iter().map(|(_, d)| d.as_slice()).collect();
            compare_certs(
                e,
                &got,
                &want,
                ca,
                Some(der),
                &format!("{order}, then the key"),
                &rewrite,
            );
        }
        // The key of the key file, byte for byte, was loaded (and matched) already.
        if pem_key.is_some_and(|(pkcs8, _)| pkcs8 == key) {
            return;
        }
        match KeyPair::try_from(&PrivateKeyDer::Pkcs8(key.clone().into())) {
            Err(_) => e.problem(
                Code::BadKey,
                "holds a private key hapki cannot read (corrupt, or of an unsupported type)",
                &rewrite,
            ),
            Ok(k) => {
                if cert
                    .der
                    .as_ref()
                    .is_some_and(|c| check::key_matches(c, &k).is_err())
                {
                    e.problem(
                        Code::KeyMismatch,
                        "holds another key than the leaf's",
                        &rewrite,
                    );
                }
            }
        }
    }

    /// A client's `.cert.der` and PKCS#8 `.key.der`, the pair Java-based Canton clients load.
    pub(super) fn der_forms(
        &self,
        f: &LeafFiles,
        cert: &LeafCert,
        pem_key: Option<&(Vec<u8>, KeyPair)>,
        kind: Kind,
        fix: &str,
        restore: &str,
    ) -> Vec<Entry> {
        let (Some(cert_der), Some(key_der)) = (&f.cert_der, &f.key_der) else {
            return Vec::new();
        };
        let mut ce = Entry::new(cert_der, format!("{} cert (DER)", kind.name()));
        let mut der_cert = None;
        if !self.exists(cert_der) {
            ce.problem(Code::Missing, "is missing", restore);
        } else {
            match crate::store::read_io(cert_der, crate::store::CAP) {
                Err(err) => ce.fault(unreadable(&err), READ_FIX),
                Ok(b) => {
                    let d = CertificateDer::from(b);
                    if check::parse(&d).is_err() {
                        ce.problem(
                            Code::Malformed,
                            "is not a DER certificate (truncated, or of another kind)",
                            fix,
                        );
                    } else {
                        if cert.der.as_ref().is_some_and(|c| *c != d) {
                            ce.problem(
                                Code::NotInStep,
                                format!("is not the same certificate as {}", file_name(&f.cert)),
                                fix,
                            );
                        }
                        der_cert = Some(d);
                    }
                }
            }
        }

        let mut ke = Entry::new(key_der, format!("{} key (PKCS#8 DER)", kind.name()));
        if !self.exists(key_der) {
            ke.problem(Code::Missing, "is missing", restore);
            return vec![ce, ke];
        }
        secret_mode(&mut ke, key_der);
        // Matched against the DER cert when it is readable, else against the PEM one.
        let (against, name) = match der_cert {
            Some(d) => (Some(d), file_name(cert_der)),
            None => (cert.der.clone(), file_name(&f.cert)),
        };
        let bytes = match crate::store::read_io(key_der, crate::store::CAP) {
            Err(err) => {
                ke.fault(unreadable(&err), READ_FIX);
                return vec![ce, ke];
            }
            Ok(b) => b,
        };
        // The same PKCS#8 bytes as the PEM key: that key is already loaded (and validated).
        let own;
        let loaded = match pem_key {
            Some((pkcs8, k)) if *pkcs8 == bytes => Ok(k),
            _ => {
                own = KeyPair::try_from(&PrivateKeyDer::Pkcs8(bytes.into()));
                own.as_ref()
            }
        };
        match loaded {
            Err(_) => ke.problem(
                Code::BadKey,
                "is not a PKCS#8 DER private key hapki can read (truncated, or of another kind)",
                fix,
            ),
            Ok(k) => {
                if against
                    .as_ref()
                    .is_some_and(|d| check::key_matches(d, k).is_err())
                {
                    ke.problem(Code::KeyMismatch, another_key(&name), fix);
                }
            }
        }
        vec![ce, ke]
    }

    /// The JWT signing key's `pub.pem`: the public key of the signing cert.
    pub(super) fn public_key(
        &self,
        e: &mut Entry,
        path: &Path,
        f: &LeafFiles,
        cert: Option<&X509Certificate<'_>>,
        fix: &str,
        restore: &str,
    ) {
        if !self.exists(path) {
            return e.problem(Code::Missing, "is missing", restore);
        }
        match read_sections(path) {
            Err(m) => e.fault(m, fix),
            Ok(s) => match s.first() {
                Some((SectionKind::PublicKey, spki)) => {
                    if cert.is_some_and(|c| c.public_key().raw != spki.as_slice()) {
                        e.problem(
                            Code::NotInStep,
                            format!("is not the public key of {}", file_name(&f.cert)),
                            fix,
                        );
                    }
                }
                Some((k, _)) => e.problem(
                    Code::WrongBlock,
                    format!("holds {} where a public key is expected", section_word(*k)),
                    fix,
                ),
                None => e.problem(Code::NotPem, "holds no PEM block", fix),
            },
        }
    }

    /// A private key file: readable by its owner only, a private key, and the key of `cert`.
    /// Returns its PKCS#8 DER and the loaded key, so an identical `.key.der` is not loaded again.
    pub(super) fn private_key(
        &self,
        e: &mut Entry,
        path: &Path,
        cert: Option<&CertificateDer<'_>>,
        cert_name: &str,
        fix: &str,
    ) -> Option<(Vec<u8>, KeyPair)> {
        let (der, pkcs8) = self.key_der(e, path, fix)?;
        match KeyPair::try_from(&der) {
            Err(_) => {
                e.problem(
                    Code::BadKey,
                    "holds a private key hapki cannot read (corrupt, or of an unsupported type)",
                    fix,
                );
                None
            }
            Ok(k) => {
                if cert.is_some_and(|c| check::key_matches(c, &k).is_err()) {
                    e.problem(Code::KeyMismatch, another_key(cert_name), fix);
                }
                Some((pkcs8, k))
            }
        }
    }

    /// Reads a PEM private key file: its mode, and its one private key block.
    pub(super) fn key_der(
        &self,
        e: &mut Entry,
        path: &Path,
        fix: &str,
    ) -> Option<(PrivateKeyDer<'static>, Vec<u8>)> {
        secret_mode(e, path);
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => {
                e.fault(m, fix);
                return None;
            }
        };
        let (kind, d) = sections.into_iter().next()?;
        let der = match kind {
            SectionKind::PrivateKey => PrivateKeyDer::Pkcs8(d.clone().into()),
            SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(d.clone().into()),
            SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(d.clone().into()),
            k => {
                e.problem(
                    Code::WrongBlock,
                    format!("holds {} where a private key is expected", section_word(k)),
                    fix,
                );
                return None;
            }
        };
        Some((der, d))
    }

    /// A CSR. Nothing reads it at run time, so only a broken file is a problem; a missing or
    /// stale one is a warning.
    pub(super) fn csr(
        &self,
        e: &mut Entry,
        path: &Path,
        cert: Option<&CertificateDer<'_>>,
        fix: &str,
    ) {
        if !self.exists(path) {
            return e.warn(Code::Missing,
                "is missing; nothing needs it at run time, and hapki writes it whenever it issues the cert",
                "",
            );
        }
        let remove = format!("delete it, or {fix}");
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => return e.fault(m, &remove),
        };
        let Some((SectionKind::Csr, der)) = sections.first() else {
            let what = sections
                .first()
                .map_or("nothing", |(k, _)| section_word(*k));
            return e.problem(
                Code::WrongBlock,
                format!("holds {what} where a certificate request is expected"),
                &remove,
            );
        };
        use x509_parser::certification_request::X509CertificationRequest;
        match X509CertificationRequest::from_der(der) {
            Err(_) => e.problem(
                Code::Malformed,
                "is not a valid certificate request",
                &remove,
            ),
            Ok((_, req)) => {
                let spki = req.certification_request_info.subject_pki.raw;
                let stale = cert
                    .and_then(|c| check::parse(c).ok())
                    .is_some_and(|c| c.public_key().raw != spki);
                if stale {
                    e.warn(
                        Code::StaleCsr,
                        "asks for another key than its certificate's (left from an earlier issue?)",
                        fix,
                    );
                }
            }
        }
    }

    /// A warning when `c` expires within `--within` of `--at`.
    pub(super) fn expiry(&self, e: &mut Entry, c: &X509Certificate<'_>, fix: &str) {
        let end = c.validity().not_after.to_datetime();
        let left = end - self.o.now;
        if left >= Duration::ZERO && left <= self.o.within {
            e.warn(
                Code::Expiring,
                format!(
                    "expires at {} (in {} days)",
                    fmt_time(end),
                    left.whole_days()
                ),
                &format!("before then, {fix}"),
            );
        }
    }

    /// Folders that hold keys must be 0700.
    pub(super) fn check_dirs(&mut self) {
        for d in &self.dirs {
            if is_private_dir(d) {
                let mut e = Entry::new(d, "private folder");
                if let Some(m) = mode(d).filter(|m| m & 0o077 != 0) {
                    e.problem(
                        Code::WrongMode,
                        format!(
                            "is open to group or others (mode {:04o}), and it holds private keys",
                            m & 0o7777
                        ),
                        &format!("restrict it with `chmod 700 {}`", shell(d)),
                    );
                }
                self.entries.push(e);
            }
        }
    }

    /// Files no check looked at: not part of the layout, so not vouched for.
    pub(super) fn unknown_files(&mut self) {
        for f in self.files.difference(&self.claimed) {
            let name = file_name(f);
            let mut e = Entry::new(f, "unknown file");
            if name.starts_with('.') && name.contains(".hapki-") && name.ends_with(".tmp") {
                e.warn(
                    Code::TempFile,
                    "is a temporary file left by an interrupted hapki run",
                    &format!("delete it with `rm {}`", shell(f)),
                );
            } else {
                e.warn(
                    Code::UnknownFile,
                    "is not a file of hapki's layout, so it was not checked",
                    "",
                );
            }
            self.entries.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CaLevel;
    use rcgen::{CertificateParams, KeyPair};

    fn cert() -> (CertificateDer<'static>, String, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().clone(), cert.pem(), key)
    }

    fn codes(e: &Entry) -> Vec<Code> {
        e.problems.iter().map(|f| f.code).collect()
    }

    #[test]
    fn pem_readers_say_why_a_file_is_not_what_it_should_be() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.pem");
        let gone = read_sections(&dir.path().join("gone.pem")).unwrap_err();
        assert_eq!(gone.code, Code::Unreadable);
        assert_eq!(gone.what, "cannot be read (no such file or directory)");

        fs::write(&p, "").unwrap();
        assert_eq!(read_sections(&p), Err(Fault::new(Code::NotPem, "is empty")));
        let (der, pem, key) = cert();
        fs::write(&p, &pem[..pem.len() - 20]).unwrap();
        assert_eq!(read_sections(&p).unwrap_err().code, Code::NotPem);

        fs::write(&p, &pem).unwrap();
        assert_eq!(read_cert(&p), Ok(der));
        fs::write(&p, key.serialize_pem()).unwrap();
        let f = read_cert(&p).unwrap_err();
        assert_eq!(f.code, Code::WrongBlock);
        assert!(f.what.contains("treat that key as exposed"), "{}", f.what);
        // A CERTIFICATE block whose DER is not a certificate.
        fs::write(
            &p,
            "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert_eq!(read_cert(&p).unwrap_err().code, Code::Malformed);
    }

    #[test]
    fn a_key_open_to_others_is_wrong_mode_with_its_chmod() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        fs::write(&p, "x").unwrap();
        let mut e = Entry::new(&p, "key");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        secret_mode(&mut e, &p);
        assert!(e.problems.is_empty());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        secret_mode(&mut e, &p);
        assert_eq!(codes(&e), vec![Code::WrongMode]);
        assert!(e.problems[0].what.contains("(mode 0644)"));
        assert_eq!(
            e.problems[0].fix,
            format!("restrict it with `chmod 600 {}`", shell(&p))
        );
    }

    #[test]
    fn cert_lists_out_of_order_say_what_they_hold() {
        let (root, _, _) = cert();
        let (leaf, _, _) = cert();
        let ca = CaChain {
            levels: vec![(
                CaLevel::Root,
                std::path::PathBuf::from("ca.cert.pem"),
                root.clone(),
            )],
            complete: true,
            sound: true,
            root_restored: false,
        };
        let want = [leaf.clone(), root.clone()];
        let mut e = Entry::new(Path::new("chain.pem"), "chain");
        let right: Vec<&[u8]> = vec![leaf.as_ref(), root.as_ref()];
        compare_certs(&mut e, &right, &want, &ca, Some(&leaf), "leaf, root", "fix");
        assert!(e.problems.is_empty());
        let wrong: Vec<&[u8]> = vec![root.as_ref(), leaf.as_ref()];
        compare_certs(&mut e, &wrong, &want, &ca, Some(&leaf), "leaf, root", "fix");
        assert_eq!(codes(&e), vec![Code::ChainOrder]);
        assert_eq!(
            e.problems[0].what,
            "must be leaf, root, in that order, but holds root, leaf"
        );
    }
}
