//! Issue 3's proof by other implementations: PyJWT and jwcrypto (tests/interop/jwt_interop.py,
//! driven by `support::interop`) accept hapki's tokens and JWKS (RS256, and ES256 on request) and
//! refuse the bad ones, and openssl verifies the RS256 signature over `header.payload` with the
//! signing key's public key. Tokens are minted at AT and judged at AT (the fixture's certs are
//! made on a clock at AT).

use crate::support::fixture::{Fixture, AT, AT_UNIX};
use crate::support::interop::{python, Interop};
use crate::support::jwt::{b64url, es256_fixture, sign_rs256, signing, split, unb64url};
use crate::support::openssl::{openssl_ok as openssl, openssl_raw};
use std::path::PathBuf;

/// Mints at AT and moves the token to `name` so later mints of the same user do not replace it.
fn mint_at(pki: &Fixture, org: &str, user: &str, extra: &[&str], name: &str) -> PathBuf {
    let mut args = vec!["--user", user, "--org", org];
    args.extend_from_slice(extra);
    pki.mint(&args);
    let to = pki.dir.path().join(name);
    std::fs::rename(pki.path(org, &format!("jwt/{user}.token")), &to).unwrap();
    to
}

#[test]
fn pyjwt_and_jwcrypto_accept_hapki_tokens_and_jwks() {
    python(); // fail first, and clearly, when there is no interpreter
    let pki = Fixture::ecdsa().at(AT).keys();
    let p1 = "participant1";
    let alice = mint_at(&pki, p1, "alice", &[], "alice.token");
    let admin = mint_at(&pki, p1, "participant_admin", &[], "admin.token");
    let navigator = mint_at(&pki, p1, "navigator", &[], "navigator.token");
    let audience = mint_at(
        &pki,
        p1,
        "alice",
        &["--format", "audience"],
        "alice-audience.token",
    );
    let custom = mint_at(
        &pki,
        p1,
        "carol",
        &["--act-as", "Carol::1220ab", "--read-as", "Public::1220cd"],
        "carol.token",
    );

    // What both libraries must refuse.
    let text = std::fs::read_to_string(&alice).unwrap();
    let parts: Vec<&str> = text.trim().split('.').collect();
    let (_, payload, _) = split(text.trim());
    let forged = payload.replace(r#""sub":"alice""#, r#""sub":"participant_admin""#);
    let tampered = pki.dir.path().join("tampered.token");
    std::fs::write(
        &tampered,
        format!("{}.{}.{}", parts[0], b64url(forged.as_bytes()), parts[2]),
    )
    .unwrap();
    let expired = pki.dir.path().join("expired.token");
    let old = pki
        .cmd(&[
            "jwt",
            "mint",
            "--user",
            "alice",
            "--at",
            "2020-01-01T00:00:00Z",
        ])
        .output()
        .unwrap();
    std::fs::write(&expired, &old.stdout).unwrap();
    let bob = mint_at(&pki, "participant2", "bob", &[], "bob.token");
    // participant2's key posing under participant1's kid.
    let (key2, _, _) = signing("participant2");
    let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, pki.kid(p1));
    let (_, bob_payload, _) = split(&std::fs::read_to_string(&bob).unwrap());
    let posing = pki.dir.path().join("posing.token");
    std::fs::write(&posing, sign_rs256(&pki.p2(&key2), &header, &bob_payload)).unwrap();

    let aud_url = "https://daml.com/jwt/aud/participant/participant1";
    let report = interop(
        &pki,
        p1,
        &[
            ("--accept", &alice, "participant1"),
            ("--accept", &admin, "-"),
            ("--accept", &navigator, "participant1"),
            ("--accept", &audience, aud_url),
            ("--accept", &custom, "participant1"),
            ("--refuse", &alice, "participant2"),
            ("--refuse", &audience, "participant1"),
            ("--refuse", &tampered, "participant1"),
            ("--refuse", &expired, "participant1"),
            ("--refuse", &posing, "participant2"),
        ],
    );
    assert!(report.contains("alg of a RSA key is RS256"), "{report}");
}

#[test]
fn pyjwt_and_jwcrypto_accept_es256_tokens_and_jwks() {
    python();
    let pki = es256_fixture();
    let alice = mint_at(&pki, "participant1", "alice", &[], "alice.token");
    let navigator = mint_at(&pki, "participant1", "navigator", &[], "navigator.token");
    let report = interop(
        &pki,
        "participant1",
        &[
            ("--accept", &alice, "participant1"),
            ("--accept", &navigator, "participant1"),
            ("--refuse", &alice, "participant2"),
        ],
    );
    assert!(report.contains("alg of a EC key is ES256"), "{report}");
    assert!(
        report.contains("x and y are the public key of x5c[0]"),
        "{report}"
    );
}

/// Runs jwt_interop.py on ORG's JWKS and signing cert at AT with `(--accept|--refuse, token,
/// aud)`; asserts every check passed and both libraries judged every token; returns the report.
fn interop(pki: &Fixture, org: &str, tokens: &[(&str, &PathBuf, &str)]) -> String {
    let mut run = Interop::org(pki, org).at(AT_UNIX);
    for (flag, token, aud) in tokens {
        let token = token.to_str().unwrap();
        run = match *flag {
            "--accept" => run.accept(token, aud),
            "--refuse" => run.refuse(token, aud),
            other => unreachable!("{other}"),
        };
    }
    let report = run.run();
    eprintln!("{report}");
    report
}

#[test]
fn openssl_verifies_the_rs256_signature() {
    let pki = Fixture::ecdsa().at(AT).keys();
    let token = pki.mint(&["--user", "alice"]);
    let token = token.trim();
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let dir = pki.dir.path();
    let data = dir.join("signed-input");
    let sig_bin = dir.join("sig.bin");
    std::fs::write(&data, signed).unwrap();
    std::fs::write(&sig_bin, unb64url(sig)).unwrap();
    let (_, cert, public) = signing("participant1");
    // The public key of the signing cert, as openssl reads it from the cert.
    let cert_pub = dir.join("cert-pub.pem");
    std::fs::write(
        &cert_pub,
        openssl(
            &[
                "x509",
                "-in",
                pki.p1(&cert).to_str().unwrap(),
                "-noout",
                "-pubkey",
            ],
            None,
        ),
    )
    .unwrap();
    for key in [pki.p1(&public), cert_pub] {
        let out = openssl(
            &[
                "dgst",
                "-sha256",
                "-verify",
                key.to_str().unwrap(),
                "-signature",
                sig_bin.to_str().unwrap(),
                data.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "Verified OK\n");
    }
    // One changed byte of the signed input, and openssl refuses.
    let mut bad = signed.as_bytes().to_vec();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    std::fs::write(&data, bad).unwrap();
    let out = openssl_raw(
        &[
            "dgst",
            "-sha256",
            "-verify",
            pki.p1(&public).to_str().unwrap(),
            "-signature",
            sig_bin.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Verification failure\n"
    );
    // participant2's key does not verify participant1's signature either.
    let (_, _, public2) = signing("participant2");
    std::fs::write(&data, signed).unwrap();
    let out = openssl_raw(
        &[
            "dgst",
            "-sha256",
            "-verify",
            pki.p2(&public2).to_str().unwrap(),
            "-signature",
            sig_bin.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
}
