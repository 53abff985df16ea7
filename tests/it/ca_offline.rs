//! The offline root (docs/offline-root.md) with two separate folders, the root's machine and
//! the org's: `ca csr` on the org's, `ca sign` on the root's, `ca import` back, then `init`
//! issues every leaf without the root key; openssl verifies the leaves (with the CRLs),
//! `hapki verify` passes the org's tree, a command that needs the root key says which file is
//! missing, a root CRL signed again on the root's machine is imported, and an import of a cert
//! that does not match the key here or does not chain to the org's root changes nothing.

use crate::support::fixture::{Fixture, AT, AT_UNIX};
use crate::support::openssl::assert_openssl_verifies;
use crate::support::tree::{assert_same_tree, snapshot};
use std::path::{Path, PathBuf};

const ORG: &str = "participant1";

/// A folder of its own (a machine) with the ECDSA profile, at AT.
fn machine(tier: u8) -> Fixture {
    let text = crate::support::fixture::canton_ha_profile("ecdsa-p256", "ecdsa-p256", tier);
    Fixture::profile(&text).at(AT).bare()
}

fn run(fx: &Fixture, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["--at", AT]);
    let o = fx.cmd(&all).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(fx: &Fixture, args: &[&str]) -> String {
    let (code, out, err) = run(fx, args);
    assert_eq!(code, 0, "hapki {args:?}\nstdout: {out}\nstderr: {err}");
    out
}

/// Carries `file` to the other machine's "USB stick" folder.
fn carry(file: &Path, to: &Fixture) -> PathBuf {
    let stick = to.scratch("usb");
    let dest = stick.join(file.file_name().unwrap());
    std::fs::copy(file, &dest).unwrap();
    dest
}

/// The round trip: a root on `root`, the org's CA below it on `org`; returns the file
/// `ca sign` wrote (on the root's machine).
fn round_trip(root: &Fixture, org: &Fixture, tier: u8) -> PathBuf {
    ok(root, &["ca", "init", "--tier", "1", "--org", ORG]);
    let out = ok(org, &["ca", "csr", "--org", ORG]);
    let level = if tier == 3 { "policy" } else { "intermediate" };
    let csr = org.p1(&format!("{level}/csr/{level}.csr.pem"));
    assert!(
        out.contains(&format!("wrote the request {}", csr.display())),
        "{out}"
    );
    assert!(org.p1(&format!("{level}/private/{level}.key.pem")).exists());
    let on_stick = carry(&csr, root);
    let out = ok(
        root,
        &["ca", "sign", on_stick.to_str().unwrap(), "--org", ORG],
    );
    let signed = on_stick.with_file_name(format!("{level}.cert.pem"));
    assert!(
        out.contains(&format!("wrote {}", signed.display())),
        "{out}"
    );
    assert!(out.contains("root SHA-256 fingerprint: "), "{out}");
    let back = carry(&signed, org);
    ok(org, &["ca", "import", back.to_str().unwrap(), "--org", ORG]);
    back
}

fn verify(fx: &Fixture) -> (i32, String) {
    let o = fx.verify(&["--at", AT]);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn assert_leaves_verify(org: &Fixture) {
    let at = AT_UNIX.to_string();
    let bundle = org.p1("intermediate/certs/ca-chain.cert.pem");
    let crls = org.p1("intermediate/crl/ca-chain.crl.pem");
    let crl = crls.to_str().unwrap();
    for leaf in [
        "participant1/certs/participant1.customer1.com.cert.pem",
        "participant1b/certs/participant1b.customer1.com.cert.pem",
        "client/admin-api.customer1.com.cert.pem",
        "signing/jwt-sign.customer1.com.cert.pem",
    ] {
        assert_openssl_verifies(
            &bundle,
            None,
            &["-attime", &at, "-crl_check_all", "-CRLfile", crl],
            &org.p1(leaf),
        );
    }
}

#[test]
fn the_org_issues_under_an_offline_root_and_refuses_what_needs_the_root_key() {
    let (root, org) = (machine(2), machine(2));
    // Before the cert comes back, init refuses to make a root here over the waiting request.
    ok(&root, &["ca", "init", "--tier", "1", "--org", ORG]);
    ok(&org, &["ca", "csr", "--org", ORG]);
    let (code, _, err) = run(&org, &["init"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("waits for its intermediate CA cert from its offline root"),
        "{err}"
    );
    std::fs::remove_dir_all(&root.out).unwrap();
    round_trip(&root, &org, 2);
    ok(&org, &["init"]);

    // The root key never came here; the root's machine recorded the intermediate.
    assert!(!org.p1("root/private/ca.key.pem").exists());
    let mid_serial = crate::support::openssl::openssl_ok(
        &[
            "x509",
            "-in",
            org.p1("intermediate/certs/intermediate.cert.pem")
                .to_str()
                .unwrap(),
            "-noout",
            "-serial",
        ],
        None,
    );
    let mid_serial = String::from_utf8(mid_serial).unwrap();
    let mid_serial = mid_serial.trim().trim_start_matches("serial=");
    let index = std::fs::read_to_string(root.p1("root/index.txt")).unwrap();
    assert!(
        index
            .lines()
            .any(|l| l.starts_with('V') && l.contains(mid_serial)),
        "{index}"
    );
    assert_leaves_verify(&org);
    let (code, report) = verify(&org);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("root/private/ca.key.pem (root CA key): is not here: fine when the root is kept offline"),
        "{report}"
    );

    // What needs the root key says which file is missing, and changes nothing.
    let before = snapshot(&org.out);
    let (code, _, err) = run(&org, &["revoke", "intermediate", "--org", ORG]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: {} is not here: the root CA of org `participant1` is offline, and signing its CRL needs its key; run it on the root's machine, or use `hapki ca csr` / `ca sign` / `ca import` (docs/offline-root.md)",
            org.p1("root/private/ca.key.pem").display()
        )
    );
    assert_same_tree(&before, &snapshot(&org.out));

    // What does not need it works: a leaf revoked, the CRLs below the root signed, a leaf
    // renewed, an ad-hoc leaf issued.
    ok(
        &org,
        &[
            "revoke",
            org.p1("client/admin-api.customer1.com.cert.pem")
                .to_str()
                .unwrap(),
            "--org",
            ORG,
        ],
    );
    let (code, _, err) = run(&org, &["crl", "--org", ORG]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("skipped") && err.contains("is offline"),
        "{err}"
    );
    ok(
        &org,
        &["renew", "participant1b", "--org", ORG, "--within", "3650d"],
    );
    ok(
        &org,
        &["issue", "reporting", "--org", ORG, "--kind", "client"],
    );

    // The root's CRL, signed again on the root's machine, comes over by `ca import`.
    let later = "2027-01-15T00:00:00Z";
    let o = root
        .cmd(&["crl", "--org", ORG, "--at", later])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let crl = carry(&root.p1("root/crl/ca.crl.pem"), &org);
    let out = ok(&org, &["ca", "import", crl.to_str().unwrap(), "--org", ORG]);
    assert!(out.contains("installed the root's CRL"), "{out}");
    assert_eq!(
        std::fs::read(org.p1("root/crl/ca.crl.pem")).unwrap(),
        std::fs::read(root.p1("root/crl/ca.crl.pem")).unwrap()
    );
    let bundle = std::fs::read_to_string(org.p1("intermediate/crl/ca-chain.crl.pem")).unwrap();
    assert!(bundle.ends_with(&std::fs::read_to_string(&crl).unwrap()));
    let (code, report) = verify(&org);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn an_import_that_does_not_match_the_key_or_does_not_chain_changes_nothing() {
    let (root, org) = (machine(2), machine(2));
    let signed = round_trip(&root, &org, 2);
    ok(&org, &["init"]);

    // A cert for another key: another org machine's request, signed by the same root.
    let other = machine(2);
    ok(&other, &["ca", "csr", "--org", ORG]);
    let csr = carry(&other.p1("intermediate/csr/intermediate.csr.pem"), &root);
    let foreign = root.scratch("other").join("other.cert.pem");
    ok(
        &root,
        &[
            "ca",
            "sign",
            csr.to_str().unwrap(),
            "--org",
            ORG,
            "--to",
            foreign.to_str().unwrap(),
        ],
    );
    let foreign = carry(&foreign, &org);
    let before = snapshot(&org.out);
    let (code, _, err) = run(
        &org,
        &["ca", "import", foreign.to_str().unwrap(), "--org", ORG],
    );
    assert_eq!(code, 2);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: the CA cert in {} is not for the key {} (it was signed from another request); sign the request `hapki ca csr --org participant1` wrote here",
            foreign.display(),
            org.p1("intermediate/private/intermediate.key.pem").display()
        )
    );
    assert_same_tree(&before, &snapshot(&org.out));

    // The right key, but signed by another root: with that root in the file, and alone.
    let root2 = machine(2);
    ok(&root2, &["ca", "init", "--tier", "1", "--org", ORG]);
    let csr = carry(&org.p1("intermediate/csr/intermediate.csr.pem"), &root2);
    ok(&root2, &["ca", "sign", csr.to_str().unwrap(), "--org", ORG]);
    let wrong = org.scratch("usb").join("wrong.cert.pem");
    std::fs::copy(csr.with_file_name("intermediate.cert.pem"), &wrong).unwrap();
    let (code, _, err) = run(
        &org,
        &["ca", "import", wrong.to_str().unwrap(), "--org", ORG],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("is not the root of org `participant1` installed at"),
        "{err}"
    );
    let text = std::fs::read_to_string(&wrong).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    let alone = org.scratch("usb").join("alone.cert.pem");
    std::fs::write(&alone, &text[..text.find(end).unwrap() + end.len()]).unwrap();
    let (code, _, err) = run(
        &org,
        &["ca", "import", alone.to_str().unwrap(), "--org", ORG],
    );
    assert_eq!(code, 2);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: the CA cert in {} does not chain to the org root; import the cert the org's root ({}) signed",
            alone.display(),
            org.p1("root/certs/ca.cert.pem").display()
        )
    );
    assert_same_tree(&before, &snapshot(&org.out));
    // The right file again is accepted (the same cert: nothing lost).
    ok(
        &org,
        &["ca", "import", signed.to_str().unwrap(), "--org", ORG],
    );
    assert_leaves_verify(&org);
}

#[test]
fn tier_3_requests_the_policy_ca_and_the_issuing_ca_is_made_here() {
    let (root, org) = (machine(3), machine(3));
    round_trip(&root, &org, 3);
    let out = ok(&org, &["init"]);
    assert!(
        out.contains("3-tier CA (completed under the kept root)"),
        "{out}"
    );
    assert!(!org.p1("root/private/ca.key.pem").exists());
    assert!(org.p1("policy/private/policy.key.pem").exists());
    let at = AT_UNIX.to_string();
    assert_openssl_verifies(
        &org.p1("intermediate/certs/ca-chain.cert.pem"),
        None,
        &["-attime", &at],
        &org.p1("participant1/certs/participant1.customer1.com.cert.pem"),
    );
    let (code, report) = verify(&org);
    assert_eq!(code, 0, "{report}");
}

/// `machine`, with `extra` lines in the profile's `[defaults]`.
fn machine_with(tier: u8, extra: &str) -> Fixture {
    let text = crate::support::fixture::canton_ha_profile("ecdsa-p256", "ecdsa-p256", tier)
        .replacen("[defaults]\n", &format!("[defaults]\n{extra}\n"), 1);
    assert!(text.contains(extra), "the profile has a [defaults] table");
    Fixture::profile(&text).at(AT).bare()
}

#[test]
fn the_offline_steps_keep_encrypted_ca_keys_encrypted_and_refuse_a_token_store() {
    let scrypt = "ca_key_encryption = \"scrypt\"";
    let (root, org) = (machine_with(2, scrypt), machine_with(2, scrypt));
    let pw = root.scratch("pw").join("pass.txt");
    std::fs::write(&pw, "correct horse\n").unwrap();
    let run = |fx: &Fixture, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--at", AT]);
        let o = fx
            .cmd(&all)
            .env("HAPKI_PASSPHRASE_FILE", &pw)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "hapki {args:?}: {err}");
    };
    run(&root, &["ca", "init", "--tier", "1", "--org", ORG]);
    run(&org, &["ca", "csr", "--org", ORG]);
    // The intermediate's key made by `ca csr` is encrypted as the profile says, not plain.
    let key = org.p1("intermediate/private/intermediate.key.pem");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );
    let csr = carry(&org.p1("intermediate/csr/intermediate.csr.pem"), &root);
    run(&root, &["ca", "sign", csr.to_str().unwrap(), "--org", ORG]);
    let back = carry(&csr.with_file_name("intermediate.cert.pem"), &org);
    run(
        &org,
        &["ca", "import", back.to_str().unwrap(), "--org", ORG],
    );
    run(&org, &["init"]);
    assert_leaves_verify(&org);
    // Without the passphrase, the encrypted intermediate cannot sign: one sentence, exit 2.
    let (code, _, err) = self::run(&org, &["issue", "extra", "--org", ORG, "--kind", "client"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no passphrase was given"), "{err}");

    // A token store has no key file to carry a request for: refused before anything is made.
    let token = "ca_key_store = \"pkcs11:token=t;?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/nonexistent\"";
    let org = machine_with(2, token);
    let before = snapshot(&org.out);
    let (code, _, err) = self::run(&org, &["ca", "csr", "--org", ORG]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("keeps its CA keys in a PKCS#11 token") && err.contains("hapki ca csr"),
        "{err}"
    );
    assert_same_tree(&before, &snapshot(&org.out));
}
