//! Every certificate hapki writes passes DigiCert's RFC 5280 linter, pkilint (`lint_pkix_cert lint
//! -s WARNING`), with no finding at WARNING or above: both shipped profiles, CA tiers 1 to 3, and
//! every key type (RSA, ECDSA P-256 and P-384, Ed25519), with CRL and OCSP locations. The one
//! finding kept on purpose is the single-label `localhost` DNS SAN of server certs.
//!
//! The certs are linted in one Python process by `tests/interop/pkilint_many.py` (the validators
//! of `lint_pkix_cert lint`); `lint_pkix_cert` itself runs on a sample and must agree with it.

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const AT: &str = "2026-11-26T12:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lint_cli() -> Option<PathBuf> {
    let p = root().join(".venv/bin/lint_pkix_cert");
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "SKIPPED: {} is missing; install it with `.venv/bin/pip install -r tests/interop/requirements.txt`",
        p.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("{msg}");
    None
}

fn hapki(args: &[&str]) {
    let out = Command::cargo_bin("hapki")
        .unwrap()
        .args(args)
        .args(["--at", AT])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hapki {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every distinct certificate in the `*.cert.pem` files of `tree` (chains and bundles included),
/// each written to its own file under `into`.
fn certs_of(tree: &Path, into: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, found);
            } else if p.to_string_lossy().ends_with(".cert.pem") {
                found.push(p);
            }
        }
    }
    let mut files = vec![];
    walk(tree, &mut files);
    files.sort();
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    std::fs::create_dir_all(into).unwrap();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for block in text.split_inclusive("-----END CERTIFICATE-----\n") {
            let Some(start) = block.find("-----BEGIN CERTIFICATE-----") else {
                continue;
            };
            let pem = &block[start..];
            if seen.insert(pem.to_string()) {
                let p = into.join(format!(
                    "{}-{}.pem",
                    out.len(),
                    f.file_name().unwrap().to_string_lossy()
                ));
                std::fs::write(&p, pem).unwrap();
                out.push(p);
            }
        }
    }
    assert!(!out.is_empty(), "no certs under {}", tree.display());
    out
}

/// The kept finding: pkilint's DNS syntax validator on the single-label `localhost` SAN.
fn is_localhost(result: &serde_json::Value, finding: &serde_json::Value) -> bool {
    result["validator"] == "GeneralNameDnsNameSyntaxValidator"
        && finding["code"] == "pkix.invalid_domain_name_syntax"
        && finding["message"] == "Invalid domain name syntax: \"localhost\""
}

/// The findings at WARNING or above of pkilint on each cert, as `file: validator code message`.
fn pkilint(certs: &[PathBuf]) -> Vec<(PathBuf, serde_json::Value)> {
    pkilint_at("WARNING", certs)
}

fn pkilint_at(severity: &str, certs: &[PathBuf]) -> Vec<(PathBuf, serde_json::Value)> {
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/interop/pkilint_many.py"))
        .arg(severity)
        .args(certs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pkilint_many.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<(PathBuf, serde_json::Value)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                PathBuf::from(v["file"].as_str().unwrap()),
                v["results"].clone(),
            )
        })
        .collect();
    assert_eq!(lines.len(), certs.len(), "one report per cert");
    lines
}

fn problems(reports: &[(PathBuf, serde_json::Value)]) -> (Vec<String>, usize) {
    let mut bad = vec![];
    let mut localhost = 0;
    for (file, results) in reports {
        for r in results.as_array().unwrap() {
            for f in r["finding_descriptions"].as_array().unwrap() {
                if is_localhost(r, f) {
                    localhost += 1;
                } else {
                    bad.push(format!(
                        "{}: {} {} ({}) at {}: {}",
                        file.display(),
                        r["validator"],
                        f["code"],
                        f["severity"],
                        r["node_path"],
                        f["message"]
                    ));
                }
            }
        }
    }
    (bad, localhost)
}

fn assert_clean(tree: &Path, work: &Path) -> Vec<PathBuf> {
    let certs = certs_of(tree, work);
    let reports = pkilint(&certs);
    let (bad, _localhost) = problems(&reports);
    assert!(
        bad.is_empty(),
        "pkilint findings on {}:\n{}",
        tree.display(),
        bad.join("\n")
    );
    certs
}

#[test]
fn ecdsa_profile_tiers_1_to_3_are_pkilint_clean_and_the_cli_agrees() {
    let Some(cli) = lint_cli() else { return };
    let dir = tempfile::tempdir().unwrap();
    let profile = root().join("profiles/canton-ha-ecdsa.toml");
    let profile = profile.to_str().unwrap();
    let mut localhost_seen = 0;
    for tier in ["1", "2", "3"] {
        let out = dir.path().join(format!("t{tier}"));
        let out_s = out.to_str().unwrap();
        hapki(&[
            "ca",
            "init",
            "--profile",
            profile,
            "--out",
            out_s,
            "--tier",
            tier,
        ]);
        hapki(&["init", "--profile", profile, "--out", out_s]);
        let certs = certs_of(&out, &dir.path().join(format!("c{tier}")));
        let reports = pkilint(&certs);
        let (bad, localhost) = problems(&reports);
        assert!(bad.is_empty(), "tier {tier}:\n{}", bad.join("\n"));
        localhost_seen += localhost;
        if tier == "3" {
            // lint_pkix_cert itself, on the root, the policy and issuing CAs and some leaves,
            // finds what the in-process driver finds.
            for (cert, results) in reports.iter().take(12) {
                let out = std::process::Command::new(&cli)
                    .args(["lint", "-s", "WARNING", "-f", "JSON"])
                    .arg(cert)
                    .output()
                    .unwrap();
                let v: serde_json::Value =
                    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                        panic!(
                            "lint_pkix_cert on {}: {e}: {}",
                            cert.display(),
                            String::from_utf8_lossy(&out.stderr)
                        )
                    });
                assert_eq!(&v["results"], results, "{}", cert.display());
                let empty = results.as_array().unwrap().is_empty();
                assert_eq!(out.status.success(), empty, "{}", cert.display());
            }
        }
    }
    assert!(localhost_seen > 0, "the localhost exception was never met");
}

#[test]
fn the_subject_key_identifier_method_is_one_pkilint_recognises() {
    if lint_cli().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    hapki(&[
        "ca",
        "init",
        "--profile",
        root()
            .join("profiles/canton-ha-ecdsa.toml")
            .to_str()
            .unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--tier",
        "3",
        "--org",
        "participant1",
    ]);
    hapki(&[
        "issue",
        "participant1",
        "--profile",
        root()
            .join("profiles/canton-ha-ecdsa.toml")
            .to_str()
            .unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let certs = certs_of(&out, &dir.path().join("c"));
    for (file, results) in pkilint_at("INFO", &certs) {
        let codes: Vec<&str> = results
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["finding_descriptions"].as_array().unwrap())
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(
            codes.contains(&"pkix.subject_key_identifier_rfc7093_method_1_identified"),
            "{}: {codes:?}",
            file.display()
        );
        assert!(
            !codes.contains(&"pkix.unknown_subject_key_identifier_calculation_method"),
            "{}: {codes:?}",
            file.display()
        );
    }
}

#[test]
fn rsa_default_profile_is_pkilint_clean() {
    if lint_cli().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    hapki(&[
        "init",
        "--profile",
        root().join("profiles/canton-ha.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean(&out, &dir.path().join("c"));
}

#[test]
fn every_key_type_with_crl_and_ocsp_is_pkilint_clean() {
    if lint_cli().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, (ca, leaf)) in [
        ("ed25519", "ed25519"),
        ("ecdsa-p384", "ecdsa-p384"),
        ("ecdsa-p256", "rsa2048"),
        ("rsa3072", "ecdsa-p256"),
    ]
    .iter()
    .enumerate()
    {
        let profile = dir.path().join(format!("p{i}.toml"));
        std::fs::write(
            &profile,
            format!(
                "[defaults]\nca_key = \"{ca}\"\nleaf_key = \"{leaf}\"\njwt_key = \"{leaf}\"\ntier = 2\n\
                 country = \"DE\"\nstate = \"Baden-Württemberg\"\n\
                 crl_url = \"http://crl.example.com/ca.crl\"\nocsp_url = \"http://ocsp.example.com\"\n\
                 [[org]]\nname = \"p\"\ndns = \"p.example.com\"\norganization = \"Példa GmbH & Co. KG\"\n\
                 servers = [\"web\"]\nclients = [\"admin\"]\n\
                 [org.jwt]\nparticipant_id = \"p\"\nusers = [{{ name = \"alice\", format = \"scope\" }}]\n"
            ),
        )
        .unwrap();
        let out = dir.path().join(format!("t{i}"));
        hapki(&[
            "init",
            "--profile",
            profile.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        // An ad-hoc leaf with a key type of its own and extra SANs.
        hapki(&[
            "issue",
            "extra",
            "--kind",
            "server",
            "--org",
            "p",
            "--key",
            ca,
            "--san",
            "IP:10.0.0.7",
            "--san",
            "DNS:extra2.p.example.com",
            "--profile",
            profile.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        // A leaf name whose FQDN is over RFC 5280's 64-character common name: no commonName,
        // the SAN names it.
        hapki(&[
            "issue",
            &"a".repeat(63),
            "--kind",
            "client",
            "--org",
            "p",
            "--profile",
            profile.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_clean(&out, &dir.path().join(format!("c{i}")));
    }
}

#[test]
fn a_name_constrained_profile_is_pkilint_clean() {
    if lint_cli().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The ECDSA profile with `name_constraints = true` for every org, tiers 2 and 3 (the
    // constraints on the issuing CA, signed by the root or by the policy CA).
    let text = std::fs::read_to_string(root().join("profiles/canton-ha-ecdsa.toml"))
        .unwrap()
        .replacen("[defaults]\n", "[defaults]\nname_constraints = true\n", 1);
    assert!(text.contains("name_constraints = true"));
    for tier in ["2", "3"] {
        let profile = dir.path().join(format!("nc{tier}.toml"));
        std::fs::write(
            &profile,
            text.replace("tier = 2", &format!("tier = {tier}")),
        )
        .unwrap();
        let out = dir.path().join(format!("t{tier}"));
        let (p, o) = (profile.to_str().unwrap(), out.to_str().unwrap());
        hapki(&["init", "--profile", p, "--out", o]);
        hapki(&[
            "issue",
            "extra",
            "--kind",
            "server",
            "--org",
            "participant1",
            "--san",
            "DNS:db.customer1.com",
            "--profile",
            p,
            "--out",
            o,
        ]);
        let mid = out.join("participant1/intermediate/certs/intermediate.cert.pem");
        let shown = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-ext", "nameConstraints", "-in"])
            .arg(&mid)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&shown.stdout).contains("DNS:customer1.com"),
            "tier {tier}: no name constraints on the issuing CA"
        );
        assert_clean(&out, &dir.path().join(format!("c{tier}")));
    }
}
