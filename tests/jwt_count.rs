//! `hapki jwt mint --count N`: N tokens for one user, each with its own `jti`, one per line on
//! stdout and in NS/jwt/USER.tokens, each verifying against the org's JWKS. Speed is measured by
//! scripts/bench.sh, never asserted here.

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Issue time of every token here, and a check time ten seconds later: the tests never rot.
const AT: &str = "2026-11-26T12:00:00Z";
const AT_UNIX: i64 = 1_795_694_400;
const CHECK_AT: &str = "2026-11-26T12:00:10Z";

fn hapki() -> Command {
    Command::cargo_bin("hapki").unwrap()
}

fn init(out: &Path, profile: Option<&str>) {
    let mut cmd = hapki();
    cmd.arg("init").arg("--out").arg(out).args(["--at", AT]);
    if let Some(p) = profile {
        cmd.arg("--profile")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(p));
    }
    cmd.assert().success();
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a compact JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Mints `n` tokens for `user`, checks the file and stdout agree, and returns the tokens.
fn mint(out: &Path, org: &str, user: &str, n: usize, profile: Option<&str>) -> Vec<String> {
    let mut cmd = hapki();
    cmd.args(["jwt", "mint", "--user", user, "--at", AT, "--count"])
        .arg(n.to_string())
        .arg("--out")
        .arg(out);
    if let Some(p) = profile {
        cmd.arg("--profile")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(p));
    }
    let done = cmd.assert().success();
    let stdout = String::from_utf8(done.get_output().stdout.clone()).unwrap();
    let file = out.join(format!("{org}/jwt/{user}.tokens"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode,
        0o600,
        "{} holds tokens, so it is private",
        file.display()
    );
    let tokens: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert_eq!(tokens.len(), n);
    tokens
}

/// Every token is for `user`, issued at AT, with a jti no other token has, and verifies with
/// the library; a sample also verifies with `hapki jwt verify`, the way a user checks one.
fn check(out: &Path, org: &str, user: &str, aud: &str, tokens: &[String]) {
    let jwks_path = out.join(format!("{org}/jwt/jwks.json"));
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
        hapki::token::verify_token(t, &jwks, Some(aud), AT_UNIX + 10)
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
}

#[test]
fn count_mints_distinct_rs256_tokens_that_verify_and_leaves_the_user_token_alone() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), None);
    let single = dir.path().join("participant1/jwt/alice.token");
    let before = std::fs::read(&single).unwrap();
    let tokens = mint(dir.path(), "participant1", "alice", 40, None);
    check(dir.path(), "participant1", "alice", "participant1", &tokens);
    assert!(tokens
        .iter()
        .all(|t| t.starts_with("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIs")));
    assert_eq!(std::fs::read(&single).unwrap(), before);

    // A second batch replaces the file, and shares no jti with the first.
    let again = mint(dir.path(), "participant1", "alice", 40, None);
    let first: HashSet<Value> = tokens.iter().map(|t| claims(t)["jti"].clone()).collect();
    assert!(again.iter().all(|t| !first.contains(&claims(t)["jti"])));
}

#[test]
fn count_mints_es256_tokens_with_the_ecdsa_profile() {
    let dir = tempfile::tempdir().unwrap();
    let profile = Some("profiles/canton-ha-ecdsa.toml");
    init(dir.path(), profile);
    let tokens = mint(dir.path(), "participant2", "bob", 25, profile);
    check(dir.path(), "participant2", "bob", "participant2", &tokens);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(tokens[0].split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
}

#[test]
fn count_needs_one_user() {
    let dir = tempfile::tempdir().unwrap();
    hapki()
        .args([
            "jwt",
            "mint",
            "--org",
            "participant1",
            "--count",
            "3",
            "--out",
        ])
        .arg(dir.path())
        .assert()
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
