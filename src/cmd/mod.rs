//! One module per subcommand, each with a `run` that returns the process exit code, plus the
//! shared engine they all drive: work out per org what is missing, generate every key of the run
//! in one parallel batch, build and check the certs, and write them as one `Plan`.

pub mod ca;
pub mod init;
pub mod inspect;
pub mod issue;
pub mod jwt;
pub mod verify;

use crate::check;
use crate::error::{Error, Result};
use crate::fsio::Plan;
use crate::keys;
use crate::layout::{CaLevel, LeafFiles, OrgLayout};
use crate::pki::{self, Leaf, OrgCa};
use crate::profile::{Kind, LeafSpec, OrgSpec};
use crate::types::KeyAlg;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Exit codes, as documented in every `--help`.
pub const EXIT_OK: i32 = 0;
pub const EXIT_PROBLEM: i32 = 1;

/// What one org needs in this run.
pub struct OrgWork<'a> {
    pub org: &'a OrgSpec,
    pub layout: OrgLayout,
    pub tier: u8,
    /// CA levels kept from disk (root first); the rest of the tier is created.
    pub existing: Option<OrgCa>,
    /// Leaves to issue.
    pub leaves: Vec<LeafSpec>,
    /// Files of a replaced hierarchy that the new one does not have (e.g. a policy CA when
    /// `--force` goes from three tiers to two).
    pub remove: Vec<PathBuf>,
}

impl<'a> OrgWork<'a> {
    pub fn new(org: &'a OrgSpec, out: &Path) -> Self {
        OrgWork {
            org,
            layout: OrgLayout::new(out, org.name.as_str(), &org.dns),
            tier: org.tier,
            existing: None,
            leaves: Vec::new(),
            remove: Vec::new(),
        }
    }

    fn missing_ca_levels(&self) -> usize {
        CaLevel::for_tier(self.tier).len() - self.existing.as_ref().map_or(0, |e| e.levels.len())
    }
}

/// The outcome for one org.
pub struct OrgDone {
    pub ca: OrgCa,
    /// Index of the first CA level created in this run (== levels.len() when none).
    pub new_from: usize,
    pub leaves: Vec<Leaf>,
}

/// Generates every key of the run in one parallel batch (biggest first, so the cores stay busy),
/// then builds the CAs and issues and checks the leaves.
pub fn execute(work: Vec<OrgWork<'_>>, now: OffsetDateTime) -> Result<(Vec<OrgDone>, Plan)> {
    let mut algs: Vec<KeyAlg> = Vec::new();
    for w in &work {
        algs.extend(std::iter::repeat_n(w.org.ca_key, w.missing_ca_levels()));
        algs.extend(w.leaves.iter().map(|l| l.key));
    }
    let mut order: Vec<usize> = (0..algs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(key_cost(algs[i])));
    let sorted: Vec<KeyAlg> = order.iter().map(|&i| algs[i]).collect();
    let generated = keys::generate_many(&sorted)?;
    let mut slots: Vec<Option<rcgen::KeyPair>> = (0..algs.len()).map(|_| None).collect();
    for (k, &i) in generated.into_iter().zip(&order) {
        slots[i] = Some(k);
    }
    let mut keys = slots.into_iter().map(|k| k.expect("every slot is filled"));

    let mut plan = Plan::new();
    let mut done = Vec::new();
    for w in work {
        let n = w.missing_ca_levels();
        let ca_keys: Vec<_> = keys.by_ref().take(n).collect();
        let leaf_keys: Vec<_> = keys.by_ref().take(w.leaves.len()).collect();
        let new_from = w.existing.as_ref().map_or(0, |e| e.levels.len());
        let ca = pki::build_ca(w.org, w.tier, w.existing, ca_keys, now)?;
        if n > 0 {
            plan.extend(pki::ca_plan(&w.layout, &ca, new_from));
        }
        let leaves: Vec<Leaf> = w
            .leaves
            .par_iter()
            .zip(leaf_keys)
            .map(|(spec, key)| pki::issue_leaf(w.org, &ca, spec, key, now))
            .collect::<Result<_>>()?;
        for leaf in &leaves {
            plan.extend(pki::leaf_plan(
                &w.layout.leaf(leaf.spec.kind, leaf.spec.name.as_str()),
                leaf,
                &ca,
            ));
        }
        for p in w.remove {
            plan.remove(p);
        }
        done.push(OrgDone {
            ca,
            new_from,
            leaves,
        });
    }
    Ok((done, plan))
}

fn key_cost(a: KeyAlg) -> u32 {
    match a {
        KeyAlg::Rsa4096 => 100,
        KeyAlg::Rsa3072 => 30,
        KeyAlg::Rsa2048 => 10,
        _ => 1,
    }
}

/// What an existing leaf needs.
pub enum LeafState {
    /// Complete and valid under the org's current CA.
    Current,
    /// Cert and key are valid, but files derived from them are missing or say something else:
    /// this plan writes them again from the existing cert and key (no new key).
    Repair(Plan),
    /// Missing, broken, or no longer what is asked for: issue it anew (the reason says why).
    Reissue(String),
}

/// Works out what the leaf `spec` needs, from its files under the org's current CA.
pub fn leaf_state(
    org: &OrgSpec,
    files: &LeafFiles,
    spec: &LeafSpec,
    ca: &OrgCa,
    now: OffsetDateTime,
) -> LeafState {
    if let Some(missing) = [&files.cert, &files.key].into_iter().find(|p| !p.exists()) {
        return LeafState::Reissue(format!("{} is missing", missing.display()));
    }
    let (der, pem) = match pki::read_cert(&files.cert) {
        Ok(c) => c,
        Err(e) => return LeafState::Reissue(e.to_string()),
    };
    let key = match keys::load(&files.key) {
        Ok(k) => k,
        Err(e) => return LeafState::Reissue(e.to_string()),
    };
    // A server cert must also carry every name asked for now (extra --san, a replica or proxy
    // added to the profile); one that lacks a name is no longer what the user wants.
    if let Err(m) = check::leaf(&der, spec.kind, &spec.sans, &key, ca, now) {
        return LeafState::Reissue(format!("{} {m}", files.cert.display()));
    }
    let leaf = match pki::leaf_from_disk(org, spec, files, key, der, pem) {
        Ok(leaf) => leaf,
        Err(e) => return LeafState::Reissue(e.to_string()),
    };
    // The cert and key stay as they are; every file derived from them (chain, DER forms, public
    // key, HAProxy PEM, a lost CSR) must say what they say under today's CA.
    let plan = pki::leaf_plan(files, &leaf, ca).only_stale(&[&files.cert, &files.key]);
    if plan.is_empty() {
        LeafState::Current
    } else {
        LeafState::Repair(plan)
    }
}

/// Counts leaves by kind for summaries.
pub fn kind_counts(leaves: &[Leaf]) -> String {
    let mut parts = Vec::new();
    for k in [
        Kind::Server,
        Kind::Client,
        Kind::ProxyBackend,
        Kind::JwtSigning,
    ] {
        let n = leaves.iter().filter(|l| l.spec.kind == k).count();
        if n > 0 {
            parts.push(format!("{n} {}", k.name()));
        }
    }
    parts.join(", ")
}

/// Refuses to run when `out` cannot be written, before any key is generated.
pub fn preflight(out: &Path) -> Result<()> {
    crate::fsio::check_writable(out)
}

/// `Error` for a CA that exists and would be replaced without `--force`.
pub fn ca_exists(org: &OrgSpec, path: &Path) -> Error {
    Error::input(format!(
        "the CA of org `{}` already exists at {}; pass --force to replace it (every cert it issued must then be re-issued)",
        org.name,
        path.display()
    ))
}
