//! `name_constraints = true`: the issuing CA carries critical nameConstraints (the org's domain,
//! the profile's extra SANs, localhost, 127.0.0.0/8, ::1) that openssl and rustls-webpki (`hapki
//! verify`) honour for the org's leaves; hapki refuses to issue a leaf outside them; a leaf for
//! another domain signed OUTSIDE hapki with the intermediate's own key (openssl x509 -req) is
//! refused by openssl, by `hapki verify` and by NGINX as a client cert; and turning the flag on
//! or off on an existing tree makes the intermediate (and its leaves) again.

use crate::support::fixture::{ecdsa_profile, Fixture, AT, AT_UNIX};
use crate::support::ha::{curl, nginx_backend, participant, Backend};
use crate::support::openssl::{assert_openssl_verifies, openssl, openssl_ok, openssl_verify};
use crate::support::proc::free_port;
use std::path::{Path, PathBuf};

/// The ECDSA Canton HA profile with name constraints on every org and an extra SAN outside the
/// domain of participant1's db server.
fn nc_profile(on: bool) -> String {
    let text = ecdsa_profile().replacen(
        "[defaults]\n",
        &format!("[defaults]\nname_constraints = {on}\n"),
        1,
    );
    assert!(
        text.contains("name_constraints"),
        "the profile has [defaults]"
    );
    text
}

/// `hapki verify` of the fixture's tree at AT: (exit code, report).
pub(crate) fn verify(fx: &Fixture) -> (i32, String) {
    let out = fx.verify(&["--at", AT]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn intermediate(fx: &Fixture, org: &str) -> PathBuf {
    fx.path(org, "intermediate/certs/intermediate.cert.pem")
}

fn constraints_of(cert: &Path) -> String {
    let (ok, text) = openssl(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-noout",
        "-ext",
        "nameConstraints",
    ]);
    assert!(ok, "{text}");
    text
}

/// A client+server leaf for `name` signed with openssl by the org's intermediate key, outside
/// hapki: what a stolen intermediate key could make.
fn forge(fx: &Fixture, org: &str, name: &str) -> (PathBuf, PathBuf) {
    let dir = fx.scratch("forged");
    let key = dir.join(format!("{name}.key.pem"));
    let csr = dir.join(format!("{name}.csr.pem"));
    let cert = dir.join(format!("{name}.cert.pem"));
    let ext = dir.join(format!("{name}.ext"));
    openssl_ok(
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-subj",
            &format!("/CN={name}"),
            "-out",
            csr.to_str().unwrap(),
        ],
        None,
    );
    std::fs::write(
        &ext,
        format!("subjectAltName=DNS:{name}\nextendedKeyUsage=clientAuth,serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"),
    )
    .unwrap();
    // Signed an hour before AT (faketime), so the forged cert is within its validity when
    // verify runs at AT however long the loaded machine takes to start openssl (faketime's
    // clock runs on from the time it is given).
    let out = std::process::Command::new("faketime")
        .arg(format!("@{}", AT_UNIX - 3600))
        .arg("openssl")
        .args([
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            intermediate(fx, org).to_str().unwrap(),
            "-CAkey",
            fx.path(org, "intermediate/private/intermediate.key.pem")
                .to_str()
                .unwrap(),
            "-days",
            "30",
            "-extfile",
            ext.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ])
        .output()
        .expect("faketime is installed (scripts/test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[test]
fn the_intermediate_is_constrained_and_the_orgs_leaves_pass_openssl_and_webpki() {
    let fx = Fixture::profile(&nc_profile(true)).at(AT).init();
    let nc = constraints_of(&intermediate(&fx, "participant1"));
    assert!(nc.contains("Name Constraints: critical"), "{nc}");
    for want in [
        "DNS:customer1.com",
        "DNS:localhost",
        "IP:127.0.0.0/255.0.0.0",
        "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF",
    ] {
        assert!(nc.contains(want), "{want} missing from\n{nc}");
    }
    assert!(!nc.contains("DirName"), "{nc}");
    // The root carries none: the constraints sit on the CA that issues leaves.
    let (_, root) = openssl(&[
        "x509",
        "-in",
        fx.path("participant1", "root/certs/ca.cert.pem")
            .to_str()
            .unwrap(),
        "-noout",
        "-ext",
        "nameConstraints",
    ]);
    assert!(!root.contains("Permitted"), "{root}");
    let bundle = fx.path("participant1", "intermediate/certs/ca-chain.cert.pem");
    for leaf in [
        "participant1/certs/participant1.customer1.com.cert.pem",
        "participant1b/certs/participant1b.customer1.com.cert.pem",
        "client/admin-api.customer1.com.cert.pem",
        "signing/jwt-sign.customer1.com.cert.pem",
    ] {
        assert_openssl_verifies(&bundle, None, &[], &fx.p1(leaf));
    }
    // hapki verify checks every leaf with rustls-webpki.
    assert_eq!(verify(&fx).0, 0, "{}", verify(&fx).1);
}

#[test]
fn a_leaf_outside_is_refused_by_hapki_and_a_forged_one_by_openssl_webpki_and_nginx() {
    let fx = Fixture::profile(&nc_profile(true))
        .readable_by_others()
        .at(AT)
        .init();
    // hapki refuses to issue outside, in one sentence, and writes nothing.
    let before = crate::support::tree::snapshot(&fx.out);
    // (the SAN, whether stderr is exactly `says` or only contains it, `says`)
    let rows = [
        (
            "DNS:evil.other.com",
            Says::Exactly,
            "error: the SAN DNS:evil.other.com of the server `x` of org `participant1` is outside the name constraints of its issuing CA (permitted: customer1.com, localhost, 127.0.0.0/8, ::1/128); leave it out, or add it to the profile's `sans` and make the CA again (docs/profiles.md, name constraints)",
        ),
        ("IP:10.0.0.9", Says::Contains, "the SAN IP:10.0.0.9"),
    ];
    for (san, how, says) in rows {
        let args = [
            "issue",
            "x",
            "--org",
            "participant1",
            "--kind",
            "server",
            "--san",
            san,
        ];
        let out = fx.cmd(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{san}: {err}");
        match how {
            Says::Exactly => assert_eq!(err.trim_end(), says, "{san}"),
            Says::Contains => assert!(err.contains(says), "{san}: {err}"),
        }
        crate::support::tree::assert_same_tree(&before, &crate::support::tree::snapshot(&fx.out));
    }
    // A name inside is issued.
    fx.ok(&[
        "issue",
        "extra",
        "--org",
        "participant1",
        "--kind",
        "server",
        "--san",
        "DNS:pg.customer1.com",
    ]);

    // Signed outside hapki with the intermediate key: openssl refuses it.
    let (cert, key) = forge(&fx, "participant1", "evil.other.com");
    let bundle = fx.path("participant1", "intermediate/certs/ca-chain.cert.pem");
    let at = AT_UNIX.to_string();
    let (ok, text) = openssl_verify(&bundle, None, &["-attime", &at], &cert);
    assert!(
        !ok && text.contains("permitted subtree violation"),
        "{text}"
    );

    // hapki verify (rustls-webpki) refuses it at a leaf's path.
    let client = fx.p1("client/admin-api.customer1.com.cert.pem");
    std::fs::copy(&cert, &client).unwrap();
    std::fs::copy(&key, fx.p1("client/admin-api.customer1.com.key.pem")).unwrap();
    let (code, report) = verify(&fx);
    assert_eq!(code, 1);
    assert!(
        report.lines().any(|l| l.starts_with("FAIL")
            && l.contains("admin-api.customer1.com.cert.pem (client cert)")
            && l.contains("outside its issuing CA's name constraints")),
        "{report}"
    );

    // NGINX with the org chain and ssl_verify_client on: the org's own client is let in, the
    // forged one gets 400.
    if !Path::new("/usr/sbin/nginx").exists() && which("nginx").is_none() {
        crate::support::skip::skipped(
            "name_constraints::a_leaf_outside_is_refused_by_hapki_and_a_forged_one_by_openssl_webpki_and_nginx",
            "nginx is not installed",
        );
        return;
    }
    let port = free_port();
    let backend: Backend = participant("participant1", port);
    let server = nginx_backend(&fx, &backend);
    let good = (
        fx.p1("client/participant1.customer1.com.cert.pem"),
        fx.p1("client/participant1.customer1.com.key.pem"),
    );
    let r = curl(
        "participant1.customer1.com",
        port,
        &bundle,
        Some(&good),
        &[],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = curl(
        "participant1.customer1.com",
        port,
        &bundle,
        Some(&(cert.clone(), key.clone())),
        &[],
    );
    assert_eq!(r.status, 400, "{r:?}");
    server.stop();
}

/// How a table row's expected stderr is compared.
enum Says {
    Exactly,
    Contains,
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

#[test]
fn turning_the_flag_on_or_off_makes_the_intermediate_and_its_leaves_again() {
    let fx = Fixture::profile(&nc_profile(false)).at(AT).init();
    let mid = intermediate(&fx, "participant1");
    assert!(!constraints_of(&mid).contains("Permitted"));
    let leaf = fx.p1("participant1/certs/participant1.customer1.com.cert.pem");
    let old_leaf = std::fs::read(&leaf).unwrap();
    let root = std::fs::read(fx.path("participant1", "root/certs/ca.cert.pem")).unwrap();

    std::fs::write(fx.profile_path(), nc_profile(true)).unwrap();
    let (_, err) = fx.ok(&["init"]);
    assert!(
        err.contains("has no name constraints, and the profile asks for them (name_constraints = true): making it again with a new key, and every leaf under it"),
        "{err}"
    );
    assert!(constraints_of(&mid).contains("DNS:customer1.com"));
    assert_ne!(
        std::fs::read(&leaf).unwrap(),
        old_leaf,
        "the leaves are new"
    );
    assert_eq!(
        std::fs::read(fx.path("participant1", "root/certs/ca.cert.pem")).unwrap(),
        root,
        "the root stays"
    );
    assert_eq!(verify(&fx).0, 0, "{}", verify(&fx).1);
    let (out, _) = fx.ok(&["init"]);
    assert!(out.contains("nothing to do"), "{out}");

    std::fs::write(fx.profile_path(), nc_profile(false)).unwrap();
    let (_, err) = fx.ok(&["init"]);
    assert!(
        err.contains("has name constraints, and the profile asks for none"),
        "{err}"
    );
    assert!(!constraints_of(&mid).contains("Permitted"));
    assert_eq!(verify(&fx).0, 0, "{}", verify(&fx).1);
}
