//! Encrypted CA keys (`ca_key_encryption`): openssl opens the keys hapki writes, hapki opens the
//! keys openssl encrypts, a wrong or missing passphrase is one sentence with exit 2 and changes
//! nothing, `verify` checks the format without the passphrase and the match with it, and a
//! tree switched from plain to encrypted keys is re-encrypted in place by `init`.

use crate::support::fixture::{ecdsa_profile, hapki, Fixture, AT};
use crate::support::openssl::{assert_openssl_verifies, openssl, openssl_ok};
use crate::support::tree::snapshot;
use std::path::{Path, PathBuf};

const ORGS: [&str; 3] = ["domain", "participant1", "participant2"];
const CA_KEYS: [(&str, &str); 2] = [
    ("root/private/ca.key.pem", "root/certs/ca.cert.pem"),
    (
        "intermediate/private/intermediate.key.pem",
        "intermediate/certs/intermediate.cert.pem",
    ),
];

/// The ECDSA test topology with `ca_key_encryption = KDF`.
fn profile(kdf: &str) -> String {
    ecdsa_profile().replacen(
        "[defaults]\n",
        &format!("[defaults]\nca_key_encryption = \"{kdf}\"\n"),
        1,
    )
}

/// A passphrase file in the fixture's folder.
fn pass_file(fx: &Fixture, name: &str, text: &str) -> PathBuf {
    let p = fx.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `openssl pkey` opens the key with the passphrase, and its public key is the cert's.
fn assert_openssl_opens(key: &Path, cert: &Path, pw: &Path) {
    let from_key = openssl_ok(
        &[
            "pkey",
            "-in",
            s(key),
            "-passin",
            &format!("file:{}", s(pw)),
            "-pubout",
        ],
        None,
    );
    let from_cert = openssl_ok(&["x509", "-in", s(cert), "-noout", "-pubkey"], None);
    assert_eq!(
        from_key,
        from_cert,
        "{} is not {}'s key",
        key.display(),
        cert.display()
    );
}

fn verify(fx: &Fixture, extra: &[&str]) -> (i32, String) {
    let o = hapki()
        .args(["verify", s(&fx.out), "--at", AT, "--json", "--profile"])
        .arg(fx.profile_path())
        .args(extra)
        .env_remove("HAPKI_PASSPHRASE_FILE")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// Runs `hapki ARGS` expecting exit 2; returns stderr.
fn refused(fx: &Fixture, args: &[&str]) -> String {
    let o = fx
        .cmd(args)
        .env_remove("HAPKI_PASSPHRASE_FILE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "hapki {args:?}: {err}");
    err
}

#[test]
fn openssl_opens_the_scrypt_and_pbkdf2_keys_hapki_writes_and_the_tree_verifies() {
    for (kdf, want) in [("scrypt", "scrypt"), ("pbkdf2", "PBKDF2")] {
        let fx = Fixture::profile(&profile(kdf)).bare();
        let pw = pass_file(&fx, "pw.txt", "correct horse battery staple\n");
        fx.ok(&["init", "--at", AT, "--passphrase-file", s(&pw)]);
        for org in ORGS {
            for (key, cert) in CA_KEYS {
                let (key, cert) = (fx.path(org, key), fx.path(org, cert));
                let pem = std::fs::read_to_string(&key).unwrap();
                assert!(
                    pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
                    "{pem}"
                );
                assert_openssl_opens(&key, &cert, &pw);
                let (_, asn1) = openssl(&["asn1parse", "-in", s(&key)]);
                assert!(asn1.contains(":PBES2") && asn1.contains(want), "{asn1}");
                assert!(asn1.contains("aes-256-cbc"), "{asn1}");
                if kdf == "scrypt" {
                    // N = 2^14 (0x4000), r = 8, p = 1.
                    assert!(asn1.contains("INTEGER           :4000"), "{asn1}");
                } else {
                    // 600,000 iterations (0x927C0) of HMAC-SHA256.
                    assert!(
                        asn1.contains(":0927C0") && asn1.contains("hmacWithSHA256"),
                        "{asn1}"
                    );
                }
            }
        }
        // Leaf keys stay plain: Canton reads them as they are.
        let leaf = fx.p1("participant1/private/participant1.customer1.com.key.pem");
        assert!(std::fs::read_to_string(&leaf)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_openssl_verifies(
            &fx.p1("root/certs/ca.cert.pem"),
            Some(&fx.p1("intermediate/certs/intermediate.cert.pem")),
            &["-attime", "1795694400"],
            &fx.p1("participant1/certs/participant1.customer1.com.cert.pem"),
        );
        // verify: the format without the passphrase, the match with it.
        assert_eq!(verify(&fx, &[]).0, 0, "{}", verify(&fx, &[]).1);
        assert_eq!(verify(&fx, &["--passphrase-file", s(&pw)]).0, 0);
        // A re-run with the passphrase finds nothing to do.
        let (out, _) = fx.ok(&["init", "--at", AT, "--passphrase-file", s(&pw)]);
        assert!(out.contains("nothing to do"), "{out}");
    }
}

#[test]
fn keys_openssl_encrypts_with_pbkdf2_or_scrypt_sign_in_hapki() {
    let fx = Fixture::ecdsa().bare();
    fx.ok(&["init", "--at", AT]);
    let pw = pass_file(&fx, "pw.txt", "from openssl\n");
    let passout = format!("file:{}", s(&pw));
    for (key, how) in [
        (CA_KEYS[0].0, vec!["-v2", "aes-256-cbc"]),
        (CA_KEYS[1].0, vec!["-scrypt"]),
    ] {
        let path = fx.p1(key);
        let mut args = vec!["pkcs8", "-topk8", "-in", s(&path), "-passout", &passout];
        args.extend(how);
        let enc = openssl_ok(&args, None);
        std::fs::write(&path, &enc).unwrap();
    }
    assert!(std::fs::read_to_string(fx.p1(CA_KEYS[1].0))
        .unwrap()
        .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    // The intermediate key signs a new leaf and a CRL; the root key signs its CRL.
    fx.ok(&[
        "issue",
        "participant1",
        "--force",
        "--at",
        AT,
        "--passphrase-file",
        s(&pw),
    ]);
    fx.ok(&[
        "crl",
        "--org",
        "participant1",
        "--at",
        AT,
        "--passphrase-file",
        s(&pw),
    ]);
    assert_openssl_verifies(
        &fx.p1("root/certs/ca.cert.pem"),
        Some(&fx.p1("intermediate/certs/intermediate.cert.pem")),
        &["-attime", "1795694400"],
        &fx.p1("participant1/certs/participant1.customer1.com.cert.pem"),
    );
    let (ok, text) = openssl(&[
        "crl",
        "-in",
        s(&fx.p1("root/crl/ca.crl.pem")),
        "-CAfile",
        s(&fx.p1("root/certs/ca.cert.pem")),
        "-noout",
        "-verify",
    ]);
    assert!(ok && text.contains("verify OK"), "{text}");
    assert_eq!(verify(&fx, &["--passphrase-file", s(&pw)]).0, 0);
}

#[test]
fn a_wrong_or_missing_passphrase_is_one_sentence_exit_2_and_changes_nothing() {
    let fx = Fixture::profile(&profile("scrypt")).bare();
    let pw = pass_file(&fx, "pw.txt", "right\n");
    let bad = pass_file(&fx, "bad.txt", "wrong\n");
    let empty = pass_file(&fx, "empty.txt", "\n");
    fx.ok(&["init", "--at", AT, "--passphrase-file", s(&pw)]);
    let before = snapshot(&fx.out);
    let runs: [(&str, &[&str]); 5] = [
        ("domain", &["init", "--at", AT]),
        (
            "participant1",
            &["issue", "participant1", "--force", "--at", AT],
        ),
        ("domain", &["crl", "--at", AT]),
        (
            "participant1",
            &["revoke", "admin-api", "--org", "participant1", "--at", AT],
        ),
        ("domain", &["renew", "--within", "4000d", "--at", AT]),
    ];
    for (org, args) in runs {
        let key = fx.show(org, "root/private/ca.key.pem");
        let err = refused(&fx, args);
        assert_eq!(
            err,
            format!("error: {key} is an encrypted CA key (ca_key_encryption) and no passphrase was given; pass --passphrase-file FILE or set HAPKI_PASSPHRASE_FILE=FILE (or run on a terminal to be asked)\n"),
            "{args:?}"
        );
        let mut with_bad = args.to_vec();
        with_bad.extend(["--passphrase-file", s(&bad)]);
        let err = refused(&fx, &with_bad);
        assert_eq!(
            err,
            format!(
                "error: the passphrase file {} does not open {key} (a wrong passphrase); give the one the CA keys were written with\n",
                bad.display()
            ),
            "{args:?}"
        );
        assert_eq!(snapshot(&fx.out), before, "{args:?} changed the tree");
    }
    let err = refused(&fx, &["crl", "--at", AT, "--passphrase-file", s(&empty)]);
    assert!(err.contains("holds no passphrase"), "{err}");
    // The environment variable, as a cron line sets it.
    let o = fx
        .cmd(&["crl", "--at", AT])
        .env("HAPKI_PASSPHRASE_FILE", &pw)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // verify with a wrong passphrase names each key it cannot open.
    let (code, json) = verify(&fx, &["--passphrase-file", s(&bad)]);
    assert_eq!(code, 1);
    assert_eq!(
        json.matches("\"code\": \"wrong-passphrase\"").count(),
        6,
        "{json}"
    );
}

#[test]
fn a_tree_switched_from_plain_to_scrypt_keys_is_re_encrypted_in_place_by_init() {
    let fx = Fixture::ecdsa().bare();
    fx.ok(&["init", "--at", AT]);
    let certs_before: Vec<Vec<u8>> = ORGS
        .iter()
        .flat_map(|o| CA_KEYS.map(|(_, c)| std::fs::read(fx.path(o, c)).unwrap()))
        .collect();
    std::fs::write(fx.profile_path(), profile("scrypt")).unwrap();
    let (code, json) = verify(&fx, &[]);
    assert_eq!(code, 0, "a plain key is a warning");
    assert_eq!(
        json.matches("\"code\": \"key-not-encrypted\"").count(),
        6,
        "{json}"
    );
    // Without the passphrase init refuses and changes nothing.
    let before = snapshot(&fx.out);
    let err = refused(&fx, &["init", "--at", AT]);
    assert!(err.contains("no passphrase was given"), "{err}");
    assert_eq!(snapshot(&fx.out), before);
    let pw = pass_file(&fx, "pw.txt", "now encrypted\n");
    let (out, _) = fx.ok(&["init", "--at", AT, "--passphrase-file", s(&pw)]);
    assert!(
        out.contains("6 CA keys rewritten as ca_key_encryption says"),
        "{out}"
    );
    for org in ORGS {
        for (key, cert) in CA_KEYS {
            assert_openssl_opens(&fx.path(org, key), &fx.path(org, cert), &pw);
        }
    }
    let certs_after: Vec<Vec<u8>> = ORGS
        .iter()
        .flat_map(|o| CA_KEYS.map(|(_, c)| std::fs::read(fx.path(o, c)).unwrap()))
        .collect();
    assert_eq!(certs_before, certs_after, "the CA certs are kept");
    let (code, json) = verify(&fx, &["--passphrase-file", s(&pw)]);
    assert_eq!(code, 0, "{json}");
    assert!(!json.contains("key-not-encrypted"), "{json}");
}
