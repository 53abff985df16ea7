//! Issuance: work out per org what is missing (`triage`), then the engine (`execute`), which
//! is a pipeline. Every key of the run is generated in one parallel batch (`keys::generate_each`:
//! CA keys first, since nothing can be signed before its CA, then the rest costliest first), and
//! each key is used the moment it exists, on the thread that made it: an org's last CA key signs
//! its CA hierarchy, a leaf or responder key is signed under its CA (or waits for that CA, and is
//! signed by whoever builds it), and every file that results goes to the `Stager`, which writes
//! and flushes it on the I/O pool while the other keys are still being generated. The run's
//! `Plan` is put together at the end, in the same order whatever order the keys came in, so
//! only its journal and renames wait for the last key.

mod triage;

pub use triage::{leaf_state, LeafState, Reason};

use crate::error::Result;
use crate::keys::{self, ca_key, passphrase, CaKey};
use crate::model::{CaKeyStore, CaLevel, KeyAlg};
use crate::pki::{self, responder, Leaf, OrgCa};
use crate::profile::{LeafSpec, OrgSpec};
use crate::store::{OrgLayout, Plan, Stager};
use rayon::prelude::*;
use rcgen::KeyPair;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
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
    /// Also issue each CA's delegated OCSP responder where it has none that fits (`init`).
    pub responders: bool,
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
            responders: false,
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
}

/// The outcome for one org.
pub struct OrgDone {
    pub ca: OrgCa,
    /// Index of the first CA level created in this run (== levels.len() when none).
    pub new_from: usize,
    pub leaves: Vec<Leaf>,
    /// The files of the OCSP responders issued in this run (`OrgWork::responders`), root's
    /// first; not in the plan `execute` returns, so the caller decides where they go in it.
    pub responders: Plan,
}

/// What a key of the batch is for: a CA level, a leaf (by position in `OrgWork::leaves`) or
/// the OCSP responder of a CA level, of the org at position `org`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    Ca { org: usize, level: usize },
    Leaf { org: usize, leaf: usize },
    Responder { org: usize, level: usize },
}

/// What one org needs generated.
struct Needs {
    /// The CA levels created in this run.
    ca: Range<usize>,
    /// The leaves without a given key.
    leaf_keys: Vec<usize>,
    /// The CA levels that get a new OCSP responder.
    responders: Vec<usize>,
}

impl Needs {
    fn of(w: &OrgWork<'_>, now: OffsetDateTime) -> Needs {
        let levels = CaLevel::for_tier(w.tier);
        let kept = w.existing.as_ref().map_or(0, |e| e.levels.len());
        let leaf_keys = (0..w.leaves.len())
            .filter(|&i| w.keys.get(i).is_none_or(Option::is_none))
            .collect();
        // A new CA level needs a new responder; a kept one keeps its own while it fits.
        let responders = (0..levels.len())
            .filter(|_| w.responders)
            .filter(
                |&i| match w.existing.as_ref().and_then(|e| e.levels.get(i)) {
                    // An offline root signs no responder here (`responder::plan_for`).
                    Some(ca) => {
                        ca.key.is_some()
                            && !responder::current(&w.layout.ocsp_responder(ca.level), ca, now)
                    }
                    None => true,
                },
            )
            .collect();
        Needs {
            ca: kept..levels.len(),
            leaf_keys,
            responders,
        }
    }
}

/// The batch: every key of the run and what it is for, in the order the pool takes them. CA
/// keys come first, org by org, because everything else waits for its CA; then the leaf and
/// responder keys, costliest first (the longest-job-first schedule of `keys::generate_each`).
/// A CA key smaller than the leaf keys costs little at the head of the queue; one bigger is
/// there anyway.
fn schedule(work: &[OrgWork<'_>], needs: &[Needs]) -> Vec<(KeyAlg, KeyUse)> {
    let mut cas = Vec::new();
    let mut rest = Vec::new();
    for (org, (w, n)) in work.iter().zip(needs).enumerate() {
        // A token makes its own CA keys (`run`, before the batch); files get theirs here.
        if !matches!(w.org.ca_key_store, CaKeyStore::Pkcs11(_)) {
            cas.extend((n.ca.clone()).map(|level| (w.org.ca_key, KeyUse::Ca { org, level })));
        }
        rest.extend(
            (n.leaf_keys.iter()).map(|&leaf| (w.leaves[leaf].key, KeyUse::Leaf { org, leaf })),
        );
        rest.extend(
            (n.responders.iter()).map(|&level| (w.org.leaf_key, KeyUse::Responder { org, level })),
        );
    }
    rest.sort_by_key(|(alg, _)| std::cmp::Reverse(key_cost(*alg)));
    cas.extend(rest);
    cas
}

/// The keys `execute` would generate for `work`, in the order it hands them to the pool: what
/// the key-generation floor of `benches/keygen_floor.rs` generates, and nothing else.
pub fn planned_keys(work: &[OrgWork<'_>], now: OffsetDateTime) -> Vec<KeyAlg> {
    let needs: Vec<Needs> = work.iter().map(|w| Needs::of(w, now)).collect();
    schedule(work, &needs).into_iter().map(|(a, _)| a).collect()
}

/// Generates every key of the run and issues what they are for (see the module docs). The
/// files are only put into the returned `Plan`; nothing is written.
pub fn execute(work: Vec<OrgWork<'_>>, now: OffsetDateTime) -> Result<(Vec<OrgDone>, Plan)> {
    run(work, now, None)
}

/// `execute`, handing every file to `stager` the moment it exists, so that writing and flushing
/// it overlaps the keys still being generated. The plan returned is the same; commit it after
/// `Plan::adopt` of what the stager finished.
pub fn execute_staged(
    work: Vec<OrgWork<'_>>,
    now: OffsetDateTime,
    stager: &Stager<'_>,
) -> Result<(Vec<OrgDone>, Plan)> {
    run(work, now, Some(stager))
}

/// One org on its way through the pipeline. Shared by the pool's threads: each part is written
/// once, by whichever thread gets there.
struct OrgRun<'a> {
    org: &'a OrgSpec,
    layout: OrgLayout,
    tier: u8,
    new_from: usize,
    leaves: Vec<LeafSpec>,
    remove: Vec<PathBuf>,
    responder_levels: Vec<usize>,
    /// The kept levels and the new CA keys so far, until the hierarchy is built.
    pending: Mutex<PendingCa>,
    ca: OnceLock<Built>,
    /// Keys that came before their CA, and whether the CA is there now.
    waiting: Mutex<Waiting>,
    issued: Vec<OnceLock<Issued>>,
    responders: Vec<OnceLock<Plan>>,
}

struct PendingCa {
    existing: Option<OrgCa>,
    keys: Vec<Option<CaKey>>,
}

/// A CA hierarchy and its files: its index and CRL files, the records of the new levels in
/// their parents' index, and its cert, key and bundle files.
struct Built {
    ca: OrgCa,
    db: Plan,
    records: Plan,
    files: Plan,
}

#[derive(Default)]
struct Waiting {
    ready: bool,
    jobs: Vec<Job>,
}

/// A key and what to sign with it once its CA exists.
enum Job {
    Leaf(usize, KeyPair),
    Responder(usize, KeyPair),
}

/// An issued leaf, its files and its record in the issuing CA's index.
struct Issued {
    leaf: Leaf,
    files: Plan,
    record: Plan,
}

struct Engine<'s, 'l> {
    now: OffsetDateTime,
    stager: Option<&'s Stager<'l>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(
    work: Vec<OrgWork<'_>>,
    now: OffsetDateTime,
    stager: Option<&Stager<'_>>,
) -> Result<(Vec<OrgDone>, Plan)> {
    for w in &work {
        // A level created under an offline root needs the root's key: refused before any key
        // is generated, naming the file (`hapki ca csr` is the way to a new intermediate).
        let kept = w
            .existing
            .as_ref()
            .filter(|e| e.levels.len() < CaLevel::for_tier(w.tier).len());
        if let Some(parent) = kept.map(OrgCa::issuing).filter(|p| p.key.is_none()) {
            return Err(pki::offline_error(
                &w.layout.ca(parent.level).key,
                parent.level,
                w.org.name.as_str(),
                "creating the CA below it",
            ));
        }
    }
    let needs: Vec<Needs> = work.iter().map(|w| Needs::of(w, now)).collect();
    let batch = schedule(&work, &needs);
    let mut given: Vec<Vec<(usize, KeyPair)>> = Vec::with_capacity(work.len());
    let runs: Vec<OrgRun<'_>> = (work.into_iter().zip(needs))
        .map(|(mut w, n)| {
            let keys = std::mem::take(&mut w.keys);
            given.push(
                (keys.into_iter().enumerate())
                    .filter(|(i, _)| *i < w.leaves.len())
                    .filter_map(|(i, k)| k.map(|k| (i, k)))
                    .collect(),
            );
            OrgRun {
                org: w.org,
                tier: w.tier,
                new_from: n.ca.start,
                issued: w.leaves.iter().map(|_| OnceLock::new()).collect(),
                responders: n.responders.iter().map(|_| OnceLock::new()).collect(),
                responder_levels: n.responders,
                pending: Mutex::new(PendingCa {
                    existing: w.existing.take(),
                    keys: n.ca.map(|_| None).collect(),
                }),
                ca: OnceLock::new(),
                waiting: Mutex::new(Waiting::default()),
                layout: w.layout,
                leaves: w.leaves,
                remove: w.remove,
            }
        })
        .collect();
    let engine = Engine { now, stager };

    // What the run made outside the tree (token keys), undone when it fails: dropped with this
    // plan on an early return, or handed on in the plan the run returns.
    let mut undo = Plan::new();
    // CAs that need no new key are built before the batch; leaves with a given key are signed
    // as soon as their CA is there.
    // Before the batch: the passphrase of new encrypted CA keys (asked once, not in the middle
    // of the key generation), and the CA keys a PKCS#11 token makes itself.
    for r in runs.iter() {
        let new = CaLevel::for_tier(r.tier).get(r.new_from).copied();
        match (&r.org.ca_key_store, new) {
            (CaKeyStore::Encrypted(_), Some(level)) => {
                passphrase::get(&r.layout.ca(level).key, true)?;
            }
            (CaKeyStore::Pkcs11(_), Some(_)) => {
                let levels = r.new_from..CaLevel::for_tier(r.tier).len();
                let mut made = Vec::new();
                for level in levels {
                    let key = new_ca_key(r, level, None)?;
                    // Destroyed again unless the run's plan lands (a failure from here on,
                    // in this function or at the commit).
                    if let Some(destroy) = key.token().and_then(|t| t.destroyer()) {
                        undo.undo_unless_committed(Box::new(destroy));
                    }
                    made.push(Some(key));
                }
                locked(&r.pending).keys = made;
            }
            _ => {}
        }
    }
    let keyed = |r: &&OrgRun<'_>| locked(&r.pending).keys.iter().all(Option::is_some);
    for r in runs.iter().filter(keyed) {
        let (existing, keys) = {
            let mut p = locked(&r.pending);
            (p.existing.take(), std::mem::take(&mut p.keys))
        };
        engine.build(r, existing, keys.into_iter().flatten().collect())?;
    }
    for (r, keys) in runs.iter().zip(given) {
        for (i, key) in keys {
            engine.keyed(r, Job::Leaf(i, key))?;
        }
    }
    let failure: Mutex<Option<crate::error::Error>> = Mutex::new(None);
    let algs: Vec<KeyAlg> = batch.iter().map(|(a, _)| *a).collect();
    keys::generate_each(&algs, |k, key| {
        if locked(&failure).is_some() {
            return false;
        }
        let done = key.and_then(|key| match batch[k].1 {
            KeyUse::Ca { org, level } => engine.ca_key(&runs[org], level, key),
            KeyUse::Leaf { org, leaf } => engine.keyed(&runs[org], Job::Leaf(leaf, key)),
            KeyUse::Responder { org, level } => {
                let r = &runs[org];
                let at = (r.responder_levels.iter().position(|&l| l == level))
                    .ok_or_else(|| crate::error::Error::bug("a responder key of no CA level"))?;
                engine.keyed(r, Job::Responder(at, key))
            }
        });
        // A file that could not be staged stops the run as early as a key that failed.
        let done = done.and_then(|()| stager.and_then(Stager::failed).map_or(Ok(()), Err));
        match done {
            Ok(()) => true,
            Err(e) => {
                locked(&failure).get_or_insert(e);
                false
            }
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let (done, mut plan) = assemble(runs)?;
    plan.extend(undo);
    Ok((done, plan))
}

impl Engine<'_, '_> {
    fn stage(&self, plan: &Plan) {
        if let Some(s) = self.stager {
            s.stage(plan);
        }
    }

    /// One new CA key of `r`; the last one builds the hierarchy.
    fn ca_key(&self, r: &OrgRun<'_>, level: usize, key: KeyPair) -> Result<()> {
        let key = new_ca_key(r, level, Some(key))?;
        let complete = {
            let mut p = locked(&r.pending);
            let slot = (p.keys.get_mut(level - r.new_from))
                .ok_or_else(|| crate::error::Error::bug("a CA key of no CA level"))?;
            *slot = Some(key);
            match p.keys.iter().all(Option::is_some) {
                true => Some((p.existing.take(), std::mem::take(&mut p.keys))),
                false => None,
            }
        };
        match complete {
            Some((existing, keys)) => self.build(r, existing, keys.into_iter().flatten().collect()),
            None => Ok(()),
        }
    }

    /// Builds (or completes) `r`'s hierarchy, stages its files, then signs whatever waited for
    /// it, across the pool.
    fn build(&self, r: &OrgRun<'_>, existing: Option<OrgCa>, keys: Vec<CaKey>) -> Result<()> {
        let ca = pki::build_ca(r.org, r.tier, existing, keys, self.now)?;
        let mut db = Plan::new();
        crate::cadb::prepare(&mut db, &r.layout, r.org, &ca, r.new_from, self.now)?;
        let mut records = Plan::new();
        for i in r.new_from.max(1)..ca.levels.len() {
            let (parent, c) = (&ca.levels[i - 1], &ca.levels[i]);
            crate::cadb::record_issued(&mut records, &r.layout, parent.level, &c.der, &c.pem)?;
        }
        // The CA's files after its leaves, its root cert last of all: see `pki::ca_plan`.
        let files = if r.new_from < ca.levels.len() {
            pki::ca_plan(&r.layout, &ca, r.new_from)
        } else {
            Plan::new()
        };
        for p in [&files, &db, &records] {
            self.stage(p);
        }
        let built = Built {
            ca,
            db,
            records,
            files,
        };
        if r.ca.set(built).is_err() {
            return Err(crate::error::Error::bug("a CA hierarchy built twice"));
        }
        let jobs = {
            let mut w = locked(&r.waiting);
            w.ready = true;
            std::mem::take(&mut w.jobs)
        };
        jobs.into_par_iter().try_for_each(|j| self.sign(r, j))
    }

    /// A leaf or responder key: signed now when its CA is there, or else when it is built.
    fn keyed(&self, r: &OrgRun<'_>, job: Job) -> Result<()> {
        {
            let mut w = locked(&r.waiting);
            if !w.ready {
                w.jobs.push(job);
                return Ok(());
            }
        }
        self.sign(r, job)
    }

    fn sign(&self, r: &OrgRun<'_>, job: Job) -> Result<()> {
        let ca = &(r.ca.get())
            .ok_or_else(|| crate::error::Error::bug("a key signed before its CA was built"))?
            .ca;
        let twice = || crate::error::Error::bug("a cert issued twice");
        match job {
            Job::Leaf(i, key) => {
                let spec = &r.leaves[i];
                let leaf = pki::issue_leaf(r.org, ca, spec, key, self.now)?;
                let files =
                    pki::leaf_plan(&r.layout.leaf(spec.kind, spec.name.as_str()), &leaf, ca);
                let mut record = Plan::new();
                let level = ca.issuing().level;
                crate::cadb::record_issued(&mut record, &r.layout, level, &leaf.der, &leaf.pem)?;
                self.stage(&files);
                self.stage(&record);
                let issued = Issued {
                    leaf,
                    files,
                    record,
                };
                r.issued[i].set(issued).map_err(|_| twice())
            }
            Job::Responder(at, key) => {
                let level = &ca.levels[r.responder_levels[at]];
                let pem = responder::issue_with(r.org, level, &key, self.now)?;
                let files =
                    responder::files_plan(&r.layout.ocsp_responder(level.level), &pem, &key);
                self.stage(&files);
                r.responders[at].set(files).map_err(|_| twice())
            }
        }
    }
}

/// The run's plan, org by org, in a fixed order: each org's leaf files, its index and CRL
/// files, the index records of its new leaves and CA levels, then its CA files (root cert last),
/// then the removals.
fn assemble(runs: Vec<OrgRun<'_>>) -> Result<(Vec<OrgDone>, Plan)> {
    let missing = |what: &str| crate::error::Error::bug(format!("{what} was never issued"));
    let mut plan = Plan::new();
    let mut done = Vec::with_capacity(runs.len());
    for r in runs {
        let built = r.ca.into_inner().ok_or_else(|| missing("a CA hierarchy"))?;
        let issued: Vec<Issued> = (r.issued.into_iter())
            .map(|i| i.into_inner().ok_or_else(|| missing("a leaf")))
            .collect::<Result<_>>()?;
        let mut records = Vec::with_capacity(issued.len());
        let mut leaves = Vec::with_capacity(issued.len());
        for i in issued {
            plan.extend(i.files);
            records.push(i.record);
            leaves.push(i.leaf);
        }
        // Index records and CRLs land with the certs they describe, before the CA's files.
        plan.extend(built.db);
        for rec in records {
            plan.extend(rec);
        }
        plan.extend(built.records);
        plan.extend(built.files);
        for p in r.remove {
            plan.remove(p);
        }
        let mut responders = Plan::new();
        for p in r.responders {
            responders.extend(p.into_inner().ok_or_else(|| missing("an OCSP responder"))?);
        }
        done.push(OrgDone {
            ca: built.ca,
            new_from: r.new_from,
            leaves,
            responders,
        });
    }
    Ok((done, plan))
}

/// A new CA key of `level` of `r`, kept as its profile says: `kp` (from the batch) as a
/// plain or encrypted file, or (`kp` is `None`) a key made in the PKCS#11 token.
fn new_ca_key(r: &OrgRun<'_>, level: usize, kp: Option<KeyPair>) -> Result<CaKey> {
    let level = CaLevel::for_tier(r.tier)[level];
    let org = r.org;
    let path = r.layout.ca(level).key;
    ca_key::create(
        &org.ca_key_store,
        org.ca_key,
        org.name.as_str(),
        level,
        &path,
        kp,
    )
}

fn key_cost(a: KeyAlg) -> u32 {
    match a {
        KeyAlg::Rsa4096 => 100,
        KeyAlg::Rsa3072 => 30,
        KeyAlg::Rsa2048 => 10,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use crate::profile::Topology;
    use crate::store::Lock;

    const PROFILE: &str = r#"[defaults]
ca_key = "ecdsa-p256"
leaf_key = "ecdsa-p256"
jwt_key = "ecdsa-p256"
[[org]]
name = "p"
dns = "p.com"
organization = "P"
servers = ["a", "b", "c"]
clients = ["d"]
[[org]]
name = "q"
dns = "q.com"
organization = "Q"
tier = 3
servers = ["e"]
"#;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
    }

    fn work<'a>(topo: &'a Topology, out: &Path) -> Vec<OrgWork<'a>> {
        (topo.orgs.iter())
            .map(|org| {
                let mut w = OrgWork::new(org, out);
                w.leaves = org.leaves.clone();
                w.responders = true;
                w
            })
            .collect()
    }

    /// The plan's paths below `out`, a record under `newcerts/` (named by its random serial)
    /// as `newcerts/SERIAL`.
    fn rel(plan: &Plan, out: &Path) -> Vec<PathBuf> {
        (plan.paths())
            .map(|p| {
                let r = p.strip_prefix(out).unwrap();
                match r.parent().filter(|d| d.ends_with("newcerts")) {
                    Some(d) => d.join("SERIAL"),
                    None => r.to_path_buf(),
                }
            })
            .collect()
    }

    fn temps(dir: &Path) -> usize {
        (std::fs::read_dir(dir).unwrap().flatten())
            .map(|e| match e.path().is_dir() {
                true => temps(&e.path()),
                false => usize::from(e.file_name().to_string_lossy().ends_with(".tmp")),
            })
            .sum()
    }

    #[test]
    fn the_schedule_puts_ca_keys_first_then_the_costliest() {
        let topo = Topology::parse(PROFILE, "p.toml").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut w = work(&topo, dir.path());
        for l in w.iter_mut().flat_map(|w| w.leaves.iter_mut()) {
            l.key = KeyAlg::Rsa2048;
        }
        w[0].leaves[1].key = KeyAlg::Rsa4096;
        let p256 = KeyAlg::EcdsaP256;
        let mut want = vec![p256; 2 + 3];
        want.push(KeyAlg::Rsa4096);
        want.extend([KeyAlg::Rsa2048; 4]);
        // The responders' keys are the orgs' leaf_key, one per CA level.
        want.extend([p256; 2 + 3]);
        assert_eq!(planned_keys(&w, t0()), want);
        // A leaf with its own key (`renew --keep-key`) needs none from the batch.
        w[1].keys = vec![Some(keys::generate(p256).unwrap())];
        w[0].responders = false;
        assert_eq!(planned_keys(&w, t0()).len(), want.len() - 1 - 2);
    }

    #[test]
    fn the_pipeline_gives_the_batch_plan_in_its_fixed_order_and_stages_all_of_it() {
        let topo = Topology::parse(PROFILE, "p.toml").unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (done_a, plan_a) = execute(work(&topo, a.path()), t0()).unwrap();
        let lock = Lock::take(b.path(), std::time::Duration::ZERO).unwrap();
        let stager = Stager::new(&lock);
        let (mut done_b, mut plan_b) =
            execute_staged(work(&topo, b.path()), t0(), &stager).unwrap();

        // The same files in the same order, whichever way the keys came in and were staged.
        let paths = rel(&plan_a, a.path());
        assert_eq!(paths, rel(&plan_b, b.path()));
        let p = OrgLayout::new(Path::new(""), "p", "p.com");
        let q = OrgLayout::new(Path::new(""), "q", "q.com");
        let at = |f: PathBuf| paths.iter().position(|x| *x == f).unwrap();
        // Each org's leaves first, in the profile's order; its root cert last of its files.
        assert_eq!(paths[0], p.leaf(Kind::Server, "a").cert);
        assert!(at(p.leaf(Kind::Server, "a").cert) < at(p.leaf(Kind::Client, "d").cert));
        assert_eq!(
            at(p.ca(CaLevel::Root).cert) + 1,
            at(q.leaf(Kind::Server, "e").cert)
        );
        assert_eq!(paths.last(), Some(&q.ca(CaLevel::Root).cert));
        for (done, org) in [(&done_a, &topo.orgs), (&done_b, &topo.orgs)] {
            for (d, o) in done.iter().zip(org) {
                let names: Vec<_> = d.leaves.iter().map(|l| l.spec.name.clone()).collect();
                let want: Vec<_> = o.leaves.iter().map(|l| l.name.clone()).collect();
                assert_eq!(names, want);
                assert_eq!(d.new_from, 0);
                assert_eq!(d.ca.levels.len(), usize::from(o.tier));
                // A key and a cert for each CA level's OCSP responder.
                assert_eq!(d.responders.len(), 2 * usize::from(o.tier));
            }
        }

        // Everything but the indexes (their lines are appended at commit) was staged with the
        // bytes the plan commits.
        for d in &mut done_b {
            plan_b.extend(std::mem::take(&mut d.responders));
        }
        plan_b.adopt(stager.finish().unwrap());
        let ahead = plan_b.ahead();
        let behind: Vec<_> = (plan_b.paths())
            .filter(|p| !ahead.iter().any(|a| a == p))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(behind, ["index.txt"; 5]);
        plan_b.commit(&lock).unwrap();
        assert_eq!(temps(b.path()), 0);
        assert!(b.path().join(&paths[0]).exists());
        drop(lock);

        // A second run under the kept CAs: no CA key, and the responders still fit.
        let mut w = work(&topo, b.path());
        for w in &mut w {
            w.existing = OrgCa::load(&w.layout, w.org, w.tier).unwrap();
            w.leaves.truncate(1);
        }
        assert_eq!(planned_keys(&w, t0()), [KeyAlg::EcdsaP256; 2]);
        let (done, plan) = execute(w, t0()).unwrap();
        assert!(done.iter().all(|d| d.new_from == d.ca.levels.len()));
        assert!(done.iter().all(|d| d.responders.is_empty()));
        assert!(done.iter().all(|d| d.leaves.len() == 1));
        assert!(!plan.is_empty());
    }
}
