//! `hapki lint`: clean on every cert hapki writes, and the right codes on certs that openssl is
//! made to write badly (a CA whose basicConstraints is not critical, a negative and a 21-octet
//! serial, TeletexString names, a CA without SKI, a leaf without AKI and with a bad DNS SAN).

use crate::support::fixture::{hapki, Fixture, AT};
use crate::support::openssl::openssl_in;
use crate::support::skip::{have, skipped, test_name};
use crate::support::tree::files_ending;
use std::path::Path;
use std::sync::OnceLock;

/// `hapki lint FILE`: its exit code and the codes of its findings at warning or above.
fn lint(file: &Path) -> (i32, Vec<String>) {
    let out = hapki().arg("lint").arg(file).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let prefix = format!("{}: ", file.display());
    let mut codes = vec![];
    for line in stdout.lines() {
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("`{line}` does not start with `{prefix}`"));
        let (sev, rest) = rest.split_once(' ').unwrap();
        let (code, sentence) = rest.split_once(": ").unwrap();
        assert!(["error", "warning", "notice"].contains(&sev), "{line}");
        assert!(!sentence.is_empty(), "{line}");
        if sev != "notice" {
            codes.push(code.to_string());
        }
    }
    (out.status.code().unwrap(), codes)
}

/// The tree of the shipped ECDSA profile at AT, shared: lint only reads it.
fn tree() -> &'static Fixture {
    static TREE: OnceLock<Fixture> = OnceLock::new();
    TREE.get_or_init(|| Fixture::shipped_ecdsa().at(AT).shared().init())
}

#[test]
fn every_cert_hapki_writes_lints_clean() {
    let files = files_ending(&tree().out, &[".cert.pem", ".cert.der"]);
    assert!(files.len() > 40, "{}", files.len());
    let out = hapki().arg("lint").args(&files).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // Only notices, and only the `localhost` SAN the server certs carry on purpose.
    for line in stdout.lines() {
        assert!(
            line.contains(": notice san-dns-single-label: the DNS SAN `localhost`"),
            "{line}"
        );
    }
    assert!(!stdout.is_empty(), "the server certs name localhost");
}

#[test]
fn bad_certs_made_with_openssl_get_the_right_codes_and_exit_1() {
    if !have("openssl") {
        return skipped(test_name!(), "openssl is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
    w("plain.cnf", "[req]\ndistinguished_name=dn\n[dn]\n");
    w(
        "bc.cnf",
        "[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
    );
    w(
        "noski.cnf",
        "[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=none\n",
    );
    w(
        "t61.cnf",
        "[req]\ndistinguished_name=dn\nstring_mask=nombstr\n[dn]\n[ext]\nsubjectKeyIdentifier=hash\n",
    );
    w(
        "leaf.ext",
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:bad_name.example.com\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=none\n",
    );
    openssl_in(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
    );
    let req = |out: &str, subj: &str, cnf: &str, extra: &[&str]| {
        let mut a = vec![
            "req", "-x509", "-key", "k.pem", "-days", "30", "-out", out, "-subj", subj, "-config",
            cnf,
        ];
        a.extend_from_slice(extra);
        openssl_in(d, &a);
    };
    req(
        "bc.pem",
        "/C=US/O=Bad/CN=Bad CA",
        "bc.cnf",
        &["-extensions", "ext"],
    );
    req(
        "noski.pem",
        "/CN=No SKI CA",
        "noski.cnf",
        &["-extensions", "ext"],
    );
    req(
        "neg.pem",
        "/CN=neg.example.com",
        "plain.cnf",
        &["-set_serial", "-5"],
    );
    req(
        "long.pem",
        "/CN=long.example.com",
        "plain.cnf",
        &[
            "-set_serial",
            "0x7f0102030405060708090a0b0c0d0e0f1011121314",
        ],
    );
    req(
        "t61.pem",
        "/C=US/CN=under_score@x",
        "t61.cnf",
        &["-extensions", "ext"],
    );
    openssl_in(
        d,
        &[
            "req",
            "-new",
            "-key",
            "k.pem",
            "-subj",
            "/CN=leaf.example.com",
            "-config",
            "plain.cnf",
            "-out",
            "leaf.csr",
        ],
    );
    openssl_in(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "bc.pem",
            "-CAkey",
            "k.pem",
            "-set_serial",
            "7",
            "-days",
            "10",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );

    for (file, want) in [
        ("bc.pem", &["basic-constraints-not-critical"][..]),
        ("noski.pem", &["ski-missing"]),
        // No extensions at all: openssl writes a v1 cert without SKI and AKI.
        (
            "neg.pem",
            &[
                "serial-not-positive",
                "ski-missing",
                "aki-missing",
                "version-not-v3",
            ],
        ),
        (
            "long.pem",
            &[
                "serial-too-long",
                "ski-missing",
                "aki-missing",
                "version-not-v3",
            ],
        ),
        // Self-signed but no CA: only a CA's self-signed cert may go without AKI.
        (
            "t61.pem",
            &["subject-string-type", "issuer-string-type", "aki-missing"],
        ),
        ("leaf.pem", &["san-dns-invalid", "aki-missing"]),
    ] {
        let (code, mut got) = lint(&d.join(file));
        got.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{file}");
        assert_eq!(code, 1, "{file}");
    }

    // A chain whose issuer has the leaf's issuer name but another key: the AKI does not match.
    w(
        "leaf2.ext",
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:leaf.example.com\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    openssl_in(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "bc.pem",
            "-CAkey",
            "k.pem",
            "-set_serial",
            "8",
            "-days",
            "10",
            "-extfile",
            "leaf2.ext",
            "-out",
            "leaf2.pem",
        ],
    );
    openssl_in(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k2.pem",
        ],
    );
    openssl_in(
        d,
        &[
            "req",
            "-x509",
            "-key",
            "k2.pem",
            "-days",
            "30",
            "-out",
            "other.pem",
            "-subj",
            "/C=US/O=Bad/CN=Bad CA",
            "-config",
            "noski.cnf",
            "-extensions",
            "ext",
            "-addext",
            "subjectKeyIdentifier=hash",
        ],
    );
    let chain = d.join("chain.pem");
    std::fs::write(
        &chain,
        std::fs::read_to_string(d.join("leaf2.pem")).unwrap()
            + &std::fs::read_to_string(d.join("other.pem")).unwrap(),
    )
    .unwrap();
    let out = hapki().arg("lint").arg(&chain).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{}: error aki-mismatch: ", chain.display())),
        "{stdout}"
    );
}

#[test]
fn a_file_that_is_no_certificate_is_refused_with_one_sentence_and_exit_2() {
    let t = &tree().out;
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let keys = files_ending(&t.join("participant1"), &[".key.pem"]);
    let der_key = t.join("participant1/client/participant1.customer1.com.key.der");
    for (file, want) in [
        (
            text.clone(),
            format!(
                "error: {} is not a certificate (neither PEM nor DER); pass a PEM or DER certificate\n",
                text.display()
            ),
        ),
        (
            keys[0].clone(),
            format!(
                "error: {} holds no certificate (only a PRIVATE KEY PEM block); pass a PEM or DER certificate\n",
                keys[0].display()
            ),
        ),
        (
            der_key.clone(),
            format!(
                "error: {} is not a readable X.509 certificate (its DER does not parse as one); pass a PEM or DER certificate\n",
                der_key.display()
            ),
        ),
        (
            dir.path().to_path_buf(),
            format!(
                "error: {}: it is a folder, not a regular file; pass a PEM or DER certificate file\n",
                dir.path().display()
            ),
        ),
    ] {
        let out = hapki().arg("lint").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        assert_eq!(String::from_utf8(out.stderr).unwrap(), want);
        assert!(out.stdout.is_empty());
    }
    // A bad file among good ones: the good ones are still linted, and the exit code is 2.
    let certs = files_ending(&t.join("domain/root"), &[".cert.pem"]);
    hapki()
        .arg("lint")
        .arg(&certs[0])
        .arg(&text)
        .assert()
        .code(2);
}

#[test]
fn json_lists_every_cert_of_a_chain_with_its_findings() {
    let chain = tree()
        .out
        .join("participant1/participant1/certs/participant1-chain.customer1.com.cert.pem");
    let out = hapki()
        .args(["lint", "--json"])
        .arg(&chain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let certs = v.as_array().unwrap();
    assert_eq!(certs.len(), 3, "leaf, intermediate, root");
    for (i, c) in certs.iter().enumerate() {
        assert_eq!(c["file"], chain.display().to_string());
        assert_eq!(c["cert_index"], i);
        assert!(c["subject"].as_str().unwrap().contains("CN="), "{c}");
    }
    let leaf = certs[0]["findings"].as_array().unwrap();
    assert_eq!(leaf.len(), 1, "{leaf:?}");
    assert_eq!(leaf[0]["code"], "san-dns-single-label");
    assert_eq!(leaf[0]["severity"], "notice");
    assert!(leaf[0]["message"].as_str().unwrap().contains("localhost"));
    assert!(certs[1]["findings"].as_array().unwrap().is_empty());
}
