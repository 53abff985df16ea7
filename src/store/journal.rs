//! All-or-nothing replacement across many files. A rename is atomic for one file only; a run
//! that replaces a CA renames a dozen. Before the first rename, `Plan::commit` writes (and
//! flushes) `OUT/.hapki-journal`: every (temp, target) pair, and for each target that existed a
//! backup, a hard link to the old file. A run killed among the renames leaves the journal, and
//! the next writer (under the lock, before it looks at the tree) finishes the renames when every
//! new file is still there, or else puts every old file back. Either way the tree holds the old
//! files or the new ones, never half of each.
//!
//! The journal is JSON, paths relative to the output folder, so a run that spells `--out`
//! differently still finds the files.

use super::lock::Lock;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The journal's name in the output folder.
pub const JOURNAL: &str = ".hapki-journal";

/// One file of a batch: `temp` renamed onto `target` (a removal when `temp` is `None`), and the
/// old `target` kept at `backup` until the batch is done.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub target: PathBuf,
    pub temp: Option<PathBuf>,
    pub backup: Option<PathBuf>,
}

/// A file the batch appends to (a CA's index), with its length before the append: undoing
/// the batch cuts it back there, so no line of a cert that never landed stays behind.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Appended {
    pub target: PathBuf,
    pub len: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    entries: Vec<Entry>,
    #[serde(default)]
    appended: Vec<Appended>,
}

/// The journal path of the tree at `out`, when one is pending (a run was killed mid-batch).
pub fn pending(out: &Path) -> Option<PathBuf> {
    let p = out.join(JOURNAL);
    fs::symlink_metadata(&p).is_ok().then_some(p)
}

/// Writes the journal of `entries` and `appended` (relative to `out`) and flushes it and the
/// folder.
pub fn write(out: &Path, entries: &[Entry], appended: &[Appended]) -> Result<()> {
    let path = out.join(JOURNAL);
    let bytes = serde_json::to_vec_pretty(&Journal {
        entries: entries.to_vec(),
        appended: appended.to_vec(),
    })
    .map_err(|e| Error::bug(format!("journal: {e}")))?;
    let tmp = super::plan::temp_name(&path);
    super::plan::write_new(&tmp, &path, &bytes, super::Mode::Public)?;
    fs::rename(&tmp, &path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("write", &path, e)
    })?;
    super::plan::sync_dir(out)
}

/// Removes the journal once its batch is complete (or undone).
pub fn clear(out: &Path) -> Result<()> {
    let path = out.join(JOURNAL);
    match fs::remove_file(&path) {
        Ok(()) => super::plan::sync_dir(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", &path, e)),
    }
}

/// Whether entry `e`'s rename has happened: its temp is gone and the target is not the old file.
fn renamed(out: &Path, e: &Entry) -> bool {
    let Some(temp) = &e.temp else { return true };
    if fs::symlink_metadata(out.join(temp)).is_ok() {
        return false;
    }
    let target = out.join(&e.target);
    let Ok(t) = fs::symlink_metadata(&target) else {
        return false;
    };
    match &e.backup {
        None => true,
        Some(b) => match fs::symlink_metadata(out.join(b)) {
            // The backup is a hard link to the old file: the same inode means not renamed.
            Ok(m) => !(m.dev() == t.dev() && m.ino() == t.ino()),
            // The backup was already dropped by a recovery that rolled forward.
            Err(_) => true,
        },
    }
}

/// Finishes (every new file is there) or undoes (one is lost) the batch a killed run left,
/// then removes the journal, the backups and the temp files. Runs under the lock.
pub fn recover(lock: &Lock) -> Result<()> {
    let out = lock.out();
    let Some(path) = pending(out) else {
        return Ok(());
    };
    let bytes = super::read(&path)?;
    let j: Journal = serde_json::from_slice(&bytes).map_err(|_| {
        Error::input(format!(
            "{} is not a hapki journal (it lists the files of an interrupted run); remove it and run `hapki init`",
            path.display()
        ))
    })?;
    if j.appended.iter().any(|a| !safe(&a.target))
        || j.entries.iter().any(|e| {
            !safe(&e.target)
                || e.temp.as_deref().is_some_and(|t| !safe(t))
                || e.backup.as_deref().is_some_and(|b| !safe(b))
        })
    {
        return Err(Error::input(format!(
            "{} names a file outside {}; remove it and run `hapki init`",
            path.display(),
            out.display()
        )));
    }
    let forward = j
        .entries
        .iter()
        .all(|e| renamed(out, e) || e.temp.as_ref().is_some_and(|t| out.join(t).exists()));
    settle(out, &j.entries, &j.appended, forward, Flush::All)
}

/// Which folders `settle` flushes before it removes the journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flush {
    /// Every folder of the batch: a killed run's renames may never have reached the disk
    /// (recovery).
    All,
    /// Only the folders `settle` itself changed: the commit that calls it has just flushed
    /// every folder it renamed into. Flushing those again cost ~3 ms each, one after another,
    /// ~0.2 s of an `init` of the default profile after its last key.
    Changed,
}

/// Completes (`forward`) or undoes the batch `entries` (undoing cuts each `appended` file
/// back to its length before), then removes its temp files, its backups and the journal,
/// flushing the folders `flush` says (in parallel) before the journal goes. Safe to run again
/// on what a run killed in here left.
pub fn settle(
    out: &Path,
    entries: &[Entry],
    appended: &[Appended],
    forward: bool,
    flush: Flush,
) -> Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    if !forward {
        for a in appended {
            let target = out.join(&a.target);
            match fs::OpenOptions::new().write(true).open(&target) {
                Ok(f) => {
                    let longer = f.metadata().is_ok_and(|m| m.len() > a.len);
                    if longer {
                        f.set_len(a.len)
                            .and_then(|_| f.sync_all())
                            .map_err(|e| Error::io("recover", &target, e))?;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("recover", &target, e)),
            }
        }
    }
    let mut changed = |path: &Path, did: bool| {
        if did || flush == Flush::All {
            if let Some(d) = path.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
    };
    for e in entries {
        let target = out.join(&e.target);
        let r = if forward {
            match &e.temp {
                Some(t) if out.join(t).exists() => fs::rename(out.join(t), &target).map(|()| true),
                Some(_) => Ok(false),
                None => remove_if_there(&target),
            }
        } else {
            match &e.backup {
                Some(b) if out.join(b).exists() => fs::rename(out.join(b), &target).map(|()| true),
                // A target that did not exist before the batch: the batch made it.
                None if e.temp.is_some() && renamed(out, e) => remove_if_there(&target),
                _ => Ok(false),
            }
        };
        let did = r.map_err(|err| Error::io("recover", &target, err))?;
        changed(&target, did);
    }
    for e in entries {
        for p in [&e.temp, &e.backup].into_iter().flatten() {
            let p = out.join(p);
            let did = remove_if_there(&p).unwrap_or(false);
            changed(&p, did);
        }
    }
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    super::plan::parallel(&dirs, |d| super::plan::sync_dir(d))?;
    if forward {
        // A removal may have emptied folders (a dropped policy level).
        for e in entries.iter().filter(|e| e.temp.is_none()) {
            super::plan::remove_empty_parents(out, &out.join(&e.target));
        }
    }
    clear(out)
}

/// Removes `p`; whether it was there.
fn remove_if_there(p: &Path) -> std::io::Result<bool> {
    match fs::remove_file(p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A relative path that stays inside the output folder.
fn safe(p: &Path) -> bool {
    p.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}
