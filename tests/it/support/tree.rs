//! Snapshots of a folder, to prove a refused or repeated command changed nothing, and the
//! file modes and listings the layout tests compare.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Everything observable about a tree: each entry's kind, mode, bytes and modification time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        mtime_ns: i128,
        bytes: Vec<u8>,
    },
}

pub type Snapshot = BTreeMap<PathBuf, Entry>;

/// Snapshot of `root` (relative paths; empty when `root` does not exist).
pub fn snapshot(root: &Path) -> Snapshot {
    let mut snap = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut snap);
    }
    snap
}

fn walk(root: &Path, dir: &Path, snap: &mut Snapshot) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            snap.insert(rel, Entry::Dir { mode });
            walk(root, &p, snap);
        } else {
            let mtime = meta.modified().expect("mtime");
            let mtime_ns = mtime
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i128;
            snap.insert(
                rel,
                Entry::File {
                    mode,
                    mtime_ns,
                    bytes: std::fs::read(&p).expect("read"),
                },
            );
        }
    }
}

fn is_ca_db_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = p
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str());
    name.starts_with("index.txt") || name == "crlnumber" || matches!(dir, Some("newcerts" | "crl"))
}

/// The relative paths of the files (not folders) under `root`, sorted.
pub fn files_under(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(_, e)| matches!(e, Entry::File { .. }))
        // The CAs' databases and CRLs (index.txt, crlnumber, newcerts/, crl/) are checked by
        // tests/it/lifecycle_*.rs; the layout tests compare the certs and keys.
        .filter(|(p, _)| !is_ca_db_file(p))
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect()
}

/// Asserts two snapshots are equal, naming the first entry that differs.
pub fn assert_same_tree(before: &Snapshot, after: &Snapshot) {
    for (p, e) in before {
        match after.get(p) {
            None => panic!("{} was removed", p.display()),
            Some(a) if a != e => panic!("{} was changed", p.display()),
            _ => {}
        }
    }
    for p in after.keys() {
        assert!(before.contains_key(p), "{} was created", p.display());
    }
}

/// The permission bits of a file or folder.
pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// `cp -a FROM TO`: a copy of a tree with its modes and times, `TO` replaced if it exists.
pub fn copy_tree(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    }
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cp -a {} {}", from.display(), to.display());
}

/// The files under `root` whose path ends with one of `suffixes`, sorted.
pub fn files_ending(root: &Path, suffixes: &[&str]) -> Vec<PathBuf> {
    snapshot(root)
        .into_iter()
        .filter(|(_, e)| matches!(e, Entry::File { .. }))
        .map(|(p, _)| root.join(p))
        .filter(|p| suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)))
        .collect()
}

/// The bytes of every file under `root`, by relative path: what a test compares when only the
/// contents must be as they were.
pub fn contents(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter_map(|(p, e)| match e {
            Entry::File { bytes, .. } => Some((p, bytes)),
            Entry::Dir { .. } => None,
        })
        .collect()
}
