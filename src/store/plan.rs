//! Safe writing: a `Plan` of files is written all together or not at all. Every file goes to a
//! temp file in its own folder first and is flushed to disk (so a full or read-only disk fails
//! before anything is replaced, and a crash never leaves a renamed but empty file), then each is
//! renamed into place (atomic on POSIX), then every folder touched is flushed once so the renames
//! themselves survive a crash. Private keys get 0600, and a folder gets 0700 when the plan puts a
//! secret file in it: the mode follows from what a folder holds, not from its name.
//!
//! Flushing is what costs: one `fsync` waits for the disk (milliseconds), so doing a hundred of
//! them one after the other dominated `hapki init`. Two things hide that cost:
//! - the temp files are written and flushed from a pool of I/O threads (`io_pool`): the waits
//!   overlap and the filesystem commits them together;
//! - a run that makes its files over seconds (key generation) hands each file to a `Stager` as
//!   soon as its bytes exist: the temp file is written and flushed on the I/O pool while the run
//!   goes on, and the plan's `commit` takes it as it is. Only the journal, the renames and the
//!   folder flushes wait for the end, which keeps the batch all-or-nothing exactly as before.

use super::journal;
use super::lock::Lock;
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// How a file may be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Public,
    Secret,
}

impl Mode {
    fn bits(self) -> u32 {
        match self {
            Mode::Public => 0o644,
            Mode::Secret => 0o600,
        }
    }
}

#[derive(Default)]
pub struct Plan {
    files: Vec<(PathBuf, Vec<u8>, Mode)>,
    /// Where each path sits in `files`, so a plan of thousands of files dedupes in O(1).
    index: HashMap<PathBuf, usize>,
    /// Files to delete once every new file is in place.
    remove: Vec<PathBuf>,
    /// Bytes to append to files that only grow (a CA's index): see `append`.
    appends: Vec<(PathBuf, Vec<u8>)>,
    /// Temp files a `Stager` already wrote and flushed, taken by `commit` for the files whose
    /// bytes and mode they still match.
    staged: Staged,
    /// What to undo outside the tree when this plan never lands (see `undo_unless_committed`).
    undo: Vec<Undo>,
}

/// Work done outside the output folder for a plan (a key pair made in a PKCS#11 token for a
/// new CA), to be undone when the plan is dropped without a commit, or its commit fails.
pub type Undo = Box<dyn FnOnce() + Send + Sync>;

impl Drop for Plan {
    fn drop(&mut self) {
        for u in self.undo.drain(..) {
            u();
        }
    }
}

/// How many files are written and flushed at once. Flushing waits on the disk, so more threads
/// than cores pay off; past a few dozen the journal commits no more at once.
const SYNC_THREADS: usize = 32;

/// The one pool every file write and flush of the store runs on: `SYNC_THREADS` threads, built
/// the first time it is needed and kept for the process. A rayon pool of its own, not rayon's
/// global one: the global pool has one thread per core and is busy generating keys while files
/// are being staged, and a thread blocked in `fsync` there would hold a core's worth of key
/// generation hostage. `None` when the threads cannot be started; the callers then do the work
/// on the calling thread.
fn io_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(SYNC_THREADS)
            .thread_name(|i| format!("hapki-io-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

impl Plan {
    pub fn new() -> Self {
        Plan::default()
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>, mode: Mode) {
        let path = path.into();
        let bytes = bytes.into();
        // A later entry for the same path replaces the earlier one (and takes its place in the
        // order, as if the earlier one had never been added).
        if let Some(i) = self.index.remove(&path) {
            self.files.remove(i);
            for v in self.index.values_mut() {
                if *v > i {
                    *v -= 1;
                }
            }
        }
        // Lines appended to this path earlier in the plan follow the new content.
        let mut bytes = bytes;
        if let Some(i) = self.appends.iter().position(|(p, _)| *p == path) {
            bytes.extend(self.appends.remove(i).1);
        }
        self.index.insert(path.clone(), self.files.len());
        self.files.push((path, bytes, mode));
    }

    /// Appends `bytes` (whole lines, each ending in `\n`) to the public file `path` at commit,
    /// creating it if needed: the cost of recording one more line must not grow with the file
    /// (a CA index of 100,000 lines). When the plan also writes `path` whole, the bytes follow
    /// that content. At commit the file is opened with O_APPEND, written and flushed, before any
    /// rename of the plan; a last line without its `\n` (a run killed mid-write, which never
    /// completed) is cut off first.
    pub fn append(&mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) {
        let path = path.into();
        let bytes = bytes.into();
        if let Some(&i) = self.index.get(&path) {
            self.files[i].1.extend(bytes);
        } else if let Some(a) = self.appends.iter_mut().find(|(p, _)| *p == path) {
            a.1.extend(bytes);
        } else {
            self.appends.push((path, bytes));
        }
    }

    /// Deletes `path` (if it exists) after the new files are in place.
    pub fn remove(&mut self, path: impl Into<PathBuf>) {
        self.remove.push(path.into());
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.remove.is_empty() && self.appends.is_empty()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _, _)| p.as_path())
    }

    /// Only the files that are missing or whose bytes differ from the plan's, leaving the paths
    /// in `as_is` alone when they exist (and no removals): what a repair writes.
    pub fn only_stale(mut self, as_is: &[&Path]) -> Plan {
        self.files.retain(|(p, bytes, _)| match super::read(p) {
            Err(_) => true,
            Ok(old) => !as_is.contains(&p.as_path()) && &old != bytes,
        });
        self.index = (self.files.iter().enumerate())
            .map(|(i, (p, _, _))| (p.clone(), i))
            .collect();
        self.remove.clear();
        self
    }

    /// Runs `undo` if this plan (or the one it is merged into) is dropped without its commit
    /// succeeding: a run that fails leaves nothing behind, in the tree or in a token.
    pub fn undo_unless_committed(&mut self, undo: Undo) {
        self.undo.push(undo);
    }

    pub fn extend(&mut self, mut other: Plan) {
        // Taken out field by field: a `Plan` runs its undo when dropped, so it cannot be
        // taken apart by a move.
        self.undo.append(&mut other.undo);
        for (p, b, m) in std::mem::take(&mut other.files) {
            self.add(p, b, m);
        }
        self.remove.append(&mut other.remove);
        for (p, b) in std::mem::take(&mut other.appends) {
            self.append(p, b);
        }
    }

    /// Writes every file, or none, under `lock` (the lock of the output folder every path of
    /// the plan is in). On a failure before the renames the temp files and the folders this
    /// call created are removed; a failure among the renames puts every old file back (see
    /// `journal`). When it returns `Ok`, every file and every rename is on disk.
    pub fn commit(mut self, lock: &Lock) -> Result<()> {
        let out = lock.out();
        let rel = |p: &Path| -> Result<PathBuf> {
            p.strip_prefix(out)
                .map(Path::to_path_buf)
                .map_err(|_| Error::bug(format!("{} is outside {}", p.display(), out.display())))
        };
        refuse_links(
            out,
            self.paths().chain(self.remove.iter().map(PathBuf::as_path)),
        )?;
        // A file staged ahead (`Stager`) with the plan's bytes and mode is on disk already; the
        // rest are written below, and staged temp files the plan no longer wants go.
        let mut pre = std::mem::take(&mut self.staged.files);
        let mut ahead: Vec<bool> = Vec::with_capacity(self.files.len());
        let temps: Vec<PathBuf> = (self.files.iter())
            .map(|(p, b, m)| match pre.remove(p) {
                Some(f) if f.bytes == *b && f.mode == *m => {
                    ahead.push(true);
                    f.temp
                }
                other => {
                    if let Some(f) = other {
                        let _ = fs::remove_file(f.temp);
                    }
                    ahead.push(false);
                    temp_name(p)
                }
            })
            .collect();
        for f in pre.into_values() {
            let _ = fs::remove_file(f.temp);
        }
        let removals: Vec<&PathBuf> = (self.remove.iter())
            .filter(|p| fs::symlink_metadata(p).is_ok() && !self.index.contains_key(*p))
            .collect();
        // The stager's folders count as this commit's: a failure removes them too.
        let mut created_dirs: Vec<PathBuf> = std::mem::take(&mut self.staged.dirs);
        let mut touched_dirs: BTreeSet<PathBuf> = BTreeSet::new();
        let secret_dirs: BTreeSet<&Path> = (self.files.iter())
            .filter(|(_, _, m)| *m == Mode::Secret)
            .filter_map(|(p, _, _)| p.parent())
            .collect();
        let mut backups: Vec<PathBuf> = Vec::new();
        let mut entries: Vec<journal::Entry> = Vec::new();
        let mut appended: Vec<journal::Appended> = Vec::new();
        let staged = (|| -> Result<()> {
            let appending = self.appends.iter().map(|(p, _)| p);
            for path in self.files.iter().map(|(p, _, _)| p).chain(appending) {
                let dir = path
                    .parent()
                    .ok_or_else(|| Error::bug(format!("{} has no folder", path.display())))?;
                if !touched_dirs.contains(dir) {
                    ensure_dir(dir, secret_dirs.contains(dir), &mut created_dirs)?;
                    sweep_stale_temps(dir);
                    touched_dirs.insert(dir.to_path_buf());
                }
            }
            let jobs: Vec<_> = (self.files.iter().zip(&temps).zip(&ahead))
                .filter(|(_, ahead)| !**ahead)
                .map(|(job, _)| job)
                .collect();
            parallel(&jobs, |((path, bytes, mode), tmp)| {
                write_new(tmp, path, bytes, *mode)
            })?;
            // The old file of every target stays reachable (a hard link) until the batch is
            // done, so a killed run can be undone.
            let targets = (self
                .files
                .iter()
                .map(|(p, _, _)| p)
                .zip(temps.iter().map(Some)))
            .chain(removals.iter().map(|p| (*p, None)));
            for (target, temp) in targets {
                let backup = match fs::symlink_metadata(target) {
                    Ok(_) => {
                        let b = backup_name(target);
                        keep_old(target, &b)?;
                        backups.push(b.clone());
                        Some(rel(&b)?)
                    }
                    Err(_) => None,
                };
                entries.push(journal::Entry {
                    target: rel(target)?,
                    temp: temp.map(|t| rel(t)).transpose()?,
                    backup,
                });
                if let Some(d) = target.parent() {
                    touched_dirs.insert(d.to_path_buf());
                }
            }
            // Each appended file's length before (a torn last line already cut off), so that
            // undoing the batch, here or in a later run's recovery, cuts the lines off again.
            for (path, _) in &self.appends {
                appended.push(journal::Appended {
                    target: rel(path)?,
                    len: cut_torn_line(path)?,
                });
            }
            // The temp files and backups are on disk before the journal says they are.
            let dirs: Vec<&PathBuf> = touched_dirs.iter().collect();
            parallel(&dirs, |d| sync_dir(d))?;
            journal::write(out, &entries, &appended)
        })();
        if let Err(e) = staged {
            for p in temps.iter().chain(&backups) {
                let _ = fs::remove_file(p);
            }
            for d in created_dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(e);
        }
        let appended_now = match append_all(&self.appends) {
            Ok(a) => a,
            Err(e) => {
                if let Err(e) =
                    journal::settle(out, &entries, &appended, false, journal::Flush::Changed)
                {
                    // The journal stays, and the next run may finish the batch: what it
                    // needs outside the tree (a token key) must stay too.
                    self.undo.clear();
                    return Err(e);
                }
                for d in created_dirs.iter().rev() {
                    let _ = fs::remove_dir(d);
                }
                return Err(e);
            }
        };
        for (k, ((path, _, _), tmp)) in self.files.iter().zip(&temps).enumerate() {
            if let Err(e) = test_hook(k + 1).and_then(|_| fs::rename(tmp, path)) {
                // Every old file back, every new one gone, every appended line cut off; the
                // journal stays only if even that fails, for the next run to finish.
                cut_back(&appended_now);
                if let Err(e) =
                    journal::settle(out, &entries, &appended, false, journal::Flush::Changed)
                {
                    // The journal stays, and the next run may finish the batch: what it
                    // needs outside the tree (a token key) must stay too.
                    self.undo.clear();
                    return Err(e);
                }
                for d in created_dirs.iter().rev() {
                    let _ = fs::remove_dir(d);
                }
                return Err(Error::io("write", path, e));
            }
        }
        // A new folder's own entry lives in its parent.
        for d in &created_dirs {
            if let Some(p) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
                touched_dirs.insert(p.to_path_buf());
            }
        }
        let dirs: Vec<PathBuf> = touched_dirs.into_iter().collect();
        parallel(&dirs, |d| sync_dir(d))?;
        // Removals, then the backups and the journal go. The plan has landed: nothing of it is
        // undone any more, whatever happens next.
        self.undo.clear();
        journal::settle(out, &entries, &appended, true, journal::Flush::Changed)
    }
}

/// Temp files written and flushed ahead of a plan's commit (by a `Stager`), by target path, and
/// the folders made for them (parents first). Whatever no commit takes is removed when this is
/// dropped: a run that fails before its commit leaves nothing behind.
#[derive(Default)]
pub struct Staged {
    files: HashMap<PathBuf, StagedFile>,
    dirs: Vec<PathBuf>,
}

struct StagedFile {
    temp: PathBuf,
    bytes: Vec<u8>,
    mode: Mode,
}

impl Staged {
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn merge(&mut self, mut other: Staged) {
        for (p, f) in std::mem::take(&mut other.files) {
            if let Some(old) = self.files.insert(p, f) {
                let _ = fs::remove_file(old.temp);
            }
        }
        self.dirs.append(&mut other.dirs);
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for f in self.files.values() {
            let _ = fs::remove_file(&f.temp);
        }
        for d in self.dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

impl Plan {
    /// The files of this plan that `commit` would take from its staged temp files as they are.
    #[cfg(test)]
    pub(crate) fn ahead(&self) -> Vec<PathBuf> {
        (self.files.iter())
            .filter(|(p, b, m)| {
                (self.staged.files.get(p)).is_some_and(|f| f.bytes == *b && f.mode == *m)
            })
            .map(|(p, _, _)| p.clone())
            .collect()
    }

    /// Lets `commit` take the temp files of `staged` for the files of this plan they match.
    pub fn adopt(&mut self, staged: Staged) {
        self.staged.merge(staged);
    }
}

/// Writes and flushes files while the run that makes them goes on. `stage` hands a plan's files
/// to the I/O pool and returns at once; each becomes a flushed temp file beside its target,
/// exactly as `Plan::commit` would write it (the same link checks, folder modes and exclusive
/// creation), and `finish` waits for them all and gives them to the plan that commits them
/// (`Plan::adopt`). Staging is only ever a head start: the plan decides what is written, and a
/// file staged with other bytes than the plan's final ones is simply written again at commit.
/// Created under the lock, like the commit it prepares.
pub struct Stager<'l> {
    _lock: &'l Lock,
    shared: Arc<Shared>,
}

struct Shared {
    out: PathBuf,
    state: Mutex<StageState>,
    idle: Condvar,
}

#[derive(Default)]
struct StageState {
    /// Files handed to the pool and not yet written.
    pending: usize,
    staged: Staged,
    /// Folders made ready (created, swept of dead runs' temp files), and whether for a secret.
    ready: HashMap<PathBuf, bool>,
    /// Folders checked not to be links.
    checked: BTreeSet<PathBuf>,
    /// The first failure; later files are not written.
    error: Option<Error>,
}

impl<'l> Stager<'l> {
    pub fn new(lock: &'l Lock) -> Self {
        Stager {
            _lock: lock,
            shared: Arc::new(Shared {
                out: lock.out().to_path_buf(),
                state: Mutex::new(StageState::default()),
                idle: Condvar::new(),
            }),
        }
    }

    /// Starts writing and flushing every file of `plan` (its files only: removals and appends
    /// wait for the commit).
    pub fn stage(&self, plan: &Plan) {
        for (path, bytes, mode) in &plan.files {
            locked(&self.shared.state).pending += 1;
            let shared = Arc::clone(&self.shared);
            let (path, bytes, mode) = (path.clone(), bytes.clone(), *mode);
            let job = move || shared.write(path, bytes, mode);
            match io_pool() {
                Some(pool) => pool.spawn(job),
                None => job(),
            }
        }
    }

    /// A copy of the failure that stopped the staging, if any: a run can stop early on it.
    pub fn failed(&self) -> Option<Error> {
        locked(&self.shared.state).error.as_ref().map(copy_error)
    }

    /// Waits for every file handed over; the staged temp files, or the first failure (and then
    /// every temp file and folder the stager made is removed).
    pub fn finish(self) -> Result<Staged> {
        let mut st = self.shared.wait_idle();
        let staged = std::mem::take(&mut st.staged);
        match st.error.take() {
            Some(e) => Err(e),
            None => Ok(staged),
        }
    }
}

impl Drop for Stager<'_> {
    /// A stager dropped without `finish` (the run failed) waits for its writes, then removes
    /// everything it wrote.
    fn drop(&mut self) {
        let staged = std::mem::take(&mut self.shared.wait_idle().staged);
        drop(staged);
    }
}

impl Shared {
    fn wait_idle(&self) -> MutexGuard<'_, StageState> {
        let mut st = locked(&self.state);
        while st.pending > 0 {
            st = self.idle.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st
    }

    /// One staged file: its folder made ready under the state's lock (folders are few and
    /// quick to check), then the temp file written and flushed outside it.
    fn write(&self, path: PathBuf, bytes: Vec<u8>, mode: Mode) {
        let ready = {
            let mut st = locked(&self.state);
            if st.error.is_some() {
                Err(None)
            } else {
                self.ready_dir(&mut st, &path, mode).map_err(Some)
            }
        };
        let written = ready.and_then(|()| {
            let temp = temp_name(&path);
            write_new(&temp, &path, &bytes, mode)
                .map(|()| temp)
                .map_err(Some)
        });
        let mut st = locked(&self.state);
        match written {
            Ok(temp) => {
                let f = StagedFile { temp, bytes, mode };
                if let Some(old) = st.staged.files.insert(path, f) {
                    let _ = fs::remove_file(old.temp);
                }
            }
            Err(Some(e)) => {
                st.error.get_or_insert(e);
            }
            Err(None) => {}
        }
        st.pending -= 1;
        if st.pending == 0 {
            self.idle.notify_all();
        }
    }

    fn ready_dir(&self, st: &mut StageState, path: &Path, mode: Mode) -> Result<()> {
        refuse_links_in(&self.out, std::iter::once(path), &mut st.checked)?;
        let dir = path
            .parent()
            .ok_or_else(|| Error::bug(format!("{} has no folder", path.display())))?;
        let secret = mode == Mode::Secret;
        match st.ready.get(dir) {
            Some(&was_secret) if was_secret || !secret => Ok(()),
            seen => {
                let first = seen.is_none();
                ensure_dir(dir, secret, &mut st.staged.dirs)?;
                if first {
                    sweep_stale_temps(dir);
                }
                st.ready.insert(dir.to_path_buf(), secret);
                Ok(())
            }
        }
    }
}

/// The same error again (`Error` holds only text and paths).
fn copy_error(e: &Error) -> Error {
    match e {
        Error::Input(m) => Error::Input(m.clone()),
        Error::Bug(m) => Error::Bug(m.clone()),
        Error::Io {
            action,
            path,
            reason,
            fix,
        } => Error::Io {
            action,
            path: path.clone(),
            reason: reason.clone(),
            fix,
        },
    }
}

/// Test-only: `HAPKI_TEST_KILL_AT_RENAME=K` aborts the process (no cleanup, as a SIGKILL) and
/// `HAPKI_TEST_FAIL_AT_RENAME=K` fails just before the K-th rename of a plan, so the tests can
/// stop a batch at every point. Compiled out of release builds.
fn test_hook(k: usize) -> std::io::Result<()> {
    #[cfg(debug_assertions)]
    {
        let at = |var: &str| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
        };
        if at("HAPKI_TEST_KILL_AT_RENAME") == Some(k) {
            std::process::abort();
        }
        if at("HAPKI_TEST_FAIL_AT_RENAME") == Some(k) {
            return Err(std::io::Error::other("injected failure"));
        }
    }
    let _ = k;
    Ok(())
}

/// Keeps the old `target` at `backup`: a hard link (no copy, and the inode tells a recovery
/// whether the rename happened), or a copy where the filesystem has no hard links.
fn keep_old(target: &Path, backup: &Path) -> Result<()> {
    match fs::hard_link(target, backup) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::io("back up", target, e))
        }
        Err(_) => fs::copy(target, backup)
            .map(|_| ())
            .map_err(|e| Error::io("back up", target, e)),
    }
}

/// Refuses a plan that would write through a symbolic link: every folder from `out` down to
/// each file must be a real folder, and no target may be a link (a link planted at a key's
/// path, or a `private/` folder pointing outside, would send keys and chmods out of the tree).
/// `out` itself may be a link: that is where the user asked the tree to go.
fn refuse_links<'a>(out: &Path, paths: impl Iterator<Item = &'a Path>) -> Result<()> {
    refuse_links_in(out, paths, &mut BTreeSet::new())
}

/// `refuse_links`, skipping the folders in `seen` (checked before) and adding those it checks.
fn refuse_links_in<'a>(
    out: &Path,
    paths: impl Iterator<Item = &'a Path>,
    seen: &mut BTreeSet<PathBuf>,
) -> Result<()> {
    let link = |p: &Path| {
        Error::input(format!(
            "{} is a symbolic link; hapki does not write through links; remove it",
            p.display()
        ))
    };
    for path in paths {
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(link(path));
        }
        let Some(rel) = path.parent().and_then(|d| d.strip_prefix(out).ok()) else {
            continue;
        };
        let mut dir = out.to_path_buf();
        for c in rel.components() {
            dir.push(c);
            if seen.contains(&dir) {
                continue;
            }
            // Only a folder that passed is remembered: a link found once is refused again for
            // the next file in it, or that file's folder would be made (and chmodded) through it.
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => return Err(link(&dir)),
                Ok(_) => {
                    seen.insert(dir.clone());
                }
                Err(_) => break,
            }
        }
    }
    Ok(())
}

/// Runs `f` on every item on the I/O pool (each item a task of its own, since each waits on
/// the disk); stops handing out work at the first failure and returns the failure of the
/// earliest item.
pub(super) fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    // The lowest index that failed so far: items after it are skipped, items before it still
    // run, so the error reported is the first in the plan's order that fails, whichever thread
    // got to its item first (a full disk names the same file on every run).
    let first_failed = AtomicUsize::new(usize::MAX);
    let errors: Mutex<Vec<(usize, Error)>> = Mutex::new(Vec::new());
    let run = |(i, item): (usize, &T)| {
        if i > first_failed.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = f(item) {
            first_failed.fetch_min(i, Ordering::Relaxed);
            locked(&errors).push((i, e));
        }
    };
    match io_pool() {
        Some(pool) if items.len() > 1 => {
            pool.install(|| items.par_iter().enumerate().with_max_len(1).for_each(run))
        }
        _ => items.iter().enumerate().for_each(run),
    }
    let mut errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    errors.sort_by_key(|(i, _)| *i);
    match errors.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// A mutex's guard, also after a thread panicked holding it (the data are plain lists).
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Flushes a folder, so the entries renamed, created or removed in it survive a crash. A
/// filesystem that cannot flush folders (some network mounts) has nothing more to give.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let r = fs::File::open(dir).and_then(|d| d.sync_all());
    match r {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        r => r.map_err(|e| Error::io("flush the folder", dir, e)),
    }
}

/// The PID in a hapki temp or backup name: `.NAME.hapki-PID-RAND.tmp`,
/// `.NAME.hapki-old-PID-RAND.tmp`, or the `.NAME.hapki-PID.tmp` of older versions.
fn temp_pid(name: &str) -> Option<u32> {
    let tail = name
        .strip_prefix('.')?
        .strip_suffix(".tmp")?
        .rsplit_once(".hapki-")?
        .1;
    let tail = tail.strip_prefix("old-").unwrap_or(tail);
    let (pid, rand) = tail.split_once('-').unwrap_or((tail, ""));
    rand.bytes().all(|b| b.is_ascii_hexdigit()).then_some(())?;
    pid.parse().ok()
}

/// Removes the temp files that a run killed part-way left in `dir` (of a process that is
/// gone): they were never renamed into place, so nothing refers to them.
fn sweep_stale_temps(dir: &Path) {
    sweep(dir, |pid| !Path::new(&format!("/proc/{pid}")).exists());
}

fn sweep(dir: &Path, stale: impl Fn(u32) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else {
            continue;
        };
        if pid != std::process::id() && stale(pid) && e.file_type().is_ok_and(|t| !t.is_dir()) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Removes every temp file and backup of another run from the whole tree at `out` (links are
/// not followed). Called under the lock, after the journal is settled: no other writer is
/// running, so any such file is a leftover, a killed run's private key temp files included.
pub fn sweep_tree(out: &Path) {
    sweep(out, |_| true);
    let Ok(entries) = fs::read_dir(out) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            sweep_tree(&e.path());
        }
    }
}

/// Removes the folders above `path` that are empty, up to `out`: a tree that keeps `policy/`
/// reads as one that has a policy CA.
pub(crate) fn remove_empty_parents(out: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| d.starts_with(out) && *d != out) {
        if fs::remove_dir(d).is_err() {
            break;
        }
        if let Some(p) = d.parent() {
            let _ = sync_dir(p);
        }
        dir = d.parent();
    }
}

/// A random suffix for temp names: a name nobody can plant a file or a link at in advance.
fn random_suffix() -> String {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // Exclusive creation still refuses anything planted; the name is only less secret.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b = t.to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn named(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(
        ".{name}.hapki-{tag}{}-{}.tmp",
        std::process::id(),
        random_suffix()
    ))
}

/// Where the new content of `path` is staged: `.NAME.hapki-PID-RAND.tmp` in its folder.
pub(crate) fn temp_name(path: &Path) -> PathBuf {
    named(path, "")
}

/// Where the old `path` is kept during a batch: `.NAME.hapki-old-PID-RAND.tmp`.
fn backup_name(path: &Path) -> PathBuf {
    named(path, "old-")
}

/// Writes `bytes` to the new file `tmp` (created exclusively: a file or link planted there is
/// refused, never followed); errors name `target`, the file the user asked for, not the
/// hidden temp file.
pub(crate) fn write_new(tmp: &Path, target: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode.bits())
        .custom_flags(libc::O_NOFOLLOW)
        .open(tmp)
        .map_err(|e| Error::io("write", target, e))?;
    // The mode given to open() is filtered by the umask; set it exactly.
    let written = (f.set_permissions(fs::Permissions::from_mode(mode.bits())))
        .map_err(|e| Error::io("set permissions on", target, e))
        .and_then(|_| {
            (f.write_all(bytes).and_then(|_| f.sync_all()))
                .map_err(|e| Error::io("write", target, e))
        });
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written
}

/// Creates `dir` and its missing parents, 0700 when it will hold secrets (and an existing one that
/// will is closed to others), and records what it made.
fn ensure_dir(dir: &Path, secret: bool, created: &mut Vec<PathBuf>) -> Result<()> {
    if dir.is_dir() {
        return if secret { close_to_others(dir) } else { Ok(()) };
    }
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() {
            ensure_dir(parent, false, created)?;
        }
    }
    let mode = if secret { 0o700 } else { 0o755 };
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {
            created.push(dir.to_path_buf());
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io("set permissions on", dir, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(Error::io("create the folder", dir, e)),
    }
}

fn close_to_others(dir: &Path) -> Result<()> {
    let meta = fs::metadata(dir).map_err(|e| Error::io("read", dir, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set permissions on", dir, e))?;
    }
    Ok(())
}

/// Fails early, before any key is generated, when `out` (or its nearest existing ancestor)
/// cannot be written.
pub fn check_writable(out: &Path) -> Result<()> {
    let mut dir = out.to_path_buf();
    while !dir.exists() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => {
                dir = PathBuf::from(".");
                break;
            }
        }
    }
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "the output path {} is not a folder; give a folder with --out",
            dir.display()
        )));
    }
    let probe = dir.join(format!(".hapki-write-test-{}", std::process::id()));
    match fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Error::Input(format!(
            "cannot write to the output folder {}: {}; make it writable or choose another folder with --out",
            dir.display(),
            e.to_string().split(" (os error").next().unwrap_or("").to_lowercase()
        ))),
    }
}

/// Appends every entry of `Plan::append`; on a failure, the files appended to so far are cut
/// back to their length before, so a failed plan adds no line. Returns each file's length
/// before, for a later failure of the batch to cut them back too.
fn append_all(appends: &[(PathBuf, Vec<u8>)]) -> Result<Vec<(PathBuf, u64)>> {
    // Each file is a different one and each append ends in a flush: on the I/O pool, together.
    let one = |(path, bytes): &(PathBuf, Vec<u8>)| append_one(path, bytes);
    let results: Vec<Result<u64>> = match io_pool() {
        Some(pool) if appends.len() > 1 => {
            pool.install(|| appends.par_iter().with_max_len(1).map(one).collect())
        }
        _ => appends.iter().map(one).collect(),
    };
    let mut done: Vec<(PathBuf, u64)> = Vec::new();
    let mut failed = None;
    for ((path, _), r) in appends.iter().zip(results) {
        match r {
            Ok(before) => done.push((path.clone(), before)),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => {
            cut_back(&done);
            Err(e)
        }
        None => Ok(done),
    }
}

/// Cuts appended files back to the lengths they had.
fn cut_back(done: &[(PathBuf, u64)]) {
    for (p, len) in done {
        if let Ok(f) = fs::OpenOptions::new().write(true).open(p) {
            let _ = f.set_len(*len).and_then(|_| f.sync_all());
        }
    }
}

/// Appends to one file; returns its length before (after a torn last line was cut off).
fn append_one(path: &Path, bytes: &[u8]) -> Result<u64> {
    let keep = cut_torn_line(path)?;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| Error::io("write", path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("write", path, e))?;
    Ok(keep)
}

/// Cuts off a last line without its newline (a run killed mid-append) and returns the length
/// left; creates the file (empty) when it is missing.
fn cut_torn_line(path: &Path) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(Mode::Public.bits())
        .open(path)
        .map_err(|e| Error::io("write", path, e))?;
    let len = f.metadata().map_err(|e| Error::io("read", path, e))?.len();
    let mut keep = len;
    if len > 0 {
        // Find the end of the last whole line: read back from the end in small blocks.
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))
            .and_then(|_| f.read_exact(&mut last))
            .map_err(|e| Error::io("read", path, e))?;
        if last[0] != b'\n' {
            keep = 0;
            let mut end = len;
            let mut block = vec![0u8; 4096];
            while end > 0 {
                let start = end.saturating_sub(block.len() as u64);
                let n = (end - start) as usize;
                f.seek(SeekFrom::Start(start))
                    .and_then(|_| f.read_exact(&mut block[..n]))
                    .map_err(|e| Error::io("read", path, e))?;
                if let Some(i) = block[..n].iter().rposition(|&b| b == b'\n') {
                    keep = start + i as u64 + 1;
                    break;
                }
                end = start;
            }
            f.set_len(keep)
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::io("write", path, e))?;
        }
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(plan: Plan, out: &Path) -> Result<()> {
        let lock = Lock::take(out, std::time::Duration::ZERO)?;
        plan.commit(&lock)
    }

    fn leftovers(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(leftovers(&p));
            } else if p.to_string_lossy().ends_with(".tmp") {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn commit_writes_every_file_with_its_mode_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan::new();
        for i in 0..100 {
            plan.add(
                dir.path().join(format!("a/certs/{i}.pem")),
                format!("{i}"),
                Mode::Public,
            );
        }
        plan.add(dir.path().join("a/private/k.pem"), "old", Mode::Secret);
        plan.add(dir.path().join("a/private/k.pem"), "key", Mode::Secret);
        assert_eq!(plan.len(), 101);
        commit(plan, dir.path()).unwrap();
        for i in 0..100 {
            let p = dir.path().join(format!("a/certs/{i}.pem"));
            assert_eq!(fs::read_to_string(&p).unwrap(), i.to_string());
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
        let key = dir.path().join("a/private/k.pem");
        assert_eq!(fs::read_to_string(&key).unwrap(), "key");
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let private = dir.path().join("a/private");
        assert_eq!(
            fs::metadata(private).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(leftovers(dir.path()).is_empty());
    }

    /// The undo of work outside the tree runs when a plan is dropped or its commit fails, also
    /// after the plan was merged into another, and never once its commit succeeded.
    #[test]
    fn undo_runs_unless_the_plan_lands() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        let undone = Arc::new(AtomicUsize::new(0));
        let counted = |plan: &mut Plan| {
            let u = Arc::clone(&undone);
            plan.undo_unless_committed(Box::new(move || {
                u.fetch_add(1, Ordering::SeqCst);
            }));
        };
        let dir = tempfile::tempdir().unwrap();
        let mut dropped = Plan::new();
        counted(&mut dropped);
        drop(dropped);
        assert_eq!(undone.load(Ordering::SeqCst), 1);

        fs::write(dir.path().join("blocker"), "").unwrap();
        let mut inner = Plan::new();
        counted(&mut inner);
        let mut failing = Plan::new();
        failing.add(dir.path().join("blocker/sub/x.pem"), "x", Mode::Public);
        failing.extend(inner);
        assert_eq!(undone.load(Ordering::SeqCst), 1, "merging runs nothing");
        assert!(commit(failing, dir.path()).is_err());
        assert_eq!(undone.load(Ordering::SeqCst), 2);

        let mut landing = Plan::new();
        counted(&mut landing);
        landing.add(dir.path().join("ok.pem"), "x", Mode::Public);
        commit(landing, dir.path()).unwrap();
        assert_eq!(undone.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_commit_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept.pem");
        fs::write(&kept, "before").unwrap();
        // A plain file where a folder is needed: staging fails after other files were written.
        fs::write(dir.path().join("blocker"), "").unwrap();
        let mut plan = Plan::new();
        for i in 0..50 {
            plan.add(dir.path().join(format!("new/{i}.pem")), "x", Mode::Public);
        }
        plan.add(&kept, "after", Mode::Public);
        plan.add(dir.path().join("blocker/sub/x.pem"), "x", Mode::Public);
        assert!(commit(plan, dir.path()).is_err());
        assert_eq!(fs::read_to_string(&kept).unwrap(), "before");
        assert!(!dir.path().join("new").exists());
        assert!(leftovers(dir.path()).is_empty());

        // A name whose temp name is too long: the failure comes from a writer thread, while
        // the others have written their temp files.
        let mut plan = Plan::new();
        for i in 0..50 {
            plan.add(dir.path().join(format!("new/{i}.pem")), "x", Mode::Public);
        }
        plan.add(&kept, "after", Mode::Public);
        plan.add(
            dir.path().join("new").join("n".repeat(250)),
            "x",
            Mode::Public,
        );
        assert!(commit(plan, dir.path()).is_err());
        assert_eq!(fs::read_to_string(&kept).unwrap(), "before");
        assert!(!dir.path().join("new").exists());
        assert!(leftovers(dir.path()).is_empty());
    }

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hapki-fsio-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn commit_writes_keys_0600_in_0700_folders() {
        let d = tmp();
        let mut plan = Plan::new();
        plan.add(d.join("o/h/private/k.pem"), "key", Mode::Secret);
        plan.add(d.join("o/h/certs/c.pem"), "cert", Mode::Public);
        commit(plan, &d).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d.join("o/h/private/k.pem")), 0o600);
        assert_eq!(mode(&d.join("o/h/private")), 0o700);
        assert_eq!(mode(&d.join("o/h/certs/c.pem")), 0o644);
        assert_eq!(
            fs::read_to_string(d.join("o/h/certs/c.pem")).unwrap(),
            "cert"
        );
        // No temp file is left behind.
        assert_eq!(fs::read_dir(d.join("o/h/certs")).unwrap().count(), 1);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_failing_plan_changes_nothing() {
        let d = tmp();
        fs::write(d.join("old.pem"), "old").unwrap();
        fs::write(d.join("blocker"), "a file where a folder must go").unwrap();
        let mut plan = Plan::new();
        plan.add(d.join("old.pem"), "new", Mode::Public);
        plan.add(d.join("fresh/dir/a.pem"), "a", Mode::Public);
        plan.add(d.join("blocker/sub/b.pem"), "b", Mode::Public);
        let err = commit(plan, &d).unwrap_err().to_string();
        assert!(err.contains("blocker"), "{err}");
        assert_eq!(fs::read_to_string(d.join("old.pem")).unwrap(), "old");
        assert!(
            !d.join("fresh").exists(),
            "folders made by a failed plan are removed"
        );
        let mut left: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["blocker", "old.pem"]);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn temp_files_of_a_killed_run_are_swept() {
        let d = tmp();
        // No process has PID 0 in /proc; our own temp name is left to us.
        let dead = d.join(".a.pem.hapki-0-0123abcd.tmp");
        let other = d.join(".b.pem.hapki-x.tmp");
        fs::write(&dead, "half").unwrap();
        fs::write(&other, "not ours").unwrap();
        let mut plan = Plan::new();
        plan.add(d.join("c.pem"), "c", Mode::Public);
        commit(plan, &d).unwrap();
        assert!(!dead.exists());
        assert!(other.exists());
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_planted_file_or_link_at_a_temp_name_is_never_followed() {
        let d = tmp();
        let victim = d.join("victim");
        fs::write(&victim, "precious").unwrap();
        let tmp = temp_name(&d.join("k.pem"));
        assert!(temp_pid(tmp.file_name().unwrap().to_str().unwrap()) == Some(std::process::id()));
        assert_ne!(
            tmp,
            temp_name(&d.join("k.pem")),
            "temp names are not predictable"
        );
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        assert!(write_new(&tmp, &d.join("k.pem"), b"key", Mode::Secret).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(fs::symlink_metadata(&tmp).unwrap().file_type().is_symlink());
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn removals_happen_after_the_new_files_land() {
        let d = tmp();
        fs::write(d.join("stale.pem"), "x").unwrap();
        let mut plan = Plan::new();
        plan.add(d.join("new.pem"), "n", Mode::Public);
        plan.remove(d.join("stale.pem"));
        commit(plan, &d).unwrap();
        assert!(!d.join("stale.pem").exists());
        assert!(d.join("new.pem").exists());
        // A folder the removals empty goes too, up to the first one still in use.
        fs::create_dir_all(d.join("policy/certs")).unwrap();
        fs::write(d.join("policy/certs/p.pem"), "p").unwrap();
        let mut plan = Plan::new();
        plan.remove(d.join("policy/certs/p.pem"));
        commit(plan, &d).unwrap();
        assert!(!d.join("policy").exists());
        assert!(d.join("new.pem").exists());
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn appends_cut_a_torn_last_line_and_follow_a_whole_write() {
        let d = tmp();
        let idx = d.join("ca/index.txt");
        let mut plan = Plan::new();
        plan.append(&idx, "b\n");
        plan.add(&idx, "a\n", Mode::Public);
        plan.append(&idx, "c\n");
        commit(plan, &d).unwrap();
        assert_eq!(fs::read_to_string(&idx).unwrap(), "a\nb\nc\n");
        // A run killed mid-append left half a line: the next append cuts it off.
        fs::write(&idx, "a\nb\nhal").unwrap();
        let mut plan = Plan::new();
        plan.append(&idx, "d\n");
        commit(plan, &d).unwrap();
        assert_eq!(fs::read_to_string(&idx).unwrap(), "a\nb\nd\n");
        fs::write(&idx, "no newline at all").unwrap();
        let mut plan = Plan::new();
        plan.append(&idx, "e\n");
        commit(plan, &d).unwrap();
        assert_eq!(fs::read_to_string(&idx).unwrap(), "e\n");
        fs::remove_dir_all(d).unwrap();
    }

    fn lock(out: &Path) -> Lock {
        Lock::take(out, std::time::Duration::ZERO).unwrap()
    }

    fn inode(p: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(p).unwrap().ino()
    }

    #[test]
    fn staged_files_are_renamed_into_place_and_the_rest_written_at_commit() {
        let d = tmp();
        let l = lock(&d);
        let stager = Stager::new(&l);
        let mut early = Plan::new();
        early.add(d.join("o/certs/a.pem"), "A", Mode::Public);
        early.add(d.join("o/private/k.pem"), "K", Mode::Secret);
        early.add(d.join("o/certs/gone.pem"), "G", Mode::Public);
        stager.stage(&early);
        let staged = stager.finish().unwrap();
        assert_eq!(staged.len(), 3);
        // Flushed temp files beside their targets, none at a target path yet.
        let temps = leftovers(&d);
        assert_eq!(temps.len(), 3, "{temps:?}");
        assert!(!d.join("o/certs/a.pem").exists());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d.join("o/private")), 0o700);
        let key_temp = temps
            .iter()
            .find(|t| t.starts_with(d.join("o/private")))
            .unwrap();
        assert_eq!(mode(key_temp), 0o600);
        let a_temp = temps
            .iter()
            .find(|t| t.to_string_lossy().contains(".a.pem."))
            .unwrap()
            .clone();
        let a_ino = inode(&a_temp);

        // The plan keeps a.pem, changes the key, drops gone.pem and adds b.pem.
        let mut plan = Plan::new();
        plan.add(d.join("o/certs/a.pem"), "A", Mode::Public);
        plan.add(d.join("o/private/k.pem"), "K2", Mode::Secret);
        plan.add(d.join("o/certs/b.pem"), "B", Mode::Public);
        plan.adopt(staged);
        assert_eq!(plan.ahead(), [d.join("o/certs/a.pem")]);
        plan.commit(&l).unwrap();
        assert_eq!(
            inode(&d.join("o/certs/a.pem")),
            a_ino,
            "taken, not written again"
        );
        assert_eq!(fs::read_to_string(d.join("o/private/k.pem")).unwrap(), "K2");
        assert_eq!(mode(&d.join("o/private/k.pem")), 0o600);
        assert_eq!(fs::read_to_string(d.join("o/certs/b.pem")).unwrap(), "B");
        assert!(!d.join("o/certs/gone.pem").exists());
        assert!(leftovers(&d).is_empty());
        drop(l);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_run_that_fails_before_its_commit_leaves_nothing_it_staged() {
        let d = tmp();
        let l = lock(&d);
        let staged_plan = || {
            let mut p = Plan::new();
            for i in 0..20 {
                p.add(d.join(format!("new/deep/{i}.pem")), "x", Mode::Public);
            }
            p.add(d.join("new/private/k.pem"), "k", Mode::Secret);
            p
        };
        // A stager dropped without finish (the run failed while keys were still coming).
        let stager = Stager::new(&l);
        stager.stage(&staged_plan());
        drop(stager);
        assert!(!d.join("new").exists());
        // Finished, adopted by a plan that is then dropped (a later step failed).
        let stager = Stager::new(&l);
        stager.stage(&staged_plan());
        let mut plan = staged_plan();
        plan.adopt(stager.finish().unwrap());
        assert_eq!(plan.ahead().len(), 21);
        drop(plan);
        assert!(!d.join("new").exists());
        assert!(leftovers(&d).is_empty());
        drop(l);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_link_is_refused_for_every_file_in_it_not_only_the_first() {
        let d = tmp();
        fs::create_dir(d.join("outside")).unwrap();
        std::os::unix::fs::symlink(d.join("outside"), d.join("private")).unwrap();
        let mut seen = BTreeSet::new();
        for f in ["a.key.pem", "b.haproxy.pem"] {
            let p = d.join("private").join(f);
            let e = refuse_links_in(&d, std::iter::once(p.as_path()), &mut seen);
            assert!(e.is_err(), "{f} was let through the link");
        }
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_file_that_cannot_be_staged_fails_the_run_and_leaves_nothing() {
        let d = tmp();
        fs::write(d.join("blocker"), "a file where a folder must go").unwrap();
        fs::create_dir(d.join("real")).unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("link")).unwrap();
        let l = lock(&d);
        for bad in [d.join("blocker/sub/b.pem"), d.join("link/x/k.pem")] {
            let stager = Stager::new(&l);
            let mut p = Plan::new();
            for i in 0..10 {
                p.add(d.join(format!("fresh/{i}.pem")), "a", Mode::Public);
            }
            p.add(&bad, "b", Mode::Secret);
            stager.stage(&p);
            let what = bad.parent().unwrap().parent().unwrap().to_path_buf();
            let failed = loop {
                // The failure shows while the run goes on, and at the end.
                if let Some(e) = stager.failed() {
                    break e;
                }
                std::thread::yield_now();
            };
            assert!(
                failed.to_string().contains(&*what.to_string_lossy()),
                "{failed}"
            );
            let err = stager.finish().err().unwrap().to_string();
            assert_eq!(err, failed.to_string());
            assert!(!d.join("fresh").exists());
            assert!(leftovers(&d).is_empty());
        }
        drop(l);
        fs::remove_dir_all(d).unwrap();
    }
}
