//! Another PKI's CA put in an org's place: a root cert swapped for a foreign root (the root key
//! still the org's), and a foreign intermediate (cert and key). `verify` names the swapped file
//! and suggests a fix that never spreads the foreign cert (and that works: the tests run it);
//! every writing command refuses with one sentence, never "internal error", and never issues
//! under the foreign CA. The foreign CAs are made with openssl.

use crate::support::fixture::{hapki, Fixture};
use crate::support::openssl::openssl_ok;
use crate::support::tree::{assert_same_tree, snapshot};
use serde_json::Value;
use std::path::{Path, PathBuf};

const ROOT_CERT: &str = "root/certs/ca.cert.pem";
const MID_CERT: &str = "intermediate/certs/intermediate.cert.pem";
const MID_KEY: &str = "intermediate/private/intermediate.key.pem";

/// A self-signed CA of another PKI (P-256, as the org's), and an intermediate under it:
/// (root cert, root key, intermediate cert, intermediate key).
fn foreign_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n).display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut root = vec!["req", "-x509"];
    root.extend(ec);
    let (rk, rc) = (p("foreign-root.key"), p("foreign-root.pem"));
    root.extend([
        "-keyout",
        &rk,
        "-out",
        &rc,
        "-days",
        "3650",
        "-subj",
        "/C=US/O=Other PKI/CN=other-root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl_ok(&root, None);
    let (mk, csr, mc, ext) = (
        p("foreign-mid.key"),
        p("foreign-mid.csr"),
        p("foreign-mid.pem"),
        p("ext.cnf"),
    );
    let mut req = vec!["req", "-new"];
    req.extend(ec);
    req.extend([
        "-keyout",
        &mk,
        "-out",
        &csr,
        "-subj",
        "/C=US/O=Other PKI/CN=other-intermediate",
    ]);
    openssl_ok(&req, None);
    std::fs::write(
        &ext,
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    openssl_ok(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &rc,
            "-CAkey",
            &rk,
            "-set_serial",
            "4242",
            "-days",
            "3000",
            "-extfile",
            &ext,
            "-out",
            &mc,
        ],
        None,
    );
    (rc.into(), rk.into(), mc.into(), mk.into())
}

/// `verify --json`: (exit code, the entries that are not ok).
fn verify(fx: &Fixture) -> (i32, Vec<Value>) {
    let o = hapki()
        .arg("verify")
        .arg(&fx.out)
        .arg("--profile")
        .arg(fx.profile_path())
        .arg("--json")
        .output()
        .unwrap();
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "verify --json printed no JSON: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let bad = all.into_iter().filter(|e| e["status"] != "ok").collect();
    (o.status.code().unwrap(), bad)
}

/// The fix of `entry`'s first finding with `code`, the shell command in its backquotes.
fn fix_command(entry: &Value, code: &str) -> String {
    let f = entry["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {entry}"));
    let fix = f["fix"].as_str().unwrap();
    let start = fix.find('`').expect("a command in backquotes") + 1;
    let end = start + fix[start..].find("` ").or(fix[start..].rfind('`')).unwrap();
    fix[start..end].to_string()
}

fn sh(fx: &Fixture, command: &str) {
    // `hapki` in a fix is the binary under test.
    let bin = Path::new(env!("CARGO_BIN_EXE_hapki")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let s = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PATH", path)
        .current_dir(fx.dir.path())
        .status()
        .unwrap();
    assert!(s.success(), "{command}");
}

fn file_of(e: &Value) -> String {
    e["file"].as_str().unwrap().to_string()
}

#[test]
fn a_root_cert_swapped_for_a_foreign_root_is_named_and_its_fix_restores_the_orgs_root() {
    let fx = Fixture::ecdsa().init();
    let (root, _, _, _) = foreign_pki(fx.dir.path());
    let cert = fx.p1(ROOT_CERT);
    let own = std::fs::read(&cert).unwrap();
    std::fs::copy(&root, &cert).unwrap();

    let (code, bad) = verify(&fx);
    assert_eq!(code, 1);
    // One problem: the swapped cert. The key (intact) and the files that hold the org's
    // root (the chain files, the trust bundle) are not blamed.
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert!(file_of(&bad[0]).ends_with(ROOT_CERT), "{bad:#?}");
    assert_eq!(bad[0]["codes"], serde_json::json!(["foreign-root"]));
    let fix = fix_command(&bad[0], "foreign-root");
    assert!(
        fix.starts_with("cp ") && fix.contains("root-ca.cert.pem"),
        "{fix}"
    );

    // init refuses, names the cert (not the key) and the same fix, and writes nothing.
    let before = snapshot(&fx.out);
    let o = fx.cmd(&["init"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    assert!(
        err.contains(&format!("{} is not this org's root", cert.display())) && err.contains("cp "),
        "{err}"
    );
    assert_same_tree(&before, &snapshot(&fx.out));

    sh(&fx, &fix);
    assert_eq!(std::fs::read(&cert).unwrap(), own);
    let (code, bad) = verify(&fx);
    assert_eq!((code, bad.len()), (0, 0), "{bad:#?}");
}

#[test]
fn with_the_root_copy_and_bundle_swapped_too_the_root_comes_back_from_a_chain_file() {
    let fx = Fixture::ecdsa().init();
    let (root, _, _, _) = foreign_pki(fx.dir.path());
    for rel in [
        ROOT_CERT,
        "intermediate/certs/root-ca.cert.pem",
        "intermediate/certs/ca-chain.cert.pem",
    ] {
        std::fs::copy(&root, fx.p1(rel)).unwrap();
    }
    let (code, bad) = verify(&fx);
    assert_eq!(code, 1);
    let root_entry = bad
        .iter()
        .find(|e| file_of(e).ends_with(ROOT_CERT))
        .expect("the root cert is named");
    let fix = fix_command(root_entry, "foreign-root");
    assert!(fix.contains("-chain."), "{fix}");
    // The copies' own fixes come after the root is back: they must not copy the foreign one.
    for e in bad.iter().filter(|e| !file_of(e).ends_with(ROOT_CERT)) {
        assert!(
            e["problems"][0]
                .as_str()
                .unwrap()
                .contains("once the root cert is put back"),
            "{e}"
        );
    }
    sh(&fx, &fix);
    let (said, _) = fx.ok(&["init"]);
    assert!(said.contains("repaired"), "{said}");
    let (code, bad) = verify(&fx);
    assert_eq!((code, bad.len()), (0, 0), "{bad:#?}");
}

#[test]
fn a_foreign_intermediate_is_refused_by_every_command_in_one_sentence() {
    let fx = Fixture::ecdsa().init();
    let (_, _, mid, mid_key) = foreign_pki(fx.dir.path());
    std::fs::copy(&mid, fx.p1(MID_CERT)).unwrap();
    std::fs::copy(&mid_key, fx.p1(MID_KEY)).unwrap();
    let before = snapshot(&fx.out);

    let (code, bad) = verify(&fx);
    assert_eq!(code, 1);
    let e = bad
        .iter()
        .find(|e| file_of(e).ends_with(MID_CERT))
        .expect("the intermediate is named");
    assert_eq!(e["codes"], serde_json::json!(["wrong-issuer"]), "{e}");

    let runs: &[&[&str]] = &[
        &["init"],
        &["issue", "participant1", "--org", "participant1"],
        &[
            "issue",
            "extra",
            "--org",
            "participant1",
            "--kind",
            "client",
        ],
        &["renew", "--org", "participant1", "--within", "400d"],
        &["revoke", "participant1", "--org", "participant1"],
        &["crl", "--org", "participant1"],
        &["list", "--org", "participant1"],
    ];
    for args in runs {
        let o = fx.cmd(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("internal error"), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "{} was not signed by the root CA above it",
                fx.p1(MID_CERT).display()
            )) && err.contains("ca init --org participant1 --force"),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert_same_tree(&before, &snapshot(&fx.out));
    }
    // The named fix works.
    fx.ok(&["ca", "init", "--org", "participant1", "--force"]);
    fx.ok(&["init"]);
    let (code, bad) = verify(&fx);
    assert_eq!((code, bad.len()), (0, 0), "{bad:#?}");
}

#[test]
fn a_folder_in_place_of_a_cert_gets_a_fix_that_works() {
    let fx = Fixture::ecdsa().init();
    let cert = fx.p1("participant1/certs/participant1.customer1.com.cert.pem");
    std::fs::remove_file(&cert).unwrap();
    std::fs::create_dir(&cert).unwrap();
    std::fs::write(cert.join("stray"), "x").unwrap();
    let (code, bad) = verify(&fx);
    assert_eq!(code, 1);
    let e = bad
        .iter()
        .find(|e| e["file"].as_str().unwrap() == cert.display().to_string())
        .expect("the folder is named");
    let fix = e["findings"][0]["fix"].as_str().unwrap();
    assert!(fix.starts_with("move it out of the way with `mv "), "{fix}");
    // Every command of the fix, in order.
    let commands: Vec<&str> = fix.split('`').skip(1).step_by(2).collect();
    assert_eq!(commands.len(), 2, "{fix}");
    for c in commands {
        sh(&fx, c);
    }
    let (code, bad) = verify(&fx);
    // What is left is the folder moved away, outside hapki's layout: a warning, no problem.
    assert_eq!(code, 0, "{bad:#?}");
    assert!(bad.iter().all(|e| e["status"] == "warning"), "{bad:#?}");
}
