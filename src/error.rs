//! The library's error type: every variant renders as one sentence that names the file or value
//! at fault and says how to fix it, because that sentence is exactly what the user reads.

use std::path::{Path, PathBuf};

/// Everything that can stop a hapki command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given by the user (flag, profile entry, file content) is not acceptable.
    /// The message is the complete sentence.
    #[error("{0}")]
    Input(String),

    /// A file or folder could not be read or written.
    #[error("cannot {action} {}: {reason}; {fix}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
        fix: &'static str,
    },

    /// Something hapki produced failed its own check: a bug in hapki, never the user's fault.
    #[error("internal error (a bug in hapki, please report it): {0}")]
    Bug(String),
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }

    pub fn bug(msg: impl Into<String>) -> Self {
        Error::Bug(msg.into())
    }

    /// An I/O failure on `path`, with a fix that fits the kind of failure.
    pub fn io(action: &'static str, path: &Path, err: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let fix = match err.kind() {
            K::NotFound => "check the path",
            K::PermissionDenied | K::ReadOnlyFilesystem => {
                "make it writable or choose another folder with --out"
            }
            K::StorageFull | K::QuotaExceeded => "free some disk space and run again",
            K::AlreadyExists => "remove it or pass --force",
            _ => "check the path and its permissions",
        };
        let reason = strip_os_error(&err);
        Error::Io {
            action,
            path: path.to_path_buf(),
            reason,
            fix,
        }
    }
}

/// `io::Error` renders as "Permission denied (os error 13)"; users want the first half only.
fn strip_os_error(err: &std::io::Error) -> String {
    let s = err.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s.to_lowercase(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
