//! `hapki renew` at pinned times, `hapki list`, and concurrent issue/revoke runs under one CA.

use crate::support::fixture::{
    ecdsa_tree, hapki_ecdsa as hapki, hapki_std, stdout_of_success as ok, ECDSA_PROFILE as PROFILE,
};
use crate::support::openssl::openssl_raw;
use std::path::{Path, PathBuf};

const T0: &str = "2026-12-01T00:00:00Z";
/// 300 days after T0: under a third of a 365-day leaf's life is left.
const LATE: &str = "2027-09-27T00:00:00Z";

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Serial and public key of a PEM cert, as openssl prints them.
fn openssl_x509(cert: &Path, what: &str) -> String {
    let o = openssl_raw(
        &["x509", "-noout", what, "-in", cert.to_str().unwrap()],
        None,
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn tree() -> (tempfile::TempDir, PathBuf) {
    ecdsa_tree(T0)
}

#[test]
fn renew_reissues_near_expiry_leaves_at_the_same_paths_and_skips_fresh_ones() {
    let (_d, out) = tree();
    let p1 = out.join("participant1");
    let cert = p1.join("db/certs/db.customer1.com.cert.pem");
    let key = p1.join("db/private/db.customer1.com.key.pem");
    let client = p1.join("client/admin-api.customer1.com.cert.pem");
    let old_serial = openssl_x509(&cert, "-serial");
    let old_key = read(&key);

    // Fresh: skipped with a line, nothing written.
    let o = ok(&hapki(
        &out,
        &["renew", "db", "--org", "participant1", "--at", T0],
    ));
    assert!(
        o.contains("skipped server db of participant1: fresh"),
        "{o}"
    );
    assert_eq!(openssl_x509(&cert, "-serial"), old_serial);

    // Dry run: says what, changes nothing.
    let o = ok(&hapki(
        &out,
        &["renew", "--org", "participant1", "--at", LATE, "--dry-run"],
    ));
    assert!(o.contains("would renew server db of participant1"), "{o}");
    assert_eq!(openssl_x509(&cert, "-serial"), old_serial);

    // Near expiry: a new serial and key at the same paths.
    let o = ok(&hapki(
        &out,
        &["renew", "db", "--org", "participant1", "--at", LATE],
    ));
    assert!(o.contains("renewed server db"), "{o}");
    assert!(
        o.contains("pg_ctl reload") && o.contains("passive replica first"),
        "{o}"
    );
    let new_serial = openssl_x509(&cert, "-serial");
    assert_ne!(new_serial, old_serial);
    assert_ne!(read(&key), old_key);
    // The derived files say what the new cert and key say.
    let chain = read(&p1.join("db/certs/db-chain.customer1.com.cert.pem"));
    assert!(
        chain.starts_with(&read(&cert)),
        "chain starts with the new cert"
    );
    let haproxy = read(&p1.join("db/private/db.customer1.com.haproxy.pem"));
    assert!(haproxy.starts_with(&read(&cert)) && haproxy.ends_with(&read(&key)));
    let csr = p1.join("db/csr/db.customer1.com.csr.pem");
    let csr_pub = openssl_raw(
        &["req", "-noout", "-pubkey", "-in", csr.to_str().unwrap()],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&csr_pub.stdout).trim(),
        openssl_x509(&cert, "-pubkey")
    );
    // The old cert stays in newcerts/ and the index; the new one is there too.
    let idx = read(&p1.join("intermediate/index.txt"));
    let old_hex = old_serial.trim_start_matches("serial=");
    let new_hex = new_serial.trim_start_matches("serial=");
    assert!(idx.contains(old_hex) && idx.contains(new_hex), "{idx}");
    assert!(p1
        .join(format!("intermediate/newcerts/{old_hex}.pem"))
        .exists());
    // list shows the old one as replaced.
    let l = ok(&hapki(
        &out,
        &["list", "--org", "participant1", "--at", LATE],
    ));
    let old_row = l.lines().find(|r| r.contains(old_hex)).unwrap();
    assert!(old_row.contains("(replaced)"), "{l}");

    // --keep-key: a new cert for the same key.
    let client_key = read(&p1.join("client/admin-api.customer1.com.key.pem"));
    let client_serial = openssl_x509(&client, "-serial");
    ok(&hapki(
        &out,
        &[
            "renew",
            "admin-api",
            "--org",
            "participant1",
            "--at",
            LATE,
            "--keep-key",
        ],
    ));
    assert_eq!(
        read(&p1.join("client/admin-api.customer1.com.key.pem")),
        client_key
    );
    assert_ne!(openssl_x509(&client, "-serial"), client_serial);
    let der = std::fs::read(p1.join("client/admin-api.customer1.com.cert.der")).unwrap();
    assert_eq!(der, crate::support::openssl::der(&client));

    // The whole tree verifies after (CRLs signed again for that day first).
    ok(&hapki(&out, &["crl", "--at", LATE]));
    ok(&hapki(&out, &["jwt", "mint", "--at", LATE]));
    ok(&hapki(&out, &["renew", "--at", LATE]));
    let v = hapki_std()
        .args(["verify", "--profile", PROFILE, "--at", LATE])
        .arg(&out)
        .output()
        .unwrap();
    ok(&v);
}

/// `participant1` is both a server and a client cert of one org: the refusal names both and
/// asks for what tells them apart (the file or the serial), not for the `--org` already given;
/// the cert file then revokes the one it holds.
#[test]
fn a_name_of_two_certs_in_one_org_asks_for_the_file_or_serial() {
    let (_d, out) = tree();
    let index = out.join("participant1/intermediate/index.txt");
    let before = read(&index);
    let o = hapki(
        &out,
        &[
            "revoke",
            "participant1",
            "--org",
            "participant1",
            "--at",
            T0,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("names several certs (server participant1"),
        "{err}"
    );
    assert!(err.contains("client participant1"), "{err}");
    assert!(
        err.trim_end().ends_with("give the cert file or --serial"),
        "{err}"
    );
    assert_eq!(read(&index), before);
    let server = out.join("participant1/participant1/certs/participant1.customer1.com.cert.pem");
    ok(&hapki(
        &out,
        &["revoke", server.to_str().unwrap(), "--at", T0],
    ));
    let serial = openssl_x509(&server, "-serial");
    let serial = serial.trim_start_matches("serial=");
    let after = read(&index);
    let revoked: Vec<&str> = after.lines().filter(|l| l.starts_with('R')).collect();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(revoked[0].contains(serial), "{revoked:?}");
}

#[test]
fn list_shows_every_cert_with_its_status() {
    let (_d, out) = tree();
    ok(&hapki(
        &out,
        &["revoke", "admin-api", "--org", "participant1", "--at", T0],
    ));
    let l = ok(&hapki(&out, &["list", "--org", "participant1", "--at", T0]));
    assert!(l.starts_with("ORG "), "{l}");
    let row = |name: &str, kind: &str| {
        l.lines()
            .find(|r| {
                let c: Vec<&str> = r.split_whitespace().collect();
                c.get(1..3) == Some(&[kind, name][..])
            })
            .unwrap_or_else(|| panic!("no {kind} {name} in {l}"))
            .to_string()
    };
    assert!(row("admin-api", "client").ends_with("revoked"));
    assert!(row("db", "server").ends_with("valid"));
    assert!(l.contains("intermediate CA"), "{l}");
    let j = ok(&hapki(
        &out,
        &[
            "list",
            "--json",
            "--expiring",
            "30d",
            "--at",
            "2027-11-15T00:00:00Z",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let rows = v.as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r["status"], "expiring", "{r}");
        assert_eq!(r["not_after"], "2027-12-01T00:00:00Z", "{r}");
    }
}

#[test]
fn concurrent_issue_and_revoke_under_one_ca_lose_no_index_line() {
    let (_d, out) = tree();
    let idx = out.join("participant1/intermediate/index.txt");
    let before = read(&idx).lines().count();
    let runs: Vec<_> = (0..8)
        .map(|i| {
            let args: Vec<String> = if i % 2 == 0 {
                [
                    "issue",
                    &format!("c{i}"),
                    "--org",
                    "participant1",
                    "--kind",
                    "client",
                ]
                .map(String::from)
                .to_vec()
            } else {
                // By file: the name `participant1` is a server and a client of the org.
                let name = ["admin-api", "participant1", "admin-api", "participant1"][i / 2];
                let file = out.join(format!("participant1/client/{name}.customer1.com.cert.pem"));
                ["revoke", &file.to_string_lossy(), "--org", "participant1"]
                    .map(String::from)
                    .to_vec()
            };
            let out = out.clone();
            std::thread::spawn(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                hapki(&out, &a)
            })
        })
        .collect();
    for r in runs {
        ok(&r.join().unwrap());
    }
    let text = read(&idx);
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), before + 4, "{text}");
    let mut serials: Vec<&str> = lines
        .iter()
        .map(|l| l.split('\t').nth(3).unwrap())
        .collect();
    for l in &lines {
        assert_eq!(l.split('\t').count(), 6, "torn: {l}");
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), lines.len());
    assert_eq!(lines.iter().filter(|l| l.starts_with("R\t")).count(), 2);
}
