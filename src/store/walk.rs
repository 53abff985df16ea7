//! The one walk of an output tree: what `cadb::scan` backfills the indexes from, what `verify`
//! checks (and reports as unknown), and what `store::modes` closes to others. It never follows
//! a link below the folder it is given (a link is listed as a link, and a linked folder is not
//! entered), so nothing outside the tree is read or changed through it; it stops at a bounded
//! depth; and it lists every entry with its type as the folder entry itself gives it (no
//! `stat` through links). Folders it cannot read, and entries whose type cannot be read, are
//! left out: the callers judge the files they expect by path, and a missing one is their
//! finding, not the walk's.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

/// How deep any walk of an output tree goes: `OUT/ORG/NODE/certs/FILE` is 4 below the output
/// folder, so 16 leaves room for whatever someone put in a tree, and bounds the walk of one
/// that nests folders without end.
pub const TREE_DEPTH: usize = 16;

/// What a folder entry is, as its folder entry says (a link is a link, whatever it points at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

/// One entry under the walked folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: EntryKind,
    /// 1 for an entry of the walked folder itself, 2 for one in a folder of it, and so on.
    pub depth: usize,
}

impl Entry {
    /// The entry's own name (the last part of its path).
    pub fn name(&self) -> &OsStr {
        self.path.file_name().unwrap_or_default()
    }

    /// The entry's own name, when it is UTF-8.
    pub fn name_str(&self) -> Option<&str> {
        self.name().to_str()
    }

    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }
}

/// Every entry under `root` (not `root` itself) down to `max_depth`, in a stable order: each
/// folder's entries sorted by name, a folder followed by what it holds (pre-order). `root` is
/// read as given; below it no link is followed. A folder at `max_depth` is listed but not
/// entered.
pub fn walk(root: &Path, max_depth: usize) -> Vec<Entry> {
    let mut out = Vec::new();
    walk_into(root, 1, max_depth, &mut out);
    out
}

fn walk_into(dir: &Path, depth: usize, max_depth: usize, out: &mut Vec<Entry>) {
    if depth > max_depth {
        return;
    }
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut here: Vec<Entry> = rd
        .flatten()
        .filter_map(|e| {
            // DirEntry::file_type does not follow links (lstat, or the type readdir gave).
            let t = e.file_type().ok()?;
            let kind = if t.is_symlink() {
                EntryKind::Symlink
            } else if t.is_dir() {
                EntryKind::Dir
            } else if t.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            Some(Entry {
                path: e.path(),
                kind,
                depth,
            })
        })
        .collect();
    here.sort_by(|a, b| a.path.cmp(&b.path));
    for e in here {
        let sub = e.is_dir().then(|| e.path.clone());
        out.push(e);
        if let Some(sub) = sub {
            walk_into(&sub, depth + 1, max_depth, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rel(root: &Path, es: &[Entry]) -> Vec<(String, EntryKind, usize)> {
        es.iter()
            .map(|e| {
                let r = e.path.strip_prefix(root).unwrap();
                (r.display().to_string(), e.kind, e.depth)
            })
            .collect()
    }

    #[test]
    fn lists_every_entry_typed_sorted_and_in_pre_order() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("b/certs")).unwrap();
        fs::create_dir_all(r.join("a")).unwrap();
        fs::write(r.join("b/certs/x.pem"), "x").unwrap();
        fs::write(r.join("b/z.txt"), "z").unwrap();
        fs::write(r.join("a/k.pem"), "k").unwrap();
        mkfifo(&r.join("a/fifo"));
        use EntryKind::*;
        assert_eq!(
            rel(r, &walk(r, TREE_DEPTH)),
            [
                ("a".into(), Dir, 1),
                ("a/fifo".into(), Other, 2),
                ("a/k.pem".into(), File, 2),
                ("b".into(), Dir, 1),
                ("b/certs".into(), Dir, 2),
                ("b/certs/x.pem".into(), File, 3),
                ("b/z.txt".into(), File, 2),
            ]
        );
    }

    /// A FIFO made with mkfifo(1): the crate forbids unsafe code, so no libc call here.
    fn mkfifo(p: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo {}", p.display());
    }

    #[test]
    fn lists_links_as_links_and_never_enters_a_linked_folder() {
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir(outside.path().join("secret")).unwrap();
        fs::write(outside.path().join("secret/key.pem"), "k").unwrap();
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir(r.join("org")).unwrap();
        symlink(outside.path().join("secret"), r.join("org/private")).unwrap();
        symlink(outside.path().join("secret/key.pem"), r.join("org/key.pem")).unwrap();
        // A link to the tree's own top: a walk that followed it would never end.
        symlink(r, r.join("org/loop")).unwrap();
        use EntryKind::*;
        assert_eq!(
            rel(r, &walk(r, TREE_DEPTH)),
            [
                ("org".into(), Dir, 1),
                ("org/key.pem".into(), Symlink, 2),
                ("org/loop".into(), Symlink, 2),
                ("org/private".into(), Symlink, 2),
            ]
        );
    }

    #[test]
    fn stops_at_the_depth_it_is_given_listing_the_last_folder_but_not_its_contents() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("1/2/3")).unwrap();
        fs::write(r.join("1/2/3/f"), "").unwrap();
        fs::write(r.join("1/f"), "").unwrap();
        use EntryKind::*;
        assert_eq!(
            rel(r, &walk(r, 2)),
            [
                ("1".into(), Dir, 1),
                ("1/2".into(), Dir, 2),
                ("1/f".into(), File, 2)
            ]
        );
        assert!(walk(r, 0).is_empty());
        // A tree nested deeper than TREE_DEPTH ends at TREE_DEPTH.
        let mut deep = r.to_path_buf();
        for _ in 0..TREE_DEPTH + 4 {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        let max = walk(r, TREE_DEPTH).iter().map(|e| e.depth).max();
        assert_eq!(max, Some(TREE_DEPTH));
    }

    #[test]
    fn a_missing_or_unreadable_folder_yields_nothing_and_a_file_root_too() {
        let d = tempfile::tempdir().unwrap();
        assert!(walk(&d.path().join("absent"), TREE_DEPTH).is_empty());
        let f = d.path().join("file");
        fs::write(&f, "").unwrap();
        assert!(walk(&f, TREE_DEPTH).is_empty());
        let e = &walk(d.path(), 1)[0];
        assert_eq!(
            (e.name_str(), e.is_file(), e.is_dir()),
            (Some("file"), true, false)
        );
    }
}
