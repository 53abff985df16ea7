//! CA keys in a PKCS#11 token (`ca_key_store`), with SoftHSM2: each test makes its own token in
//! a temp folder (SOFTHSM2_CONF), the whole default topology is issued with its CA keys in the
//! token and checked by openssl (chains and CRLs) and `hapki verify`, no CA key file is written,
//! `pkcs11-tool` (OpenSC) shows the keys sensitive and never extractable, a re-run finds them by
//! label, and a wrong PIN or a missing token is one sentence with exit 2.

use crate::support::fixture::{canton_ha_profile, ecdsa_profile, hapki, Fixture, AT};
use crate::support::openssl::{assert_openssl_verifies, openssl};
use crate::support::skip::skipped;
use crate::support::tree::snapshot;
use std::path::{Path, PathBuf};
use std::process::Command;

const ORGS: [&str; 3] = ["domain", "participant1", "participant2"];
const CA_KEY_FILES: [&str; 2] = [
    "root/private/ca.key.pem",
    "intermediate/private/intermediate.key.pem",
];
const PIN: &str = "4711";

/// A SoftHSM2 token of its own in the fixture's folder.
struct Hsm {
    conf: PathBuf,
    module: PathBuf,
    pin_file: PathBuf,
}

impl Hsm {
    /// `None` (after reporting the test skipped) when SoftHSM2 is not installed.
    fn new(fx: &Fixture, test: &str) -> Option<Hsm> {
        let module = [
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
        let Some(module) = module else {
            skipped(
                test,
                "SoftHSM2 is not installed (Debian: apt-get install softhsm2)",
            );
            return None;
        };
        let dir = fx.scratch("softhsm");
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let pin_file = dir.join("pin.txt");
        std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        let hsm = Hsm {
            conf,
            module,
            pin_file,
        };
        hsm.init_token("hapki-ca");
        Some(hsm)
    }

    fn init_token(&self, label: &str) {
        let o = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--pin", PIN, "--so-pin", "123456"])
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("softhsm2-util runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// `ca_key_store = "pkcs11:..."` for the token `label`, PIN from `pin_file`.
    fn store_line(&self, label: &str, pin_file: &Path) -> String {
        format!(
            "ca_key_store = \"pkcs11:token={label};?module-path={}&pin-source=file:{}\"\n",
            self.module.display(),
            pin_file.display()
        )
    }

    /// `profile` with its CA keys in the token `label`.
    fn profile(&self, profile: &str, label: &str) -> String {
        profile.replacen(
            "[defaults]\n",
            &format!("[defaults]\n{}", self.store_line(label, &self.pin_file)),
            1,
        )
    }

    /// `hapki ARGS` of the fixture, with the token's SoftHSM2 configuration.
    fn run(&self, fx: &Fixture, args: &[&str]) -> std::process::Output {
        fx.cmd(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .timeout(std::time::Duration::from_secs(300))
            .output()
            .unwrap()
    }

    fn ok(&self, fx: &Fixture, args: &[&str]) -> String {
        let o = self.run(fx, args);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert!(o.status.success(), "hapki {args:?}: {out}{err}");
        out
    }

    fn verify(&self, fx: &Fixture) -> (i32, String) {
        let o = hapki()
            .args([
                "verify",
                fx.out.to_str().unwrap(),
                "--at",
                AT,
                "--json",
                "--profile",
            ])
            .arg(fx.profile_path())
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    }

    /// What `pkcs11-tool --list-objects --type privkey` says of the token `label`.
    fn private_keys(&self, label: &str) -> Option<String> {
        let o = Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&self.module)
            .args(["--token-label", label, "--pin", PIN])
            .args(["--list-objects", "--type", "privkey"])
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .ok()?;
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(String::from_utf8_lossy(&o.stdout).into_owned())
    }
}

/// openssl verifies each org's server and client certs up to its root, and each CA's CRL
/// with that CA's cert.
fn assert_tree_verifies_with_openssl(fx: &Fixture) {
    for org in ORGS {
        let root = fx.path(org, "root/certs/ca.cert.pem");
        let inter = fx.path(org, "intermediate/certs/intermediate.cert.pem");
        let leaves: Vec<PathBuf> = ["client"]
            .iter()
            .flat_map(|d| std::fs::read_dir(fx.path(org, d)).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_str().unwrap();
                n.ends_with(".cert.pem") && !n.contains("-chain.")
            })
            .collect();
        assert!(!leaves.is_empty(), "{org} has client certs");
        for leaf in leaves {
            assert_openssl_verifies(&root, Some(&inter), &["-attime", "1795694400"], &leaf);
        }
        for (crl, ca) in [
            ("root/crl/ca.crl.pem", &root),
            ("intermediate/crl/intermediate.crl.pem", &inter),
        ] {
            let (ok, text) = openssl(&[
                "crl",
                "-in",
                fx.path(org, crl).to_str().unwrap(),
                "-CAfile",
                ca.to_str().unwrap(),
                "-noout",
                "-verify",
            ]);
            assert!(ok && text.contains("verify OK"), "{org} {crl}: {text}");
        }
    }
}

fn assert_no_ca_key_file(fx: &Fixture) {
    for org in ORGS {
        for f in CA_KEY_FILES {
            assert!(!fx.path(org, f).exists(), "{org}/{f} was written");
        }
    }
}

#[test]
fn the_default_topology_with_ecdsa_ca_keys_in_softhsm_verifies_with_openssl_and_hapki() {
    let test = "keys_pkcs11::the_default_topology_with_ecdsa_ca_keys_in_softhsm_verifies_with_openssl_and_hapki";
    let fx = Fixture::ecdsa().bare();
    let Some(hsm) = Hsm::new(&fx, test) else {
        return;
    };
    std::fs::write(fx.profile_path(), hsm.profile(&ecdsa_profile(), "hapki-ca")).unwrap();
    hsm.ok(&fx, &["init", "--at", AT]);
    assert_no_ca_key_file(&fx);
    assert_tree_verifies_with_openssl(&fx);
    let (code, json) = hsm.verify(&fx);
    assert_eq!(code, 0, "{json}");
    assert!(!json.contains("\"code\": \"key-offline\""), "{json}");
    assert!(!json.contains("\"code\": \"token-"), "{json}");
    // The keys: one per org and level, sensitive and never extractable.
    match hsm.private_keys("hapki-ca") {
        None => skipped(test, "pkcs11-tool (Debian: opensc) is not installed"),
        Some(list) => {
            for org in ORGS {
                for level in ["root", "intermediate"] {
                    assert!(
                        list.contains(&format!("label:      hapki-{org}-{level}\n")),
                        "{list}"
                    );
                }
            }
            assert_eq!(list.matches("Private Key Object; EC").count(), 6, "{list}");
            assert_eq!(
                list.matches("Access:     sensitive, always sensitive, never extractable")
                    .count(),
                6,
                "{list}"
            );
        }
    }
    // A re-run finds the keys by label; signing goes on in the token.
    let out = hsm.ok(&fx, &["init", "--at", AT]);
    assert!(out.contains("nothing to do"), "{out}");
    hsm.ok(
        &fx,
        &["revoke", "admin-api", "--org", "participant1", "--at", AT],
    );
    hsm.ok(
        &fx,
        &[
            "issue",
            "admin-api",
            "--org",
            "participant1",
            "--force",
            "--at",
            AT,
        ],
    );
    hsm.ok(&fx, &["crl", "--at", AT]);
    assert_tree_verifies_with_openssl(&fx);
    let (_, crl) = openssl(&[
        "crl",
        "-in",
        fx.p1("intermediate/crl/intermediate.crl.pem")
            .to_str()
            .unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(
        crl.contains("Serial Number:") && crl.contains("ecdsa-with-SHA256"),
        "{crl}"
    );
    assert_no_ca_key_file(&fx);
    assert_eq!(hsm.verify(&fx).0, 0);
}

#[test]
fn rsa_ca_keys_in_softhsm_sign_with_sha256_rsa() {
    let test = "keys_pkcs11::rsa_ca_keys_in_softhsm_sign_with_sha256_rsa";
    // RSA 2048 CA keys: the same mechanism as RSA 4096, and SoftHSM2 makes them in a second.
    let profile = canton_ha_profile("rsa2048", "ecdsa-p256", 2);
    let fx = Fixture::profile(&profile).bare();
    let Some(hsm) = Hsm::new(&fx, test) else {
        return;
    };
    std::fs::write(fx.profile_path(), hsm.profile(&profile, "hapki-ca")).unwrap();
    hsm.ok(&fx, &["init", "--at", AT]);
    assert_no_ca_key_file(&fx);
    assert_tree_verifies_with_openssl(&fx);
    let (_, text) = openssl(&[
        "x509",
        "-in",
        fx.p1("intermediate/certs/intermediate.cert.pem")
            .to_str()
            .unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(
        text.contains("sha256WithRSAEncryption") && text.contains("Public-Key: (2048 bit)"),
        "{text}"
    );
    assert_eq!(hsm.verify(&fx).0, 0);
}

/// A run that fails after it made CA keys in the token (here: a folder it must write is a
/// link, found while files are being staged) destroys them again, as it removes its temp
/// files: the token holds no key that no CA cert certifies. The next run makes the CA anew.
#[test]
fn a_failed_init_leaves_no_key_in_the_token() {
    let test = "keys_pkcs11::a_failed_init_leaves_no_key_in_the_token";
    let fx = Fixture::ecdsa().bare();
    let Some(hsm) = Hsm::new(&fx, test) else {
        return;
    };
    std::fs::write(fx.profile_path(), hsm.profile(&ecdsa_profile(), "hapki-ca")).unwrap();
    let elsewhere = fx.scratch("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(fx.org("participant2")).unwrap();
    let link = fx.org("participant2").join("client");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let o = hsm.run(&fx, &["init", "--at", AT]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is a symbolic link"), "{err}");
    let Some(list) = hsm.private_keys("hapki-ca") else {
        skipped(test, "pkcs11-tool (Debian: opensc) is not installed");
        return;
    };
    assert!(!list.contains("Private Key Object"), "{list}");
    std::fs::remove_file(&link).unwrap();
    hsm.ok(&fx, &["init", "--at", AT]);
    let list = hsm.private_keys("hapki-ca").unwrap();
    assert_eq!(list.matches("Private Key Object; EC").count(), 6, "{list}");
    assert_tree_verifies_with_openssl(&fx);
}

#[test]
fn a_wrong_pin_a_missing_token_or_a_lost_key_is_one_sentence() {
    let test = "keys_pkcs11::a_wrong_pin_a_missing_token_or_a_lost_key_is_one_sentence";
    let fx = Fixture::ecdsa().bare();
    let Some(hsm) = Hsm::new(&fx, test) else {
        return;
    };
    let good = hsm.profile(&ecdsa_profile(), "hapki-ca");
    std::fs::write(fx.profile_path(), &good).unwrap();
    hsm.ok(&fx, &["init", "--at", AT]);
    let before = snapshot(&fx.out);
    let bad_pin = fx.dir.path().join("bad-pin.txt");
    std::fs::write(&bad_pin, "0000\n").unwrap();
    let profile = ecdsa_profile().replacen(
        "[defaults]\n",
        &format!("[defaults]\n{}", hsm.store_line("hapki-ca", &bad_pin)),
        1,
    );
    std::fs::write(fx.profile_path(), profile).unwrap();
    let o = hsm.run(&fx, &["crl", "--at", AT]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        format!(
            "error: the PIN in {} does not log in to the PKCS#11 token `hapki-ca` (PinIncorrect); put the token's user PIN on its first line\n",
            bad_pin.display()
        )
    );
    std::fs::write(
        fx.profile_path(),
        hsm.profile(&ecdsa_profile(), "elsewhere"),
    )
    .unwrap();
    let o = hsm.run(&fx, &["issue", "participant1", "--force", "--at", AT]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: the PKCS#11 module ")
            && err.contains("has no token labelled `elsewhere`"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // verify only warns of a token it cannot reach...
    let (code, json) = hsm.verify(&fx);
    assert_eq!(code, 0, "{json}");
    assert_eq!(
        json.matches("\"code\": \"token-unreachable\"").count(),
        6,
        "{json}"
    );
    // ... and fails a token that holds no key for the CA certs.
    hsm.init_token("elsewhere");
    let (code, json) = hsm.verify(&fx);
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        json.matches("\"code\": \"token-key-missing\"").count(),
        6,
        "{json}"
    );
    let o = hsm.run(&fx, &["crl", "--at", AT]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds no key labelled `hapki-domain-root` that matches the root CA cert"),
        "{err}"
    );
    assert_eq!(snapshot(&fx.out), before, "a refused run changed the tree");
    std::fs::write(fx.profile_path(), &good).unwrap();
    hsm.ok(&fx, &["crl", "--at", AT]);
}
