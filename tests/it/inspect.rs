//! `hapki inspect` run as a user runs it, on files made by hapki itself and by openssl, and
//! checked against openssl's view of the same files (serial, fingerprint, dates, key sizes,
//! public keys) and against RFC 7638 / RFC 7517 values computed here by hand.

use crate::support::fixture::{hapki, Fixture, AT};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

// ---- helpers ----

/// `hapki inspect --json FILE`, which must succeed and print one JSON object.
fn inspect_json(path: &Path) -> Value {
    let out = hapki()
        .args(["inspect", "--json"])
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("inspect --json prints valid JSON")
}

fn inspect_text(path: &Path) -> String {
    let out = hapki()
        .arg("inspect")
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).expect("the report is UTF-8")
}

/// `hapki inspect FILE` must fail with exit 2, nothing on stdout and exactly `stderr`.
fn inspect_fails(path: &Path, stderr: &str) {
    hapki()
        .arg("inspect")
        .arg(path)
        .assert()
        .code(2)
        .stdout("")
        .stderr(stderr.to_string());
}

/// Runs openssl and returns its stdout.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `key=value` from openssl's one-line output.
fn after_eq(s: &str) -> String {
    s.trim().split_once('=').unwrap().1.to_string()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn sha1(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn b64u(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// The DER of every PEM block in `pem`, decoded here rather than by the code under test.
fn pem_ders(pem: &str) -> Vec<Vec<u8>> {
    pem.split("-----BEGIN ")
        .skip(1)
        .map(|block| {
            let body: String = block
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .collect();
            STANDARD.decode(body).unwrap()
        })
        .collect()
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The SHA-256 of a key's public half, as openssl derives it.
fn openssl_spki_sha256(dir: &Path, key: &str) -> String {
    openssl(
        dir,
        &[
            "pkey", "-in", key, "-pubout", "-outform", "DER", "-out", "spki.der",
        ],
    );
    colon_hex(&sha256(&std::fs::read(dir.join("spki.der")).unwrap()))
}

const PROFILE: &str = r#"
[defaults]
ca_key = "ecdsa-p256"
leaf_key = "ecdsa-p256"

[[org]]
name = "participant1"
dns = "customer1.com"
organization = "Customer1 LLC"
servers = ["participant1"]
clients = ["admin-api"]
crl_url = "http://crl.customer1.com/intermediate.crl"
ocsp_url = "http://ocsp.customer1.com"

[org.jwt]
participant_id = "participant1"
key = "ecdsa-p256"
users = [
  { name = "alice", format = "scope" },
  { name = "navigator", format = "custom", admin = true, application_id = "navigator" },
]
"#;

/// A tree made by hapki itself from an ECDSA profile: CA and the org's leaves (not yet its JWT
/// signing key, JWKS and tokens: `with_jwt` adds them). Real clock: `inspect` reports the
/// status of what it shows at the real now.
struct Tree {
    fx: Fixture,
}

impl Tree {
    /// A test's own copy (`cp -a`) of the one tree this module builds.
    fn new() -> Tree {
        static BASE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
        let base = BASE.get_or_init(|| {
            let fx = Fixture::profile(PROFILE).shared().cas();
            fx.ok(&["issue", "participant1"]);
            fx
        });
        Tree { fx: base.copy() }
    }

    fn with_jwt(self) -> Tree {
        self.fx.ok(&["jwt", "keygen"]);
        self.fx.ok(&["jwt", "mint", "--org", "participant1"]);
        self
    }

    /// The temp folder, for the test's own files.
    fn dir(&self) -> &Path {
        self.fx.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.fx.p1(rel)
    }

    fn server_cert(&self) -> PathBuf {
        self.path("participant1/certs/participant1.customer1.com.cert.pem")
    }

    fn chain(&self) -> PathBuf {
        self.path("participant1/certs/participant1-chain.customer1.com.cert.pem")
    }
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

// ---- certificates ----

#[test]
fn server_cert_agrees_with_openssl() {
    let t = Tree::new();
    let cert = t.server_cert();
    let c = cert.to_str().unwrap();
    let d = t.dir();
    let r = inspect_json(&cert);
    assert_eq!(r["encoding"], "pem");
    assert_eq!(r["items"].as_array().unwrap().len(), 1);
    let i = &r["items"][0];
    assert_eq!(i["kind"], "certificate");

    assert_eq!(
        s(&i["serial"]),
        after_eq(&openssl(d, &["x509", "-in", c, "-noout", "-serial"]))
    );
    assert_eq!(
        s(&i["sha256_fingerprint"]),
        after_eq(&openssl(
            d,
            &["x509", "-in", c, "-noout", "-fingerprint", "-sha256"]
        ))
    );
    for (field, flag) in [("not_before", "-startdate"), ("not_after", "-enddate")] {
        let iso = after_eq(&openssl(
            d,
            &["x509", "-in", c, "-noout", flag, "-dateopt", "iso_8601"],
        ));
        assert_eq!(s(&i[field]), iso.replace(' ', "T"), "{field}");
    }
    let key = t.path("participant1/private/participant1.customer1.com.key.pem");
    assert_eq!(
        s(&i["public_key"]["public_key_sha256"]),
        openssl_spki_sha256(d, key.to_str().unwrap())
    );

    assert!(s(&i["subject"]).ends_with("CN=participant1.customer1.com"));
    assert!(s(&i["issuer"]).ends_with("CN=intermediate-ca.customer1.com"));
    assert_eq!(i["self_signed"], false);
    assert_eq!(i["status"], "valid");
    assert_eq!(
        i["sans"],
        json!([
            "DNS:participant1.customer1.com",
            "DNS:localhost",
            "IP:127.0.0.1",
            "IP:::1"
        ])
    );
    assert_eq!(
        i["key_usage"],
        json!({"critical": true, "values": ["digitalSignature"]})
    );
    assert_eq!(
        i["extended_key_usage"],
        json!({"critical": false, "values": ["serverAuth"]})
    );
    assert_eq!(i["basic_constraints"]["ca"], false);
    assert_eq!(
        i["public_key"],
        json!({"algorithm": "EC", "bits": 256, "curve": "P-256",
               "public_key_sha256": i["public_key"]["public_key_sha256"]})
    );
    assert_eq!(i["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(
        i["crl_distribution_points"],
        json!(["http://crl.customer1.com/intermediate.crl"])
    );
    assert_eq!(i["ocsp"], json!(["http://ocsp.customer1.com"]));
    assert_eq!(i["other_extensions"], json!([]));
    assert!(i["subject_key_id"].is_string());

    let text = inspect_text(&cert);
    assert!(text.contains(&format!("{}: certificate (PEM)", cert.display())));
    assert!(text.contains("extended key usage   serverAuth"));
    assert!(text.contains("status               valid, expires in 36"));
    assert!(text.contains(s(&i["sha256_fingerprint"])));
}

#[test]
fn chain_file_shows_each_cert_in_order() {
    let t = Tree::new();
    let r = inspect_json(&t.chain());
    let items = r["items"].as_array().unwrap();
    let cns: Vec<&str> = items
        .iter()
        .map(|i| s(&i["subject"]).rsplit("CN=").next().unwrap())
        .collect();
    assert_eq!(
        cns,
        [
            "participant1.customer1.com",
            "intermediate-ca.customer1.com",
            "participant1-root-ca.customer1.com"
        ]
    );
    // Each cert's AKI is its issuer's SKI; only the root is self-signed.
    assert_eq!(items[0]["authority_key_id"], items[1]["subject_key_id"]);
    assert_eq!(items[1]["authority_key_id"], items[2]["subject_key_id"]);
    assert_eq!(
        items.iter().map(|i| &i["self_signed"]).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert_eq!(
        items[1]["basic_constraints"],
        json!({"critical": true, "ca": true, "path_len": 0})
    );
    assert_eq!(
        items[2]["key_usage"],
        json!({"critical": true, "values": ["keyCertSign", "cRLSign"]})
    );
    // The fingerprints agree with openssl's view of each cert.
    let pem = std::fs::read_to_string(t.chain()).unwrap();
    for (item, der) in items.iter().zip(pem_ders(&pem)) {
        assert_eq!(s(&item["sha256_fingerprint"]), colon_hex(&sha256(&der)));
    }
    let text = inspect_text(&t.chain());
    assert!(text.contains(": 3 certificates (PEM)"), "{text}");
    assert!(text.contains("[2/3] certificate"));
    assert!(text.contains("(self-signed)"));
}

#[test]
fn der_cert_and_pkcs8_der_key() {
    let t = Tree::new();
    let d = t.dir();
    let cert = t.path("client/admin-api.customer1.com.cert.der");
    let r = inspect_json(&cert);
    assert_eq!(r["encoding"], "der");
    let c = &r["items"][0];
    assert_eq!(c["kind"], "certificate");
    assert_eq!(
        s(&c["sha256_fingerprint"]),
        after_eq(&openssl(
            d,
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                cert.to_str().unwrap(),
                "-noout",
                "-fingerprint",
                "-sha256"
            ]
        ))
    );
    assert_eq!(c["extended_key_usage"]["values"], json!(["clientAuth"]));
    assert_eq!(c["sans"], json!(["DNS:admin-api.customer1.com"]));

    let key = t.path("client/admin-api.customer1.com.key.der");
    let r = inspect_json(&key);
    assert_eq!(r["encoding"], "der");
    assert_eq!(r["mode"], "0600");
    assert_eq!(r["warnings"], json!([]));
    let k = &r["items"][0];
    assert_eq!(k["kind"], "private_key");
    assert_eq!(k["format"], "PKCS#8");
    assert_eq!(k["key"]["algorithm"], "EC");
    assert_eq!(k["key"]["curve"], "P-256");
    // The key's public half is the cert's: matched by eye through the same fingerprint.
    assert_eq!(
        k["key"]["public_key_sha256"],
        c["public_key"]["public_key_sha256"]
    );
    let der = std::fs::read(&key).unwrap();
    let text = inspect_text(&key) + &serde_json::to_string(&r).unwrap();
    assert!(!text.contains(&STANDARD.encode(&der)[..24]));
    assert!(!text.contains(&colon_hex(&der[..16])));
}

// ---- keys ----

/// No line of a PEM key's base64 body may appear in what inspect prints.
fn assert_no_key_material(pem_path: &Path) {
    let pem = std::fs::read_to_string(pem_path).unwrap();
    let shown = inspect_text(pem_path) + &inspect_json(pem_path).to_string();
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !shown.contains(&line[..line.len().min(20)]),
            "inspect printed key material of {}",
            pem_path.display()
        );
    }
    let der = &pem_ders(&pem)[0];
    assert!(!shown.contains(&colon_hex(&der[der.len() - 16..])));
}

#[test]
fn openssl_keys_of_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, &["genrsa", "-out", "rsa8.pem", "3072"]);
    openssl(
        d,
        &["rsa", "-in", "rsa8.pem", "-traditional", "-out", "rsa1.pem"],
    );
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    openssl(d, &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"]);
    // aws-lc refuses 1024-bit RSA; inspect must still tell its exact size.
    openssl(d, &["genrsa", "-out", "weak.pem", "1024"]);
    openssl(
        d,
        &["pkey", "-in", "ec.pem", "-pubout", "-out", "ecpub.pem"],
    );

    let cases = [
        ("rsa8.pem", "PKCS#8", "RSA", json!(3072), Value::Null),
        ("rsa1.pem", "PKCS#1", "RSA", json!(3072), Value::Null),
        ("ec.pem", "SEC1", "EC", json!(384), json!("P-384")),
        ("ed.pem", "PKCS#8", "Ed25519", Value::Null, Value::Null),
        ("weak.pem", "PKCS#8", "RSA", json!(1024), Value::Null),
    ];
    for (file, format, alg, bits, curve) in cases {
        let path = d.join(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let r = inspect_json(&path);
        let k = &r["items"][0];
        assert_eq!(k["kind"], "private_key", "{file}");
        assert_eq!(k["format"], format, "{file}");
        assert_eq!(k["key"]["algorithm"], alg, "{file}");
        assert_eq!(k["key"]["bits"], bits, "{file}");
        assert_eq!(k["key"]["curve"], curve, "{file}");
        if file == "weak.pem" {
            assert_eq!(k["key"]["public_key_sha256"], Value::Null);
        } else {
            assert_eq!(
                s(&k["key"]["public_key_sha256"]),
                openssl_spki_sha256(d, file),
                "{file}"
            );
        }
        assert_eq!(r["warnings"], json!([]), "{file}");
        assert_no_key_material(&path);
    }
    let r = inspect_json(&d.join("ecpub.pem"));
    assert_eq!(r["items"][0]["kind"], "public_key");
    assert_eq!(r["items"][0]["key"]["curve"], "P-384");
    assert_eq!(
        s(&r["items"][0]["key"]["public_key_sha256"]),
        openssl_spki_sha256(d, "ec.pem")
    );
}

#[test]
fn hapki_key_pem_shows_no_key_material() {
    let t = Tree::new();
    let key = t.path("participant1/private/participant1.customer1.com.key.pem");
    assert_no_key_material(&key);
    let text = inspect_text(&key);
    assert!(text.contains("format               PKCS#8"), "{text}");
    assert!(text.contains("key                  EC P-256"), "{text}");
}

#[test]
fn key_readable_by_others_is_warned_about() {
    let t = Tree::new();
    let key = t.path("participant1/private/participant1.customer1.com.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = inspect_json(&key);
    assert_eq!(r["mode"], "0644");
    assert_eq!(
        r["warnings"],
        json!([format!(
            "{} holds a private key that group or others can access (mode 0644); run `chmod 600 {}`",
            key.display(),
            key.display()
        )])
    );
    assert!(inspect_text(&key).contains("warning: "));
    // A cert is public: no warning whatever its mode.
    assert_eq!(inspect_json(&t.server_cert())["warnings"], json!([]));
}

// ---- CSRs ----

#[test]
fn csrs_from_openssl_and_hapki() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, &["genrsa", "-out", "k.pem", "2048"]);
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "k.pem",
            "-subj",
            "/CN=test.example/O=Test",
            "-addext",
            "subjectAltName=DNS:test.example,IP:10.0.0.5",
            "-addext",
            "extendedKeyUsage=clientAuth",
            "-out",
            "req.csr",
        ],
    );
    let r = inspect_json(&d.join("req.csr"));
    let c = &r["items"][0];
    assert_eq!(c["kind"], "csr");
    assert_eq!(c["subject"], "CN=test.example, O=Test");
    assert_eq!(c["signature_valid"], true);
    assert_eq!(c["signature_algorithm"], "sha256WithRSAEncryption");
    assert_eq!(c["public_key"]["bits"], 2048);
    assert_eq!(c["sans"], json!(["DNS:test.example", "IP:10.0.0.5"]));
    assert_eq!(c["extended_key_usage"]["values"], json!(["clientAuth"]));
    assert_eq!(
        s(&c["public_key"]["public_key_sha256"]),
        openssl_spki_sha256(d, "k.pem")
    );

    let t = Tree::new();
    let csr = t.path("participant1/csr/participant1.customer1.com.csr.pem");
    let r = inspect_json(&csr);
    assert_eq!(r["items"][0]["signature_valid"], true);
    assert_eq!(
        r["items"][0]["extended_key_usage"]["values"],
        json!(["serverAuth"])
    );
    // One flipped bit in the signature: it no longer verifies.
    let mut der = pem_ders(&std::fs::read_to_string(&csr).unwrap()).remove(0);
    *der.last_mut().unwrap() ^= 1;
    let bad = t.dir().join("bad.csr");
    std::fs::write(&bad, pem_wrap("CERTIFICATE REQUEST", &der)).unwrap();
    assert_eq!(inspect_json(&bad)["items"][0]["signature_valid"], false);
    assert!(inspect_text(&bad).contains("INVALID"));
}

// ---- JWKS ----

/// The RFC 7638 thumbprint, computed here from the canonical member order.
fn rfc7638(canonical: &str) -> String {
    b64u(&sha256(canonical.as_bytes()))
}

/// `x`, `y` and the RFC 7638 thumbprint of the P-256 key of the (first) cert in `cert`, from
/// openssl's view of its public key.
fn p256_members(d: &Path, cert: &Path) -> (String, String, String) {
    openssl(
        d,
        &[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-noout",
            "-pubkey",
            "-out",
            "ec.pub",
        ],
    );
    openssl(
        d,
        &[
            "pkey", "-pubin", "-in", "ec.pub", "-outform", "DER", "-out", "ec.der",
        ],
    );
    let spki = std::fs::read(d.join("ec.der")).unwrap();
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 4, "an uncompressed P-256 point");
    let (x, y) = (b64u(&point[1..33]), b64u(&point[33..]));
    let kid = rfc7638(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ));
    (x, y, kid)
}

/// An RSA JWK from an openssl-made self-signed cert and an EC JWK over hapki's server chain.
fn jwks_fixture(t: &Tree) -> (Value, Value, Vec<Vec<u8>>) {
    let d = t.dir();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "jwt.key",
            "-out",
            "jwt.pem",
            "-subj",
            "/CN=jwt-sign.customer1.com",
            "-days",
            "30",
        ],
    );
    let modulus = after_eq(&openssl(
        d,
        &["x509", "-in", "jwt.pem", "-noout", "-modulus"],
    ));
    let n: Vec<u8> = (0..modulus.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&modulus[i..i + 2], 16).unwrap())
        .collect();
    let rsa_der = pem_ders(&std::fs::read_to_string(d.join("jwt.pem")).unwrap()).remove(0);
    let n = b64u(&n);
    let rsa_kid = rfc7638(&format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#));
    let rsa = json!({
        "kty": "RSA", "n": n, "e": "AQAB", "kid": rsa_kid, "alg": "RS256", "use": "sig",
        "x5c": [STANDARD.encode(&rsa_der)],
        "x5t": b64u(&sha1(&rsa_der)), "x5t#S256": b64u(&sha256(&rsa_der)),
    });

    let chain = pem_ders(&std::fs::read_to_string(t.chain()).unwrap());
    let (x, y, ec_kid) = p256_members(d, &t.chain());
    let ec = json!({
        "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": ec_kid, "alg": "ES256", "use": "sig",
        "x5c": chain.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>(),
        "x5t": b64u(&sha1(&chain[0])), "x5t#S256": b64u(&sha256(&chain[0])),
    });
    (rsa, ec, chain)
}

#[test]
fn jwks_kid_thumbprints_and_x5c() {
    let t = Tree::new();
    let (rsa, ec, _) = jwks_fixture(&t);
    let path = t.dir().join("jwks.json");
    std::fs::write(&path, json!({"keys": [rsa, ec]}).to_string()).unwrap();
    let r = inspect_json(&path);
    assert_eq!(r["encoding"], "json");
    let keys = r["items"][0]["keys"].as_array().unwrap();
    assert_eq!(r["items"][0]["kind"], "jwks");

    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["bits"], 2048);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["use"], "sig");
    assert_eq!(keys[0]["thumbprint_sha256"], rsa["kid"]);
    assert_eq!(keys[0]["kid_is_thumbprint"], true);
    assert_eq!(keys[0]["x5c"][0]["subject"], "CN=jwt-sign.customer1.com");
    assert_eq!(
        keys[0]["x5t"],
        json!({"value": rsa["x5t"], "matches": true})
    );
    assert_eq!(
        keys[0]["x5t_s256"],
        json!({"value": rsa["x5t#S256"], "matches": true})
    );
    assert_eq!(keys[0]["problems"], json!([]));

    assert_eq!(keys[1]["kty"], "EC");
    assert_eq!(keys[1]["curve"], "P-256");
    assert_eq!(keys[1]["kid_is_thumbprint"], true);
    let subjects: Vec<&str> = keys[1]["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["subject"]).rsplit("CN=").next().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "participant1.customer1.com",
            "intermediate-ca.customer1.com",
            "participant1-root-ca.customer1.com"
        ]
    );
    assert_eq!(keys[1]["x5t"]["matches"], true);
    assert_eq!(keys[1]["x5t_s256"]["matches"], true);
    assert_eq!(keys[1]["problems"], json!([]));

    let text = inspect_text(&path);
    assert!(text.contains("(its RFC 7638 thumbprint)"), "{text}");
    assert!(text.contains("(matches x5c[0])"), "{text}");
    assert!(!text.contains("problem"), "{text}");
}

#[test]
fn hapki_jwks_signing_files_and_tokens() {
    let t = Tree::new().with_jwt();
    let d = t.dir();
    let cert = t.path("signing/jwt-sign.customer1.com.cert.pem");
    let (_, _, kid) = p256_members(d, &cert);

    let r = inspect_json(&t.path("jwt/jwks.json"));
    let keys = r["items"][0]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kid"], kid.as_str());
    assert_eq!(k["kid_is_thumbprint"], true);
    assert_eq!(k["alg"], "ES256");
    assert_eq!(k["curve"], "P-256");
    let cert_der = pem_ders(&std::fs::read_to_string(&cert).unwrap()).remove(0);
    assert_eq!(
        k["x5t"],
        json!({"value": b64u(&sha1(&cert_der)), "matches": true})
    );
    assert_eq!(
        k["x5t_s256"],
        json!({"value": b64u(&sha256(&cert_der)), "matches": true})
    );
    let cns: Vec<&str> = k["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["subject"]).rsplit("CN=").next().unwrap())
        .collect();
    assert_eq!(
        cns,
        [
            "jwt-sign.customer1.com",
            "intermediate-ca.customer1.com",
            "participant1-root-ca.customer1.com"
        ]
    );
    assert_eq!(k["problems"], json!([]));

    // The signing cert, its key and its public key all name the same public key as openssl.
    let key = t.path("signing/jwt-sign.customer1.com.key.pem");
    let spki = openssl_spki_sha256(d, key.to_str().unwrap());
    let c = &inspect_json(&cert)["items"][0];
    assert_eq!(s(&c["public_key"]["public_key_sha256"]), spki);
    assert_eq!(c["extended_key_usage"], Value::Null);
    assert_eq!(
        c["key_usage"],
        json!({"critical": true, "values": ["digitalSignature"]})
    );
    let pubkey = inspect_json(&t.path("signing/jwt-sign.customer1.com.pub.pem"));
    assert_eq!(pubkey["items"][0]["kind"], "public_key");
    assert_eq!(s(&pubkey["items"][0]["key"]["public_key_sha256"]), spki);
    assert_no_key_material(&key);

    for user in ["alice", "navigator"] {
        let j = &inspect_json(&t.path(&format!("jwt/{user}.token")))["items"][0];
        assert_eq!(j["kind"], "jwt");
        assert_eq!(j["header"]["kid"], kid.as_str(), "{user}");
        assert_eq!(j["header"]["alg"], "ES256", "{user}");
        assert_eq!(j["status"], "valid", "{user}");
        let iat = j["claims"]["iat"].as_i64().unwrap();
        assert_eq!(j["claims"]["exp"].as_i64().unwrap() - iat, 86400, "{user}");
    }
    let nav = &inspect_json(&t.path("jwt/navigator.token"))["items"][0];
    assert_eq!(nav["claims"]["https://daml.com/ledger-api"]["admin"], true);
}

#[test]
fn jwks_faults_are_named_and_private_members_not_shown() {
    let t = Tree::new();
    let (_, mut ec, chain) = jwks_fixture(&t);
    let good_kid = ec["kid"].clone();
    ec["kid"] = json!("participant1-key");
    // The shell procedure's fault: base64url of the hex text of the SHA-1 fingerprint.
    let hex: String = sha1(&chain[0]).iter().map(|b| format!("{b:02x}")).collect();
    ec["x5t"] = json!(b64u(hex.as_bytes()));
    ec["x5t#S256"] = json!(b64u(&[7u8; 32]));
    ec["d"] = json!("c2VjcmV0LXByaXZhdGUtc2NhbGFyLXZhbHVl");
    let path = t.dir().join("bad-jwks.json");
    std::fs::write(&path, json!({"keys": [ec]}).to_string()).unwrap();

    let r = inspect_json(&path);
    let k = &r["items"][0]["keys"][0];
    assert_eq!(k["kid_is_thumbprint"], false);
    assert_eq!(k["thumbprint_sha256"], good_kid);
    assert_eq!(k["x5t"]["matches"], false);
    assert_eq!(k["x5t_s256"]["matches"], false);
    assert_eq!(
        k["problems"],
        json!([
            "holds private key material (d); a JWKS must publish public keys only: remove those members",
            "\"x5t\" is the base64url of the hex text of the SHA-1 fingerprint, not of the digest bytes (RFC 7517 §4.8)",
            "\"x5t#S256\" is not the base64url SHA-256 digest of x5c[0]"
        ])
    );
    let shown = inspect_text(&path) + &r.to_string();
    assert!(
        !shown.contains("c2VjcmV0"),
        "the private member's value was shown"
    );
    assert!(shown.contains("not its RFC 7638 thumbprint"));
}

// ---- JWT ----

fn write_token(dir: &Path, name: &str, header: &Value, claims: &Value) -> PathBuf {
    let token = format!(
        "{}.{}.{}\n",
        b64u(header.to_string().as_bytes()),
        b64u(claims.to_string().as_bytes()),
        b64u(b"not-a-real-signature")
    );
    let path = dir.join(name);
    std::fs::write(&path, token).unwrap();
    path
}

#[test]
fn jwt_times_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "abc"});
    // 2001-09-09T01:46:40Z, one day later, and 2100-01-01T00:00:00Z.
    let expired = write_token(
        dir.path(),
        "alice.token",
        &header,
        &json!({"sub": "alice", "scope": "daml_ledger_api", "aud": "participant1",
                "iat": 1_000_000_000, "exp": 1_000_086_400, "iss": "local-jwt-provider"}),
    );
    let r = inspect_json(&expired);
    assert_eq!(r["encoding"], "jws");
    let j = &r["items"][0];
    assert_eq!(j["kind"], "jwt");
    assert_eq!(j["header"], header);
    assert_eq!(j["claims"]["sub"], "alice");
    assert_eq!(
        j["times"],
        json!({"iat": "2001-09-09T01:46:40Z", "nbf": null, "exp": "2001-09-10T01:46:40Z"})
    );
    assert_eq!(j["status"], "expired");
    assert_eq!(j["signature_checked"], false);
    let text = inspect_text(&expired);
    assert!(
        text.contains("expires (exp)        2001-09-10T01:46:40Z"),
        "{text}"
    );
    assert!(text.contains("status               expired "), "{text}");
    assert!(
        text.contains("signature            not checked here"),
        "{text}"
    );
    assert!(
        !text.contains("bm90LWEtcmVhbC1zaWduYXR1cmU"),
        "the signature is not echoed"
    );

    let future = write_token(
        dir.path(),
        "bob.token",
        &header,
        &json!({"sub": "bob", "iat": 1_700_000_000, "exp": 4_102_444_800_i64}),
    );
    let j = &inspect_json(&future)["items"][0];
    assert_eq!(j["status"], "valid");
    assert_eq!(j["times"]["exp"], "2100-01-01T00:00:00Z");
    assert!(s(&j["status_text"]).starts_with("valid, expires in "));

    let later = write_token(
        dir.path(),
        "later.token",
        &header,
        &json!({"sub": "c", "nbf": 4_102_444_800_i64, "exp": 4_102_531_200_i64}),
    );
    assert_eq!(inspect_json(&later)["items"][0]["status"], "not_yet_valid");

    let forever = write_token(dir.path(), "forever.token", &header, &json!({"sub": "d"}));
    assert_eq!(inspect_json(&forever)["items"][0]["status"], "no_expiry");
}

#[test]
fn jwt_from_the_jsonwebtoken_crate() {
    let claims = json!({
        "https://daml.com/ledger-api": {"participantId": "participant1", "admin": true,
                                        "actAs": ["Alice"], "readAs": []},
        "aud": "participant1", "iat": 1_700_000_000, "exp": 1_700_086_400,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"test-only"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("navigator.token");
    std::fs::write(&path, format!("  {token}\n\n")).unwrap();
    let j = &inspect_json(&path)["items"][0];
    assert_eq!(j["claims"], claims);
    assert_eq!(j["header"]["alg"], "HS256");
    assert_eq!(j["header"]["kid"], "k1");
    assert_eq!(j["times"]["exp"], "2023-11-15T22:13:20Z");
    assert_eq!(j["status"], "expired");
}

#[test]
fn jwt_in_standard_base64_is_shown_with_a_warning() {
    // The shell procedure's fault: a header in standard base64. `??>` encodes to `Pz8+`.
    let header = br#"{"alg":"RS256","typ":"JWT","kid":"??>"}"#;
    let std_header = STANDARD.encode(header).trim_end_matches('=').to_string();
    assert!(std_header.contains('+') || std_header.contains('/'));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.token");
    std::fs::write(
        &path,
        format!("{std_header}.{}.c2ln", b64u(br#"{"sub":"x"}"#)),
    )
    .unwrap();
    let r = inspect_json(&path);
    assert_eq!(r["items"][0]["header"]["kid"], "??>");
    assert_eq!(
        r["warnings"],
        json!(["the header is standard base64 (with `+` or `/`), not base64url; Canton and most JWT libraries refuse it"])
    );
}

// ---- errors: one sentence, exit 2, nothing on stdout ----

const EXPECTED: &str =
    "a certificate, CSR, CRL, private or public key (PEM or DER), a JWKS or a JWT";

#[test]
fn missing_empty_and_unknown_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope.pem");
    inspect_fails(
        &missing,
        &format!(
            "error: cannot read {}: no such file or directory; check the path\n",
            missing.display()
        ),
    );

    let empty = d.join("empty.pem");
    std::fs::write(&empty, "  \n").unwrap();
    inspect_fails(
        &empty,
        &format!("error: {} is empty; expected {EXPECTED}\n", empty.display()),
    );

    // Bytes from a fixed LCG, so the test is the same on every run.
    let mut x: u32 = 12345;
    let mut noise: Vec<u8> = (0..2048)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    noise[0] = 0xA7;
    let random = d.join("random.bin");
    std::fs::write(&random, &noise).unwrap();
    inspect_fails(
        &random,
        &format!(
            "error: {} is not {EXPECTED}; check that it is the file you meant\n",
            random.display()
        ),
    );

    let text = d.join("notes.txt");
    std::fs::write(&text, "participant1 runs on port 5011\n").unwrap();
    inspect_fails(
        &text,
        &format!(
            "error: {} is not {EXPECTED}; check that it is the file you meant\n",
            text.display()
        ),
    );

    let json = d.join("config.json");
    std::fs::write(&json, r#"{"ledger": {"port": 5011}}"#).unwrap();
    inspect_fails(
        &json,
        &format!(
            "error: {} is JSON but not a JWKS: it has no \"keys\" array\n",
            json.display()
        ),
    );

    hapki().arg("inspect").arg(d).assert().code(2).stdout("");
}

#[test]
fn truncated_and_damaged_files() {
    let t = Tree::new();
    let d = t.dir();
    let pem = std::fs::read_to_string(t.server_cert()).unwrap();

    let cut = d.join("cut.pem");
    std::fs::write(&cut, &pem[..pem.len() / 2]).unwrap();
    inspect_fails(
        &cut,
        &format!(
            "error: {} is a truncated PEM file: its `-----BEGIN CERTIFICATE-----` block has no `-----END CERTIFICATE-----` line; restore the file from a good copy or re-issue it\n",
            cut.display()
        ),
    );

    // A chain cut inside its second cert.
    let chain = std::fs::read_to_string(t.chain()).unwrap();
    let second = chain.match_indices("-----BEGIN").nth(1).unwrap().0;
    let cut_chain = d.join("cut-chain.pem");
    std::fs::write(&cut_chain, &chain[..second + 100]).unwrap();
    inspect_fails(
        &cut_chain,
        &format!(
            "error: {} is a truncated PEM file: its `-----BEGIN CERTIFICATE-----` block has no `-----END CERTIFICATE-----` line after 1 complete block; restore the file from a good copy or re-issue it\n",
            cut_chain.display()
        ),
    );

    let key =
        std::fs::read_to_string(t.path("participant1/private/participant1.customer1.com.key.pem"))
            .unwrap();
    let cut_key = d.join("cut.key.pem");
    std::fs::write(&cut_key, &key[..key.len() - 30]).unwrap();
    inspect_fails(
        &cut_key,
        &format!(
            "error: {} is a truncated PEM file: its `-----BEGIN PRIVATE KEY-----` block has no `-----END PRIVATE KEY-----` line; restore the file from a good copy or re-issue it\n",
            cut_key.display()
        ),
    );

    // Valid PEM armour and base64 around DER that is not a certificate.
    let der = pem_ders(&pem).remove(0);
    let damaged = d.join("damaged.pem");
    std::fs::write(&damaged, pem_wrap("CERTIFICATE", &der[..der.len() - 40])).unwrap();
    inspect_fails(
        &damaged,
        &format!(
            "error: {}: its 1st PEM block is not a valid X.509 certificate (the data inside is damaged or truncated); restore the file from a good copy or re-issue it\n",
            damaged.display()
        ),
    );

    let bad_b64 = d.join("bad-b64.pem");
    let mut lines: Vec<String> = pem.lines().map(String::from).collect();
    lines[2].replace_range(0..4, "!!!!");
    std::fs::write(&bad_b64, lines.join("\n")).unwrap();
    inspect_fails(
        &bad_b64,
        &format!(
            "error: {} has a PEM block whose base64 text is damaged; restore the file from a good copy or re-issue it\n",
            bad_b64.display()
        ),
    );

    let cert_der = std::fs::read(t.path("client/admin-api.customer1.com.cert.der")).unwrap();
    let cut_der = d.join("cut.der");
    std::fs::write(&cut_der, &cert_der[..200]).unwrap();
    inspect_fails(
        &cut_der,
        &format!(
            "error: {} is truncated DER: its outer structure declares {} bytes but the file has 200; restore it from a good copy or re-issue it\n",
            cut_der.display(),
            cert_der.len()
        ),
    );
}

#[test]
fn encrypted_key_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, &["genpkey", "-algorithm", "ed25519", "-out", "k.pem"]);
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "k.pem",
            "-passout",
            "pass:test",
            "-out",
            "enc.pem",
        ],
    );
    let enc = d.join("enc.pem");
    inspect_fails(
        &enc,
        &format!(
            "error: {} holds an encrypted private key (`ENCRYPTED PRIVATE KEY`); hapki reads unencrypted keys only\n",
            enc.display()
        ),
    );
}

#[test]
fn pem_blocks_inspect_cannot_show_are_named() {
    let t = Tree::new();
    let d = t.dir();
    let p7_block = "-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n";
    let p7 = d.join("ca.p7b");
    std::fs::write(&p7, p7_block).unwrap();
    inspect_fails(
        &p7,
        &format!(
            "error: {} holds a PEM block labelled `PKCS7`, which hapki cannot read; expected {EXPECTED}\n",
            p7.display()
        ),
    );
    // Beside a cert, the block is skipped with a warning and the cert is still shown.
    let mixed = d.join("mixed.pem");
    let cert = std::fs::read_to_string(t.server_cert()).unwrap();
    std::fs::write(&mixed, format!("{cert}{p7_block}")).unwrap();
    let r = inspect_json(&mixed);
    assert_eq!(r["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        r["warnings"],
        json!(["skipped a PEM block labelled `PKCS7`, which hapki cannot read"])
    );
    // A CRL block is read, so a damaged one is an error that says so.
    let crl = d.join("ca.crl");
    std::fs::write(
        &crl,
        "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
    )
    .unwrap();
    inspect_fails(
        &crl,
        &format!(
            "error: {}: its 1st PEM block is not a valid X.509 CRL (the data inside is damaged or truncated); restore the file from a good copy or re-issue it\n",
            crl.display()
        ),
    );
}

/// A CRL as openssl reads it: `openssl crl -text` and hapki's report name the same issuer, CRL
/// number, times, revoked serials and reasons, for the PEM and the DER file; the bundle shows one
/// CRL per CA; `--at` past nextUpdate says the CRL has expired.
#[test]
fn a_crl_is_shown_as_openssl_reads_it() {
    let fx = Fixture::ecdsa().at(AT).init();
    let client = fx.p1("client/admin-api.customer1.com.cert.pem");
    let serial = crate::support::openssl::serial_of(&client);
    fx.ok(&[
        "revoke",
        "admin-api",
        "--org",
        "participant1",
        "--reason",
        "key-compromise",
    ]);
    let pem = fx.p1("intermediate/crl/intermediate.crl.pem");
    let der = fx.p1("intermediate/crl/intermediate.crl.der");
    let p = pem.to_str().unwrap();
    let text = String::from_utf8(crate::support::openssl::openssl_ok(
        &["crl", "-in", p, "-noout", "-text"],
        None,
    ))
    .unwrap();
    let dates = String::from_utf8(crate::support::openssl::openssl_ok(
        &[
            "crl",
            "-in",
            p,
            "-noout",
            "-lastupdate",
            "-nextupdate",
            "-crlnumber",
            "-dateopt",
            "iso_8601",
        ],
        None,
    ))
    .unwrap();
    let field = |name: &str| {
        dates
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {dates}"))
            .trim()
            .to_string()
    };
    // openssl: `lastUpdate=2026-11-26 11:55:00Z`; hapki: RFC 3339.
    let iso = |t: &str| t.replacen(' ', "T", 1);
    let openssl_serials: Vec<String> = (text.lines())
        .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
        .map(str::to_string)
        .collect();
    assert_eq!(openssl_serials, vec![serial.clone()], "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    for file in [&pem, &der] {
        let r = inspect_json(file);
        let c = &r["items"][0];
        assert_eq!(c["kind"], "crl", "{r}");
        assert_eq!(
            c["issuer"],
            "C=US, ST=New York, O=Customer1 LLC, CN=intermediate-ca.customer1.com"
        );
        assert_eq!(
            c["this_update"].as_str().unwrap(),
            iso(&field("lastUpdate="))
        );
        assert_eq!(
            c["next_update"].as_str().unwrap(),
            iso(&field("nextUpdate="))
        );
        // openssl prints the number in hex (`crlNumber=0x1000`).
        let hex = field("crlNumber=");
        let number = u64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
        assert_eq!(c["crl_number"], number.to_string());
        assert_eq!(c["revoked_count"], 1);
        assert_eq!(c["revoked"][0]["serial"], serial.as_str());
        assert_eq!(c["revoked"][0]["reason"], "keyCompromise");
    }
    let human = inspect_text(&pem);
    assert!(human.contains(&format!("{serial} at ")), "{human}");
    assert!(human.contains("(keyCompromise)"), "{human}");
    let bundle = inspect_json(&fx.p1("intermediate/crl/ca-chain.crl.pem"));
    let kinds: Vec<&Value> = bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["kind"])
        .collect();
    assert_eq!(kinds, [&json!("crl"), &json!("crl")], "{bundle}");
    // Past nextUpdate: expired, with what it means and the fix.
    let later = hapki()
        .args(["inspect", "--at", "2030-01-01T00:00:00Z"])
        .arg(&pem)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let later = String::from_utf8(later).unwrap();
    assert!(
        later.contains("EXPIRED") && later.contains("run `hapki crl`"),
        "{later}"
    );
}

#[test]
fn jwks_quoting_a_pem_is_read_as_json() {
    let t = Tree::new();
    let (rsa, _, _) = jwks_fixture(&t);
    let mut key = rsa.clone();
    key["x5u_note"] = json!(std::fs::read_to_string(t.server_cert()).unwrap());
    let path = t.dir().join("jwks.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json!({"keys": [key]})).unwrap(),
    )
    .unwrap();
    let r = inspect_json(&path);
    assert_eq!(r["encoding"], "json");
    assert_eq!(r["items"][0]["keys"][0]["kid_is_thumbprint"], true);
}
