//! `hapki jwt rotate` steps out of order, ES384 JWT keys refused with the reason, and `renew`
//! of the JWT signing key through a rotation (tokens in flight keep verifying). Times pinned:
//! each tree is a `Fixture` of the shipped ECDSA profile (ES256 JWT keys) at `AT`.

use crate::support::fixture::{hapki_std, stdout_of_success, Fixture, AT};

const ORG: &str = "participant1";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `hapki init` of the shipped ECDSA profile at `AT`; every later command runs at `AT` unless
/// it names its own `--at`.
fn init() -> Fixture {
    Fixture::shipped_ecdsa().at(AT).init()
}

#[test]
fn steps_out_of_order_are_refused_and_change_nothing() {
    let fx = init();
    let jwks = std::fs::read(fx.p1("jwt/jwks.json")).unwrap();
    let o = fx.output(&["jwt", "rotate", "--org", ORG, "--promote"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has no staged key to promote"),
        "{}",
        stderr(&o)
    );
    let o = fx.output(&["jwt", "rotate", "--org", ORG, "--retire"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has no retired key"), "{}", stderr(&o));
    assert_eq!(std::fs::read(fx.p1("jwt/jwks.json")).unwrap(), jwks);
    fx.ok(&["jwt", "rotate", "--org", ORG]);
    let o = fx.output(&["jwt", "rotate", "--org", ORG]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has a staged key already"),
        "{}",
        stderr(&o)
    );
    // --force replaces the staged key: still two keys, the current one first.
    let before = fx.jwks(ORG);
    fx.ok(&["jwt", "rotate", "--org", ORG, "--force"]);
    let after = fx.jwks(ORG);
    assert_eq!(after["keys"].as_array().unwrap().len(), 2);
    assert_eq!(after["keys"][0]["kid"], before["keys"][0]["kid"]);
    assert_ne!(after["keys"][1]["kid"], before["keys"][1]["kid"]);
}

#[test]
fn retire_is_refused_until_the_old_keys_tokens_expired_plus_leeway() {
    let fx = init();
    // A 3-day token signed by the old key before the rotation: the retire time follows it.
    fx.ok(&[
        "jwt", "mint", "--user", "alice", "--org", ORG, "--ttl", "3d",
    ]);
    fx.ok(&["jwt", "rotate", "--org", ORG]);
    fx.ok(&["jwt", "rotate", "--org", ORG, "--promote"]);
    // AT is 2026-11-26T12:00:00Z: the 3-day token expires 2026-11-29T12:00:00Z, +60 s leeway.
    let retire_at = |at| fx.output(&["jwt", "rotate", "--org", ORG, "--retire", "--at", at]);
    let o = retire_at("2026-11-29T12:00:59Z");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot go before 2026-11-29T12:01:00Z"),
        "{}",
        stderr(&o)
    );
    let o = retire_at("2026-11-29T12:01:00Z");
    assert!(stdout_of_success(&o).contains("retired key"));
    assert_eq!(fx.jwks(ORG)["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn es384_jwt_keys_are_refused_with_the_reason() {
    let fx = Fixture::ecdsa().cas();
    let o = fx.run(&["jwt", "keygen", "--org", ORG, "--key", "ecdsa-p384"]);
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert_eq!(o.get_output().status.code(), Some(2));
    assert!(
        err.contains("cannot sign Canton tokens: Canton accepts RS256, ES256 and ES512 tokens only and rejects P-384 (ES384) ones"),
        "{err}"
    );
    assert!(!fx.p1("signing/jwt-sign.customer1.com.key.pem").exists());
    let fx = Fixture::profile(
        "[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n[org.jwt]\nkey = \"ecdsa-p384\"\n",
    )
    .bare();
    let o = fx.run(&["init"]);
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert_eq!(o.get_output().status.code(), Some(2));
    assert!(
        err.contains("the JWT key of org `p` is ecdsa-p384, which cannot sign Canton tokens: Canton accepts RS256, ES256 and ES512 tokens only"),
        "{err}"
    );
}

#[test]
fn renew_of_the_signing_key_rotates_so_tokens_in_flight_keep_verifying() {
    let fx = init();
    // 300 days on, the one-year signing cert has under a third of its life left.
    let late = "2027-09-22T12:00:00Z";
    let (token, _) = fx.ok(&[
        "jwt",
        "mint",
        "--user",
        "alice",
        "--org",
        ORG,
        "--at",
        "2027-09-22T11:00:00Z",
    ]);
    let old_kid: serde_json::Value = serde_json::from_slice(&crate::support::jwt::unb64url(
        token.trim().split('.').next().unwrap(),
    ))
    .unwrap();
    let (text, _) = fx.ok(&["renew", "jwt-sign", "--org", ORG, "--at", late]);
    assert!(text.contains("new key through a rotation"), "{text}");
    let jwks_path = fx.p1("jwt/jwks.json");
    let jwks = fx.jwks(ORG);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[1], old_kid["kid"].as_str().unwrap());
    // The token in flight still verifies, with hapki and with PyJWT/jwcrypto. (`jwt verify`
    // takes no --out, so it runs outside the fixture's command line.)
    let o = hapki_std()
        .args(["jwt", "verify", token.trim(), "--jwks"])
        .arg(&jwks_path)
        .args(["--at", "2027-09-22T13:00:00Z"])
        .output()
        .unwrap();
    assert!(stdout_of_success(&o).starts_with("valid:"));
    // PyJWT finds the old kid in the two-key JWKS and accepts the signature (its clock is
    // the real one, so the pinned times are not its to judge).
    let script = "import sys, jwt\n\
        jwks = jwt.PyJWKSet.from_json(open(sys.argv[1]).read())\n\
        kid = jwt.get_unverified_header(sys.argv[2])['kid']\n\
        key = [k for k in jwks.keys if k.key_id == kid][0]\n\
        jwt.decode(sys.argv[2], key.key, algorithms=['ES256'], options={'verify_exp': False, 'verify_iat': False, 'verify_aud': False})\n\
        print('OK', kid)\n";
    let o = std::process::Command::new(crate::support::interop::python())
        .args(["-c", script])
        .arg(&jwks_path)
        .arg(token.trim())
        .output()
        .unwrap();
    assert_eq!(stdout_of_success(&o).trim(), format!("OK {}", kids[1]));
    // A new token carries the new kid.
    let (new, _) = fx.ok(&["jwt", "mint", "--user", "alice", "--org", ORG, "--at", late]);
    let h: serde_json::Value = serde_json::from_slice(&crate::support::jwt::unb64url(
        new.trim().split('.').next().unwrap(),
    ))
    .unwrap();
    assert_eq!(h["kid"].as_str().unwrap(), kids[0]);
}
