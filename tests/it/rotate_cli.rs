//! `hapki jwt rotate` steps out of order, ES384 JWT keys refused with the reason, and `renew`
//! of the JWT signing key through a rotation (tokens in flight keep verifying). Times pinned.

use crate::support::fixture::{hapki_ecdsa, stdout_of_success, Fixture, AT};
use std::path::Path;

const ORG: &str = "participant1";

fn run(out: &Path, args: &[&str]) -> std::process::Output {
    hapki_ecdsa(out, args)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn init(out: &Path) {
    stdout_of_success(&run(out, &["init", "--at", AT]));
}

#[test]
fn steps_out_of_order_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    init(out);
    let jwks = std::fs::read(out.join(ORG).join("jwt/jwks.json")).unwrap();
    let o = run(
        out,
        &["jwt", "rotate", "--org", ORG, "--promote", "--at", AT],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has no staged key to promote"),
        "{}",
        stderr(&o)
    );
    let o = run(
        out,
        &["jwt", "rotate", "--org", ORG, "--retire", "--at", AT],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has no retired key"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(out.join(ORG).join("jwt/jwks.json")).unwrap(),
        jwks
    );
    stdout_of_success(&run(out, &["jwt", "rotate", "--org", ORG, "--at", AT]));
    let o = run(out, &["jwt", "rotate", "--org", ORG, "--at", AT]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has a staged key already"),
        "{}",
        stderr(&o)
    );
    // --force replaces the staged key: still two keys, the current one first.
    let before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(ORG).join("jwt/jwks.json")).unwrap())
            .unwrap();
    stdout_of_success(&run(
        out,
        &["jwt", "rotate", "--org", ORG, "--force", "--at", AT],
    ));
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(ORG).join("jwt/jwks.json")).unwrap())
            .unwrap();
    assert_eq!(after["keys"].as_array().unwrap().len(), 2);
    assert_eq!(after["keys"][0]["kid"], before["keys"][0]["kid"]);
    assert_ne!(after["keys"][1]["kid"], before["keys"][1]["kid"]);
}

#[test]
fn retire_is_refused_until_the_old_keys_tokens_expired_plus_leeway() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    init(out);
    // A 3-day token signed by the old key before the rotation: the retire time follows it.
    stdout_of_success(&run(
        out,
        &[
            "jwt", "mint", "--user", "alice", "--org", ORG, "--ttl", "3d", "--at", AT,
        ],
    ));
    stdout_of_success(&run(out, &["jwt", "rotate", "--org", ORG, "--at", AT]));
    stdout_of_success(&run(
        out,
        &["jwt", "rotate", "--org", ORG, "--promote", "--at", AT],
    ));
    // AT is 2026-11-26T12:00:00Z: the 3-day token expires 2026-11-29T12:00:00Z, +60 s leeway.
    let o = run(
        out,
        &[
            "jwt",
            "rotate",
            "--org",
            ORG,
            "--retire",
            "--at",
            "2026-11-29T12:00:59Z",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot go before 2026-11-29T12:01:00Z"),
        "{}",
        stderr(&o)
    );
    let o = run(
        out,
        &[
            "jwt",
            "rotate",
            "--org",
            ORG,
            "--retire",
            "--at",
            "2026-11-29T12:01:00Z",
        ],
    );
    assert!(stdout_of_success(&o).contains("retired key"));
    let jwks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(ORG).join("jwt/jwks.json")).unwrap())
            .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
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
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    init(out);
    // 300 days on, the one-year signing cert has under a third of its life left.
    let late = "2027-09-22T12:00:00Z";
    let token = stdout_of_success(&run(
        out,
        &[
            "jwt",
            "mint",
            "--user",
            "alice",
            "--org",
            ORG,
            "--at",
            "2027-09-22T11:00:00Z",
        ],
    ));
    let old_kid: serde_json::Value = serde_json::from_slice(&crate::support::jwt::unb64url(
        token.trim().split('.').next().unwrap(),
    ))
    .unwrap();
    let o = run(out, &["renew", "jwt-sign", "--org", ORG, "--at", late]);
    let text = stdout_of_success(&o);
    assert!(text.contains("new key through a rotation"), "{text}");
    let jwks_path = out.join(ORG).join("jwt/jwks.json");
    let jwks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&jwks_path).unwrap()).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[1], old_kid["kid"].as_str().unwrap());
    // The token in flight still verifies, with hapki and with PyJWT/jwcrypto.
    let o = run(
        out,
        &[
            "jwt",
            "verify",
            token.trim(),
            "--jwks",
            jwks_path.to_str().unwrap(),
            "--at",
            "2027-09-22T13:00:00Z",
        ],
    );
    let _ = &o;
    let o = crate::support::fixture::hapki_std()
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
    let new = stdout_of_success(&run(
        out,
        &["jwt", "mint", "--user", "alice", "--org", ORG, "--at", late],
    ));
    let h: serde_json::Value = serde_json::from_slice(&crate::support::jwt::unb64url(
        new.trim().split('.').next().unwrap(),
    ))
    .unwrap();
    assert_eq!(h["kid"].as_str().unwrap(), kids[0]);
}
