//! Issuance: work out per org what is missing (`triage`), then the engine that generates every
//! key of the run in one parallel batch, builds and checks the certs, and gathers their files
//! into one `Plan`.

mod triage;

pub use triage::{leaf_state, LeafState, Reason};

use crate::error::Result;
use crate::keys::{self, ca_key, CaKey};
use crate::model::{CaKeyStore, CaLevel, KeyAlg};
use crate::pki::{self, Leaf, OrgCa};
use crate::profile::{LeafSpec, OrgSpec};
use crate::store::{OrgLayout, Plan};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What one org needs in this run.
pub struct OrgWork<'a> {
    pub org: &'a OrgSpec,
    pub layout: OrgLayout,
    pub tier: u8,
    /// CA levels kept from disk (root first); the rest of the tier is created.
    pub existing: Option<OrgCa>,
    /// Leaves to issue.
    pub leaves: Vec<LeafSpec>,
    /// The key to certify for each leaf, by position in `leaves` (`hapki renew --keep-key`);
    /// a leaf without one (or past the end) gets a new key.
    pub keys: Vec<Option<rcgen::KeyPair>>,
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
            keys: Vec::new(),
            remove: Vec::new(),
        }
    }

    /// CA levels of other tiers than `self.tier` go away with the hierarchy they belonged to
    /// (a policy CA left beside a new two-tier CA would make the tree read as three tiers).
    pub fn drop_other_tiers(&mut self) {
        for level in [CaLevel::Policy, CaLevel::Intermediate] {
            if !CaLevel::for_tier(self.tier).contains(&level) {
                let f = self.layout.ca(level);
                self.remove.extend([f.cert, f.key]);
                self.remove.extend(f.csr);
                self.remove
                    .extend(crate::cadb::files_of(&self.layout, level));
                if level == CaLevel::Intermediate {
                    self.remove.push(self.layout.trust_bundle());
                    self.remove.push(self.layout.root_copy());
                }
            }
        }
    }

    fn new_leaf_keys(&self) -> usize {
        (0..self.leaves.len())
            .filter(|&i| self.keys.get(i).is_none_or(Option::is_none))
            .count()
    }

    /// The CA keys of this org that the run's key batch generates (none for a token).
    fn batch_ca_keys(&self) -> usize {
        match self.org.ca_key_store {
            CaKeyStore::Pkcs11(_) => 0,
            _ => self.missing_ca_levels(),
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
        // A token makes its own CA keys; files get theirs from the batch.
        algs.extend(std::iter::repeat_n(w.org.ca_key, w.batch_ca_keys()));
        algs.extend(
            (w.leaves.iter().enumerate())
                .filter(|(i, _)| w.keys.get(*i).is_none_or(Option::is_none))
                .map(|(_, l)| l.key),
        );
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

    // Each org's keys, in the order they were asked for.
    let mut jobs = Vec::with_capacity(work.len());
    let mut leaf_keys = Vec::with_capacity(work.len());
    for mut w in work {
        let ca_keys: Vec<_> = keys.by_ref().take(w.batch_ca_keys()).collect();
        let mut fresh = keys.by_ref().take(w.new_leaf_keys()).collect::<Vec<_>>();
        fresh.reverse();
        let mut given = std::mem::take(&mut w.keys);
        given.resize_with(w.leaves.len(), || None);
        let org_keys: Vec<rcgen::KeyPair> = given
            .into_iter()
            .map(|k| k.or_else(|| fresh.pop()).expect("one key per leaf"))
            .collect();
        leaf_keys.push(org_keys);
        let existing = w.existing.take();
        jobs.push((w, existing, ca_keys));
    }
    // Every org's CAs at once (a hierarchy is a short chain, signed top-down), then every leaf of
    // every org in one batch, so no core waits for the slowest org.
    let cas: Vec<(OrgCa, usize)> = jobs
        .par_iter_mut()
        .map(|(w, existing, ca_keys)| {
            let new_from = existing.as_ref().map_or(0, |e| e.levels.len());
            let new_keys = ca_keys_for(w, new_from, std::mem::take(ca_keys))?;
            let ca = pki::build_ca(w.org, w.tier, existing.take(), new_keys, now)?;
            Ok((ca, new_from))
        })
        .collect::<Result<_>>()?;
    let leaf_jobs: Vec<(usize, &LeafSpec, rcgen::KeyPair)> = jobs
        .iter()
        .zip(leaf_keys)
        .enumerate()
        .flat_map(|(o, ((w, _, _), keys))| {
            w.leaves
                .iter()
                .zip(keys)
                .map(move |(spec, key)| (o, spec, key))
        })
        .collect();
    let issued: Vec<(usize, Leaf)> = leaf_jobs
        .into_par_iter()
        .map(|(o, spec, key)| {
            pki::issue_leaf(jobs[o].0.org, &cas[o].0, spec, key, now).map(|l| (o, l))
        })
        .collect::<Result<_>>()?;
    let mut leaves_of: Vec<Vec<Leaf>> = jobs.iter().map(|_| Vec::new()).collect();
    for (o, leaf) in issued {
        leaves_of[o].push(leaf);
    }

    let mut plan = Plan::new();
    let mut done = Vec::new();
    for (((w, _, _), (ca, new_from)), leaves) in jobs.into_iter().zip(cas).zip(leaves_of) {
        for leaf in &leaves {
            plan.extend(pki::leaf_plan(
                &w.layout.leaf(leaf.spec.kind, leaf.spec.name.as_str()),
                leaf,
                &ca,
            ));
        }
        // Index records and CRLs land with the certs they describe, before the CA's files.
        crate::cadb::prepare(&mut plan, &w.layout, w.org, &ca, new_from, now)?;
        for leaf in &leaves {
            let level = ca.issuing().level;
            crate::cadb::record_issued(&mut plan, &w.layout, level, &leaf.der, &leaf.pem)?;
        }
        for i in new_from.max(1)..ca.levels.len() {
            let (parent, c) = (&ca.levels[i - 1], &ca.levels[i]);
            crate::cadb::record_issued(&mut plan, &w.layout, parent.level, &c.der, &c.pem)?;
        }
        // The CA's files after its leaves, its root cert last of all: see `pki::ca_plan`.
        if new_from < ca.levels.len() {
            plan.extend(pki::ca_plan(&w.layout, &ca, new_from));
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

/// The new CA keys of `w`, from the level `new_from` down, kept as its profile says: the
/// batch's keys as (encrypted) files, or keys made in the token.
fn ca_keys_for(w: &OrgWork<'_>, new_from: usize, batch: Vec<rcgen::KeyPair>) -> Result<Vec<CaKey>> {
    let mut batch = batch.into_iter();
    CaLevel::for_tier(w.tier)[new_from..]
        .iter()
        .map(|&level| {
            let kp = match w.org.ca_key_store {
                CaKeyStore::Pkcs11(_) => None,
                _ => batch.next(),
            };
            ca_key::create(
                &w.org.ca_key_store,
                w.org.ca_key,
                w.org.name.as_str(),
                level,
                &w.layout.ca(level).key,
                kp,
            )
        })
        .collect()
}

fn key_cost(a: KeyAlg) -> u32 {
    match a {
        KeyAlg::Rsa4096 => 100,
        KeyAlg::Rsa3072 => 30,
        KeyAlg::Rsa2048 => 10,
        _ => 1,
    }
}
