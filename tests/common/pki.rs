//! Helpers shared by the integration tests: run the real `hapki` binary on temp folders, write
//! fast (ECDSA) variants of the built-in profile, snapshot a tree to prove nothing changed, read
//! PEM files, and run openssl as the independent implementation to check against.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The built-in default profile, as shipped.
pub fn builtin_profile() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/canton-ha.toml"))
        .expect("profiles/canton-ha.toml is readable")
}

/// The built-in topology with other key algorithms (and tier), so tests need no RSA keys.
pub fn profile_with(ca_key: &str, leaf_key: &str, tier: u8) -> String {
    let text = builtin_profile();
    let out = text
        .replace("ca_key = \"rsa4096\"", &format!("ca_key = \"{ca_key}\""))
        .replace(
            "leaf_key = \"rsa2048\"",
            &format!("leaf_key = \"{leaf_key}\""),
        )
        .replace("tier = 2 ", &format!("tier = {tier} "));
    assert_ne!(out, text, "the profile template changed; update the tests");
    out
}

/// A temp folder with an ECDSA P-256 variant of the built-in profile in it and `out/` beside.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub profile: PathBuf,
    pub out: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture::with_profile(&profile_with("ecdsa-p256", "ecdsa-p256", 2))
    }

    pub fn with_profile(text: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let profile = dir.path().join("profile.toml");
        std::fs::write(&profile, text).expect("write profile");
        let out = dir.path().join("out");
        Fixture { dir, profile, out }
    }

    /// `hapki ARGS --profile P --out O`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = hapki();
        c.args(args)
            .arg("--profile")
            .arg(&self.profile)
            .arg("--out")
            .arg(&self.out);
        c
    }

    /// Runs `hapki ARGS` and asserts exit 0; returns (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.cmd(args).output().expect("run hapki");
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert!(
            o.status.success(),
            "hapki {args:?} failed ({:?})\nstdout: {out}\nstderr: {err}",
            o.status
        );
        (out, err)
    }

    /// The folder of an org under the output dir.
    pub fn org(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// The profile path as hapki prints it.
    pub fn profile_shown(&self) -> String {
        self.profile.display().to_string()
    }
}

pub fn hapki() -> Command {
    Command::cargo_bin("hapki").expect("the hapki binary is built")
}

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
        // tests/lifecycle_*.rs; the layout tests compare the certs and keys.
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

pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The (label, DER) of every PEM block in a file.
pub fn pem_blocks(p: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    x509_parser::pem::Pem::iter_from_buffer(&bytes)
        .map(|b| {
            let b = b.unwrap_or_else(|e| panic!("{}: bad PEM: {e:?}", p.display()));
            (b.label, b.contents)
        })
        .collect()
}

/// The DER of the one certificate in a PEM file.
pub fn cert_der(p: &Path) -> Vec<u8> {
    let blocks = pem_blocks(p);
    assert_eq!(blocks.len(), 1, "{} holds one PEM block", p.display());
    assert_eq!(blocks[0].0, "CERTIFICATE", "{}", p.display());
    blocks.into_iter().next().unwrap().1
}

/// The DER of each certificate in a chain or bundle file, in file order.
pub fn chain_ders(p: &Path) -> Vec<Vec<u8>> {
    pem_blocks(p)
        .into_iter()
        .map(|(label, der)| {
            assert_eq!(label, "CERTIFICATE", "{}", p.display());
            der
        })
        .collect()
}

pub fn parse_cert(der: &[u8]) -> X509Certificate<'_> {
    let (rest, c) = X509Certificate::from_der(der).expect("a valid X.509 certificate");
    assert!(rest.is_empty(), "trailing bytes after the certificate");
    c
}

/// Runs openssl with `args`; returns (success, stdout + stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let o = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed (the interop tests need it)");
    let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), text)
}

/// `openssl verify -x509_strict [extra] -CAfile root [-untrusted untrusted] cert`.
pub fn openssl_verify(
    root: &Path,
    untrusted: Option<&Path>,
    extra: &[&str],
    cert: &Path,
) -> (bool, String) {
    let mut args: Vec<String> = vec!["verify".into(), "-x509_strict".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("-CAfile".into());
    args.push(root.display().to_string());
    if let Some(u) = untrusted {
        args.push("-untrusted".into());
        args.push(u.display().to_string());
    }
    args.push(cert.display().to_string());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(&refs)
}

/// Asserts that openssl verifies `cert` and prints `cert: OK`.
pub fn assert_openssl_verifies(root: &Path, untrusted: Option<&Path>, extra: &[&str], cert: &Path) {
    let (ok, text) = openssl_verify(root, untrusted, extra, cert);
    assert!(
        ok && text
            .trim_end()
            .ends_with(&format!("{}: OK", cert.display())),
        "openssl verify {extra:?} refused {}:\n{text}",
        cert.display()
    );
}

/// A child process that is killed (by its own pid) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` with `stdin`, killing it after `limit`; returns (exit success, stdout + stderr).
pub fn run_bounded(
    mut cmd: std::process::Command,
    stdin: &[u8],
    limit: Duration,
) -> (bool, String) {
    let mut child = KillOnDrop(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    child
        .0
        .stdin
        .take()
        .unwrap()
        .write_all(stdin)
        .expect("write stdin");
    let out = drain(child.0.stdout.take().unwrap());
    let err = drain(child.0.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "{cmd:?} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = out.join().unwrap();
    text.push_str(&err.join().unwrap());
    (status.success(), text)
}

/// Reads a pipe to the end on a thread.
pub fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Waits until a line containing `marker` appears on `r` (within `limit`); the lines read so
/// far and the rest of the stream come back from the returned handle once the stream ends.
pub fn wait_for_line(
    r: impl Read + Send + 'static,
    marker: &'static str,
    limit: Duration,
) -> Result<std::thread::JoinHandle<String>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut all = String::new();
        let mut reader = BufReader::new(r);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !sent && line.contains(marker) {
                let _ = tx.send(());
                sent = true;
            }
            all.push_str(&line);
            line.clear();
        }
        all
    });
    match rx.recv_timeout(limit) {
        Ok(()) => Ok(h),
        Err(_) => Err(format!("`{marker}` did not appear within {limit:?}")),
    }
}

#[allow(unused_imports)] // each test crate uses its own subset
pub use super::ha::free_port;
