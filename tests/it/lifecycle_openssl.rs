//! The CA index, revocation and CRLs as OpenSSL reads them: `openssl ca -status` and
//! `openssl ocsp -index` read hapki's index.txt, `openssl crl -verify` accepts every CRL, and
//! `openssl verify -crl_check_all` with the CRL bundle refuses a revoked client (and a client
//! under a revoked intermediate) and accepts the others. Times are pinned with --at, and
//! openssl's with -attime.

use crate::support::fixture::{
    ecdsa_tree, hapki_ecdsa as hapki, hapki_std, stdout_of_success as ok, ECDSA_PROFILE as PROFILE,
};
use crate::support::openssl::{openssl_at, openssl_raw, serial_of};
use crate::support::proc::both;
use crate::support::skip::{have, skipped, test_name};
use std::path::{Path, PathBuf};
use std::process::Command;

const T0: &str = "2026-12-01T00:00:00Z";
/// T0 + 1 h, as Unix seconds for `openssl -attime`.
const T1: &str = "2026-12-01T01:00:00Z";
const T1_UNIX: &str = "1796086800";

/// Whether openssl is here; `false` after `test` reported SKIPPED.
fn have_openssl(test: &str) -> bool {
    let ok = have("openssl");
    if !ok {
        skipped(test, "openssl is not installed");
    }
    ok
}

fn tree() -> (tempfile::TempDir, PathBuf) {
    ecdsa_tree(T0)
}

#[test]
fn every_index_line_is_what_openssl_ca_writes_for_its_cert() {
    if !have_openssl(test_name!()) {
        return;
    }
    let (_d, out) = tree();
    for org in ["domain", "participant1", "participant2"] {
        for level in ["root", "intermediate"] {
            let dir = out.join(org).join(level);
            assert_eq!(
                std::fs::read_to_string(dir.join("index.txt.attr")).unwrap(),
                "unique_subject = no\n"
            );
            assert_eq!(
                std::fs::read_to_string(dir.join("crlnumber")).unwrap(),
                "1001\n"
            );
            let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
            let lines: Vec<&str> = index.lines().collect();
            assert!(!lines.is_empty(), "{org}/{level}");
            for line in lines {
                let f: Vec<&str> = line.split('\t').collect();
                assert_eq!(f.len(), 6, "{line}");
                assert_eq!((f[0], f[2], f[4]), ("V", "", "unknown"), "{line}");
                // The cert it names, as openssl prints it.
                let cert = dir.join(format!("newcerts/{}.pem", f[3]));
                let o = openssl_raw(
                    &[
                        "x509",
                        "-noout",
                        "-serial",
                        "-subject",
                        "-enddate",
                        "-nameopt",
                        "compat",
                        "-in",
                        cert.to_str().unwrap(),
                    ],
                    None,
                );
                let text = ok(&o);
                assert!(text.contains(&format!("serial={}\n", f[3])), "{text}");
                assert!(text.contains(&format!("subject={}\n", f[5])), "{text}");
                assert!(f[5].starts_with("/C=US/ST=New York/O="), "{line}");
                assert_eq!(f[1].len(), 13, "UTCTime expiry: {line}");
                assert!(
                    f[3].len().is_multiple_of(2)
                        && f[3]
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
                );
            }
        }
    }
    // The intermediate index holds every leaf deployed at the layout's paths.
    let client = out.join("participant1/client/admin-api.customer1.com.cert.pem");
    let s = serial_of(&client);
    let idx = std::fs::read_to_string(out.join("participant1/intermediate/index.txt")).unwrap();
    assert!(idx.contains(&s), "{s} not in {idx}");
    // The root's index holds the intermediate.
    let inter = serial_of(&out.join("participant1/intermediate/certs/intermediate.cert.pem"));
    let idx = std::fs::read_to_string(out.join("participant1/root/index.txt")).unwrap();
    assert!(idx.contains(&inter), "{idx}");
}

#[test]
fn revocation_as_openssl_verify_ca_and_ocsp_see_it() {
    if !have_openssl(test_name!()) {
        return;
    }
    let (_d, out) = tree();
    let p1 = out.join("participant1");
    let revoked = "client/admin-api.customer1.com.cert.pem";
    let other = "client/participant1.customer1.com.cert.pem";
    let stdout = ok(&hapki(
        &out,
        &[
            "revoke",
            "admin-api",
            "--org",
            "participant1",
            "--reason",
            "key-compromise",
            "--at",
            T1,
        ],
    ));
    assert!(stdout.contains("revoked client admin-api"), "{stdout}");
    let serial = serial_of(&p1.join(revoked));
    let idx = std::fs::read_to_string(p1.join("intermediate/index.txt")).unwrap();
    let line = idx.lines().find(|l| l.contains(&serial)).unwrap();
    assert!(
        line.starts_with("R\t271201000000Z\t261201010000Z,keyCompromise\t"),
        "{line}"
    );
    // The cert files stay.
    assert!(p1.join(revoked).exists());
    // Twice: says so, changes nothing, exit 0.
    let before = std::fs::read(p1.join("intermediate/crl/intermediate.crl.der")).unwrap();
    let again = ok(&hapki(
        &out,
        &["revoke", "admin-api", "--org", "participant1", "--at", T1],
    ));
    assert!(again.contains("already revoked"), "{again}");
    assert_eq!(
        std::fs::read(p1.join("intermediate/crl/intermediate.crl.der")).unwrap(),
        before
    );
    // crlNumber increased, and was persisted.
    assert_eq!(
        std::fs::read_to_string(p1.join("intermediate/crlnumber")).unwrap(),
        "1002\n"
    );
    let text = ok(&openssl_at(
        &p1,
        &[
            "crl",
            "-noout",
            "-text",
            "-in",
            "intermediate/crl/intermediate.crl.pem",
        ],
    ));
    assert!(
        text.contains("X509v3 CRL Number: \n                4097"),
        "{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");

    // openssl ca reads the index.
    let cnf = p1.join("ca.cnf");
    std::fs::write(
        &cnf,
        format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {}\n",
            p1.join("intermediate/index.txt").display()
        ),
    )
    .unwrap();
    let o = openssl_at(&p1, &["ca", "-config", "ca.cnf", "-status", &serial]);
    assert!(
        both(&o).contains(&format!("{serial}=Revoked (R)")),
        "{}",
        both(&o)
    );
    let good = serial_of(&p1.join(other));
    let o = openssl_at(&p1, &["ca", "-config", "ca.cnf", "-status", &good]);
    assert!(
        both(&o).contains(&format!("{good}=Valid (V)")),
        "{}",
        both(&o)
    );
    std::fs::remove_file(&cnf).unwrap();

    // Every CRL verifies against its CA.
    for (crl, ca) in [
        ("root/crl/ca.crl.pem", "root/certs/ca.cert.pem"),
        (
            "intermediate/crl/intermediate.crl.pem",
            "intermediate/certs/ca-chain.cert.pem",
        ),
    ] {
        for org in ["domain", "participant1", "participant2"] {
            let o = openssl_at(
                &out.join(org),
                &["crl", "-noout", "-verify", "-in", crl, "-CAfile", ca],
            );
            assert!(both(&o).contains("verify OK"), "{org} {crl}: {}", both(&o));
        }
    }

    // openssl verify with the bundle: the revoked client is refused, the others pass.
    let verify = |dir: &Path, cert: &str| {
        openssl_at(
            dir,
            &[
                "verify",
                "-attime",
                T1_UNIX,
                "-crl_check_all",
                "-CAfile",
                "intermediate/certs/ca-chain.cert.pem",
                "-CRLfile",
                "intermediate/crl/ca-chain.crl.pem",
                cert,
            ],
        )
    };
    let o = verify(&p1, revoked);
    assert!(
        !o.status.success() && both(&o).contains("certificate revoked"),
        "{}",
        both(&o)
    );
    let o = verify(&p1, other);
    assert!(o.status.success(), "{}", both(&o));
    let o = verify(
        &p1,
        "participant1/certs/participant1.customer1.com.cert.pem",
    );
    assert!(o.status.success(), "{}", both(&o));

    // A revoked intermediate lands in the root's CRL: every cert under it is refused.
    let p2 = out.join("participant2");
    ok(&hapki(
        &out,
        &[
            "revoke",
            "intermediate",
            "--org",
            "participant2",
            "--reason",
            "superseded",
            "--at",
            T1,
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(p2.join("root/crlnumber")).unwrap(),
        "1002\n"
    );
    let o = verify(&p2, "client/participant2.customer2.com.cert.pem");
    assert!(
        !o.status.success() && both(&o).contains("certificate revoked"),
        "{}",
        both(&o)
    );
    // The bundle: the issuing CA's CRL first, then the root's.
    let bundle = std::fs::read_to_string(p2.join("intermediate/crl/ca-chain.crl.pem")).unwrap();
    let inter = std::fs::read_to_string(p2.join("intermediate/crl/intermediate.crl.pem")).unwrap();
    let root = std::fs::read_to_string(p2.join("root/crl/ca.crl.pem")).unwrap();
    assert_eq!(bundle, format!("{inter}{root}"));

    // By --serial and by file.
    let s = serial_of(&p1.join("client/participant1.customer1.com.cert.pem"));
    ok(&hapki(
        &out,
        &[
            "revoke",
            "--serial",
            &s,
            "--org",
            "participant1",
            "--at",
            T1,
        ],
    ));
    let f = out.join("domain/client/sequencer.acme.com.cert.pem");
    let o = ok(&hapki(&out, &["revoke", f.to_str().unwrap(), "--at", T1]));
    assert!(o.contains("sequencer"), "{o}");
    let o = verify(&out.join("domain"), "client/sequencer.acme.com.cert.pem");
    assert!(!o.status.success(), "{}", both(&o));

    // verify: a revoked cert still deployed is a problem.
    let o = hapki_std()
        .args(["verify", "--profile", PROFILE, "--at", T1])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(both(&o).contains("revoked cert in use"), "{}", both(&o));
}

#[test]
fn openssl_ocsp_answers_from_the_index() {
    if !have_openssl(test_name!()) {
        return;
    }
    let (_d, out) = tree();
    let p1 = out.join("participant1");
    ok(&hapki(
        &out,
        &["revoke", "admin-api", "--org", "participant1", "--at", T1],
    ));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("openssl")
        .args([
            "ocsp",
            "-index",
            "intermediate/index.txt",
            "-CA",
            "intermediate/certs/ca-chain.cert.pem",
            "-rsigner",
            "intermediate/certs/intermediate.cert.pem",
            "-rkey",
            "intermediate/private/intermediate.key.pem",
            "-port",
            &port.to_string(),
            "-nrequest",
            "2",
        ])
        .current_dir(&p1)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ask = |cert: &str| -> String {
        for _ in 0..50 {
            let o = openssl_at(
                &p1,
                &[
                    "ocsp",
                    "-issuer",
                    "intermediate/certs/intermediate.cert.pem",
                    "-cert",
                    cert,
                    "-url",
                    &format!("http://127.0.0.1:{port}"),
                    "-CAfile",
                    "intermediate/certs/ca-chain.cert.pem",
                ],
            );
            let s = both(&o);
            if o.status.success() && s.contains(cert) {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("no OCSP answer for {cert}");
    };
    let r = ask("client/admin-api.customer1.com.cert.pem");
    let g = ask("client/participant1.customer1.com.cert.pem");
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        r.contains("client/admin-api.customer1.com.cert.pem: revoked"),
        "{r}"
    );
    assert!(r.contains("Response verify OK"), "{r}");
    assert!(
        g.contains("client/participant1.customer1.com.cert.pem: good"),
        "{g}"
    );
}

#[test]
fn crl_within_signs_only_what_is_due_and_numbers_only_grow() {
    let (_d, out) = tree();
    let p1 = out.join("participant1");
    let o = ok(&hapki(&out, &["crl", "--within", "2d", "--at", T1]));
    assert!(o.contains("nothing signed"), "{o}");
    assert_eq!(
        std::fs::read_to_string(p1.join("intermediate/crlnumber")).unwrap(),
        "1001\n"
    );
    // Six days on, the 7-day CRLs are due and the 180-day root CRL is not.
    let o = ok(&hapki(
        &out,
        &["crl", "--within", "2d", "--at", "2026-12-06T00:00:00Z"],
    ));
    assert!(o.contains("intermediate.crl.pem"), "{o}");
    assert!(!o.contains("ca.crl.pem ("), "{o}");
    assert_eq!(
        std::fs::read_to_string(p1.join("intermediate/crlnumber")).unwrap(),
        "1002\n"
    );
    assert_eq!(
        std::fs::read_to_string(p1.join("root/crlnumber")).unwrap(),
        "1001\n"
    );
    // All of them, with --days.
    let o = ok(&hapki(
        &out,
        &["crl", "--org", "participant1", "--days", "14", "--at", T1],
    ));
    assert!(o.contains("ca.crl.pem"), "{o}");
    assert_eq!(
        std::fs::read_to_string(p1.join("root/crlnumber")).unwrap(),
        "1002\n"
    );
    // verify: fine now, a warning late in the window, a problem once expired.
    let verify = |at: &str| {
        hapki_std()
            .args(["verify", "--profile", PROFILE, "--within", "1d", "--at", at])
            .arg(&p1)
            .output()
            .unwrap()
    };
    let o = verify("2026-12-02T00:00:00Z");
    assert!(o.status.success(), "{}", both(&o));
    assert!(!both(&o).contains("warn "), "{}", both(&o));
    let o = verify("2026-12-13T00:00:00Z");
    assert!(
        both(&o).contains("with less than a quarter of its window left"),
        "{}",
        both(&o)
    );
    let o = verify("2026-12-16T00:00:00Z");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        both(&o).contains("intermediate.crl.pem (intermediate CRL): expired"),
        "{}",
        both(&o)
    );
}

#[test]
fn a_torn_last_index_line_is_recovered() {
    let (_d, out) = tree();
    let idx = out.join("participant1/intermediate/index.txt");
    let before = std::fs::read_to_string(&idx).unwrap();
    // A run killed mid-append left half a line.
    std::fs::write(&idx, format!("{before}V\t2712010000")).unwrap();
    // Readers ignore it.
    let o = hapki_std()
        .args(["verify", "--profile", PROFILE, "--at", T1])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", both(&o));
    assert!(both(&o).contains("incomplete line"), "{}", both(&o));
    // The next issue cuts it off and appends a whole line.
    ok(&hapki(
        &out,
        &[
            "issue",
            "reporting",
            "--org",
            "participant1",
            "--kind",
            "client",
            "--at",
            T1,
        ],
    ));
    let after = std::fs::read_to_string(&idx).unwrap();
    assert!(after.starts_with(&before), "{after}");
    let added: Vec<&str> = after[before.len()..].lines().collect();
    assert_eq!(added.len(), 1, "{after}");
    assert!(added[0].ends_with("/CN=reporting.customer1.com"), "{after}");
    assert!(after.ends_with('\n'));
}

#[test]
fn init_force_takes_the_old_cas_newcerts_with_it() {
    let (_d, out) = tree();
    let inter = out.join("participant1/intermediate");
    let serials = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("newcerts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let in_index = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(dir.join("index.txt"))
            .unwrap()
            .lines()
            .map(|l| format!("{}.pem", l.split('\t').nth(3).unwrap()))
            .collect();
        v.sort();
        v
    };
    let old = serials(&inter);
    assert_eq!(old, in_index(&inter));
    let old_root = serials(&out.join("participant1/root"));
    ok(&hapki(&out, &["init", "--force", "--at", T1]));
    // The new CAs' copies are exactly the certs of their new indexes: none of the old CA's.
    for level in ["root", "intermediate"] {
        let dir = out.join("participant1").join(level);
        let now = serials(&dir);
        assert_eq!(now, in_index(&dir), "{level}");
        assert!(!now.is_empty(), "{level}");
        let before = if level == "root" { &old_root } else { &old };
        assert!(
            now.iter().all(|s| !before.contains(s)),
            "{level}: {now:?} {before:?}"
        );
    }
    // An old serial is unknown to the new CA.
    let gone = old[0].trim_end_matches(".pem");
    let o = hapki(
        &out,
        &[
            "revoke",
            "--serial",
            gone,
            "--org",
            "participant1",
            "--at",
            T1,
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
}
