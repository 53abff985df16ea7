//! The smaller refusals of issue 10 item 9, each as the user meets it: SAN kinds hapki does not
//! issue, a negative `--ttl`, `verify --within 0s`, an expired token minted over a live one, an
//! ad-hoc jwt-signing cert in an org without JWT, a JWKS outside the layout without `--root`,
//! HS256 against a JWK without `alg`, a JWK whose `use` is not `sig`, `iss` against the expected
//! issuer, an `exp` past year 9999, and Ed25519 JWT keys (Canton rejects EdDSA tokens).

use crate::support::fixture::{ecdsa_profile, hapki, Fixture, AT, AT_UNIX};
use crate::support::interop::Interop;
use crate::support::jwt::{b64url, signing};
use crate::support::openssl::openssl_ok;
use crate::support::tree::contents;
use serde_json::Value;
use std::process::Output;

/// A tree issued now (no --at), so its tokens are live.
fn tree() -> Fixture {
    Fixture::shipped_ecdsa().init()
}

/// `hapki jwt verify ARGS` (it takes no profile or output folder).
fn jwt_verify(args: &[&str]) -> Output {
    hapki().args(["jwt", "verify"]).args(args).output().unwrap()
}

fn refused(r: &Output, sentence: &str) {
    assert_eq!(
        r.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&r.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&r.stderr),
        format!("error: {sentence}\n")
    );
}

#[test]
fn uri_and_email_sans_say_hapki_takes_only_dns_and_ip() {
    let fx = tree();
    for san in ["URI:spiffe://customer1.com/db", "email:ops@customer1.com"] {
        let r = fx.output(&[
            "issue",
            "db2",
            "--org",
            "participant1",
            "--kind",
            "server",
            "--san",
            san,
        ]);
        refused(&r, &format!("the SAN `{san}` is neither a DNS name nor an IP address; hapki supports only DNS: and IP: SANs (e.g. `DNS:db.customer1.com` or `IP:10.0.0.5`)"));
    }
}

#[test]
fn a_negative_ttl_gets_the_duration_sentence() {
    let fx = tree();
    let r = fx.output(&["jwt", "mint", "--user", "alice", "--ttl", "-1d"]);
    refused(&r, "the duration `-1d` is not valid; write a positive number with a unit, e.g. `30s`, `15m`, `12h` or `1d`");
}

#[test]
fn verify_within_zero_is_accepted() {
    let r = tree().verify(&["--within", "0s"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn an_already_expired_token_is_not_minted_over_a_live_one() {
    let fx = tree();
    let token = fx.p1("jwt/alice.token");
    let before = std::fs::read(&token).unwrap();
    let r = fx.output(&["jwt", "mint", "--user", "alice", "--at", "0", "--ttl", "1s"]);
    refused(&r, &format!("the token of `alice` would have expired already (at 1970-01-01T00:00:01Z), and {} holds a live one it would replace; give a later --at or a longer --ttl", token.display()));
    assert_eq!(std::fs::read(&token).unwrap(), before);
}

#[test]
fn an_adhoc_jwt_signing_cert_in_an_org_without_jwt_leaves_a_tree_verify_accepts() {
    let fx = tree();
    let before = contents(&fx.out);
    // Any other name than jwt-sign would be a key no JWKS publishes: refused, nothing written.
    let r = fx.output(&[
        "issue",
        "signer",
        "--org",
        "domain",
        "--kind",
        "jwt-signing",
    ]);
    refused(&r, &format!("org `domain` has no [org.jwt] section in the profile {}, so a jwt-signing cert named `signer` would be published by no JWKS and verify would fail the tree; name it `jwt-sign` (its JWKS is written with it), or add [org.jwt] to the profile", fx.profile_shown()));
    assert_eq!(contents(&fx.out), before);
    // jwt-sign is issued with its JWKS, and verify accepts the tree.
    let r = fx.output(&[
        "issue",
        "jwt-sign",
        "--org",
        "domain",
        "--kind",
        "jwt-signing",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(fx.path("domain", "jwt/jwks.json").is_file());
    let r = fx.verify(&[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stdout));
}

#[test]
fn a_jwks_outside_the_layout_needs_root() {
    let fx = tree();
    let token = fx.p1("jwt/alice.token");
    let jwks = fx.dir.path().join("jwks.json");
    std::fs::copy(fx.p1("jwt/jwks.json"), &jwks).unwrap();
    let (t, j) = (token.to_str().unwrap(), jwks.to_str().unwrap());
    let r = jwt_verify(&[t, "--jwks", j]);
    refused(&r, &format!("{j} is not in hapki's layout (NS/jwt/jwks.json beside NS/root/certs/ca.cert.pem), so nothing pins the root its keys must chain to; pass the org root with --root"));
    assert!(r.stdout.is_empty(), "never a verdict without a root");
    let root = fx.p1("root/certs/ca.cert.pem");
    let r = jwt_verify(&[t, "--jwks", j, "--root", root.to_str().unwrap()]);
    assert!(r.status.success());
    assert!(String::from_utf8_lossy(&r.stdout).starts_with("valid: org-rooted token for `alice`"));
    // In the layout the org root is found beside the JWKS.
    let in_layout = fx.p1("jwt/jwks.json");
    let r = jwt_verify(&[t, "--jwks", in_layout.to_str().unwrap()]);
    assert!(r.status.success());
}

/// `jwt verify` at AT, its exit code and stdout.
fn verdict(args: &[&str]) -> (Option<i32>, String) {
    let mut all = args.to_vec();
    all.extend(["--at", AT]);
    let r = jwt_verify(&all);
    (r.status.code(), String::from_utf8(r.stdout).unwrap())
}

/// Edits the org's JWKS in place (its first key).
fn edit_jwk(fx: &Fixture, org: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let mut jwks = fx.jwks(org);
    edit(jwks["keys"][0].as_object_mut().unwrap());
    std::fs::write(fx.path(org, "jwt/jwks.json"), jwks.to_string()).unwrap();
}

#[test]
fn hs256_against_a_jwk_without_alg_names_the_key_and_the_fix() {
    let fx = Fixture::shipped_ecdsa().at(AT).init();
    let kid = fx.kid("participant1");
    edit_jwk(&fx, "participant1", |k| {
        k.remove("alg");
    });
    let input = format!(
        "{}.{}",
        b64url(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#).as_bytes()),
        b64url(br#"{"sub":"participant_admin","iat":1795694400,"exp":1795780800}"#)
    );
    let mac = openssl_ok(
        &[
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            "key:guess",
            "-binary",
        ],
        Some(input.as_bytes()),
    );
    let token = format!("{input}.{}", b64url(&mac));
    let jwks = fx.p1("jwt/jwks.json");
    assert_eq!(
        verdict(&[&token, "--jwks", jwks.to_str().unwrap()]),
        (Some(1), format!("invalid: the token says alg HS256 but its JWKS key `{kid}` is an EC P-256 key (ES256) and has no alg member, so it cannot verify HS256; re-mint the token with `hapki jwt mint`, or publish the key that signed it\n"))
    );
    // The key's own tokens still verify without the alg member.
    let alice = fx.p1("jwt/alice.token");
    let (code, out) = verdict(&[alice.to_str().unwrap(), "--jwks", jwks.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_jwk_whose_use_is_not_sig_verifies_no_token() {
    let fx = Fixture::shipped_ecdsa().at(AT).init();
    let kid = fx.kid("participant1");
    let alice = fx.p1("jwt/alice.token");
    let jwks = fx.p1("jwt/jwks.json");
    let (t, j) = (alice.to_str().unwrap(), jwks.to_str().unwrap());
    assert_eq!(verdict(&[t, "--jwks", j]).0, Some(0));
    edit_jwk(&fx, "participant1", |k| {
        k.insert("use".into(), "enc".into());
    });
    assert_eq!(
        verdict(&[t, "--jwks", j]),
        (Some(1), format!("invalid: {t} is signed by JWKS key `{kid}`, whose use is `enc`, not `sig`, so it may not verify tokens (RFC 7517 §4.2); publish the signing key with \"use\": \"sig\", as `hapki jwt keygen` writes it\n"))
    );
    // `use` is optional (RFC 7517 §4.2): a key without it verifies; key_ops must allow verify.
    edit_jwk(&fx, "participant1", |k| {
        k.remove("use");
    });
    assert_eq!(verdict(&[t, "--jwks", j]).0, Some(0));
    edit_jwk(&fx, "participant1", |k| {
        k.insert("key_ops".into(), serde_json::json!(["sign"]));
    });
    assert_eq!(
        verdict(&[t, "--jwks", j]),
        (Some(1), format!("invalid: {t} is signed by JWKS key `{kid}`, whose key_ops do not include `verify`, so it may not verify tokens (RFC 7517 §4.3); publish the signing key without key_ops (or with `verify` in them), as `hapki jwt keygen` writes it\n"))
    );
    // `hapki verify` judges the tree's tokens with the same check.
    let r = fx.verify(&[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stdout).contains("key_ops do not include `verify`"));
}

#[test]
fn iss_is_checked_against_iss_or_the_profile() {
    let other = ecdsa_profile().replacen(
        "jwt_issuer = \"local-jwt-provider\"",
        "jwt_issuer = \"other-idp\"",
        1,
    );
    assert_ne!(other, ecdsa_profile());
    let fx = Fixture::profile(&other).at(AT).keys();
    fx.mint(&["--user", "alice", "--org", "participant1"]);
    let alice = fx.p1("jwt/alice.token");
    let jwks = fx.p1("jwt/jwks.json");
    let (t, j) = (alice.to_str().unwrap(), jwks.to_str().unwrap());
    let profile = fx.profile_path().to_str().unwrap().to_string();
    // Nothing expected, or the profile's own issuer: valid.
    assert_eq!(verdict(&[t, "--jwks", j]).0, Some(0));
    assert_eq!(verdict(&[t, "--jwks", j, "--profile", &profile]).0, Some(0));
    assert_eq!(verdict(&[t, "--jwks", j, "--iss", "other-idp"]).0, Some(0));
    let wrong = (
        Some(1),
        format!("invalid: {t} is from issuer `other-idp`, so issuer `local-jwt-provider` is not accepted\n"),
    );
    assert_eq!(
        verdict(&[t, "--jwks", j, "--iss", "local-jwt-provider"]),
        wrong
    );
    // The shipped ECDSA topology's issuer is the default one.
    let shipped = fx.dir.path().join("default-iss.toml");
    std::fs::write(&shipped, ecdsa_profile()).unwrap();
    assert_eq!(
        verdict(&[t, "--jwks", j, "--profile", shipped.to_str().unwrap()]),
        wrong
    );
    // A JWKS outside the layout names no org of the profile.
    let loose = fx.dir.path().join("jwks.json");
    std::fs::copy(&jwks, &loose).unwrap();
    let root = fx.p1("root/certs/ca.cert.pem");
    let r = jwt_verify(&[
        t,
        "--jwks",
        loose.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--profile",
        &profile,
        "--at",
        AT,
    ]);
    refused(&r, &format!("{} is not the NS/jwt/jwks.json of an org of the profile {profile}, so the profile does not say which issuer to expect; give it with --iss", loose.display()));
    // PyJWT and jwcrypto, expecting local-jwt-provider, refuse it too.
    let (_, cert, _) = signing("participant1");
    Interop::new(&jwks, &fx.p1(&cert))
        .at(AT_UNIX)
        .refuse(t, "participant1")
        .run();
}

#[test]
fn an_exp_past_year_9999_is_shown_as_its_number() {
    let fx = Fixture::shipped_ecdsa().at(AT).init();
    let kid = fx.kid("participant1");
    let (key, _, _) = signing("participant1");
    let input = format!(
        "{}.{}",
        b64url(format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#).as_bytes()),
        b64url(format!(r#"{{"sub":"alice","iat":1795694400,"exp":{}}}"#, i64::MAX).as_bytes())
    );
    let der = openssl_ok(
        &["dgst", "-sha256", "-sign", fx.p1(&key).to_str().unwrap()],
        Some(input.as_bytes()),
    );
    let token = format!("{input}.{}", b64url(&raw_ecdsa(&der)));
    let jwks = fx.p1("jwt/jwks.json");
    let (code, out) = verdict(&[&token, "--jwks", jwks.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with(&format!("(ES256), expires {}\n", i64::MAX)),
        "{out}"
    );
}

/// The JWS form (r || s, 32 bytes each) of a DER ECDSA P-256 signature.
fn raw_ecdsa(der: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 2;
    for _ in 0..2 {
        assert_eq!(der[i], 2, "an INTEGER");
        let len = der[i + 1] as usize;
        let int = &der[i + 2..i + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        out.extend(std::iter::repeat_n(0, 32 - int.len()));
        out.extend_from_slice(int);
        i += 2 + len;
    }
    out
}

#[test]
fn ed25519_jwt_keys_are_refused_with_the_reason() {
    let why = "Canton accepts RS256, ES256 and ES512 tokens only and rejects Ed25519 (EdDSA) ones; choose rsa2048 (RS256) or ecdsa-p256 (ES256)";
    let fx = Fixture::shipped_ecdsa().at(AT).cas();
    let before = contents(&fx.out);
    let r = fx.output(&["jwt", "keygen", "--org", "participant1", "--key", "ed25519"]);
    refused(
        &r,
        &format!("a ed25519 key (--key) cannot sign Canton tokens: {why}"),
    );
    let r = fx.output(&[
        "issue",
        "jwt-sign",
        "--org",
        "participant1",
        "--kind",
        "jwt-signing",
        "--key",
        "ed25519",
    ]);
    refused(&r, &format!("the jwt-signing cert jwt-sign would have a ed25519 key, which cannot sign Canton tokens: {why}"));
    assert_eq!(contents(&fx.out), before);
    let ed = Fixture::profile(
        "[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n[org.jwt]\nkey = \"ed25519\"\n",
    )
    .bare();
    let r = ed.output(&["init"]);
    refused(&r, &format!("the profile {} has a problem in org `p`: the JWT key of org `p` is ed25519, which cannot sign Canton tokens: {why}", ed.profile_shown()));
    assert!(!ed.out.exists());
}
