//! The modes a tree must keep: private keys (and the files that hold one, the HAProxy PEM, the
//! DER key) and tokens 0600, the folders that hold them 0700. `init` restores them on a tree
//! where someone loosened them, so it never calls a tree complete that `verify` rejects.

use super::layout::is_private_dir;
use super::walk::{walk, TREE_DEPTH};
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Whether a file of the layout holds a secret, by the names the layout gives them.
fn is_secret_file(name: &str) -> bool {
    [".key.pem", ".key.der", ".haproxy.pem", ".token", ".tokens"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// Closes every secret file and every folder holding secrets under `out` to group and others;
/// returns what it changed (the files, then the folders, deepest first). Links are neither
/// followed nor changed: nothing outside the tree is touched.
pub fn close_secrets(out: &Path) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    let entries = walk(out, TREE_DEPTH);
    // The folders that hold a secret file themselves (not only in a folder below them).
    let mut holding = HashSet::new();
    for e in entries.iter().filter(|e| e.is_file()) {
        if e.name_str().is_some_and(is_secret_file) {
            restrict(&e.path, 0o600, &mut changed)?;
            holding.extend(e.path.parent().map(Path::to_path_buf));
        }
    }
    // Deepest first, as a folder's contents before the folder.
    for e in entries.iter().rev().filter(|e| e.is_dir()) {
        if holding.contains(&e.path) || is_private_dir(&e.path) {
            restrict(&e.path, 0o700, &mut changed)?;
        }
    }
    Ok(changed)
}

fn restrict(p: &Path, mode: u32, changed: &mut Vec<PathBuf>) -> Result<()> {
    let m = fs::symlink_metadata(p).map_err(|e| Error::io("read", p, e))?;
    if m.file_type().is_symlink() || m.permissions().mode() & 0o077 == 0 {
        return Ok(());
    }
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set permissions on", p, e))?;
    changed.push(p.to_path_buf());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn set(p: &Path, m: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn closes_secrets_and_their_folders_and_touches_nothing_through_a_link() {
        let outside = tempfile::tempdir().unwrap();
        let theirs = outside.path().join("their.key.pem");
        fs::write(&theirs, "k").unwrap();
        set(&theirs, 0o644);
        set(outside.path(), 0o755);
        let d = tempfile::tempdir().unwrap();
        let out = d.path();
        let node = out.join("org/node");
        fs::create_dir_all(node.join("private")).unwrap();
        fs::create_dir_all(node.join("certs")).unwrap();
        fs::create_dir_all(out.join("org/jwt")).unwrap();
        let key = node.join("private/n.key.pem");
        let cert = node.join("certs/n.cert.pem");
        let token = out.join("org/jwt/alice.token");
        for (p, m) in [(&key, 0o644), (&cert, 0o644), (&token, 0o640)] {
            fs::write(p, "x").unwrap();
            set(p, m);
        }
        for dir in [
            "org",
            "org/node",
            "org/node/private",
            "org/node/certs",
            "org/jwt",
        ] {
            set(&out.join(dir), 0o755);
        }
        symlink(&theirs, node.join("certs/linked.key.pem")).unwrap();
        symlink(outside.path(), out.join("org/client")).unwrap();

        let changed = close_secrets(out).unwrap();
        assert_eq!(
            changed,
            // The files in walk order (jwt/ before node/), then the folders deepest first.
            [
                token.clone(),
                key.clone(),
                out.join("org/node/private"),
                out.join("org/jwt")
            ]
        );
        assert_eq!(
            (mode(&key), mode(&token), mode(&cert)),
            (0o600, 0o600, 0o644)
        );
        assert_eq!(mode(&node.join("private")), 0o700);
        assert_eq!(mode(&out.join("org/jwt")), 0o700);
        assert_eq!(
            mode(&node.join("certs")),
            0o755,
            "a link to a key is no key of the tree"
        );
        assert_eq!(mode(&out.join("org")), 0o755);
        assert_eq!(mode(&theirs), 0o644, "nothing outside the tree changed");
        assert_eq!(
            mode(outside.path()),
            0o755,
            "the folder `client` links to, untouched"
        );
        assert!(
            close_secrets(out).unwrap().is_empty(),
            "a second run changes nothing"
        );
    }
}
