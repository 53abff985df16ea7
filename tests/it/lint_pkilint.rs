//! Every certificate hapki writes passes DigiCert's RFC 5280 linter, pkilint (`lint_pkix_cert lint
//! -s WARNING`), with no finding at WARNING or above: both shipped profiles, CA tiers 1 to 3, and
//! every key type (RSA, ECDSA P-256 and P-384, Ed25519), with CRL and OCSP locations. The one
//! finding kept on purpose is the single-label `localhost` DNS SAN of server certs.
//!
//! The certs are linted in one Python process by `tests/interop/pkilint_many.py` (the validators
//! of `lint_pkix_cert lint`); `lint_pkix_cert` itself runs on a sample and must agree with it.
//!
//! Every CRL hapki writes (the empty ones of `init`, and ones listing revoked leaves and CAs with
//! reason codes, signed by ECDSA, Ed25519 and RSA CAs) passes pkilint's CRL linter (`lint_crl lint
//! -t CRL -p PKIX`, the PKIX CRL profile) with no finding at all.

use crate::support::fixture::{crate_root, Fixture, AT};
use crate::support::skip::{skipped, test_name};
use crate::support::tree::files_ending;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    crate_root().to_path_buf()
}

/// pkilint's own CLI in the venv; `None` (the caller `test` reported SKIPPED) without it.
fn lint_cli(test: &str) -> Option<PathBuf> {
    venv_cli("lint_pkix_cert", test)
}

/// The pkilint command `name` in the venv, or `None` after saying `test` SKIPPED.
fn venv_cli(name: &str, test: &str) -> Option<PathBuf> {
    let p = root().join(".venv/bin").join(name);
    if p.exists() {
        return Some(p);
    }
    skipped(
        test,
        &format!(
            "{} is missing; install it with `.venv/bin/pip install -r tests/interop/requirements.txt`",
            p.display()
        ),
    );
    None
}

/// Every distinct certificate in the `*.cert.pem` files of `tree` (chains and bundles included),
/// each written to its own file under `into`.
fn certs_of(tree: &Path, into: &Path) -> Vec<PathBuf> {
    let files = files_ending(tree, &[".cert.pem"]);
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
    let Some(cli) = lint_cli(test_name!()) else {
        return;
    };
    let mut localhost_seen = 0;
    for tier in ["1", "2", "3"] {
        let fx = Fixture::shipped_ecdsa().at(AT).bare();
        fx.ok(&["ca", "init", "--tier", tier]);
        fx.ok(&["init"]);
        let certs = certs_of(&fx.out, &fx.scratch("certs"));
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
    if lint_cli(test_name!()).is_none() {
        return;
    }
    let fx = Fixture::shipped_ecdsa().at(AT).bare();
    fx.ok(&["ca", "init", "--tier", "3", "--org", "participant1"]);
    fx.ok(&["issue", "participant1"]);
    let certs = certs_of(&fx.out, &fx.scratch("certs"));
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
    if lint_cli(test_name!()).is_none() {
        return;
    }
    let fx = Fixture::shipped("canton-ha.toml").at(AT).init();
    assert_clean(&fx.out, &fx.scratch("certs"));
}

#[test]
fn every_key_type_with_crl_and_ocsp_is_pkilint_clean() {
    if lint_cli(test_name!()).is_none() {
        return;
    }
    for (ca, leaf) in [
        ("ed25519", "ed25519"),
        ("ecdsa-p384", "ecdsa-p384"),
        ("ecdsa-p256", "rsa2048"),
        ("rsa3072", "ecdsa-p256"),
    ] {
        // hapki refuses P-384 and Ed25519 JWT keys (Canton rejects ES384 and EdDSA tokens).
        let jwt = if leaf == "ecdsa-p384" || leaf == "ed25519" {
            "ecdsa-p256"
        } else {
            leaf
        };
        let fx = Fixture::profile(&format!(
                "[defaults]\nca_key = \"{ca}\"\nleaf_key = \"{leaf}\"\njwt_key = \"{jwt}\"\ntier = 2\n\
                 country = \"DE\"\nstate = \"Baden-Württemberg\"\n\
                 crl_url = \"http://crl.example.com/ca.crl\"\nocsp_url = \"http://ocsp.example.com\"\n\
                 [[org]]\nname = \"p\"\ndns = \"p.example.com\"\norganization = \"Példa GmbH & Co. KG\"\n\
                 servers = [\"web\"]\nclients = [\"admin\"]\n\
                 [org.jwt]\nparticipant_id = \"p\"\nusers = [{{ name = \"alice\", format = \"scope\" }}]\n"
        ))
        .at(AT)
        .bare();
        fx.ok(&["init"]);
        // An ad-hoc leaf with a key type of its own and extra SANs.
        fx.ok(&[
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
        ]);
        // A leaf name whose FQDN is over RFC 5280's 64-character common name: no commonName,
        // the SAN names it.
        fx.ok(&["issue", &"a".repeat(63), "--kind", "client", "--org", "p"]);
        assert_clean(&fx.out, &fx.scratch("certs"));
    }
}

#[test]
fn a_name_constrained_profile_is_pkilint_clean() {
    if lint_cli(test_name!()).is_none() {
        return;
    }
    // The ECDSA profile with `name_constraints = true` for every org, tiers 2 and 3 (the
    // constraints on the issuing CA, signed by the root or by the policy CA).
    let text = std::fs::read_to_string(root().join("profiles/canton-ha-ecdsa.toml"))
        .unwrap()
        .replacen("[defaults]\n", "[defaults]\nname_constraints = true\n", 1);
    assert!(text.contains("name_constraints = true"));
    for tier in ["2", "3"] {
        let fx = Fixture::profile(&text.replace("tier = 2", &format!("tier = {tier}")))
            .at(AT)
            .bare();
        fx.ok(&["init"]);
        fx.ok(&[
            "issue",
            "extra",
            "--kind",
            "server",
            "--org",
            "participant1",
            "--san",
            "DNS:db.customer1.com",
        ]);
        let mid = fx.p1("intermediate/certs/intermediate.cert.pem");
        let shown = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-ext", "nameConstraints", "-in"])
            .arg(&mid)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&shown.stdout).contains("DNS:customer1.com"),
            "tier {tier}: no name constraints on the issuing CA"
        );
        assert_clean(&fx.out, &fx.scratch("certs"));
    }
}

/// pkilint's CRL linter in the venv (`lint_crl`, whose `-p PKIX` profile is what pkilint's
/// docs call `lint_pkix_crl`); `None` (the caller `test` reported SKIPPED) without it.
fn crl_lint_cli(test: &str) -> Option<PathBuf> {
    venv_cli("lint_crl", test)
}

/// Every CRL under `tree`: each `.crl.der`, and each distinct PEM block of the `.crl.pem` files
/// (the chain bundle included), written to its own file under `into`.
fn crls_of(tree: &Path, into: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(into).unwrap();
    let mut out = files_ending(tree, &[".crl.der"]);
    let mut seen = BTreeSet::new();
    for f in files_ending(tree, &[".crl.pem"]) {
        let text = std::fs::read_to_string(&f).unwrap();
        for block in text.split_inclusive("-----END X509 CRL-----\n") {
            let Some(start) = block.find("-----BEGIN X509 CRL-----") else {
                continue;
            };
            if seen.insert(block[start..].to_string()) {
                let p = into.join(format!(
                    "{}-{}",
                    seen.len(),
                    f.file_name().unwrap().to_string_lossy()
                ));
                std::fs::write(&p, &block[start..]).unwrap();
                out.push(p);
            }
        }
    }
    out
}

/// `lint_crl lint -t CRL -p PKIX` on every CRL under `tree`: no finding at all (any severity
/// down to INFO), and the presence checks of RFC 5280 5.2 (CRL number, AKI) did run on each.
/// Returns how many CRLs were linted and how many revoked entries they listed.
fn assert_crls_clean(cli: &Path, tree: &Path, work: &Path) -> (usize, usize) {
    let crls = crls_of(tree, work);
    let mut entries = 0;
    for crl in &crls {
        let run = |severity: &str| {
            let out = std::process::Command::new(cli)
                .args([
                    "lint", "-t", "CRL", "-p", "PKIX", "-f", "JSON", "-s", severity,
                ])
                .arg(crl)
                .output()
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "lint_crl on {}: {e}: {}",
                    crl.display(),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            (out.status.success(), v)
        };
        let (ok, v) = run("INFO");
        assert!(
            ok && v["results"].as_array().unwrap().is_empty(),
            "pkilint findings on {}: {v}",
            crl.display()
        );
        let (_, all) = run("ALL");
        let validators: BTreeSet<&str> = all["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["validator"].as_str())
            .collect();
        for must in [
            "CrlNumberPresenceValidator",
            "AuthorityKeyIdentifierPresenceValidator",
            "RevokedCertificatesEmptyValidator",
        ] {
            assert!(
                validators.contains(must),
                "{} was not checked by {must}: {validators:?}",
                crl.display()
            );
        }
        // Each entry extension (the reason code) once, however many validators looked at it.
        entries += all["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["node_path"].as_str())
            .filter(|p| p.ends_with("crlEntryExtensions.0"))
            .collect::<BTreeSet<_>>()
            .len();
    }
    (crls.len(), entries)
}

#[test]
fn every_crl_hapki_writes_is_pkilint_clean_empty_or_with_revoked_entries() {
    let Some(cli) = crl_lint_cli(test_name!()) else {
        return;
    };
    // Three tiers: root, policy and issuing CA each sign a CRL. First the empty ones of init.
    let fx = Fixture::shipped_ecdsa().at(AT).bare();
    fx.ok(&["ca", "init", "--tier", "3"]);
    fx.ok(&["init"]);
    let (n, entries) = assert_crls_clean(&cli, &fx.out, &fx.scratch("empty"));
    // Per org: 3 PEM + 3 DER; the bundle adds no new block.
    assert_eq!((n, entries), (18, 0));
    // Then with revoked entries: leaves with and without a reason code, the issuing CA (in the
    // policy CA's CRL) and a policy CA (in the root's CRL).
    let client = |org: &str, name: &str, d: &str| {
        fx.path(org, &format!("client/{name}.{d}.cert.pem"))
            .display()
            .to_string()
    };
    for args in [
        vec![
            "revoke",
            "admin-api",
            "--org",
            "participant1",
            "--reason",
            "key-compromise",
        ],
        vec![
            "revoke",
            &client("participant1", "participant1", "customer1.com"),
        ],
        vec![
            "revoke",
            "intermediate",
            "--org",
            "domain",
            "--reason",
            "affiliation-changed",
        ],
        vec![
            "revoke",
            "policy",
            "--org",
            "participant2",
            "--reason",
            "cessation-of-operation",
        ],
        vec![
            "revoke",
            &client("participant2", "admin-api", "customer2.com"),
            "--reason",
            "superseded",
        ],
    ] {
        fx.ok(&args);
    }
    // A re-sign of every CRL, as cron runs it.
    fx.ok(&["crl"]);
    let (n, entries) = assert_crls_clean(&cli, &fx.out, &fx.scratch("revoked"));
    assert_eq!(n, 18);
    // The four revocations with a reason carry a reason code, in PEM and DER: 8 entry extensions.
    assert_eq!(entries, 8, "reason codes seen by pkilint");

    // Other signature algorithms: Ed25519 and RSA CAs.
    for ca in ["ed25519", "rsa3072"] {
        let fx = Fixture::profile(&format!(
            "[defaults]\nca_key = \"{ca}\"\nleaf_key = \"ecdsa-p256\"\njwt_key = \"ecdsa-p256\"\ntier = 2\n\
             [[org]]\nname = \"p\"\ndns = \"p.example.com\"\norganization = \"P\"\n\
             servers = [\"web\"]\nclients = [\"admin\"]\n"
        ))
        .at(AT)
        .init();
        fx.ok(&[
            "revoke",
            "admin",
            "--org",
            "p",
            "--reason",
            "key-compromise",
        ]);
        fx.ok(&[
            "revoke",
            "intermediate",
            "--org",
            "p",
            "--reason",
            "superseded",
        ]);
        let (n, entries) = assert_crls_clean(&cli, &fx.out, &fx.scratch("crls"));
        assert_eq!((n, entries), (4, 4), "{ca}");
    }
}
