//! Where the orgs of a tree are: the org folders under DIR (or DIR itself), matched with the
//! profile, and every file and folder under each.

use super::fix::*;
use super::report::*;
use super::Options;
use crate::error::{Error, Result};
use crate::profile::OrgSpec;
use crate::store::{self, root_cert_in, ORG_FOLDERS};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// One org folder of the tree, and its org in the profile if there is one.
pub(super) struct Site<'t> {
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) spec: Option<&'t OrgSpec>,
}

/// Finds the org folders: DIR itself when it is one, else every folder under DIR that holds
/// `root/certs/ca.cert.pem` (or the remains of an org whose root is gone). Orgs of the profile
/// without a folder are reported missing.
pub(super) fn discover<'t>(o: &Options<'t>) -> Result<(Vec<Site<'t>>, Vec<Entry>, Fix)> {
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
                Code::Missing,
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

/// Every file and folder under `dir` (not `dir` itself), from the store's one walk: links (and
/// FIFOs, devices) count as files, and a linked folder is not entered.
pub(super) fn walk(dir: &Path, files: &mut BTreeSet<PathBuf>, dirs: &mut Vec<PathBuf>) {
    for e in store::walk::walk(dir, store::walk::TREE_DEPTH) {
        if e.is_dir() {
            dirs.push(e.path);
        } else {
            files.insert(e.path);
        }
    }
}
