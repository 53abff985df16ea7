//! The modes a tree must keep: private keys (and the files that hold one, the HAProxy PEM, the
//! DER key) and tokens 0600, the folders that hold them 0700. `init` restores them on a tree
//! where someone loosened them, so it never calls a tree complete that `verify` rejects.

use super::layout::is_private_dir;
use crate::error::{Error, Result};
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
/// returns what it changed. Links are neither followed nor changed: nothing outside the tree
/// is touched.
pub fn close_secrets(out: &Path) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    walk(out, false, &mut changed)?;
    Ok(changed)
}

fn walk(dir: &Path, check_self: bool, changed: &mut Vec<PathBuf>) -> Result<bool> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Ok(false);
    };
    let mut holds_secret = false;
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        let p = e.path();
        if t.is_dir() {
            walk(&p, true, changed)?;
        } else if t.is_file() && e.file_name().to_str().is_some_and(is_secret_file) {
            holds_secret = true;
            restrict(&p, 0o600, changed)?;
        }
    }
    if check_self && (holds_secret || is_private_dir(dir)) {
        restrict(dir, 0o700, changed)?;
    }
    Ok(holds_secret)
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
