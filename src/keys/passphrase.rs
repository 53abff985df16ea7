//! The passphrase of encrypted CA keys: where this run gets it (`--passphrase-file FILE`, else
//! the file named by `HAPKI_PASSPHRASE_FILE`, else a prompt on the terminal without echo; never
//! a command-line value, which every user of the machine can read in `ps`), read once per run
//! and zeroized when the run ends.
//!
//! Process-wide on purpose: a prompt asks once per run, and the keys that need it are opened
//! and written deep in the engine (CA levels built in parallel, CRLs, responder certs), so a
//! parameter through each of those signatures would carry nothing but this.

use crate::error::{Error, Result};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use zeroize::Zeroizing;

/// The environment variable that names a passphrase file (for cron and CI).
pub const ENV: &str = "HAPKI_PASSPHRASE_FILE";

/// The most read of a passphrase file: a passphrase is a line.
const CAP: u64 = 64 << 10;

/// `--passphrase-file` of this run, when given.
static FLAG: Mutex<Option<PathBuf>> = Mutex::new(None);
/// The passphrase once read.
static CACHE: Mutex<Option<Passphrase>> = Mutex::new(None);

/// A passphrase and where it came from (for the message when it does not open a key).
#[derive(Clone)]
pub struct Passphrase {
    pub bytes: Zeroizing<Vec<u8>>,
    /// `the passphrase file pw.txt`, `the terminal`.
    pub from: String,
}

/// Sets this run's `--passphrase-file` (None: the environment or the terminal).
pub fn use_file(path: Option<&Path>) {
    if let Ok(mut f) = FLAG.lock() {
        *f = path.map(Path::to_path_buf);
    }
}

/// Whether this run was given a passphrase file (flag or environment), so a check may open
/// encrypted keys without prompting.
pub fn given() -> bool {
    FLAG.lock().is_ok_and(|f| f.is_some()) || std::env::var_os(ENV).is_some_and(|v| !v.is_empty())
}

/// Drops the cached passphrase (its bytes are zeroized).
pub fn forget() {
    if let Ok(mut c) = CACHE.lock() {
        *c = None;
    }
}

/// The passphrase for `key` (the file it opens or will protect). `new` asks twice on a
/// terminal, since a mistyped passphrase on a new key would lock it away for good.
pub fn get(key: &Path, new: bool) -> Result<Passphrase> {
    let mut cache = CACHE
        .lock()
        .map_err(|_| Error::bug("the passphrase cache is poisoned"))?;
    if let Some(p) = cache.as_ref() {
        return Ok(p.clone());
    }
    let flag = FLAG.lock().ok().and_then(|f| f.clone());
    let p = match flag {
        Some(f) => from_file(&f, "--passphrase-file")?,
        None => match std::env::var_os(ENV).filter(|v| !v.is_empty()) {
            Some(f) => from_file(Path::new(&f), ENV)?,
            None => prompt(key, new)?,
        },
    };
    *cache = Some(p.clone());
    Ok(p)
}

/// The first line of `path`, without its line ending (what `openssl -passin file:` reads).
fn from_file(path: &Path, via: &str) -> Result<Passphrase> {
    let bytes = Zeroizing::new(crate::store::read_capped(path, CAP)?);
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(Error::input(format!(
            "{} (from {via}) holds no passphrase (its first line is empty); write the passphrase on its first line",
            path.display()
        )));
    }
    Ok(Passphrase {
        bytes: Zeroizing::new(line.to_vec()),
        from: format!("the passphrase file {}", path.display()),
    })
}

fn prompt(key: &Path, new: bool) -> Result<Passphrase> {
    let missing = || {
        Error::input(format!(
            "{} is an encrypted CA key (ca_key_encryption) and no passphrase was given; pass --passphrase-file FILE or set {ENV}=FILE (or run on a terminal to be asked)",
            key.display()
        ))
    };
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(missing());
    }
    let ask = |text: &str| -> Result<Zeroizing<String>> {
        rpassword::prompt_password(text)
            .map(Zeroizing::new)
            .map_err(|_| missing())
    };
    let first = ask("passphrase of the CA keys: ")?;
    if first.is_empty() {
        return Err(Error::input(
            "the passphrase is empty; type one, or pass --passphrase-file FILE",
        ));
    }
    if new && *ask("the same passphrase again: ")? != *first {
        return Err(Error::input(
            "the two passphrases differ; run again and type the same one twice",
        ));
    }
    Ok(Passphrase {
        bytes: Zeroizing::new(first.as_bytes().to_vec()),
        from: "the passphrase typed".into(),
    })
}
