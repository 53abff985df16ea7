//! Issue 3's proof by other implementations: PyJWT and jwcrypto (tests/interop/jwt_interop.py)
//! accept hapki's tokens and JWKS (RS256, and ES256 on request) and refuse the bad ones, and
//! openssl verifies the RS256 signature over `header.payload` with the signing key's public key.
//!
//! The Python interpreter is `$HAPKI_PYTHON`, else `.venv/bin/python` at the crate root, made by
//!     python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt
//! Without it the test fails (it does not skip): the issue requires this check in CI.

mod common;

use common::jwt::*;
use std::path::{Path, PathBuf};

const SETUP: &str =
    "python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt";

fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (p, from) = match std::env::var_os("HAPKI_PYTHON") {
        Some(p) => (PathBuf::from(p), "HAPKI_PYTHON"),
        None => (root.join(".venv/bin/python"), "the crate's venv"),
    };
    assert!(
        p.is_file(),
        "the JWT interop test needs a Python with PyJWT and jwcrypto, but {from} ({}) does not \
         exist; in {} run: {SETUP} (or set HAPKI_PYTHON to such an interpreter)",
        p.display(),
        root.display()
    );
    p
}

/// Mints with the real clock (the Python libraries check exp and iat against it) and moves the
/// token to `name` so later mints of the same user do not replace it.
fn mint_now(pki: &Pki, org: &str, user: &str, extra: &[&str], name: &str) -> PathBuf {
    let mut args = vec!["jwt", "mint", "--user", user, "--org", org];
    args.extend_from_slice(extra);
    pki.cmd(&args).assert().success();
    let to = pki.dir.path().join(name);
    std::fs::rename(pki.path(org, &format!("jwt/{user}.token")), &to).unwrap();
    to
}

#[test]
fn pyjwt_and_jwcrypto_accept_hapki_tokens_and_jwks() {
    python(); // fail first, and clearly, when there is no interpreter
    let pki = Pki::keys();
    let p1 = "participant1";
    let alice = mint_now(&pki, p1, "alice", &[], "alice.token");
    let admin = mint_now(&pki, p1, "participant_admin", &[], "admin.token");
    let navigator = mint_now(&pki, p1, "navigator", &[], "navigator.token");
    let audience = mint_now(
        &pki,
        p1,
        "alice",
        &["--format", "audience"],
        "alice-audience.token",
    );
    let custom = mint_now(
        &pki,
        p1,
        "carol",
        &["--act-as", "Carol::1220ab", "--read-as", "Public::1220cd"],
        "carol.token",
    );

    // What both libraries must refuse.
    let text = std::fs::read_to_string(&alice).unwrap();
    let parts: Vec<&str> = text.trim().split('.').collect();
    let (_, payload, _) = split(text.trim());
    let forged = payload.replace(r#""sub":"alice""#, r#""sub":"participant_admin""#);
    let tampered = pki.dir.path().join("tampered.token");
    std::fs::write(
        &tampered,
        format!("{}.{}.{}", parts[0], b64url(forged.as_bytes()), parts[2]),
    )
    .unwrap();
    let expired = pki.dir.path().join("expired.token");
    let old = pki
        .cmd(&[
            "jwt",
            "mint",
            "--user",
            "alice",
            "--at",
            "2020-01-01T00:00:00Z",
        ])
        .output()
        .unwrap();
    std::fs::write(&expired, &old.stdout).unwrap();
    let bob = mint_now(&pki, "participant2", "bob", &[], "bob.token");
    // participant2's key posing under participant1's kid.
    let (key2, _, _) = signing("participant2");
    let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, pki.kid(p1));
    let (_, bob_payload, _) = split(&std::fs::read_to_string(&bob).unwrap());
    let posing = pki.dir.path().join("posing.token");
    std::fs::write(&posing, sign_rs256(&pki.p2(&key2), &header, &bob_payload)).unwrap();

    let aud_url = "https://daml.com/jwt/aud/participant/participant1";
    let report = interop(
        &pki,
        p1,
        &[
            ("--accept", &alice, "participant1"),
            ("--accept", &admin, "-"),
            ("--accept", &navigator, "participant1"),
            ("--accept", &audience, aud_url),
            ("--accept", &custom, "participant1"),
            ("--refuse", &alice, "participant2"),
            ("--refuse", &audience, "participant1"),
            ("--refuse", &tampered, "participant1"),
            ("--refuse", &expired, "participant1"),
            ("--refuse", &posing, "participant2"),
        ],
    );
    assert!(report.contains("alg of a RSA key is RS256"), "{report}");
}

#[test]
fn pyjwt_and_jwcrypto_accept_es256_tokens_and_jwks() {
    python();
    let pki = Pki::cas();
    pki.run(&[
        "jwt",
        "keygen",
        "--org",
        "participant1",
        "--key",
        "ecdsa-p256",
    ])
    .success();
    let alice = mint_now(&pki, "participant1", "alice", &[], "alice.token");
    let navigator = mint_now(&pki, "participant1", "navigator", &[], "navigator.token");
    let report = interop(
        &pki,
        "participant1",
        &[
            ("--accept", &alice, "participant1"),
            ("--accept", &navigator, "participant1"),
            ("--refuse", &alice, "participant2"),
        ],
    );
    assert!(report.contains("alg of a EC key is ES256"), "{report}");
    assert!(
        report.contains("x and y are the public key of x5c[0]"),
        "{report}"
    );
}

/// Runs jwt_interop.py on ORG's JWKS and signing cert with `(--accept|--refuse, token, aud)`
/// and asserts every check passed and both libraries judged every token; returns the report.
fn interop(pki: &Pki, org: &str, tokens: &[(&str, &PathBuf, &str)]) -> String {
    let python = python();
    let (_, cert, _) = signing(org);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/jwt_interop.py");
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(script)
        .arg("--jwks")
        .arg(pki.path(org, "jwt/jwks.json"))
        .arg("--cert")
        .arg(pki.path(org, &cert));
    for (flag, token, aud) in tokens {
        cmd.arg(flag).arg(token).arg(aud);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "jwt_interop.py failed (a missing module means the venv lacks the packages: {SETUP}):\n{report}"
    );
    assert!(report.contains("all interop checks passed"), "{report}");
    let verdicts = report
        .lines()
        .filter(|l| l.starts_with("ok:   PyJWT ") || l.starts_with("ok:   jwcrypto "))
        .filter(|l| l.contains(" accepts ") || l.contains(" refuses "))
        .count();
    assert_eq!(
        verdicts,
        2 * tokens.len(),
        "each library judged each token:\n{report}"
    );
    report
}

#[test]
fn openssl_verifies_the_rs256_signature() {
    let pki = Pki::keys();
    let token = pki.mint(&["--user", "alice"]);
    let token = token.trim();
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let dir = pki.dir.path();
    let data = dir.join("signed-input");
    let sig_bin = dir.join("sig.bin");
    std::fs::write(&data, signed).unwrap();
    std::fs::write(&sig_bin, unb64url(sig)).unwrap();
    let (_, cert, public) = signing("participant1");
    // The public key of the signing cert, as openssl reads it from the cert.
    let cert_pub = dir.join("cert-pub.pem");
    std::fs::write(
        &cert_pub,
        openssl(
            &[
                "x509",
                "-in",
                pki.p1(&cert).to_str().unwrap(),
                "-noout",
                "-pubkey",
            ],
            None,
        ),
    )
    .unwrap();
    for key in [pki.p1(&public), cert_pub] {
        let out = openssl(
            &[
                "dgst",
                "-sha256",
                "-verify",
                key.to_str().unwrap(),
                "-signature",
                sig_bin.to_str().unwrap(),
                data.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "Verified OK\n");
    }
    // One changed byte of the signed input, and openssl refuses.
    let mut bad = signed.as_bytes().to_vec();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    std::fs::write(&data, bad).unwrap();
    let out = openssl_raw(
        &[
            "dgst",
            "-sha256",
            "-verify",
            pki.p1(&public).to_str().unwrap(),
            "-signature",
            sig_bin.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Verification failure\n"
    );
    // participant2's key does not verify participant1's signature either.
    let (_, _, public2) = signing("participant2");
    std::fs::write(&data, signed).unwrap();
    let out = openssl_raw(
        &[
            "dgst",
            "-sha256",
            "-verify",
            pki.p2(&public2).to_str().unwrap(),
            "-signature",
            sig_bin.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
}
