//! openssl, the independent implementation the tests check hapki's files against.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs openssl with `args`; returns (success, stdout + stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let o = openssl_raw(args, None);
    let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), text)
}

/// Runs openssl with `args` (and `stdin`), asserting it succeeds; returns stdout.
pub fn openssl_ok(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let out = openssl_raw(args, stdin);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs openssl with `args` and `stdin` (none: empty), whatever its exit.
pub fn openssl_raw(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (the tests cross-check hapki with it)");
    {
        let mut w = child.stdin.take().unwrap();
        w.write_all(stdin.unwrap_or_default()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Runs openssl with `args` in the folder `dir` (for relative file names), whatever its exit.
pub fn openssl_at(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (the tests cross-check hapki with it)")
}

/// Runs openssl with `args` in the folder `dir`, asserting it succeeds; returns stdout.
pub fn openssl_in(dir: &Path, args: &[&str]) -> String {
    let out = openssl_at(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The serial number of a PEM cert as openssl prints it (upper-case hex, no `serial=`).
pub fn serial_of(cert: &Path) -> String {
    let out = openssl_ok(
        &["x509", "-noout", "-serial", "-in", cert.to_str().unwrap()],
        None,
    );
    String::from_utf8_lossy(&out)
        .trim()
        .trim_start_matches("serial=")
        .to_string()
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

/// The DER of a PEM certificate, as openssl sees it.
pub fn der(pem: &Path) -> Vec<u8> {
    openssl_ok(
        &["x509", "-in", pem.to_str().unwrap(), "-outform", "DER"],
        None,
    )
}

/// `openssl dgst -ALG -binary` of `data`.
pub fn digest(alg: &str, data: &[u8]) -> Vec<u8> {
    openssl_ok(&["dgst", &format!("-{alg}"), "-binary"], Some(data))
}
