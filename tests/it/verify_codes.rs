//! `hapki verify --json` gives every finding a stable `code` (docs/verify-codes.md): a tree of
//! the ECDSA profile, built and checked at pinned times, broken one way per test, must report
//! exactly the codes of that fault and no other.

use crate::support::fixture::Fixture;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const BUILT_AT: &str = "2026-01-01T00:00:00Z";
/// An hour later: every cert and token (1 day TTL) is valid, none expires within 30 days.
const CHECKED_AT: &str = "2026-01-01T01:00:00Z";

const KEY: &str = "participant1/participant1/private/participant1.customer1.com.key.pem";
const CERT: &str = "participant1/participant1/certs/participant1.customer1.com.cert.pem";
const CHAIN: &str = "participant1/participant1/certs/participant1-chain.customer1.com.cert.pem";
const DB_KEY: &str = "participant1/db/private/db.customer1.com.key.pem";
const CLIENT_DER: &str = "participant1/client/admin-api.customer1.com.cert.der";

/// A test's own copy of the one tree built at BUILT_AT (shared: each test breaks its copy).
struct Tree {
    fx: Fixture,
}

impl Tree {
    fn new() -> Tree {
        static BASE: OnceLock<Fixture> = OnceLock::new();
        let base = BASE.get_or_init(|| Fixture::shipped_ecdsa().at(BUILT_AT).shared().init());
        Tree { fx: base.copy() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.fx.out.join(rel)
    }

    /// `verify --json --at AT`: the exit code, and each file that is not ok with its codes.
    fn codes(&self, at: &str) -> (i32, Vec<(String, Vec<String>)>) {
        let out = self.fx.verify(&["--json", "--at", at]);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
        let mut flagged = Vec::new();
        for e in list.as_array().unwrap() {
            let codes: Vec<String> = e["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            // The parallel arrays say the same things in the same order.
            let problems = e["problems"].as_array().unwrap();
            let findings = e["findings"].as_array().unwrap();
            assert_eq!(codes.len(), problems.len(), "{e}");
            for ((f, p), c) in findings.iter().zip(problems).zip(&codes) {
                assert_eq!(f["code"].as_str(), Some(c.as_str()), "{e}");
                assert_eq!(f["message"], *p, "{e}");
            }
            if e["status"] != "ok" {
                let file = e["file"].as_str().unwrap();
                let rel = Path::new(file).strip_prefix(&self.fx.out).unwrap();
                flagged.push((rel.display().to_string(), codes));
            }
        }
        (out.status.code().unwrap_or(-1), flagged)
    }
}

fn one(file: &str, codes: &[&str]) -> Vec<(String, Vec<String>)> {
    vec![(
        file.to_string(),
        codes.iter().map(|c| c.to_string()).collect(),
    )]
}

#[test]
fn a_fresh_tree_has_no_codes() {
    let t = Tree::new();
    assert_eq!(t.codes(CHECKED_AT), (0, vec![]));
}

#[test]
fn a_key_open_to_others_is_wrong_mode() {
    let t = Tree::new();
    fs::set_permissions(t.path(KEY), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(t.codes(CHECKED_AT), (1, one(KEY, &["wrong-mode"])));
}

#[test]
fn another_leafs_key_is_key_mismatch() {
    let t = Tree::new();
    fs::copy(t.path(DB_KEY), t.path(KEY)).unwrap();
    fs::set_permissions(t.path(KEY), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(t.codes(CHECKED_AT), (1, one(KEY, &["key-mismatch"])));
}

#[test]
fn a_reordered_chain_is_chain_order() {
    let t = Tree::new();
    let text = fs::read_to_string(t.path(CHAIN)).unwrap();
    let mut blocks: Vec<String> = text
        .split_inclusive("-----END CERTIFICATE-----\n")
        .map(str::to_string)
        .collect();
    assert_eq!(blocks.len(), 3, "leaf, intermediate, root");
    blocks.reverse();
    fs::write(t.path(CHAIN), blocks.concat()).unwrap();
    assert_eq!(t.codes(CHECKED_AT), (1, one(CHAIN, &["chain-order"])));
}

#[test]
fn a_deleted_der_form_is_missing() {
    let t = Tree::new();
    fs::remove_file(t.path(CLIENT_DER)).unwrap();
    assert_eq!(t.codes(CHECKED_AT), (1, one(CLIENT_DER, &["missing"])));
}

#[test]
fn past_the_leaf_lifetime_every_leaf_is_expired_and_every_token_invalid() {
    let t = Tree::new();
    // Leaves live 365 days, the CAs ten years and more: in June 2027 only leaves have expired.
    let (code, flagged) = t.codes("2027-06-01T00:00:00Z");
    assert_eq!(code, 1);
    let find = |rel: &str| {
        flagged
            .iter()
            .find(|(f, _)| f == rel)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("{rel} is not flagged: {flagged:?}"))
    };
    assert_eq!(find(CERT), vec!["expired"]);
    assert_eq!(find("participant1/jwt/alice.token"), vec!["token-invalid"]);
    assert_eq!(find("participant1/jwt/jwks.json"), vec!["jwk-invalid"]);
    assert!(
        // The CRLs' windows (7 and 180 days) have passed too, and the root's OCSP responder
        // lives as long as a leaf; the root's own cert and key have not expired.
        flagged.iter().all(|(f, _)| !f.contains("/root/")
            || f.contains("/crl/")
            || f.contains("/root-ocsp.")),
        "{flagged:?}"
    );
    // Nothing else: the leaf certs have expired, the JWKS's x5c with them, the tokens too, and
    // the CRLs' windows.
    for (file, codes) in &flagged {
        for c in codes {
            assert!(
                ["expired", "jwk-invalid", "token-invalid", "crl-expired"].contains(&c.as_str()),
                "{file}: {c}"
            );
        }
    }
}

#[test]
fn past_the_root_lifetime_the_root_is_expired_and_its_leaves_cannot_be_checked() {
    let t = Tree::new();
    let (code, flagged) = t.codes("2100-01-01T00:00:00Z");
    assert_eq!(code, 1);
    let find = |rel: &str| {
        flagged
            .iter()
            .find(|(f, _)| f == rel)
            .map(|(_, c)| c.clone())
    };
    assert_eq!(
        find("participant1/root/certs/ca.cert.pem"),
        Some(vec!["expired".to_string()])
    );
    assert_eq!(find(CERT), Some(vec!["ca-broken".to_string()]));
}
