//! One writer per output folder: `OUT/.hapki.lock`, an exclusive kernel lock (`flock`) that dies
//! with its process, so a killed run never leaves the folder locked. Every command that writes
//! holds it from before it looks at the tree until its plan is on disk; a second writer waits up
//! to `--wait` and then fails naming the holder's PID. Readers (`verify`, `inspect`) take none:
//! every file they read is replaced by rename, so they see an old file or a new one.
//!
//! Taking the lock also finishes what a killed run left (`journal::recover`) and sweeps the
//! temp files of dead runs from the whole tree, before the command looks at anything.

use crate::error::{Error, Result};
use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file's name in the output folder.
pub const LOCK_FILE: &str = ".hapki.lock";

/// How often a waiting writer tries again.
const POLL: Duration = Duration::from_millis(25);

/// The lock on one output folder, held until dropped.
#[derive(Debug)]
pub struct Lock {
    file: File,
    out: PathBuf,
    path: PathBuf,
    /// The folders this run made to reach the output folder, deepest first: removed again
    /// when it leaves them empty.
    created: Vec<PathBuf>,
}

impl Lock {
    /// Takes the lock on `out` (creating the folder), waiting up to `wait` for another writer,
    /// then recovers what a killed run left.
    pub fn take(out: &Path, wait: Duration) -> Result<Lock> {
        // A folder that cannot be written is refused before anything is made in it.
        super::check_writable(out)?;
        let created = match fs::metadata(out) {
            Ok(m) if m.is_dir() => Vec::new(),
            Ok(_) => {
                return Err(Error::input(format!(
                    "the output path {} is not a folder; give a folder with --out",
                    out.display()
                )))
            }
            Err(_) => {
                let missing: Vec<PathBuf> = (out.ancestors())
                    .take_while(|a| !a.as_os_str().is_empty() && fs::symlink_metadata(a).is_err())
                    .map(Path::to_path_buf)
                    .collect();
                fs::create_dir_all(out).map_err(|e| Error::io("create the folder", out, e))?;
                missing
            }
        };
        let path = out.join(LOCK_FILE);
        let deadline = Instant::now() + wait;
        let file = loop {
            let opened = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path);
            let file = match opened {
                Ok(f) => f,
                // A writer that made the folder and wrote nothing removed it as it let go.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    fs::create_dir_all(out).map_err(|e| Error::io("create the folder", out, e))?;
                    continue;
                }
                Err(e) => return Err(lock_error(&path, e)),
            };
            match file.try_lock() {
                Ok(()) => {
                    // The holder before us may have removed the file as it let go (see Drop):
                    // then we hold a lock on a name nobody else can open, so take the new one.
                    if same_file(&file, &path) {
                        break file;
                    }
                }
                Err(TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Err(busy(out, &path, wait));
                    }
                    std::thread::sleep(POLL);
                }
                Err(TryLockError::Error(e)) => return Err(lock_error(&path, e)),
            }
        };
        let mut lock = Lock {
            file,
            out: out.to_path_buf(),
            path,
            created,
        };
        // Only for the message of a writer that waits in vain: a full disk that cannot take
        // these few bytes is the plan's to report, naming the file it could not write.
        let pid = format!("{}\n", std::process::id());
        let _ = (lock.file.set_len(0))
            .and_then(|_| lock.file.rewind())
            .and_then(|_| lock.file.write_all(pid.as_bytes()));
        super::journal::recover(&lock)?;
        super::plan::sweep_tree(&lock.out);
        Ok(lock)
    }

    /// The output folder this lock is on.
    pub fn out(&self) -> &Path {
        &self.out
    }
}

impl Drop for Lock {
    /// Removes the lock file while still holding it (a writer that opened it meanwhile sees
    /// it gone and opens the new one), and the output folder when this run made it and left
    /// nothing in it (a refused command changes nothing on disk).
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        for d in &self.created {
            if fs::remove_dir(d).is_err() {
                break;
            }
        }
    }
}

/// Whether the open `file` is still the one at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn lock_error(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return Error::input(format!(
            "{} is a symbolic link; hapki does not write through links; remove it",
            path.display()
        ));
    }
    Error::io("lock", path, e)
}

/// The error for a folder another writer holds past `--wait`, naming its PID.
fn busy(out: &Path, path: &Path, wait: Duration) -> Error {
    let mut pid = String::new();
    let _ = File::open(path).and_then(|mut f| (&mut f).take(32).read_to_string(&mut pid));
    let who = match pid.trim().parse::<u32>() {
        Ok(p) => format!("another hapki (PID {p})"),
        Err(_) => "another hapki".to_string(),
    };
    Error::input(format!(
        "{} is being written by {who} and stayed locked for {}s; wait for it to finish, or pass a longer --wait",
        out.display(),
        wait.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_waits_then_names_the_holder() {
        let d = tempfile::tempdir().unwrap();
        let first = Lock::take(d.path(), Duration::ZERO).unwrap();
        let lock_file = d.path().join(LOCK_FILE);
        assert_eq!(
            fs::read_to_string(&lock_file).unwrap().trim(),
            std::process::id().to_string()
        );
        let started = Instant::now();
        let e = Lock::take(d.path(), Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(e.contains(&format!("(PID {})", std::process::id())), "{e}");
        drop(first);
        assert!(!lock_file.exists());
        // Folders made only to hold the lock go with it.
        let deep = d.path().join("a/b/c");
        drop(Lock::take(&deep, Duration::ZERO).unwrap());
        assert!(!d.path().join("a").exists());
        let again = Lock::take(d.path(), Duration::ZERO).unwrap();
        drop(again);
    }
}
