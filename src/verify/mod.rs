//! The engine of `hapki verify`: finds every file of a hapki tree by where it sits in the layout
//! (SPEC.md "Files on disk") and by what the profile says should be there, checks each the way a
//! TLS stack and a JWT verifier would, and returns one `Entry` per file saying what is wrong and
//! how to fix it. Each file is read and parsed once, each org's CA certs once, and the orgs, the
//! leaves and the tokens are checked in parallel. Rendering the entries is `cmd::verify`'s job.

use crate::error::{Error, Result};
use crate::keys;
use crate::model::{fmt_time, San};
use crate::model::{CaLevel, Kind};
use crate::pki::check;
use crate::profile::{LeafSpec, OrgSpec, Topology};
use crate::store::layout::is_private_dir;
use crate::store::{root_cert_in, LeafFiles, OrgLayout, JWT_SIGNING_NAME, ORG_FOLDERS};
use crate::token as jwt;
use crate::token::stage::jwks_for_chain;
use jsonwebtoken::jwk::JwkSet;
use rayon::prelude::*;
use rcgen::KeyPair;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// What a run checks against.
pub struct Options<'a> {
    /// The folder `hapki init` wrote (or one org folder of it).
    pub dir: &'a Path,
    pub topo: &'a Topology,
    /// `--profile` as the user gave it, repeated in the fix commands; `None` for the built-in.
    pub profile: Option<&'a Path>,
    pub now: OffsetDateTime,
    /// Certificates that expire within this span of `now` get a warning.
    pub within: Duration,
}

/// The verdict on one file (or private folder).
#[derive(Clone, Debug)]
pub struct Entry {
    pub file: PathBuf,
    pub kind: String,
    pub problems: Vec<Note>,
    pub warnings: Vec<Note>,
}

/// One thing found about a file: what is wrong, and how to fix it in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub what: String,
    /// Empty when there is nothing to do about this file itself (e.g. its CA is what is broken).
    pub fix: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fix.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}; {}", self.what, self.fix)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Problem,
    Warning,
}

impl Entry {
    fn new(file: &Path, kind: impl Into<String>) -> Entry {
        Entry {
            file: file.to_path_buf(),
            kind: kind.into(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn status(&self) -> Status {
        if !self.problems.is_empty() {
            Status::Problem
        } else if !self.warnings.is_empty() {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    fn problem(&mut self, what: impl Into<String>, fix: &str) {
        self.problems.push(Note {
            what: what.into(),
            fix: fix.to_string(),
        });
    }

    fn warn(&mut self, what: impl Into<String>, fix: &str) {
        self.warnings.push(Note {
            what: what.into(),
            fix: fix.to_string(),
        });
    }
}

/// Checks the tree under `o.dir`. `Err` only when it cannot run at all (the folder is missing,
/// unreadable or holds no hapki tree); everything found in the tree is an `Entry`, sorted by path.
pub fn verify_tree(o: &Options<'_>) -> Result<Vec<Entry>> {
    let meta = fs::metadata(o.dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(format!(
            "the folder {} does not exist; give the folder `hapki init` wrote (./certs by default)",
            o.dir.display()
        )),
        _ => Error::io("read", o.dir, e),
    })?;
    if !meta.is_dir() {
        return Err(Error::input(format!(
            "{} is not a folder; give the folder `hapki init` wrote (./certs by default)",
            o.dir.display()
        )));
    }
    let (sites, mut entries, fix) = discover(o)?;
    let per_org: Vec<Vec<Entry>> = sites
        .par_iter()
        .map(|s| OrgCheck::new(s, o, &fix).run())
        .collect();
    entries.extend(per_org.into_iter().flatten());
    entries.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(entries)
}

/// One org folder of the tree, and its org in the profile if there is one.
struct Site<'t> {
    name: String,
    dir: PathBuf,
    spec: Option<&'t OrgSpec>,
}

/// Finds the org folders: DIR itself when it is one, else every folder under DIR that holds
/// `root/certs/ca.cert.pem` (or the remains of an org whose root is gone). Orgs of the profile
/// without a folder are reported missing.
fn discover<'t>(o: &Options<'t>) -> Result<(Vec<Site<'t>>, Vec<Entry>, Fix)> {
    let find_spec = |name: &str| o.topo.orgs.iter().find(|s| s.name.as_str() == name);
    if root_cert_in(o.dir).is_file() {
        let abs = fs::canonicalize(o.dir).map_err(|e| Error::io("read", o.dir, e))?;
        let name = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let out = o.dir.parent().filter(|p| !p.as_os_str().is_empty());
        let fix = Fix::new(out.unwrap_or(Path::new(".")), o.profile);
        let site = Site {
            spec: find_spec(&name),
            name,
            dir: o.dir.to_path_buf(),
        };
        return Ok((vec![site], Vec::new(), fix));
    }
    let fix = Fix::new(o.dir, o.profile);
    let mut names = Vec::new();
    for e in fs::read_dir(o.dir).map_err(|e| Error::io("read", o.dir, e))? {
        let e = e.map_err(|e| Error::io("read", o.dir, e))?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let org_like =
            root_cert_in(&path).is_file() || ORG_FOLDERS.iter().any(|d| path.join(d).is_dir());
        if !name.starts_with('.') && path.is_dir() && org_like {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(Error::input(format!(
            "{} holds no hapki tree (no ORG/root/certs/ca.cert.pem in it); give the folder `hapki init` wrote, or build one with `hapki init --out {}`",
            o.dir.display(),
            shell(o.dir)
        )));
    }
    names.sort();
    let mut missing = Vec::new();
    for spec in &o.topo.orgs {
        if !names.iter().any(|n| n == spec.name.as_str()) {
            let path = root_cert_in(&o.dir.join(spec.name.as_str()));
            let mut e = Entry::new(&path, "root CA cert");
            e.problem(
                format!(
                    "is missing: the profile {} declares org `{}`, which has no folder here",
                    o.topo.source, spec.name
                ),
                &format!(
                    "build it with {}{}",
                    fix.hapki("init"),
                    fix.other_profile_hint()
                ),
            );
            missing.push(e);
        }
    }
    let sites = names
        .into_iter()
        .map(|name| Site {
            dir: o.dir.join(&name),
            spec: find_spec(&name),
            name,
        })
        .collect();
    Ok((sites, missing, fix))
}

/// Writes the fix commands, with the `--profile` and `--out` of this run.
struct Fix {
    tail: String,
    profile_given: bool,
}

impl Fix {
    fn new(out: &Path, profile: Option<&Path>) -> Fix {
        let mut tail = String::new();
        if let Some(p) = profile {
            tail += &format!(" --profile {}", shell(p));
        }
        // `certs` is every command's default --out, so it need not be said.
        if out != Path::new("certs") {
            tail += &format!(" --out {}", shell(out));
        }
        Fix {
            tail,
            profile_given: profile.is_some(),
        }
    }

    /// A hapki command in backquotes.
    fn hapki(&self, args: &str) -> String {
        format!("`hapki {args}{}`", self.tail)
    }

    fn other_profile_hint(&self) -> &'static str {
        if self.profile_given {
            ""
        } else {
            " (or, if the tree was built from another profile, pass that with --profile)"
        }
    }
}

/// A path as one shell word, so a fix can be pasted as it is.
fn shell(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// An org's CA certs as read, root first.
struct CaChain {
    levels: Vec<(CaLevel, PathBuf, CertificateDer<'static>)>,
    /// Every level the layout shows was begun is here and parses, so chain files and bundles
    /// can be compared with it.
    complete: bool,
    /// And every level checks out, so leaves can be checked against it.
    sound: bool,
}

impl CaChain {
    fn root(&self) -> &CertificateDer<'static> {
        &self.levels[0].2
    }

    /// Below the root, issuing CA first: what sits between a leaf and the root.
    fn intermediates(&self) -> Vec<CertificateDer<'static>> {
        self.levels[1..]
            .iter()
            .rev()
            .map(|(_, _, d)| d.clone())
            .collect()
    }

    /// Issuing CA first, root last: the tail of chain files, trust bundles and x5c.
    fn upward(&self) -> Vec<CertificateDer<'static>> {
        self.levels
            .iter()
            .rev()
            .map(|(_, _, d)| d.clone())
            .collect()
    }

    fn upward_paths(&self) -> Vec<&Path> {
        self.levels
            .iter()
            .rev()
            .map(|(_, p, _)| p.as_path())
            .collect()
    }

    fn upward_words(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.levels.iter().rev().map(|(l, _, _)| level_word(*l))
    }

    /// Which of the org's CA certs `der` is.
    fn which(&self, der: &[u8]) -> Option<&'static str> {
        self.levels
            .iter()
            .find(|(_, _, d)| d.as_ref() == der)
            .map(|(l, _, _)| level_word(*l))
    }
}

fn level_word(l: CaLevel) -> &'static str {
    match l {
        CaLevel::Root => "root",
        CaLevel::Policy => "policy CA",
        CaLevel::Intermediate => "intermediate",
    }
}

fn level_kind(l: CaLevel) -> &'static str {
    match l {
        CaLevel::Root => "root CA",
        CaLevel::Policy => "policy CA",
        CaLevel::Intermediate => "intermediate CA",
    }
}

/// One leaf: the files of a declared leaf, or of one found on disk.
struct Unit<'t> {
    name: String,
    /// `None`: a node folder the profile does not declare; its cert's EKU tells server from
    /// proxy-backend.
    kind: Option<Kind>,
    files: LeafFiles,
    spec: Option<&'t LeafSpec>,
}

/// A leaf's cert as read: the DER when it parses, else why not.
struct LeafCert {
    der: Option<CertificateDer<'static>>,
    error: Option<String>,
}

/// What checking a leaf hands on: the signing cert feeds the JWKS check.
struct UnitDone {
    entries: Vec<Entry>,
    signing: Option<CertificateDer<'static>>,
}

struct OrgCheck<'a, 't> {
    site: &'a Site<'t>,
    o: &'a Options<'t>,
    fix: &'a Fix,
    /// Every file under the org folder (one walk, so existence checks cost nothing).
    files: BTreeSet<PathBuf>,
    dirs: Vec<PathBuf>,
    /// Files some check looked at; the rest are reported as unknown.
    claimed: BTreeSet<PathBuf>,
    entries: Vec<Entry>,
}

impl<'a, 't> OrgCheck<'a, 't> {
    fn new(site: &'a Site<'t>, o: &'a Options<'t>, fix: &'a Fix) -> Self {
        let mut files = BTreeSet::new();
        let mut dirs = Vec::new();
        walk(&site.dir, &mut files, &mut dirs);
        OrgCheck {
            site,
            o,
            fix,
            files,
            dirs,
            claimed: BTreeSet::new(),
            entries: Vec::new(),
        }
    }

    fn exists(&self, p: &Path) -> bool {
        self.files.contains(p)
    }

    fn run(mut self) -> Vec<Entry> {
        let (ca, cn_domain) = self.check_ca();
        let root = root_cert_in(&self.site.dir);
        let spec = match (self.site.spec, &cn_domain) {
            (Some(s), Some(d)) if *d != s.dns => {
                if let Some(e) = self.entries.iter_mut().find(|e| e.file == root) {
                    e.problem(
                        format!(
                            "names the DNS domain `{d}`, but the profile {} gives org `{}` the domain `{}`",
                            self.o.topo.source, self.site.name, s.dns
                        ),
                        "pass the profile this tree was built from with --profile",
                    );
                }
                None
            }
            (s, _) => s,
        };
        let Some(dns) = spec.map(|s| s.dns.clone()).or(cn_domain) else {
            if self.exists(&root) {
                let mut e = Entry::new(&root, "root CA cert");
                e.problem(
                    format!(
                        "does not name the DNS domain of org `{}` (its CN is not `{}-root-ca.DOMAIN`), so the org's leaves cannot be found",
                        self.site.name, self.site.name
                    ),
                    &format!(
                        "re-create the CA with {}",
                        self.fix
                            .hapki(&format!("ca init --org {} --force", self.site.name))
                    ),
                );
                self.entries.push(e);
            }
            return self.entries;
        };
        let layout = OrgLayout {
            dir: self.site.dir.clone(),
            dns,
        };
        match ca.as_ref() {
            Some(ca) if ca.complete => {
                // A one-tier CA has no bundle: peers trust the root itself.
                if ca.levels.len() > 1 {
                    self.check_bundles(&layout, ca)
                }
            }
            _ => self.unchecked(
                &[layout.trust_bundle(), layout.root_copy()],
                &["trust bundle", "root CA copy"],
            ),
        }

        self.check_responders(&layout, ca.as_ref());
        let units = self.units(&layout, spec);
        for u in &units {
            self.claimed.extend(u.files.all().cloned());
        }
        let done: Vec<UnitDone> = units
            .par_iter()
            .map(|u| self.check_unit(u, ca.as_ref(), &layout.dns))
            .collect();
        let mut signing = None;
        for d in done {
            self.entries.extend(d.entries);
            signing = signing.or(d.signing);
        }
        self.check_jwt(&layout, spec, ca.as_ref(), signing.as_ref());
        self.check_dirs();
        self.unknown_files();
        self.entries
    }

    /// The delegated OCSP responders `init` makes for `hapki serve`: each cert readable, issued
    /// by its CA and not expired, its key private and matching; `init` replaces one that is not.
    fn check_responders(&mut self, layout: &OrgLayout, ca: Option<&CaChain>) {
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
                Err(m) => e.problem(m, &fix),
                Ok(der) => {
                    if let Ok(c) = check::parse(&der) {
                        let issuer = ca
                            .and_then(|ca| ca.levels.iter().find(|(l, _, _)| *l == level))
                            .and_then(|(_, _, d)| check::parse(d).ok());
                        if issuer.is_some_and(|i| i.subject().as_raw() != c.issuer().as_raw()) {
                            e.problem(
                                format!("was not issued by the {} CA", level_word(level)),
                                &fix,
                            );
                        }
                        if c.validity().not_after.to_datetime() < self.o.now {
                            e.problem("has expired", &fix);
                        }
                    }
                    self.private_key(&mut k, &f.key, Some(&der), "the OCSP responder cert", &fix);
                }
            }
            self.entries.push(e);
            self.entries.push(k);
        }
    }

    /// Files of the layout that cannot be checked because the org's CA is broken or missing.
    fn unchecked(&mut self, paths: &[PathBuf], kinds: &[&str]) {
        for (p, k) in paths.iter().zip(kinds) {
            self.claimed.insert(p.clone());
            if self.exists(p) {
                let mut e = Entry::new(p, *k);
                e.problem(self.ca_broken(), "");
                self.entries.push(e);
            }
        }
    }

    fn ca_broken(&self) -> String {
        format!(
            "cannot be checked, since the CA of org `{}` has a problem (see its CA files)",
            self.site.name
        )
    }

    fn recreate_ca(&self) -> String {
        format!(
            "re-create the CA with {} and then re-issue its leaves with {}",
            self.fix
                .hapki(&format!("ca init --org {} --force", self.site.name)),
            self.fix.hapki("init")
        )
    }

    /// Checks every CA level present (or begun: its folder exists), and reads the org's DNS
    /// domain from the CN of the root (`NS-root-ca.D`) or of a CA below it.
    fn check_ca(&mut self) -> (Option<CaChain>, Option<String>) {
        let layout = OrgLayout {
            dir: self.site.dir.clone(),
            dns: String::new(),
        };
        let recreate = self.recreate_ca();
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
                        e.problem(m, &format!("restore it, or {recreate}"));
                        None
                    }
                }
            };
            let Some(der) = der else {
                self.entries.push(e);
                (sound, complete) = (false, false);
                continue;
            };
            let parent = levels.last().map(|(_, _, d)| d);
            if !complete {
                e.problem(
                    "cannot be checked, since a CA above it is missing or broken (see its line)",
                    "",
                );
            } else if let Err(m) = check::ca_cert(&der, parent, None, self.o.now) {
                e.problem(m, &recreate);
                sound = false;
            }
            if let Ok(c) = check::parse(&der) {
                let cn = c
                    .subject()
                    .iter_common_name()
                    .next()
                    .and_then(|a| a.as_str().ok())
                    .unwrap_or("");
                let prefix = match level {
                    CaLevel::Root => format!("{}-root-ca.", self.site.name),
                    CaLevel::Policy => "policy-ca.".into(),
                    CaLevel::Intermediate => "intermediate-ca.".into(),
                };
                domain = domain.or(cn.strip_prefix(&prefix).map(str::to_string));
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
                if !self.exists(&path) {
                    e.warn(
                        format!(
                            "is not here: fine if it is kept offline, but hapki cannot issue under this CA without it (and {} would replace the CA)",
                            self.fix.hapki("init")
                        ),
                        "put it back before issuing",
                    );
                } else {
                    let fix = format!("restore the CA's own key, or {recreate}");
                    self.ca_key(&mut e, &path, der, &file_name(cert), &fix);
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
        });
        (chain, domain)
    }

    /// The trust bundle (issuing CA up to the root) and the copy of the root beside it.
    fn check_bundles(&mut self, layout: &OrgLayout, ca: &CaChain) {
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

    /// A file that must hold exactly `want`, in order: a chain file, trust bundle or root copy.
    /// Its fix rebuilds it from `parts`, the files it is made of.
    #[allow(clippy::too_many_arguments)]
    fn cert_list(
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
            "rebuild it with `cat {} > {}`",
            parts.iter().map(|p| shell(p)).collect::<Vec<_>>().join(" "),
            shell(path)
        );
        if !self.exists(path) {
            return e.problem("is missing", &rebuild);
        }
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => return e.problem(m, &rebuild),
        };
        if let Some((k, _)) = sections
            .iter()
            .find(|(k, _)| *k != SectionKind::Certificate)
        {
            return e.problem(
                format!("holds {} where only certificates belong", section_word(*k)),
                &rebuild,
            );
        }
        let got: Vec<&[u8]> = sections.iter().map(|(_, d)| d.as_slice()).collect();
        compare_certs(e, &got, want, ca, leaf, order, &rebuild);
    }

    /// The leaves: every one the profile declares (present or not) and every one on disk.
    fn units(&self, layout: &OrgLayout, spec: Option<&'t OrgSpec>) -> Vec<Unit<'t>> {
        let mut units: Vec<Unit<'t>> = Vec::new();
        for l in spec.map(|s| s.leaves.as_slice()).unwrap_or_default() {
            units.push(Unit {
                name: l.name.to_string(),
                kind: Some(l.kind),
                files: layout.leaf(l.kind, l.name.as_str()),
                spec: Some(l),
            });
        }
        if spec.is_some_and(|s| s.jwt.is_some()) || self.site.dir.join("signing").is_dir() {
            units.push(Unit {
                name: JWT_SIGNING_NAME.into(),
                kind: Some(Kind::JwtSigning),
                files: layout.jwt_signing(),
                spec: None,
            });
        }
        let known = |units: &[Unit<'_>], name: &str, kinds: &[Kind]| {
            units
                .iter()
                .any(|u| u.name == name && u.kind.is_some_and(|k| kinds.contains(&k)))
        };
        // Node folders: every folder of the org that is not a fixed part of the layout.
        let mut nodes: Vec<String> = self
            .dirs
            .iter()
            .filter(|d| d.parent() == Some(self.site.dir.as_path()))
            .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.starts_with('.') && !ORG_FOLDERS.contains(&n.as_str()))
            .collect();
        nodes.sort();
        for name in nodes {
            if !known(&units, &name, &[Kind::Server, Kind::ProxyBackend]) {
                units.push(Unit {
                    files: layout.leaf(Kind::Server, &name),
                    name,
                    kind: None,
                    spec: None,
                });
            }
        }
        // Client files are `C.D.<ext>`; a name is a DNS label, without dots, so C is what
        // precedes the first dot.
        let client_dir = self.site.dir.join("client");
        let mut clients = BTreeSet::new();
        for f in self
            .files
            .iter()
            .filter(|f| f.parent() == Some(client_dir.as_path()))
        {
            let n = file_name(f);
            if let Some((c, rest)) = n.split_once('.') {
                let ours = ["cert.pem", "key.pem", "csr.pem", "cert.der", "key.der"]
                    .iter()
                    .any(|ext| rest == format!("{}.{ext}", layout.dns));
                if ours && !known(&units, c, &[Kind::Client]) {
                    clients.insert(c.to_string());
                }
            }
        }
        for c in clients {
            units.push(Unit {
                files: layout.leaf(Kind::Client, &c),
                name: c,
                kind: Some(Kind::Client),
                spec: None,
            });
        }
        units
    }

    /// The command that (re-)issues a leaf.
    fn issue(&self, name: &str, kind: Kind, force: bool) -> String {
        let org = &self.site.name;
        match kind {
            Kind::JwtSigning => format!(
                "re-create it with {} and then re-mint the tokens with {}",
                self.fix.hapki(&format!("jwt keygen --org {org} --force")),
                self.fix.hapki(&format!("jwt mint --org {org}"))
            ),
            _ => format!(
                "{} it with {}",
                if force { "re-issue" } else { "issue" },
                self.fix.hapki(&format!(
                    "issue {name} --org {org} --kind {}{}",
                    kind.name(),
                    if force { " --force" } else { "" }
                ))
            ),
        }
    }

    /// The command that writes a leaf's missing files from its cert and key (or re-issues the
    /// leaf when those are no good).
    fn restore(&self, name: &str, kind: Kind) -> String {
        format!(
            "restore it from the cert and key with {}",
            self.fix.hapki(&format!(
                "issue {name} --org {} --kind {}",
                self.site.name,
                kind.name()
            ))
        )
    }

    fn check_unit(&self, u: &Unit<'_>, ca: Option<&CaChain>, dns: &str) -> UnitDone {
        let f = &u.files;
        let cert = match self.exists(&f.cert).then(|| read_cert(&f.cert)) {
            Some(Ok(d)) => LeafCert {
                der: Some(d),
                error: None,
            },
            Some(Err(m)) => LeafCert {
                der: None,
                error: Some(m),
            },
            None => LeafCert {
                der: None,
                error: None,
            },
        };
        let parsed = cert.der.as_ref().and_then(|d| check::parse(d).ok());
        let kind = u.kind.unwrap_or_else(|| kind_by_eku(parsed.as_ref()));
        let fix = self.issue(&u.name, kind, true);
        let restore = self.restore(&u.name, kind);
        let mut out = Vec::new();

        if !f.all().any(|p| self.exists(p)) {
            let mut e = Entry::new(&f.cert, format!("{} cert", kind.name()));
            let declared = match u.spec {
                Some(_) => format!(" (the profile {} declares this leaf)", self.o.topo.source),
                None => String::new(),
            };
            e.problem(
                format!("is missing, with its key{declared}"),
                &self.issue(&u.name, kind, false),
            );
            out.push(e);
            return UnitDone {
                entries: out,
                signing: None,
            };
        }

        let mut e = Entry::new(&f.cert, format!("{} cert", kind.name()));
        if let Some(m) = &cert.error {
            e.problem(m.clone(), &fix);
        } else if cert.der.is_none() {
            e.problem("is missing", &fix);
        }
        if let (Some(der), Some(c)) = (&cert.der, &parsed) {
            match ca {
                Some(ca) if ca.sound => {
                    if let Err(m) =
                        check::chain(der, kind, &ca.intermediates(), ca.root(), self.o.now)
                    {
                        e.problem(m, &fix);
                    }
                }
                _ => e.problem(self.ca_broken(), ""),
            }
            if kind == Kind::Server {
                let (sans, whose) = match u.spec {
                    Some(s) => (
                        s.sans.clone(),
                        format!(", which the profile {} declares", self.o.topo.source),
                    ),
                    None => (vec![San::Dns(format!("{}.{dns}", u.name))], String::new()),
                };
                if let Err(m) = check::names(der, &sans) {
                    e.problem(format!("{m}{whose}"), &fix);
                }
            }
            self.expiry(&mut e, c, &fix);
        }
        out.push(e);

        let mut e = Entry::new(&f.key, format!("{} key", kind.name()));
        let mut pem_key = None;
        if !self.exists(&f.key) {
            e.problem("is missing, so its cert cannot be used", &fix);
        } else {
            pem_key =
                self.private_key(&mut e, &f.key, cert.der.as_ref(), &file_name(&f.cert), &fix);
        }
        out.push(e);

        if let Some(p) = &f.chain {
            let mut e = Entry::new(p, format!("{} chain", kind.name()));
            self.chain_file(&mut e, p, f, &cert, ca, &restore);
            out.push(e);
        }
        if let Some(p) = &f.haproxy_pem {
            let mut e = Entry::new(p, format!("{} HAProxy PEM", kind.name()));
            self.haproxy_pem(&mut e, p, &cert, pem_key.as_ref(), ca, &restore);
            out.push(e);
        }
        if let Some(p) = &f.csr {
            let mut e = Entry::new(p, format!("{} CSR", kind.name()));
            self.csr(&mut e, p, cert.der.as_ref(), &fix);
            out.push(e);
        }
        out.extend(self.der_forms(f, &cert, pem_key.as_ref(), kind, &fix, &restore));
        if let Some(p) = &f.public_key {
            let mut e = Entry::new(p, format!("{} public key", kind.name()));
            self.public_key(&mut e, p, f, parsed.as_ref(), &fix, &restore);
            out.push(e);
        }
        UnitDone {
            entries: out,
            signing: cert.der.filter(|_| kind == Kind::JwtSigning),
        }
    }

    /// `H-chain.D.cert.pem`: the leaf, then the issuing CA up to the root.
    fn chain_file(
        &self,
        e: &mut Entry,
        path: &Path,
        f: &LeafFiles,
        cert: &LeafCert,
        ca: Option<&CaChain>,
        fix: &str,
    ) {
        match (ca.filter(|c| c.complete), &cert.der) {
            (Some(ca), Some(der)) => {
                let mut want = vec![der.clone()];
                want.extend(ca.upward());
                let mut parts = vec![f.cert.as_path()];
                parts.extend(ca.upward_paths());
                let order = std::iter::once("leaf")
                    .chain(ca.upward_words())
                    .collect::<Vec<_>>()
                    .join(", ");
                self.cert_list(e, path, &want, &parts, ca, Some(der), &order);
            }
            _ if !self.exists(path) => e.problem("is missing", fix),
            (_, None) => e.problem(
                format!(
                    "cannot be checked, since its leaf {} has a problem",
                    file_name(&f.cert)
                ),
                "it is written again when the leaf is re-issued",
            ),
            (None, _) => e.problem(self.ca_broken(), ""),
        }
    }

    /// `private/H.D.haproxy.pem`, what HAProxy's `crt` loads: the chain file's certs (leaf, then
    /// the issuing CA up to the root), then the leaf's key; a secret, so 0600.
    fn haproxy_pem(
        &self,
        e: &mut Entry,
        path: &Path,
        cert: &LeafCert,
        pem_key: Option<&(Vec<u8>, KeyPair)>,
        ca: Option<&CaChain>,
        restore: &str,
    ) {
        if !self.exists(path) {
            return e.problem("is missing", restore);
        }
        secret_mode(e, path);
        // issue rewrites a derived file that says something other than its cert and key.
        let rewrite = restore.to_string();
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => return e.problem(m, &rewrite),
        };
        let n = sections
            .iter()
            .take_while(|(k, _)| *k == SectionKind::Certificate)
            .count();
        let key = match &sections[n..] {
            [(SectionKind::PrivateKey, d)] => d,
            [] => return e.problem("holds no private key after its certificates", &rewrite),
            [(k, _), ..] => {
                return e.problem(
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
                "holds a private key hapki cannot read (corrupt, or of an unsupported type)",
                &rewrite,
            ),
            Ok(k) => {
                if cert
                    .der
                    .as_ref()
                    .is_some_and(|c| check::key_matches(c, &k).is_err())
                {
                    e.problem("holds another key than the leaf's", &rewrite);
                }
            }
        }
    }

    /// A client's `.cert.der` and PKCS#8 `.key.der`, the pair Java-based Canton clients load.
    fn der_forms(
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
            ce.problem("is missing", restore);
        } else {
            match fs::read(cert_der) {
                Err(err) => ce.problem(unreadable(&err), READ_FIX),
                Ok(b) => {
                    let d = CertificateDer::from(b);
                    if check::parse(&d).is_err() {
                        ce.problem(
                            "is not a DER certificate (truncated, or of another kind)",
                            fix,
                        );
                    } else {
                        if cert.der.as_ref().is_some_and(|c| *c != d) {
                            ce.problem(
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
            ke.problem("is missing", restore);
            return vec![ce, ke];
        }
        secret_mode(&mut ke, key_der);
        // Matched against the DER cert when it is readable, else against the PEM one.
        let (against, name) = match der_cert {
            Some(d) => (Some(d), file_name(cert_der)),
            None => (cert.der.clone(), file_name(&f.cert)),
        };
        let bytes = match fs::read(key_der) {
            Err(err) => {
                ke.problem(unreadable(&err), READ_FIX);
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
                "is not a PKCS#8 DER private key hapki can read (truncated, or of another kind)",
                fix,
            ),
            Ok(k) => {
                if against
                    .as_ref()
                    .is_some_and(|d| check::key_matches(d, k).is_err())
                {
                    ke.problem(another_key(&name), fix);
                }
            }
        }
        vec![ce, ke]
    }

    /// The JWT signing key's `pub.pem`: the public key of the signing cert.
    fn public_key(
        &self,
        e: &mut Entry,
        path: &Path,
        f: &LeafFiles,
        cert: Option<&X509Certificate<'_>>,
        fix: &str,
        restore: &str,
    ) {
        if !self.exists(path) {
            return e.problem("is missing", restore);
        }
        match read_sections(path) {
            Err(m) => e.problem(m, fix),
            Ok(s) => match s.first() {
                Some((SectionKind::PublicKey, spki)) => {
                    if cert.is_some_and(|c| c.public_key().raw != spki.as_slice()) {
                        e.problem(
                            format!("is not the public key of {}", file_name(&f.cert)),
                            fix,
                        );
                    }
                }
                Some((k, _)) => e.problem(
                    format!("holds {} where a public key is expected", section_word(*k)),
                    fix,
                ),
                None => e.problem("holds no PEM block", fix),
            },
        }
    }

    /// A private key file: readable by its owner only, a private key, and the key of `cert`.
    /// Returns its PKCS#8 DER and the loaded key, so an identical `.key.der` is not loaded again.
    fn private_key(
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
                    "holds a private key hapki cannot read (corrupt, or of an unsupported type)",
                    fix,
                );
                None
            }
            Ok(k) => {
                if cert.is_some_and(|c| check::key_matches(c, &k).is_err()) {
                    e.problem(another_key(cert_name), fix);
                }
                Some((pkcs8, k))
            }
        }
    }

    /// A CA's private key. Nothing loads it at run time (hapki does, fully, whenever it issues),
    /// so an RSA key is matched by its public part without the costly validation of a load.
    fn ca_key(
        &self,
        e: &mut Entry,
        path: &Path,
        cert: &CertificateDer<'_>,
        cert_name: &str,
        fix: &str,
    ) {
        let rsa_cert =
            check::parse(cert)
                .ok()
                .and_then(|c| match c.public_key().parsed().ok()? {
                    x509_parser::public_key::PublicKey::RSA(k) => Some((
                        k.modulus
                            .iter()
                            .copied()
                            .skip_while(|b| *b == 0)
                            .collect::<Vec<u8>>(),
                        k.exponent
                            .iter()
                            .copied()
                            .skip_while(|b| *b == 0)
                            .collect::<Vec<u8>>(),
                    )),
                    _ => None,
                });
        if let Some(public) = rsa_cert {
            let Some((_, pkcs8)) = self.key_der(e, path, fix) else {
                return;
            };
            match keys::rsa_public_parts(&pkcs8) {
                Some(parts) if parts == public => {}
                Some(_) => e.problem(another_key(cert_name), fix),
                None => e.problem(
                    "holds a private key that is not a well-formed RSA PKCS#8 key, while its certificate's is RSA",
                    fix,
                ),
            }
            return;
        }
        self.private_key(e, path, Some(cert), cert_name, fix);
    }

    /// Reads a PEM private key file: its mode, and its one private key block.
    fn key_der(
        &self,
        e: &mut Entry,
        path: &Path,
        fix: &str,
    ) -> Option<(PrivateKeyDer<'static>, Vec<u8>)> {
        secret_mode(e, path);
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => {
                e.problem(m, fix);
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
    fn csr(&self, e: &mut Entry, path: &Path, cert: Option<&CertificateDer<'_>>, fix: &str) {
        if !self.exists(path) {
            return e.warn(
                "is missing; nothing needs it at run time, and hapki writes it whenever it issues the cert",
                "",
            );
        }
        let remove = format!("delete it, or {fix}");
        let sections = match read_sections(path) {
            Ok(s) => s,
            Err(m) => return e.problem(m, &remove),
        };
        let Some((SectionKind::Csr, der)) = sections.first() else {
            let what = sections
                .first()
                .map_or("nothing", |(k, _)| section_word(*k));
            return e.problem(
                format!("holds {what} where a certificate request is expected"),
                &remove,
            );
        };
        use x509_parser::certification_request::X509CertificationRequest;
        match X509CertificationRequest::from_der(der) {
            Err(_) => e.problem("is not a valid certificate request", &remove),
            Ok((_, req)) => {
                let spki = req.certification_request_info.subject_pki.raw;
                let stale = cert
                    .and_then(|c| check::parse(c).ok())
                    .is_some_and(|c| c.public_key().raw != spki);
                if stale {
                    e.warn(
                        "asks for another key than its certificate's (left from an earlier issue?)",
                        fix,
                    );
                }
            }
        }
    }

    /// A warning when `c` expires within `--within` of `--at`.
    fn expiry(&self, e: &mut Entry, c: &X509Certificate<'_>, fix: &str) {
        let end = c.validity().not_after.to_datetime();
        let left = end - self.o.now;
        if left >= Duration::ZERO && left <= self.o.within {
            e.warn(
                format!(
                    "expires at {} (in {} days)",
                    fmt_time(end),
                    left.whole_days()
                ),
                &format!("before then, {fix}"),
            );
        }
    }

    /// The JWKS against the signing cert and the org root, and each token against the JWKS.
    fn check_jwt(
        &mut self,
        layout: &OrgLayout,
        spec: Option<&OrgSpec>,
        ca: Option<&CaChain>,
        signing: Option<&CertificateDer<'static>>,
    ) {
        let declared = spec.and_then(|s| s.jwt.as_ref());
        let jwt_dir = self.site.dir.join("jwt");
        if declared.is_none() && !self.site.dir.join("signing").is_dir() && !jwt_dir.is_dir() {
            return;
        }
        let org = self.site.name.clone();
        let jwks_path = layout.jwks();
        self.claimed.insert(jwks_path.clone());
        let rewrite = if declared.is_some() {
            format!(
                "rewrite it from the signing cert with {}",
                self.fix.hapki("init")
            )
        } else {
            format!(
                "re-create it with {}",
                self.fix.hapki(&format!("jwt keygen --org {org} --force"))
            )
        };
        // The JWKS the signing cert and CA give: what `hapki jwt keygen` and `init` write.
        let expected: Option<(JwkSet, Value)> = match (signing, ca.filter(|c| c.complete)) {
            (Some(s), Some(ca)) => jwks_for_chain(s, &ca.upward()).ok().and_then(|text| {
                Some((
                    jwt::parse_jwks(text.as_bytes()).ok()?,
                    serde_json::from_str(&text).ok()?,
                ))
            }),
            _ => None,
        };
        let mut e = Entry::new(&jwks_path, "JWKS");
        let mut on_disk = None;
        if !self.exists(&jwks_path) {
            e.problem("is missing, so no token can be verified", &rewrite);
        } else {
            match fs::read(&jwks_path) {
                Err(err) => e.problem(unreadable(&err), READ_FIX),
                Ok(bytes) => match (
                    jwt::parse_jwks(&bytes),
                    serde_json::from_slice::<Value>(&bytes),
                ) {
                    (Ok(set), Ok(value)) => {
                        self.jwks(
                            &mut e,
                            layout,
                            &set,
                            &value,
                            expected.as_ref(),
                            ca,
                            &rewrite,
                        );
                        on_disk = Some(set);
                    }
                    (Err(m), _) => e.problem(m, &rewrite),
                    (_, Err(err)) => e.problem(format!("is not JSON ({err})"), &rewrite),
                },
            }
        }
        self.entries.push(e);

        let mut tokens: BTreeSet<PathBuf> = self
            .files
            .iter()
            .filter(|p| {
                p.parent() == Some(jwt_dir.as_path()) && p.extension().is_some_and(|x| x == "token")
            })
            .cloned()
            .collect();
        for u in declared.map(|j| j.users.as_slice()).unwrap_or_default() {
            tokens.insert(layout.token(&u.name));
        }
        // Tokens are checked against the JWKS on disk, or, when that is unreadable, against the
        // signing cert's own key, so a token's own faults still show (the JWKS has its line).
        let set = on_disk.or(expected.map(|(s, _)| s));
        let entries: Vec<Entry> = tokens
            .par_iter()
            .map(|p| self.token(p, &org, set.as_ref()))
            .collect();
        self.claimed.extend(tokens);
        self.entries.extend(entries);
    }

    fn token(&self, path: &Path, org: &str, set: Option<&JwkSet>) -> Entry {
        let user = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mint = self
            .fix
            .hapki(&format!("jwt mint --user {user} --org {org}"));
        let mut e = Entry::new(path, "token");
        if !self.exists(path) {
            e.problem(
                format!(
                    "is missing (the profile {} lists user `{user}`)",
                    self.o.topo.source
                ),
                &format!("mint it with {mint}"),
            );
            return e;
        }
        if let Some(m) = mode(path).filter(|m| m & 0o077 != 0) {
            e.warn(
                format!(
                    "is readable by group or others (mode {:04o}), and a token is a bearer credential",
                    m & 0o7777
                ),
                &format!("restrict it with `chmod 600 {}`", shell(path)),
            );
        }
        let text = match fs::read(path) {
            Err(err) => {
                e.problem(unreadable(&err), READ_FIX);
                return e;
            }
            Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        };
        match set {
            None => e.problem(
                format!(
                    "cannot be checked, since org `{org}` has no readable JWKS or signing cert"
                ),
                "",
            ),
            Some(set) => {
                let now = self.o.now.unix_timestamp();
                if let Err(m) = jwt::verify_token(&text, set, None, now) {
                    e.problem(m, &format!("re-mint it with {mint}"));
                }
            }
        }
        e
    }

    /// Each JWKS key against its own x5c and the org root (`jwt::check_jwk`), and the set
    /// against the JWKS the signing cert gives.
    #[allow(clippy::too_many_arguments)]
    fn jwks(
        &self,
        e: &mut Entry,
        layout: &OrgLayout,
        set: &JwkSet,
        value: &Value,
        expected: Option<&(JwkSet, Value)>,
        ca: Option<&CaChain>,
        rewrite: &str,
    ) {
        if set.keys.is_empty() {
            return e.problem("holds no key", rewrite);
        }
        let root = ca.filter(|c| c.sound).map(|c| c.root());
        let mut broken = BTreeSet::new();
        for jwk in &set.keys {
            if let Err(m) = jwt::check_jwk(jwk, root, self.o.now) {
                e.problem(m, rewrite);
                broken.insert(jwk.common.key_id.clone().unwrap_or_default());
            }
        }
        let Some((_, want)) = expected else {
            return;
        };
        let want_key = &want["keys"][0];
        let want_kid = want_key["kid"].as_str().unwrap_or("");
        let keys = value["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        match keys.iter().find(|k| k["kid"].as_str() == Some(want_kid)) {
            None => e.problem(
                format!(
                    "has no key of the signing cert {} (its kid would be {want_kid}), so the tokens it signs do not verify",
                    layout.jwt_signing().cert.display()
                ),
                rewrite,
            ),
            Some(k) if k != want_key && !broken.contains(want_kid) => {
                let mut fields: Vec<&str> = want_key
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(f, v)| k.get(f.as_str()) != Some(*v))
                    .map(|(f, _)| f.as_str())
                    .collect();
                if fields.is_empty() {
                    fields.push("members");
                }
                e.problem(
                    format!(
                        "has key `{want_kid}` with {} other than the signing cert and its chain give",
                        fields.join(", ")
                    ),
                    rewrite,
                );
            }
            Some(_) => {}
        }
        for k in keys {
            let kid = k["kid"].as_str().unwrap_or("");
            if kid != want_kid && !broken.contains(kid) {
                e.warn(
                    format!("also holds key `{kid}`, which is not the signing cert's (left from a key rotation?)"),
                    "remove it once no token signed by it is in use",
                );
            }
        }
    }

    /// Folders that hold keys must be 0700.
    fn check_dirs(&mut self) {
        for d in &self.dirs {
            if is_private_dir(d) {
                let mut e = Entry::new(d, "private folder");
                if let Some(m) = mode(d).filter(|m| m & 0o077 != 0) {
                    e.problem(
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
    fn unknown_files(&mut self) {
        for f in self.files.difference(&self.claimed) {
            let name = file_name(f);
            let mut e = Entry::new(f, "unknown file");
            if name.starts_with('.') && name.contains(".hapki-") && name.ends_with(".tmp") {
                e.warn(
                    "is a temporary file left by an interrupted hapki run",
                    &format!("delete it with `rm {}`", shell(f)),
                );
            } else {
                e.warn("is not a file of hapki's layout, so it was not checked", "");
            }
            self.entries.push(e);
        }
    }
}

fn another_key(cert_name: &str) -> String {
    format!("does not match {cert_name} (it is another key)")
}

/// Certs that must be exactly `want`, in order; the problem names what they are instead.
fn compare_certs(
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

/// The kind of a node folder's cert that the profile does not declare: a server unless its EKU
/// allows client authentication only.
fn kind_by_eku(cert: Option<&X509Certificate<'_>>) -> Kind {
    let eku = cert.and_then(|c| c.extended_key_usage().ok().flatten());
    match eku {
        Some(u) if u.value.client_auth && !u.value.server_auth => Kind::ProxyBackend,
        _ => Kind::Server,
    }
}

/// Every file and folder under `dir` (not `dir` itself).
fn walk(dir: &Path, files: &mut BTreeSet<PathBuf>, dirs: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                dirs.push(p.clone());
                walk(&p, files, dirs);
            }
            Ok(_) => {
                files.insert(p);
            }
            Err(_) => {}
        }
    }
}

fn mode(p: &Path) -> Option<u32> {
    fs::metadata(p).ok().map(|m| m.permissions().mode())
}

/// A private key is readable by its owner only (0600 or 0400).
fn secret_mode(e: &mut Entry, p: &Path) {
    if let Some(m) = mode(p).filter(|m| m & 0o077 != 0) {
        e.problem(
            format!(
                "is readable by group or others (mode {:04o}), and it is a private key",
                m & 0o7777
            ),
            &format!("restrict it with `chmod 600 {}`", shell(p)),
        );
    }
}

fn unreadable(err: &std::io::Error) -> String {
    let s = err.to_string();
    let reason = s.split(" (os error").next().unwrap_or("").to_lowercase();
    format!("cannot be read ({reason})")
}

const READ_FIX: &str = "check its permissions and owner";

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every PEM block of a file, or why it is not well-formed PEM.
fn read_sections(path: &Path) -> std::result::Result<Vec<(SectionKind, Vec<u8>)>, String> {
    let bytes = fs::read(path).map_err(|e| unreadable(&e))?;
    let mut out = Vec::new();
    for s in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        match s {
            Ok(s) => out.push(s),
            Err(rustls_pki_types::pem::Error::MissingSectionEnd { .. }) => {
                return Err("is truncated: a PEM block has no END line".into())
            }
            Err(_) => return Err("is not well-formed PEM (a block is truncated or edited)".into()),
        }
    }
    if out.is_empty() {
        return Err(if bytes.is_empty() {
            "is empty".into()
        } else {
            "holds no PEM block hapki knows (it may be truncated, or of another format)".into()
        });
    }
    Ok(out)
}

/// The first block of a file where a certificate is expected, checked to be one.
fn read_cert(path: &Path) -> std::result::Result<CertificateDer<'static>, String> {
    match read_sections(path)?.into_iter().next() {
        Some((SectionKind::Certificate, d)) => {
            let der = CertificateDer::from(d);
            check::parse(&der)?;
            Ok(der)
        }
        Some((k, _)) if section_word(k) == "a private key" => Err(
            "holds a private key where a certificate is expected (treat that key as exposed)"
                .into(),
        ),
        Some((k, _)) => Err(format!(
            "holds {} where a certificate is expected",
            section_word(k)
        )),
        None => Err("holds no PEM block".into()),
    }
}

fn section_word(k: SectionKind) -> &'static str {
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
