//! Shared by the JWT integration tests: a two-participant PKI in a temp dir, the real `hapki`
//! binary, openssl as the independent implementation, and token/file helpers.
//!
//! The CAs are ECDSA P-256 so a fixture is made in a fraction of a second; the JWT signing keys
//! stay RSA 2048 (RS256), the default Canton's `jwt-rs-256-*` auth expects.

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The pinned clock of every mint and verify: RFC 3339 and Unix seconds.
pub const AT: &str = "2026-11-26T12:00:00Z";
pub const IAT: i64 = 1_795_694_400;

/// The participants of profiles/canton-ha.toml with their JWT users, ECDSA CAs, RSA JWT keys
/// (`jwt_key` in [defaults] for participant1, `[org.jwt] key` for participant2).
pub const PROFILE: &str = r#"
[defaults]
ca_key = "ecdsa-p256"
leaf_key = "ecdsa-p256"
jwt_key = "rsa2048"

[[org]]
name = "participant1"
dns = "customer1.com"
organization = "Customer1 LLC"

[org.jwt]
participant_id = "participant1"
users = [
  { name = "participant_admin", format = "scope", audience = false },
  { name = "alice", format = "scope" },
  { name = "navigator", format = "custom", admin = true, application_id = "navigator" },
]

[[org]]
name = "participant2"
dns = "customer2.com"
organization = "Customer2 LLC"

[org.jwt]
participant_id = "participant2"
key = "rsa2048"
users = [
  { name = "participant_admin", format = "scope", audience = false },
  { name = "bob", format = "scope" },
  { name = "bank", format = "scope" },
  { name = "george", format = "scope" },
]
"#;

#[allow(unused_imports)] // each test crate uses its own subset
pub use super::pki::{assert_same_tree as assert_unchanged, hapki, snapshot, Entry};

/// A temp dir holding the profile and the output folder `out`.
pub struct Pki {
    pub dir: TempDir,
    pub profile: PathBuf,
    pub out: PathBuf,
}

impl Pki {
    /// The profile and both participants' CAs, no JWT key yet.
    pub fn cas() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile.toml");
        std::fs::write(&profile, PROFILE).unwrap();
        let out = dir.path().join("out");
        let pki = Pki { dir, profile, out };
        pki.run(&["ca", "init", "--at", AT]).success();
        pki
    }

    /// CAs plus both participants' JWT signing keys and JWKS.
    pub fn keys() -> Pki {
        let pki = Pki::cas();
        pki.run(&["jwt", "keygen", "--at", AT]).success();
        pki
    }

    /// `hapki ARGS --profile P --out O`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = hapki();
        c.args(args)
            .arg("--profile")
            .arg(&self.profile)
            .arg("--out")
            .arg(&self.out)
            .current_dir(self.dir.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd(args).assert()
    }

    /// A path under `out/ORG/`.
    pub fn path(&self, org: &str, rel: &str) -> PathBuf {
        self.out.join(org).join(rel)
    }

    /// `out/ORG/REL` as text, for messages.
    pub fn show(&self, org: &str, rel: &str) -> String {
        self.path(org, rel).display().to_string()
    }

    pub fn p1(&self, rel: &str) -> PathBuf {
        self.path("participant1", rel)
    }

    pub fn p2(&self, rel: &str) -> PathBuf {
        self.path("participant2", rel)
    }

    pub fn jwks(&self, org: &str) -> serde_json::Value {
        let p = self.path(org, "jwt/jwks.json");
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    }

    pub fn kid(&self, org: &str) -> String {
        self.jwks(org)["keys"][0]["kid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Mints one token with `--at AT` and returns what was printed on stdout.
    pub fn mint(&self, args: &[&str]) -> String {
        let mut all = vec!["jwt", "mint", "--at", AT];
        all.extend_from_slice(args);
        let out = self.cmd(&all).output().unwrap();
        assert!(
            out.status.success(),
            "hapki {all:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The signing key files of an org (`NS/signing/jwt-sign.D.*`).
pub fn signing(org: &str) -> (String, String, String) {
    let d = match org {
        "participant1" => "customer1.com",
        "participant2" => "customer2.com",
        _ => unreachable!(),
    };
    (
        format!("signing/jwt-sign.{d}.key.pem"),
        format!("signing/jwt-sign.{d}.cert.pem"),
        format!("signing/jwt-sign.{d}.pub.pem"),
    )
}

pub const ROOT: &str = "root/certs/ca.cert.pem";
pub const INTERMEDIATE: &str = "intermediate/certs/intermediate.cert.pem";

/// Runs openssl with `args` (and `stdin`), asserting it succeeds; returns stdout.
pub fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let out = openssl_raw(args, stdin);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn openssl_raw(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new("openssl")
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

/// The DER of a PEM certificate, as openssl sees it.
pub fn der(pem: &Path) -> Vec<u8> {
    openssl(
        &["x509", "-in", pem.to_str().unwrap(), "-outform", "DER"],
        None,
    )
}

/// `openssl dgst -ALG -binary` of `data`.
pub fn digest(alg: &str, data: &[u8]) -> Vec<u8> {
    openssl(&["dgst", &format!("-{alg}"), "-binary"], Some(data))
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64url(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("`{s}` is not unpadded base64url: {e}"))
}

/// The decoded header and payload text of a compact JWT, and its signature bytes.
pub fn split(token: &str) -> (String, String, Vec<u8>) {
    let p: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(p.len(), 3, "not a compact JWT: {token}");
    (
        String::from_utf8(unb64url(p[0])).unwrap(),
        String::from_utf8(unb64url(p[1])).unwrap(),
        unb64url(p[2]),
    )
}

/// An RS256 token over exactly `header` and `payload` (JSON text), signed by openssl with
/// `key_pem`: for the tokens hapki must refuse although their signature is good.
pub fn sign_rs256(key_pem: &Path, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes())
    );
    let sig = openssl(
        &["dgst", "-sha256", "-sign", key_pem.to_str().unwrap()],
        Some(input.as_bytes()),
    );
    format!("{input}.{}", b64url(&sig))
}
