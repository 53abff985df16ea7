//! The one way hapki reads a file: only a regular file (a FIFO, a device or a socket is named
//! and refused before it is opened, and opening never blocks, so one swapped in between is
//! refused too), and never more than a cap, so `/dev/zero` or a huge file cannot make hapki
//! grow without bound. Symbolic links are followed on reading: a cert mounted as a link (a
//! Kubernetes secret, a Docker config) is a normal setup; what hapki refuses is writing
//! through one (`plan.rs`).

use crate::error::{Error, Result};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The most hapki reads of a certificate, key, CSR, JWKS or token: far above any real one
/// (a 64 KB certificate is the largest TLS stacks take), far below what hurts.
pub const CAP: u64 = 4 << 20;

/// The most hapki reads of a profile.
pub const PROFILE_CAP: u64 = 1 << 20;

/// What a path is when it is not a regular file, in words ("a FIFO (named pipe)").
fn special_kind(ft: fs::FileType) -> Option<&'static str> {
    if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_char_device() || ft.is_block_device() {
        Some("a device")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_dir() {
        Some("a folder")
    } else {
        None
    }
}

/// Reads `path` (at most `cap` bytes), as an `io::Error` for callers that word it themselves
/// (`verify` turns it into a finding). A special file or one over the cap is an
/// `InvalidInput` error whose text says what it is: "it is a FIFO (named pipe), not a regular
/// file".
pub fn read_io(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let f = open_regular(path)?;
    let mut bytes = Vec::new();
    f.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is larger than {} MiB, more than hapki reads", cap >> 20),
        ));
    }
    Ok(bytes)
}

/// At most `len` bytes of `path` from `offset` on, and the file's length: for a big file whose
/// few wanted fields sit at its ends (a CRL's dates before 100,000 entries, its extensions
/// after them), so a reader pays for those bytes only. The same refusals as `read_io`.
pub fn read_at(path: &Path, offset: u64, len: u64) -> io::Result<(Vec<u8>, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut f = open_regular(path)?;
    let size = f.metadata()?.len();
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    f.take(len).read_to_end(&mut bytes)?;
    Ok((bytes, size))
}

/// `path` opened for reading when it is a regular file (checked before and after the open).
fn open_regular(path: &Path) -> io::Result<fs::File> {
    let refuse = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file"),
        )
    };
    if let Some(what) = special_kind(fs::metadata(path)?.file_type()) {
        return Err(refuse(what));
    }
    // O_NONBLOCK: a FIFO swapped in after the check opens at once instead of waiting for a
    // writer; the type is then checked again on the open file.
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if let Some(what) = special_kind(f.metadata()?.file_type()) {
        return Err(refuse(what));
    }
    Ok(f)
}

/// Reads `path` (at most `cap` bytes) with the path in the error: "cannot read F: it is a FIFO
/// (named pipe), not a regular file; replace it with the file hapki wrote".
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    read_io(path, cap).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput => Error::input(format!(
            "cannot read {}: {}; replace it with a regular file",
            path.display(),
            e
        )),
        _ => Error::io("read", path, e),
    })
}

/// Reads a certificate, key, CSR, JWKS or token file (capped at `CAP`).
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_capped(path, CAP)
}

/// `read`, as UTF-8 text (lossy: a stray byte is the parser's to report).
pub fn read_text(path: &Path) -> Result<String> {
    read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_folders_are_named_and_big_files_capped() {
        let e = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("/dev/zero: it is a device"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains("it is a folder"), "{e}");
        let big = d.path().join("big");
        fs::write(&big, vec![b'a'; 2 << 20]).unwrap();
        let e = read_capped(&big, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("larger than 1 MiB"), "{e}");
        assert_eq!(read(&big).unwrap().len(), 2 << 20);
    }
}
