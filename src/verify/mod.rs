//! The engine of `hapki verify`: finds every file of a hapki tree by where it sits in the layout
//! (SPEC.md "Files on disk") and by what the profile says should be there, checks each the way a
//! TLS stack and a JWT verifier would, and returns one `Entry` per file saying what is wrong and
//! how to fix it. Each file is read and parsed once, each org's CA certs once, and the orgs, the
//! leaves and the tokens are checked in parallel. Rendering the entries is `cmd::verify`'s job.

use crate::error::{Error, Result};
use crate::model::CaLevel;
use crate::profile::Topology;
use crate::store::{root_cert_in, OrgLayout};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

mod ca;
mod crl;
mod discover;
mod files;
mod fix;
mod leaf;
mod report;
mod tokens;

use discover::*;
use fix::*;
use leaf::*;
pub use report::{Code, Entry, Finding, Status};

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
    // A run killed among its renames: the tree may hold old and new files side by side until
    // the next writer settles it.
    if let Some(j) = crate::store::journal::pending(o.dir) {
        let mut e = Entry::new(&j, "journal of an interrupted run");
        e.problem(
            Code::JournalPending,
            "is pending: a run was stopped while it replaced files, so some may be old and some new",
            &format!("finish or undo it with {}", fix.hapki("init")),
        );
        entries.push(e);
    }
    entries.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(entries)
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
                    e.problem(Code::DomainMismatch,
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
                e.problem(Code::NoDomain,
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
                &[
                    layout.trust_bundle(),
                    layout.root_copy(),
                    layout.truststore(),
                ],
                &["trust bundle", "root CA copy", "truststore (PKCS#12)"],
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
        if let Some(ca) = ca.as_ref().filter(|c| c.complete) {
            let levels: Vec<(CaLevel, &[u8])> =
                ca.levels.iter().map(|(l, _, d)| (*l, d.as_ref())).collect();
            let (entries, claimed) =
                crl::check_crls(&layout, &levels, &self.site.name, self.o.now, &self.files);
            self.entries.extend(entries);
            self.claimed.extend(claimed);
        } else {
            // The CA's database and CRLs cannot be judged without the CA; they are its files,
            // not unknown ones.
            for level in [CaLevel::Root, CaLevel::Policy, CaLevel::Intermediate] {
                self.claimed.extend(crate::cadb::files_of(&layout, level));
            }
        }
        self.check_dirs();
        self.unknown_files();
        self.entries
    }

    /// Files of the layout that cannot be checked because the org's CA is broken or missing.
    fn unchecked(&mut self, paths: &[PathBuf], kinds: &[&str]) {
        for (p, k) in paths.iter().zip(kinds) {
            self.claimed.insert(p.clone());
            if self.exists(p) {
                let mut e = Entry::new(p, *k);
                e.problem(Code::CaBroken, self.ca_broken(), "");
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
}
