//! The smaller refusals of issue 10 item 9, each as the user meets it: SAN kinds hapki does not
//! issue, a negative `--ttl`, `verify --within 0s`, an expired token minted over a live one, an
//! ad-hoc jwt-signing cert in an org without JWT, and a JWKS outside the layout without `--root`.

use crate::support::fixture::{hapki, Fixture};
use crate::support::tree::contents;
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
