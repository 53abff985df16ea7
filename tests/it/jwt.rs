//! Issue 3 end to end: `hapki jwt keygen | mint | verify` and `hapki init`'s tokens, run as the
//! real binary on temp dirs, with openssl as the independent check of certs, digests and
//! signatures. Every mint and verify pins the clock with `--at`.

use crate::support::fixture::{ecdsa_profile, hapki, Fixture, AT, AT_UNIX};
use crate::support::interop::Interop;
use crate::support::jwt::{
    b64url, es256_fixture, sign_rs256, signing, split, unb64url, INTERMEDIATE, ROOT,
};
use crate::support::openssl::{der, digest, openssl_ok as openssl, openssl_raw};
use crate::support::tree::{assert_same_tree as assert_unchanged, mode, snapshot, Entry};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// PyJWT and jwcrypto, judging with `org`'s JWKS at AT (or `at`): every token these tests judge
/// with hapki's checks, they also judge with these.
fn judged(pki: &Fixture, org: &str) -> Interop {
    Interop::org(pki, org).at(AT_UNIX)
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

// ---- keygen ----

#[test]
fn keygen_writes_key_cert_pub_and_jwks() {
    let pki = Fixture::ecdsa().at(AT).cas();
    let a = pki
        .run(&["jwt", "keygen", "--org", "participant1"])
        .success();
    let (key, cert, public) = signing("participant1");
    assert_eq!(
        stdout(&a),
        format!(
            "created the JWT signing key (rsa2048) {} and the JWKS {}\n",
            pki.show("participant1", &cert),
            pki.show("participant1", "jwt/jwks.json")
        )
    );
    for f in [&key, &cert, &public, &"jwt/jwks.json".to_string()] {
        assert!(pki.p1(f).is_file(), "{f} is missing");
    }
    assert!(
        !pki.p2("jwt").exists() && !pki.p2("signing").exists(),
        "--org participant1 must not touch participant2"
    );
    assert_eq!(mode(&pki.p1(&key)), 0o600, "the signing key is private");
    assert_eq!(mode(&pki.p1("signing")), 0o700, "signing/ holds a key");
    assert_eq!(mode(&pki.p1("jwt/jwks.json")), 0o644, "the JWKS is public");

    // The key is PKCS#8 RSA 2048 and pub.pem is the cert's public key.
    let key_pem = std::fs::read_to_string(pki.p1(&key)).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{key_pem}"
    );
    let text = String::from_utf8(openssl(
        &[
            "pkey",
            "-in",
            pki.p1(&key).to_str().unwrap(),
            "-noout",
            "-text",
        ],
        None,
    ))
    .unwrap();
    assert!(text.contains("Private-Key: (2048 bit"), "{text}");
    let cert_pub = openssl(
        &[
            "x509",
            "-in",
            pki.p1(&cert).to_str().unwrap(),
            "-noout",
            "-pubkey",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8(cert_pub).unwrap(),
        std::fs::read_to_string(pki.p1(&public)).unwrap()
    );
}

#[test]
fn signing_cert_is_a_digital_signature_leaf_under_the_org_root() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let (_, cert, _) = signing("participant1");
    let cert = pki.p1(&cert);
    let text = String::from_utf8(openssl(
        &["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"],
        None,
    ))
    .unwrap();
    let after = |head: &str| -> String {
        let mut lines = text.lines();
        lines.find(|l| l.trim() == head).unwrap_or_else(|| {
            panic!("the signing cert has no `{head}`:\n{text}");
        });
        lines.next().unwrap().trim().to_string()
    };
    assert_eq!(after("X509v3 Key Usage: critical"), "Digital Signature");
    assert_eq!(after("X509v3 Basic Constraints: critical"), "CA:FALSE");
    assert!(!text.contains("Extended Key Usage"), "{text}");
    assert!(!text.contains("Netscape"), "{text}");
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    assert!(
        text.contains(
            "Subject: C = US, ST = New York, O = Customer1 LLC, CN = jwt-sign.customer1.com"
        ),
        "{text}"
    );
    let ok = openssl(
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            pki.p1(ROOT).to_str().unwrap(),
            "-untrusted",
            pki.p1(INTERMEDIATE).to_str().unwrap(),
            cert.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        String::from_utf8(ok).unwrap(),
        format!("{}: OK\n", cert.display())
    );
    // And not to the other participant's root.
    let other = openssl_raw(
        &[
            "verify",
            "-CAfile",
            pki.p2(ROOT).to_str().unwrap(),
            "-untrusted",
            pki.p2(INTERMEDIATE).to_str().unwrap(),
            cert.to_str().unwrap(),
        ],
        None,
    );
    assert!(!other.status.success());
}

#[test]
fn keygen_again_refuses_and_changes_nothing() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let before = snapshot(&pki.out);
    let a = pki.run(&["jwt", "keygen", "--org", "participant1"]).code(2);
    let (_, cert, _) = signing("participant1");
    assert_eq!(
        stderr(&a),
        format!(
            "error: the JWT signing key of org `participant1` already exists at {}; pass --force to replace it (tokens it signed stop verifying)\n",
            pki.show("participant1", &cert)
        )
    );
    assert_eq!(stdout(&a), "");
    // Without --org it refuses just the same, for the first org that has a key.
    pki.run(&["jwt", "keygen"]).code(2);
    assert_unchanged(&before, &snapshot(&pki.out));
}

#[test]
fn keygen_force_replaces_the_key_and_old_tokens_stop_verifying() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let (key, cert, public) = signing("participant1");
    let old_kid = pki.kid("participant1");
    pki.mint(&["--user", "alice"]);
    let old = [&key, &cert, &public, &"jwt/jwks.json".to_string()]
        .map(|f| std::fs::read(pki.p1(f)).unwrap());
    let p2_before = snapshot(&pki.out.join("participant2"));

    pki.run(&["jwt", "keygen", "--org", "participant1", "--force"])
        .success();
    let new = [&key, &cert, &public, &"jwt/jwks.json".to_string()]
        .map(|f| std::fs::read(pki.p1(f)).unwrap());
    for (i, f) in [&key, &cert, &public, "jwt/jwks.json"].iter().enumerate() {
        assert_ne!(old[i], new[i], "{f} was not replaced");
    }
    assert_unchanged(&p2_before, &snapshot(&pki.out.join("participant2")));
    let new_kid = pki.kid("participant1");
    assert_ne!(old_kid, new_kid);
    openssl(
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            pki.p1(ROOT).to_str().unwrap(),
            "-untrusted",
            pki.p1(INTERMEDIATE).to_str().unwrap(),
            pki.p1(&cert).to_str().unwrap(),
        ],
        None,
    );
    let token = pki.p1("jwt/alice.token");
    let jwks = pki.p1("jwt/jwks.json");
    let a = hapki()
        .args(["jwt", "verify", token.to_str().unwrap(), "--jwks"])
        .arg(&jwks)
        .args(["--at", AT])
        .assert()
        .code(1);
    assert_eq!(
        stdout(&a),
        format!(
            "invalid: {} is signed by key `{old_kid}`, which is not in the JWKS\n",
            token.display()
        )
    );
    judged(&pki, "participant1")
        .refuse(token.to_str().unwrap(), "participant1")
        .run();
}

// ---- the JWKS ----

#[test]
fn jwks_is_rfc7517_with_thumbprint_kid_x5c_and_digest_x5t() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let (_, cert, _) = signing("participant1");
    let jwks = pki.jwks("participant1");
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let k = keys[0].as_object().unwrap();
    let mut fields: Vec<&str> = k.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["alg", "e", "kid", "kty", "n", "use", "x5c", "x5t", "x5t#S256"]
    );
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["use"], "sig");

    // n and e: unpadded base64url, big-endian, no leading zero octet, equal to openssl's modulus.
    let s = |v: &Value| v.as_str().unwrap().to_string();
    for f in ["n", "e", "kid", "x5t", "x5t#S256"] {
        let v = s(&k[f]);
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{f} is not unpadded base64url: {v}"
        );
    }
    let n = unb64url(&s(&k["n"]));
    assert_eq!(n.len(), 256, "a 2048-bit modulus is 256 octets");
    assert_ne!(n[0], 0, "n has a leading zero octet");
    assert_eq!(s(&k["e"]), "AQAB");
    let modulus = String::from_utf8(openssl(
        &[
            "x509",
            "-in",
            pki.p1(&cert).to_str().unwrap(),
            "-noout",
            "-modulus",
        ],
        None,
    ))
    .unwrap();
    let hex: String = n.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(modulus.trim(), format!("Modulus={hex}"));

    // kid: the RFC 7638 thumbprint, hashed here by openssl.
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        s(&k["e"]),
        s(&k["n"])
    );
    assert_eq!(
        s(&k["kid"]),
        b64url(&digest("sha256", canonical.as_bytes()))
    );

    // x5c: signing cert, intermediate, root as standard base64 of the PEM files' DER.
    let x5c: Vec<Vec<u8>> = k["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let c = c.as_str().unwrap();
            assert!(!c.contains(['-', '_']), "x5c is standard base64: {c}");
            STANDARD.decode(c).expect("x5c entries are standard base64")
        })
        .collect();
    let expected: Vec<Vec<u8>> = [cert.as_str(), INTERMEDIATE, ROOT]
        .iter()
        .map(|f| der(&pki.p1(f)))
        .collect();
    assert_eq!(x5c.len(), 3);
    for (i, (got, want)) in x5c.iter().zip(&expected).enumerate() {
        assert!(got == want, "x5c[{i}] is not the DER of its PEM file");
    }

    // x5t / x5t#S256: base64url of the raw digests of the DER, not of the hex text.
    assert_eq!(s(&k["x5t"]), b64url(&digest("sha1", &expected[0])));
    assert_eq!(s(&k["x5t#S256"]), b64url(&digest("sha256", &expected[0])));
    assert_eq!(s(&k["x5t"]).len(), 27);
    assert_eq!(s(&k["x5t#S256"]).len(), 43);
}

#[test]
fn each_participant_has_its_own_jwks() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let (k1, k2) = (pki.jwks("participant1"), pki.jwks("participant2"));
    assert_ne!(k1["keys"][0]["kid"], k2["keys"][0]["kid"]);
    let (_, cert2, _) = signing("participant2");
    assert_eq!(
        STANDARD
            .decode(k2["keys"][0]["x5c"][2].as_str().unwrap())
            .unwrap(),
        der(&pki.p2(ROOT))
    );
    assert_eq!(
        k2["keys"][0]["x5t#S256"],
        b64url(&digest("sha256", &der(&pki.p2(&cert2))))
    );
}

// ---- mint: the three shapes, exactly ----

/// Mints with `args`, checks stdout is the token file, the header, base64url form, and returns
/// the payload text.
fn mint_one(pki: &Fixture, org: &str, user: &str, args: &[&str]) -> String {
    let printed = pki.mint(args);
    let file = pki.path(org, &format!("jwt/{user}.token"));
    assert_eq!(
        printed,
        std::fs::read_to_string(&file).unwrap(),
        "stdout is the token file"
    );
    assert_eq!(mode(&file), 0o600, "a token is a bearer secret");
    assert_eq!(printed.lines().count(), 1);
    let token = printed.trim();
    for part in token.split('.') {
        assert!(
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "not base64url: {part}"
        );
    }
    let (header, payload, sig) = split(token);
    // Byte for byte, in SPEC.md's member order.
    assert_eq!(
        header,
        format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, pki.kid(org))
    );
    assert_eq!(sig.len(), 256, "an RS256 signature with a 2048-bit key");
    payload
}

#[test]
fn mint_scope_token_for_alice() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let a = pki
        .cmd(&["jwt", "mint", "--user", "alice", "--at", AT])
        .assert()
        .success();
    assert_eq!(
        stderr(&a),
        format!("wrote {}\n", pki.show("participant1", "jwt/alice.token"))
    );
    let payload = mint_one(&pki, "participant1", "alice", &["--user", "alice"]);
    assert_eq!(
        payload,
        r#"{"sub":"alice","scope":"daml_ledger_api","aud":"participant1","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#
    );
}

/// One `#[test]` per token shape: `name: org, user, mint args => the exact payload`, minted
/// at AT on a fixture of its own.
macro_rules! mint_shape {
    ($($name:ident: $org:expr, $user:expr, $args:expr => $payload:expr;)+) => {$(
        #[test]
        fn $name() {
            let pki = Fixture::ecdsa().at(AT).keys();
            let payload = mint_one(&pki, $org, $user, $args);
            assert_eq!(payload, $payload, "{}", stringify!($name));
        }
    )+};
}

mint_shape! {
    mint_participant_admin_has_no_audience:
        "participant1", "participant_admin",
        &["--user", "participant_admin", "--org", "participant1"]
        => r#"{"sub":"participant_admin","scope":"daml_ledger_api","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#;
    mint_audience_format:
        "participant1", "alice", &["--user", "alice", "--format", "audience"]
        => r#"{"sub":"alice","aud":"https://daml.com/jwt/aud/participant/participant1","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#;
    mint_custom_claims_of_the_profile_navigator:
        "participant1", "navigator", &["--user", "navigator"]
        => r#"{"https://daml.com/ledger-api":{"ledgerId":"participant1","participantId":"participant1","applicationId":"navigator","admin":true,"actAs":[],"readAs":[]},"aud":"participant1","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#;
}

#[test]
fn mint_custom_claims_from_flags() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let payload = mint_one(
        &pki,
        "participant1",
        "carol",
        &[
            "--user",
            "carol",
            "--org",
            "participant1",
            "--admin",
            "--act-as",
            "Alice::1220abcd",
            "--read-as",
            "Bob::1220ef01",
            "--read-as",
            "Public::1220",
        ],
    );
    assert_eq!(
        payload,
        r#"{"https://daml.com/ledger-api":{"ledgerId":"participant1","participantId":"participant1","applicationId":"carol","admin":true,"actAs":["Alice::1220abcd"],"readAs":["Bob::1220ef01","Public::1220"]},"aud":"participant1","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#
    );
    // --act-as alone chooses the custom shape too, without admin.
    let payload = mint_one(
        &pki,
        "participant2",
        "bob",
        &["--user", "bob", "--act-as", "Bob::1220"],
    );
    assert_eq!(
        payload,
        r#"{"https://daml.com/ledger-api":{"ledgerId":"participant2","participantId":"participant2","applicationId":"bob","admin":false,"actAs":["Bob::1220"],"readAs":[]},"aud":"participant2","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#
    );
}

#[test]
fn mint_ttl_and_unix_at() {
    let pki = Fixture::ecdsa().at(AT).keys();
    for (ttl, secs) in [
        ("12h", 43200),
        ("30m", 1800),
        ("3600s", 3600),
        ("1d", 86400),
    ] {
        let payload = mint_one(
            &pki,
            "participant1",
            "alice",
            &["--user", "alice", "--ttl", ttl],
        );
        let claims: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(claims["iat"], AT_UNIX, "--ttl {ttl}");
        assert_eq!(claims["exp"], AT_UNIX + secs, "--ttl {ttl}");
    }
    // --at in Unix seconds is the same instant as the RFC 3339 form.
    let t = pki
        .cmd(&["jwt", "mint", "--user", "alice", "--at", "1795694400"])
        .output()
        .unwrap();
    let (_, payload, _) = split(std::str::from_utf8(&t.stdout).unwrap());
    assert!(
        payload.contains(r#""iat":1795694400,"exp":1795780800"#),
        "{payload}"
    );
}

#[test]
fn mint_header_and_payload_are_base64url_even_where_base64_has_plus_and_slash() {
    // The shell procedure encoded the header with standard base64; these claims make standard
    // base64 emit `+` and `/`, so a token that holds neither proves the encoding.
    let pki = Fixture::ecdsa().at(AT).keys();
    let party = "~~~???>>>~?>";
    let token = pki.mint(&["--user", "alice", "--act-as", party, "--read-as", party]);
    let token = token.trim();
    let (_, payload, _) = split(token);
    let std_form = STANDARD.encode(payload.as_bytes());
    assert!(
        std_form.contains(['+', '/']),
        "the test claims must exercise + and /: {std_form}"
    );
    assert!(!token.contains(['+', '/', '=']), "{token}");
    assert!(payload.contains(party));
}

#[test]
fn mint_org_without_user_mints_every_user_of_the_org() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let a = pki
        .cmd(&["jwt", "mint", "--org", "participant1", "--at", AT])
        .assert()
        .success();
    let users = ["participant_admin", "alice", "navigator"];
    let expected: String = users
        .iter()
        .map(|u| {
            format!(
                "wrote {}\n",
                pki.show("participant1", &format!("jwt/{u}.token"))
            )
        })
        .collect();
    assert_eq!(stdout(&a), expected);
    for u in users {
        let t = std::fs::read_to_string(pki.p1(&format!("jwt/{u}.token"))).unwrap();
        let (_, payload, _) = split(&t);
        let claims: Value = serde_json::from_str(&payload).unwrap();
        if u == "navigator" {
            assert_eq!(claims["https://daml.com/ledger-api"]["admin"], true);
        } else {
            assert_eq!(claims["sub"], u);
        }
        assert_eq!(claims["iat"], AT_UNIX);
    }
    assert!(!pki.p2("jwt/bob.token").exists(), "--org participant1 only");

    // Neither --org nor --user: every user of every org with a JWT section.
    pki.cmd(&["jwt", "mint", "--at", AT]).assert().success();
    for u in ["participant_admin", "bob", "bank", "george"] {
        assert!(pki.p2(&format!("jwt/{u}.token")).is_file(), "{u}");
    }
}

#[test]
fn remint_changes_tokens_only() {
    let pki = Fixture::ecdsa().at(AT).keys();
    pki.cmd(&["jwt", "mint", "--at", AT]).assert().success();
    // Tokens, and the rotation's record of the latest exp each key signed (docs/rotation.md).
    let is_token = |p: &std::path::Path| {
        p.extension().is_some_and(|e| e == "token") || p.ends_with("signing/rotation.json")
    };
    let before = snapshot(&pki.out);
    let (tokens_before, rest_before): (Vec<_>, Vec<_>) =
        before.iter().partition(|(p, _)| is_token(p));
    assert_eq!(tokens_before.len(), 9);

    std::thread::sleep(std::time::Duration::from_millis(20));
    pki.cmd(&["jwt", "mint", "--at", "2026-11-26T13:00:00Z"])
        .assert()
        .success();
    let after = snapshot(&pki.out);
    let (tokens_after, rest_after): (Vec<_>, Vec<_>) = after.iter().partition(|(p, _)| is_token(p));
    assert_unchanged(
        &rest_before
            .into_iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect(),
        &rest_after
            .into_iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect(),
    );
    assert_eq!(tokens_after.len(), 9);
    for ((p, e1), (_, e2)) in tokens_before.iter().zip(&tokens_after) {
        let (Entry::File { bytes: b1, .. }, Entry::File { bytes: b2, .. }) = (e1, e2) else {
            panic!("{} is not a file", p.display())
        };
        assert_ne!(b1, b2, "{} was not refreshed", p.display());
    }
}

// ---- verify ----

fn verify(token: &str, jwks: &std::path::Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    hapki()
        .args(["jwt", "verify", token, "--jwks"])
        .arg(jwks)
        .args(extra)
        .assert()
}

/// Asserts `hapki jwt verify` refuses with exactly `reason` (after "invalid: WHAT ").
fn refused(token: &str, jwks: &std::path::Path, extra: &[&str], what: &str, reason: &str) {
    refused_because("", token, jwks, extra, what, reason);
}

/// `refused`, naming the `case` of a table in its messages.
fn refused_because(
    case: &str,
    token: &str,
    jwks: &std::path::Path,
    extra: &[&str],
    what: &str,
    reason: &str,
) {
    let a = verify(token, jwks, extra);
    let code = a.get_output().status.code();
    assert_eq!(code, Some(1), "{case}: {:?}", a.get_output());
    assert_eq!(stdout(&a), format!("invalid: {what} {reason}\n"), "{case}");
    assert_eq!(stderr(&a), "", "{case}");
}

#[test]
fn verify_accepts_a_fresh_token() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let token = pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    let jwks = pki.p1("jwt/jwks.json");
    let kid = pki.kid("participant1");
    let ok = format!(
        "valid: org-rooted token for `alice`, key {kid} (RS256), expires 2026-11-27T12:00:00Z\n"
    );
    for arg in [file.to_str().unwrap(), token.trim()] {
        for extra in [
            &["--at", AT][..],
            &["--at", AT, "--aud", "participant1"][..],
        ] {
            let a = verify(arg, &jwks, extra).success();
            assert_eq!(stdout(&a), ok);
        }
    }
    // Within the 60 s leeway after exp.
    verify(
        file.to_str().unwrap(),
        &jwks,
        &["--at", "2026-11-27T12:00:59Z"],
    )
    .success();
    // --json
    let a = verify(file.to_str().unwrap(), &jwks, &["--at", AT, "--json"]).success();
    let v: Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["kid"], kid.as_str());
    assert_eq!(v["claims"]["sub"], "alice");
    // PyJWT refuses a token with an audience when it is asked for none, so the other
    // implementations are asked for participant1's; PyJWT has no leeway after exp.
    judged(&pki, "participant1")
        .accept(token.trim(), "participant1")
        .run();
}

#[test]
fn verify_refuses_a_tampered_payload() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let token = pki.mint(&["--user", "alice"]);
    let parts: Vec<&str> = token.trim().split('.').collect();
    let (_, payload, _) = split(token.trim());
    let forged = payload.replace(r#""sub":"alice""#, r#""sub":"participant_admin""#);
    assert_ne!(forged, payload);
    let tampered = format!("{}.{}.{}", parts[0], b64url(forged.as_bytes()), parts[2]);
    let file = pki.dir.path().join("tampered.token");
    std::fs::write(&file, &tampered).unwrap();
    refused(
        file.to_str().unwrap(),
        &pki.p1("jwt/jwks.json"),
        &["--at", AT],
        &file.display().to_string(),
        &format!(
            "has a signature that does not verify with JWKS key `{}` (tampered, or signed by another key)",
            pki.kid("participant1")
        ),
    );
    judged(&pki, "participant1")
        .refuse(&tampered, "participant1")
        .accept(token.trim(), "participant1")
        .run();
}

#[test]
fn verify_refuses_a_token_of_participant2_against_participant1_jwks() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let token = pki.mint(&["--user", "bob"]);
    let jwks1 = pki.p1("jwt/jwks.json");
    refused(
        token.trim(),
        &jwks1,
        &["--at", AT],
        "the token",
        &format!(
            "is signed by key `{}`, which is not in the JWKS",
            pki.kid("participant2")
        ),
    );
    // participant2's key claiming participant1's kid: the signature gives it away.
    let (key2, _, _) = signing("participant2");
    let (_, payload, _) = split(token.trim());
    let header = format!(
        r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#,
        pki.kid("participant1")
    );
    let forged = sign_rs256(&pki.p2(&key2), &header, &payload);
    refused(
        &forged,
        &jwks1,
        &["--at", AT],
        "the token",
        &format!(
            "has a signature that does not verify with JWKS key `{}` (tampered, or signed by another key)",
            pki.kid("participant1")
        ),
    );
    // Against its own JWKS it is fine.
    verify(token.trim(), &pki.p2("jwt/jwks.json"), &["--at", AT]).success();
    judged(&pki, "participant1")
        .refuse(token.trim(), "participant2")
        .refuse(&forged, "participant2")
        .run();
    judged(&pki, "participant2")
        .accept(token.trim(), "participant2")
        .run();
}

#[test]
fn verify_refuses_an_expired_token() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let day = pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    // A day and a minute after iat: past exp and past the 60 s leeway.
    refused(
        file.to_str().unwrap(),
        &pki.p1("jwt/jwks.json"),
        &["--at", "2026-11-27T12:01:00Z"],
        &file.display().to_string(),
        "expired at 2026-11-27T12:00:00Z",
    );
    // A 30-minute token, an hour later.
    let half_hour = pki.mint(&["--user", "alice", "--ttl", "30m"]);
    refused(
        file.to_str().unwrap(),
        &pki.p1("jwt/jwks.json"),
        &["--at", "2026-11-26T13:00:00Z"],
        &file.display().to_string(),
        "expired at 2026-11-26T12:30:00Z",
    );
    judged(&pki, "participant1")
        .at(AT_UNIX + 86400 + 120)
        .refuse(day.trim(), "participant1")
        .run();
    judged(&pki, "participant1")
        .at(AT_UNIX + 3600)
        .refuse(half_hour.trim(), "participant1")
        .run();
}

#[test]
fn verify_refuses_a_token_issued_in_the_future() {
    let pki = Fixture::ecdsa().at(AT).keys();
    pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    refused(
        file.to_str().unwrap(),
        &pki.p1("jwt/jwks.json"),
        &["--at", "2026-11-26T11:58:00Z"],
        &file.display().to_string(),
        "was issued in the future, at 2026-11-26T12:00:00Z",
    );
    // jwcrypto does not check iat, so PyJWT alone is asked.
    judged(&pki, "participant1")
        .at(AT_UNIX - 120)
        .pyjwt_only()
        .refuse(file.to_str().unwrap(), "participant1")
        .run();
}

#[test]
fn verify_refuses_a_wrong_audience() {
    let pki = Fixture::ecdsa().at(AT).keys();
    pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    let jwks = pki.p1("jwt/jwks.json");
    refused(
        file.to_str().unwrap(),
        &jwks,
        &["--at", AT, "--aud", "participant2"],
        &file.display().to_string(),
        "is for audience `participant1`, so audience `participant2` is not accepted",
    );
    pki.mint(&["--user", "participant_admin", "--org", "participant1"]);
    let admin = pki.p1("jwt/participant_admin.token");
    refused(
        admin.to_str().unwrap(),
        &jwks,
        &["--at", AT, "--aud", "participant1"],
        &admin.display().to_string(),
        "has no audience, so audience `participant1` is not accepted",
    );
    judged(&pki, "participant1")
        .refuse(file.to_str().unwrap(), "participant2")
        .refuse(admin.to_str().unwrap(), "participant1")
        .accept(file.to_str().unwrap(), "participant1")
        .accept(admin.to_str().unwrap(), "-")
        .run();
}

/// Writes participant1's JWKS, edited by `edit`, next to the real one (so the org root is the
/// trust anchor) and returns its path.
fn edited_jwks(pki: &Fixture, name: &str, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let mut jwks = pki.jwks("participant1");
    edit(&mut jwks);
    let p = pki.p1(&format!("jwt/{name}.json"));
    std::fs::write(&p, serde_json::to_string_pretty(&jwks).unwrap()).unwrap();
    p
}

#[test]
fn verify_refuses_a_jwks_whose_x5c_does_not_chain() {
    let pki = Fixture::ecdsa().at(AT).keys();
    pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    let what = file.display().to_string();
    let kid = pki.kid("participant1");
    let p2 = pki.jwks("participant2");
    let no_chain = format!(
        "cannot be trusted: its JWKS key `{kid}` has an x5c[0] that does not chain to the org root through its intermediate"
    );

    let no_x5c = format!("cannot be trusted: its JWKS key `{kid}` has no x5c chain");
    // (case, the edit of participant1's JWKS, what verify says of alice's token)
    type Edit = fn(&mut Value, &Value);
    let cases: [(&str, Edit, &str); 4] = [
        // participant2's intermediate in place of participant1's.
        (
            "swapped-intermediate",
            |j, p2| {
                j["keys"][0]["x5c"][1] = p2["keys"][0]["x5c"][1].clone();
            },
            &no_chain,
        ),
        // participant2's intermediate and root: a self-consistent tail, but not participant1's
        // root.
        (
            "swapped-chain",
            |j, p2| {
                j["keys"][0]["x5c"][1] = p2["keys"][0]["x5c"][1].clone();
                j["keys"][0]["x5c"][2] = p2["keys"][0]["x5c"][2].clone();
            },
            &no_chain,
        ),
        // The intermediate left out.
        (
            "short",
            |j, _| {
                j["keys"][0]["x5c"].as_array_mut().unwrap().truncate(1);
            },
            &no_chain,
        ),
        // No x5c at all.
        (
            "no-x5c",
            |j, _| {
                j["keys"][0].as_object_mut().unwrap().remove("x5c");
            },
            &no_x5c,
        ),
    ];
    for (case, edit, reason) in cases {
        let jwks = edited_jwks(&pki, case, |j| edit(j, &p2));
        refused_because(
            case,
            file.to_str().unwrap(),
            &jwks,
            &["--at", AT],
            &what,
            reason,
        );
    }

    // participant2's complete, valid JWKS in participant1's folder, with bob's good token:
    // it chains to participant2's root, not to the org root of the folder.
    let bob = pki.mint(&["--user", "bob"]);
    let jwks = pki.p1("jwt/participant2.json");
    std::fs::copy(pki.p2("jwt/jwks.json"), &jwks).unwrap();
    refused(
        bob.trim(),
        &jwks,
        &["--at", AT],
        "the token",
        &format!(
            "cannot be trusted: its JWKS key `{}` has an x5c[0] that does not chain to the org root through its intermediate",
            pki.kid("participant2")
        ),
    );
}

#[test]
fn verify_pins_the_org_root_with_root_outside_the_layout() {
    let pki = Fixture::ecdsa().at(AT).keys();
    pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    // The JWKS as a Ledger API would hold it: a copy outside hapki's layout.
    let elsewhere = pki.dir.path().join("jwks.json");
    std::fs::copy(pki.p1("jwt/jwks.json"), &elsewhere).unwrap();
    // Without --root nothing pins the root: refused (exit 2), never "valid" on its own x5c.
    let a = verify(file.to_str().unwrap(), &elsewhere, &["--at", AT]).code(2);
    assert!(
        String::from_utf8_lossy(&a.get_output().stderr).contains("pass the org root with --root")
    );
    let root1 = pki.p1(ROOT);
    let a = verify(
        file.to_str().unwrap(),
        &elsewhere,
        &["--at", AT, "--root", root1.to_str().unwrap()],
    )
    .success();
    assert!(
        stdout(&a).starts_with("valid: org-rooted token"),
        "{}",
        stdout(&a)
    );
    let root2 = pki.p2(ROOT);
    let a = verify(
        file.to_str().unwrap(),
        &elsewhere,
        &["--at", AT, "--root", root2.to_str().unwrap()],
    )
    .code(1);
    assert!(
        stdout(&a).contains("does not chain to the org root"),
        "{}",
        stdout(&a)
    );
}

#[test]
fn verify_refuses_a_jwks_whose_x5t_is_edited() {
    let pki = Fixture::ecdsa().at(AT).keys();
    pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    let what = file.display().to_string();
    let kid = pki.kid("participant1");
    let k = &pki.jwks("participant1")["keys"][0];
    let (t1, t256) = (
        k["x5t"].as_str().unwrap().to_string(),
        k["x5t#S256"].as_str().unwrap().to_string(),
    );
    let flip = |s: &str| {
        let first = if s.starts_with('A') { "B" } else { "A" };
        format!("{first}{}", &s[1..])
    };

    let jwks = edited_jwks(&pki, "x5t", |j| j["keys"][0]["x5t"] = json!(flip(&t1)));
    refused(
        file.to_str().unwrap(),
        &jwks,
        &["--at", AT],
        &what,
        &format!("cannot be trusted: its JWKS key `{kid}` has an x5t that is not base64url(SHA-1) of x5c[0] (expected {t1})"),
    );
    // The shell procedure's fault: base64url of the hex text of the fingerprint.
    let (_, cert, _) = signing("participant1");
    let hex: String = digest("sha1", &der(&pki.p1(&cert)))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let jwks = edited_jwks(&pki, "x5t-hex", |j| {
        j["keys"][0]["x5t"] = json!(b64url(hex.as_bytes()))
    });
    verify(file.to_str().unwrap(), &jwks, &["--at", AT]).code(1);

    let jwks = edited_jwks(&pki, "x5t256", |j| {
        j["keys"][0]["x5t#S256"] = json!(flip(&t256))
    });
    refused(
        file.to_str().unwrap(),
        &jwks,
        &["--at", AT],
        &what,
        &format!("cannot be trusted: its JWKS key `{kid}` has an x5t#S256 that is not base64url(SHA-256) of x5c[0] (expected {t256})"),
    );
}

#[test]
fn verify_refuses_a_token_without_kid() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let token = pki.mint(&["--user", "alice"]);
    let (_, payload, _) = split(token.trim());
    let (key, _, _) = signing("participant1");
    // Signed by the right key, so the missing kid is the only fault.
    let no_kid = sign_rs256(&pki.p1(&key), r#"{"alg":"RS256","typ":"JWT"}"#, &payload);
    let file = pki.dir.path().join("no-kid.token");
    std::fs::write(&file, format!("{no_kid}\n")).unwrap();
    refused(
        file.to_str().unwrap(),
        &pki.p1("jwt/jwks.json"),
        &["--at", AT],
        &file.display().to_string(),
        "has no kid in its header, and Canton refuses such a token",
    );
    // The same signature with the kid put back verifies: openssl signs what hapki checks.
    let header = format!(
        r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#,
        pki.kid("participant1")
    );
    let with_kid = sign_rs256(&pki.p1(&key), &header, &payload);
    verify(&with_kid, &pki.p1("jwt/jwks.json"), &["--at", AT]).success();
}

#[test]
fn verify_cannot_run_on_an_unreadable_jwks() {
    let pki = Fixture::ecdsa().at(AT).keys();
    pki.mint(&["--user", "alice"]);
    let file = pki.p1("jwt/alice.token");
    let missing = pki.dir.path().join("missing.json");
    let a = verify(file.to_str().unwrap(), &missing, &["--at", AT]).code(2);
    assert_eq!(
        stderr(&a),
        format!(
            "error: cannot read {}: no such file or directory; check the path\n",
            missing.display()
        )
    );
    assert_eq!(stdout(&a), "");
    // Not a JWKS at all: also exit 2, naming the file.
    let a = verify(file.to_str().unwrap(), pki.profile_path(), &["--at", AT]).code(2);
    let err = stderr(&a);
    assert!(
        err.starts_with(&format!(
            "error: {} is not a JWKS (",
            pki.profile_path().display()
        )) && err.ends_with("); give the jwks.json hapki wrote\n"),
        "{err}"
    );
}

// ---- bad input ----

/// Runs `jwt mint ARGS` and asserts exit 2, exactly `message` on stderr, nothing on stdout and
/// no file changed under out/.
fn mint_refused(pki: &Fixture, args: &[&str], message: &str) {
    let before = snapshot(&pki.out);
    let mut all = vec!["jwt", "mint"];
    all.extend_from_slice(args);
    let a = pki.cmd(&all).assert().code(2);
    assert_eq!(stderr(&a), format!("error: {message}\n"), "hapki {all:?}");
    assert_eq!(stdout(&a), "", "hapki {all:?}");
    assert_unchanged(&before, &snapshot(&pki.out));
}

#[test]
fn mint_bad_input_is_one_sentence_and_writes_nothing() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let duration = |d: &str| {
        format!("the duration `{d}` is not valid; write a positive number with a unit, e.g. `30s`, `15m`, `12h` or `1d`")
    };
    mint_refused(&pki, &["--user", "alice", "--ttl", "0s"], &duration("0s"));
    mint_refused(&pki, &["--user", "alice", "--ttl", "1w"], &duration("1w"));
    mint_refused(
        &pki,
        &["--user", "alice", "--at", "yesterday"],
        "the time `yesterday` is not valid; give RFC 3339 such as `2026-11-26T12:00:00Z` or Unix seconds",
    );
    mint_refused(
        &pki,
        &["--user", "alice", "--format", "jwks"],
        "the token format `jwks` is not one hapki knows; use scope, audience or custom",
    );
    let bad_name = "the user name `bad/name` is not valid; use letters, digits, `_`, `-`, `.` and `@` (it names the token file)";
    mint_refused(&pki, &["--user", "bad/name"], bad_name);
    mint_refused(
        &pki,
        &["--user", "bad/name", "--org", "participant1"],
        bad_name,
    );
    mint_refused(
        &pki,
        &["--user", "../alice", "--org", "participant1"],
        "the user name `../alice` is not valid; use letters, digits, `_`, `-`, `.` and `@` (it names the token file)",
    );
    mint_refused(
        &pki,
        &["--user", "participant_admin"],
        "the user `participant_admin` is in several orgs (participant1, participant2); choose one with --org",
    );
    mint_refused(
        &pki,
        &["--user", "alice", "--org", "participant3"],
        &format!(
            "the org `participant3` is not in the profile {}; use one of domain, participant1, participant2",
            pki.profile_path().display()
        ),
    );
}

#[test]
fn mint_before_keygen_is_refused() {
    let pki = Fixture::ecdsa().at(AT).cas();
    let (_, cert, _) = signing("participant1");
    mint_refused(
        &pki,
        &["--user", "alice", "--at", AT],
        &format!(
            "org `participant1` has no JWT signing key ({} is missing); create it with `hapki jwt keygen --org participant1`",
            pki.show("participant1", &cert)
        ),
    );
    assert!(!pki.p1("jwt").exists());
}

// ---- hapki init ----

#[test]
fn init_mints_every_profile_user_and_keeps_them_on_a_rerun() {
    let fx = Fixture::ecdsa().at(AT).bare();
    let out = &fx.out;
    let init = || fx.run(&["init"]).success();
    init();
    let users = [
        ("participant1", "participant_admin", None),
        ("participant1", "alice", Some("participant1")),
        ("participant1", "navigator", Some("participant1")),
        ("participant2", "participant_admin", None),
        ("participant2", "bob", Some("participant2")),
        ("participant2", "bank", Some("participant2")),
        ("participant2", "george", Some("participant2")),
    ];
    // init mints on the fixture's clock, which starts at AT when init starts; checked half a
    // minute later, whatever the minting took.
    let check_at = "2026-11-26T12:00:30Z";
    let mut p1 = judged(&fx, "participant1").at(AT_UNIX + 30);
    let mut p2 = judged(&fx, "participant2").at(AT_UNIX + 30);
    for (org, user, aud) in users {
        let token = out.join(org).join(format!("jwt/{user}.token"));
        let jwks = out.join(org).join("jwt/jwks.json");
        let jwks_v: Value = serde_json::from_slice(&std::fs::read(&jwks).unwrap()).unwrap();
        // The profile's jwt_key: RSA even though the leaves of this profile are ECDSA.
        assert_eq!(jwks_v["keys"][0]["kty"], "RSA");
        let (header, payload, _) = split(&std::fs::read_to_string(&token).unwrap());
        let header: Value = serde_json::from_str(&header).unwrap();
        assert_eq!(header["kid"], jwks_v["keys"][0]["kid"]);
        let claims: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            86400
        );
        let mut extra = vec!["--at", check_at];
        if let Some(a) = aud {
            extra.extend(["--aud", a]);
        }
        verify(token.to_str().unwrap(), &jwks, &extra).success();
        let t = token.to_str().unwrap();
        if org == "participant1" {
            p1 = p1.accept(t, aud.unwrap_or("-"));
        } else {
            p2 = p2.accept(t, aud.unwrap_or("-"));
        }
    }
    p1.run();
    p2.run();
    let before = snapshot(out);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let a = init();
    assert!(
        stdout(&a).contains("is complete: nothing to do"),
        "{}",
        stdout(&a)
    );
    assert_unchanged(&before, &snapshot(out));
}

#[test]
fn init_re_mints_only_the_token_whose_profile_claims_changed() {
    let fx = Fixture::ecdsa().at(AT).bare();
    let out = &fx.out;
    let init = || stdout(&fx.run(&["init"]).success());
    init();
    let bob = out.join("participant2/jwt/bob.token");
    let bank = out.join("participant2/jwt/bank.token");
    let bank_before = std::fs::read(&bank).unwrap();
    // bob moves to the Canton 3.x audience-based shape.
    let changed = ecdsa_profile().replace(
        r#"{ name = "bob", format = "scope" }"#,
        r#"{ name = "bob", format = "audience" }"#,
    );
    assert_ne!(changed, ecdsa_profile());
    std::fs::write(fx.profile_path(), changed).unwrap();
    let report = init();
    assert!(report.contains("1 tokens written"), "{report}");
    let (_, payload, _) = split(&std::fs::read_to_string(&bob).unwrap());
    let claims: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        claims["aud"],
        "https://daml.com/jwt/aud/participant/participant2"
    );
    assert_eq!(std::fs::read(&bank).unwrap(), bank_before);
}

// ---- ES256 on request ----

/// An ECDSA signature as JWS carries it (R || S) in the DER form openssl reads.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let start = b.iter().position(|x| *x != 0).unwrap_or(b.len() - 1);
        let mut v = b[start..].to_vec();
        if v[0] >= 0x80 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn keygen_ecdsa_p256_gives_an_es256_jwks_and_tokens() {
    let pki = es256_fixture();
    let k = pki.jwks("participant1")["keys"][0].clone();
    let mut fields: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["alg", "crv", "kid", "kty", "use", "x", "x5c", "x5t", "x5t#S256", "y"]
    );
    assert_eq!(
        (&k["kty"], &k["crv"], &k["alg"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"))
    );
    let (x, y) = (k["x"].as_str().unwrap(), k["y"].as_str().unwrap());
    assert_eq!((unb64url(x).len(), unb64url(y).len()), (32, 32));
    // The point is the cert's public key (uncompressed 04 || x || y at the end of the SPKI).
    let (_, cert, public) = signing("participant1");
    let spki = openssl(
        &[
            "pkey",
            "-pubin",
            "-in",
            pki.p1(&public).to_str().unwrap(),
            "-outform",
            "DER",
        ],
        None,
    );
    assert!(spki.ends_with(&[vec![4], unb64url(x), unb64url(y)].concat()));
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    assert_eq!(k["kid"], b64url(&digest("sha256", canonical.as_bytes())));
    assert_eq!(
        k["x5t#S256"],
        b64url(&digest("sha256", &der(&pki.p1(&cert))))
    );

    let token = pki.mint(&["--user", "alice"]);
    let token = token.trim();
    let (header, payload, sig) = split(token);
    assert_eq!(
        serde_json::from_str::<Value>(&header).unwrap(),
        json!({"alg": "ES256", "typ": "JWT", "kid": k["kid"]})
    );
    assert!(payload.starts_with(r#"{"sub":"alice","scope":"daml_ledger_api""#));
    assert_eq!(sig.len(), 64, "ES256 signs with R || S, 32 octets each");
    let a = verify(token, &pki.p1("jwt/jwks.json"), &["--at", AT]).success();
    assert!(stdout(&a).contains("(ES256)"), "{}", stdout(&a));
    judged(&pki, "participant1")
        .accept(token, "participant1")
        .refuse(token, "participant2")
        .run();

    let dir = pki.dir.path();
    let (signed, _) = token.rsplit_once('.').unwrap();
    std::fs::write(dir.join("in"), signed).unwrap();
    std::fs::write(dir.join("sig.der"), ecdsa_der(&sig)).unwrap();
    let out = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            pki.p1(&public).to_str().unwrap(),
            "-signature",
            dir.join("sig.der").to_str().unwrap(),
            dir.join("in").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(String::from_utf8(out).unwrap(), "Verified OK\n");
}

#[test]
fn mint_flags_aud_scope_and_participant_id() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let claims = |args: &[&str]| mint_one(&pki, "participant1", "alice", args);
    assert_eq!(
        claims(&[
            "--user",
            "alice",
            "--aud",
            "ledger-x",
            "--scope",
            "daml_ledger_api admin"
        ]),
        r#"{"sub":"alice","scope":"daml_ledger_api admin","aud":"ledger-x","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#
    );
    assert_eq!(
        claims(&["--user", "alice", "--participant-id", "p1x"]),
        r#"{"sub":"alice","scope":"daml_ledger_api","aud":"p1x","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#
    );
    assert_eq!(
        claims(&[
            "--user",
            "alice",
            "--participant-id",
            "p1x",
            "--format",
            "audience"
        ]),
        r#"{"sub":"alice","aud":"https://daml.com/jwt/aud/participant/p1x","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#
    );
    assert_eq!(
        claims(&[
            "--user",
            "alice",
            "--participant-id",
            "p1x",
            "--format",
            "custom"
        ]),
        r#"{"https://daml.com/ledger-api":{"ledgerId":"p1x","participantId":"p1x","applicationId":"alice","admin":false,"actAs":[],"readAs":[]},"aud":"p1x","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#
    );
}

#[test]
fn verify_refuses_alg_none_and_hs256_keyed_with_the_public_key() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let kid = pki.kid("participant1");
    let jwks = pki.p1("jwt/jwks.json");
    let payload = r#"{"sub":"participant_admin","scope":"daml_ledger_api","iat":1795694400,"exp":1795780800,"iss":"local-jwt-provider"}"#;
    let b = |s: &str| b64url(s.as_bytes());

    let none = format!(
        "{}.{}.",
        b(&format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#)),
        b(payload)
    );
    refused(
        &none,
        &jwks,
        &["--at", AT],
        "the token",
        "uses the algorithm `none`, which hapki does not accept",
    );

    // The classic confusion: HMAC keyed with the public key a verifier already holds.
    let (_, _, public) = signing("participant1");
    let key_hex: String = std::fs::read(pki.p1(&public))
        .unwrap()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    let input = format!(
        "{}.{}",
        b(&format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#)),
        b(payload)
    );
    let mac = openssl(
        &[
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            &format!("hexkey:{key_hex}"),
            "-binary",
        ],
        Some(input.as_bytes()),
    );
    let hs256 = format!("{input}.{}", b64url(&mac));
    refused(
        &hs256,
        &jwks,
        &["--at", AT],
        "the token",
        &format!("says alg HS256 but its JWKS key `{kid}` is for RS256"),
    );
    // The other implementations take the algorithm from the JWKS key, never from the token.
    judged(&pki, "participant1")
        .refuse(&none, "-")
        .refuse(&hs256, "-")
        .run();
}

#[test]
fn keygen_bad_input_is_one_sentence_and_writes_nothing() {
    let fx = Fixture::ecdsa().bare();
    let a = fx.run(&["jwt", "keygen", "--org", "participant1"]).code(2);
    assert_eq!(
        stderr(&a),
        format!(
            "error: org `participant1` has no complete CA under {}; create it first with `hapki ca init --org participant1`\n",
            fx.org("participant1").display()
        )
    );
    assert!(!fx.out.exists(), "nothing may be written without a CA");

    let pki = Fixture::ecdsa().at(AT).cas();
    let before = snapshot(&pki.out);
    let a = pki
        .run(&["jwt", "keygen", "--org", "participant1", "--key", "rsa1024"])
        .code(2);
    assert_eq!(
        stderr(&a),
        "error: the key algorithm `rsa1024` is not one hapki knows; use one of rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384, ed25519\n"
    );
    assert_unchanged(&before, &snapshot(&pki.out));
}
