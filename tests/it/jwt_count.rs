//! `hapki jwt mint --count N`: N tokens for one user, each with its own `jti`, one per line on
//! stdout and in NS/jwt/USER.tokens, each verifying against the org's JWKS. Speed is measured by
//! scripts/bench.sh, never asserted here.

use crate::support::fixture::{hapki, shipped_profile, Fixture, AT, AT_UNIX};
use crate::support::interop::Interop;
use crate::support::jwt::unb64url;
use crate::support::tree::mode;
use serde_json::Value;
use std::collections::HashSet;

/// The check time of every token here, ten seconds after they were issued at AT.
const CHECK_AT: &str = "2026-11-26T12:00:10Z";
const CHECK_AT_UNIX: i64 = AT_UNIX + 10;

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a compact JWS");
    serde_json::from_slice(&unb64url(payload)).unwrap()
}

/// Mints `n` tokens for `user`, checks the file and stdout agree, and returns the tokens.
fn mint(fx: &Fixture, org: &str, user: &str, n: usize) -> Vec<String> {
    let stdout = fx.mint(&["--user", user, "--count", &n.to_string()]);
    let file = fx.path(org, &format!("jwt/{user}.tokens"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout);
    assert_eq!(
        mode(&file),
        0o600,
        "{} holds tokens, so it is private",
        file.display()
    );
    let tokens: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert_eq!(tokens.len(), n);
    tokens
}

/// Every token is for `user`, issued at AT, with a jti no other token has, and verifies with
/// the library, and with PyJWT and jwcrypto; a sample also verifies with `hapki jwt verify`,
/// the way a user checks one.
fn check(fx: &Fixture, org: &str, user: &str, aud: &str, tokens: &[String]) {
    let jwks_path = fx.path(org, "jwt/jwks.json");
    let jwks = hapki::token::parse_jwks(&std::fs::read(&jwks_path).unwrap()).unwrap();
    let mut jtis = HashSet::new();
    for t in tokens {
        let c = claims(t);
        assert_eq!(c["sub"], user);
        assert_eq!(c["iat"], AT_UNIX);
        let jti = c["jti"]
            .as_str()
            .expect("every token has a jti")
            .to_string();
        assert!(jtis.insert(jti.clone()), "jti {jti} appears twice");
        hapki::token::verify_token(t, &jwks, Some(aud), CHECK_AT_UNIX)
            .unwrap_or_else(|m| panic!("token {t} {m}"));
    }
    for t in [
        &tokens[0],
        &tokens[tokens.len() / 2],
        &tokens[tokens.len() - 1],
    ] {
        hapki()
            .args(["jwt", "verify", t, "--aud", aud, "--at", CHECK_AT, "--jwks"])
            .arg(&jwks_path)
            .assert()
            .success();
    }
    // The same tokens, judged by other implementations at the same time.
    Interop::org(fx, org)
        .at(CHECK_AT_UNIX)
        .accept_lines(&fx.path(org, &format!("jwt/{user}.tokens")), aud)
        .run();
}

#[test]
fn count_mints_distinct_rs256_tokens_that_verify_and_leaves_the_user_token_alone() {
    let fx = Fixture::ecdsa().at(AT).init();
    let single = fx.p1("jwt/alice.token");
    let before = std::fs::read(&single).unwrap();
    let tokens = mint(&fx, "participant1", "alice", 40);
    check(&fx, "participant1", "alice", "participant1", &tokens);
    assert!(tokens
        .iter()
        .all(|t| t.starts_with("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIs")));
    assert_eq!(std::fs::read(&single).unwrap(), before);

    // A second batch replaces the file, and shares no jti with the first.
    let again = mint(&fx, "participant1", "alice", 40);
    let first: HashSet<Value> = tokens.iter().map(|t| claims(t)["jti"].clone()).collect();
    assert!(again.iter().all(|t| !first.contains(&claims(t)["jti"])));
}

#[test]
fn count_mints_es256_tokens_with_the_ecdsa_profile() {
    let fx = Fixture::profile(&shipped_profile("canton-ha-ecdsa.toml"))
        .at(AT)
        .init();
    let tokens = mint(&fx, "participant2", "bob", 25);
    check(&fx, "participant2", "bob", "participant2", &tokens);
    let header: Value =
        serde_json::from_slice(&unb64url(tokens[0].split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "ES256");
}

#[test]
fn count_needs_one_user() {
    Fixture::builtin()
        .bare()
        .run(&["jwt", "mint", "--org", "participant1", "--count", "3"])
        .code(2)
        .stderr("error: --count 3 mints many tokens for one user; name the user with --user\n");
}

#[test]
fn count_zero_is_refused() {
    hapki()
        .args(["jwt", "mint", "--user", "alice", "--count", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--count"));
}
