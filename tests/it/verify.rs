//! `hapki verify` on real trees: the binary builds a tree with `hapki init`, a test plants one
//! fault in it, and `hapki verify` must name the file and exit 1. Trees use an ECDSA profile
//! (fast); one test pays for the default profile's RSA keys.

use crate::support::fixture::{hapki, shipped_profile, Fixture};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Three orgs with one tier each (2, 3 and 1), servers, a replica, a proxy with its own backend
/// cert, clients, and JWT users in two orgs: every file kind of the layout, ECDSA throughout.
const PROFILE: &str = r#"
[defaults]
ca_key = "ecdsa-p256"
leaf_key = "ecdsa-p256"
jwt_key = "ecdsa-p256"

[[org]]
name = "domain"
dns = "acme.com"
organization = "ACME Corp LLC"
servers = ["sequencer", "db"]
clients = ["admin-api"]
replicas = [{ name = "sequencer2", of = "sequencer" }]
proxies = [{ name = "lb-sequencer", fronts = "sequencer", backend_cert = false }]

[[org]]
name = "participant1"
dns = "customer1.com"
organization = "Customer1 LLC"
servers = ["participant1", "db"]
clients = ["admin-api", "participant1"]
replicas = [{ name = "participant1b", of = "participant1" }]
proxies = [{ name = "lb-participant1", fronts = "participant1", backend_cert = true }]
[org.jwt]
users = [
  { name = "participant_admin", format = "scope", audience = false },
  { name = "alice" },
  { name = "navigator", format = "custom", admin = true },
]

[[org]]
name = "participant2"
dns = "customer2.com"
organization = "Customer2 LLC"
tier = 3
servers = ["participant2"]
clients = ["admin-api"]
[org.jwt]
users = [{ name = "bob" }]

[[org]]
name = "edge"
dns = "edge.example"
organization = "Edge Inc"
tier = 1
servers = ["gateway"]
"#;

/// A test's own copy (`cp -a`) of the one tree `hapki init` built from `PROFILE` for this
/// module (real clock: `verify` without `--at` checks at the real now).
struct Tree {
    fx: Fixture,
}

impl Tree {
    fn new() -> Tree {
        static BASE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
        let base = BASE.get_or_init(|| Fixture::profile(PROFILE).shared().init());
        Tree { fx: base.copy() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.fx.out.join(rel)
    }

    fn init(&self) {
        self.fx.ok(&["init"]);
    }

    /// `hapki issue ARGS` on the tree, which must succeed.
    fn issue(&self, args: &[&str]) {
        let mut all = vec!["issue"];
        all.extend_from_slice(args);
        self.fx.ok(&all);
    }

    /// Runs `hapki verify` with the tree's profile and `extra` flags: (exit code, stdout).
    fn verify(&self, extra: &[&str]) -> (i32, String) {
        let out = hapki()
            .arg("verify")
            .arg(&self.fx.out)
            .arg("--profile")
            .arg(self.fx.profile_path())
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.stderr.is_empty(),
            "verify wrote to stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), stdout)
    }

    fn json(&self, extra: &[&str]) -> (i32, Vec<Value>) {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let (code, out) = self.verify(&args);
        let v: Value = serde_json::from_str(&out).expect("--json prints JSON");
        (code, v.as_array().expect("a JSON array").clone())
    }
}

const SERVER: &str = "participant1/participant1/certs/participant1.customer1.com.cert.pem";
const SERVER_KEY: &str = "participant1/participant1/private/participant1.customer1.com.key.pem";
const SERVER_CHAIN: &str =
    "participant1/participant1/certs/participant1-chain.customer1.com.cert.pem";
const SERVER_CSR: &str = "participant1/participant1/csr/participant1.customer1.com.csr.pem";
const JWKS: &str = "participant1/jwt/jwks.json";
const TOKEN: &str = "participant1/jwt/alice.token";

/// The line `verify` printed for `file` (`ok   `, `FAIL ` or `warn `, then the path).
fn line_for<'a>(out: &'a str, file: &Path) -> &'a str {
    let head = format!("{} (", file.display());
    out.lines()
        .find(|l| l.get(5..).is_some_and(|rest| rest.starts_with(&head)))
        .unwrap_or_else(|| panic!("no line for {}:\n{out}", file.display()))
}

/// Asserts a fault: exit 1, and `file`'s line is a FAIL that says `what`.
fn assert_fails(tree: &Tree, file: &Path, what: &str, extra: &[&str]) -> String {
    let (code, out) = tree.verify(extra);
    assert_eq!(code, 1, "verify should find the fault:\n{out}");
    let line = line_for(&out, file);
    assert!(line.starts_with("FAIL "), "{line}");
    assert!(line.contains(what), "expected `{what}` in: {line}");
    out
}

fn pem_blocks(text: &str) -> Vec<String> {
    text.split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|b| b.contains("BEGIN"))
        .map(str::to_string)
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn default_profile_with_rsa_keys_verifies() {
    // The only test that pays for RSA keys: every assertion on the default tree is here.
    let fx = Fixture::builtin().init();
    let tmp = &fx.dir;
    let out = hapki()
        .current_dir(tmp.path())
        .args(["verify", "certs"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(out.stderr.is_empty());
    let lines: Vec<&str> = stdout.lines().collect();
    let (summary, files) = lines.split_last().unwrap();
    assert!(files.iter().all(|l| l.starts_with("ok   ")), "{stdout}");
    assert_eq!(
        *summary,
        format!(
            "{0} files checked: {0} ok, 0 problems, 0 warnings",
            files.len()
        )
    );
    // 25 leaves and 2 JWT signing keys of the default profile, every one found.
    let certs = files
        .iter()
        .filter(|l| {
            l.ends_with("(server cert)")
                || l.ends_with("(client cert)")
                || l.ends_with("(proxy-backend cert)")
                || l.ends_with("(jwt-signing cert)")
        })
        .count();
    assert_eq!(certs, 27, "{stdout}");
    assert_eq!(files.iter().filter(|l| l.ends_with("(token)")).count(), 7);
    assert!(stdout.contains(
        "ok   certs/participant1/lb-participant1/certs/lb-participant1.customer1.com.cert.pem (proxy-backend cert)"
    ));

    // One org folder on its own.
    hapki()
        .current_dir(tmp.path())
        .args(["verify", "certs/participant2"])
        .assert()
        .code(0);

    // Two years on, every leaf and token has expired; the 20-year root has not.
    let later = (unix_now() + 730 * 86400).to_string();
    let out = hapki()
        .current_dir(tmp.path())
        .args(["verify", "certs", "--at", &later])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        line_for(
            &stdout,
            Path::new("certs/domain/sequencer/certs/sequencer.acme.com.cert.pem")
        )
        .contains(": expired at "),
        "{stdout}"
    );
    assert!(line_for(&stdout, Path::new("certs/domain/root/certs/ca.cert.pem")).starts_with("ok"));

    // RSA CA keys are matched by their public part (nothing loads them at run time): another
    // org's root key, and a truncated intermediate key, are still named.
    let root_key = tmp.path().join("certs/domain/root/private/ca.key.pem");
    fs::copy(
        tmp.path()
            .join("certs/participant1/root/private/ca.key.pem"),
        &root_key,
    )
    .unwrap();
    let int_key = tmp
        .path()
        .join("certs/participant2/intermediate/private/intermediate.key.pem");
    let text = fs::read_to_string(&int_key).unwrap();
    fs::write(&int_key, &text[..text.len() - 200]).unwrap();
    let out = hapki()
        .current_dir(tmp.path())
        .args(["verify", "certs"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        line_for(&stdout, Path::new("certs/domain/root/private/ca.key.pem"))
            .contains("does not match ca.cert.pem (it is another key)")
    );
    assert!(line_for(
        &stdout,
        Path::new("certs/participant2/intermediate/private/intermediate.key.pem")
    )
    .contains("is truncated"));
    assert!(stdout.ends_with(" 2 problems, 0 warnings\n"), "{stdout}");
}

#[test]
fn ecdsa_tree_of_every_tier_verifies() {
    let tree = Tree::new();
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines().rev().skip(1).all(|l| l.starts_with("ok   ")),
        "{out}"
    );
    for (rel, kind) in [
        (SERVER, "server cert"),
        (SERVER_CHAIN, "server chain"),
        (
            "participant1/lb-participant1/certs/lb-participant1.customer1.com.cert.pem",
            "proxy-backend cert",
        ),
        (
            "participant1/client/participant1.customer1.com.key.der",
            "client key (PKCS#8 DER)",
        ),
        (
            "participant1/signing/jwt-sign.customer1.com.pub.pem",
            "jwt-signing public key",
        ),
        (
            "participant2/policy/certs/policy.cert.pem",
            "policy CA cert",
        ),
        (
            "participant2/intermediate/certs/ca-chain.cert.pem",
            "trust bundle",
        ),
        ("participant2/jwt/bob.token", "token"),
        ("participant1/client", "private folder"),
        (
            "participant1/participant1/private/participant1.customer1.com.haproxy.pem",
            "server HAProxy PEM",
        ),
        (
            "edge/gateway/certs/gateway-chain.edge.example.cert.pem",
            "server chain",
        ),
    ] {
        let line = line_for(&out, &tree.path(rel));
        assert!(line.ends_with(&format!("({kind})")), "{line}");
    }
}

#[test]
fn shipped_ecdsa_profile_verifies() {
    let fx = Fixture::profile(&shipped_profile("canton-ha-ecdsa.toml")).init();
    let out = hapki()
        .arg("verify")
        .arg(&fx.out)
        .arg("--profile")
        .arg(fx.profile_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.ends_with(" 0 problems, 0 warnings\n"), "{stdout}");
}

#[test]
fn server_cert_swapped_for_another_orgs() {
    let tree = Tree::new();
    fs::copy(
        tree.path("participant2/participant2/certs/participant2.customer2.com.cert.pem"),
        tree.path(SERVER),
    )
    .unwrap();
    let out = assert_fails(
        &tree,
        &tree.path(SERVER),
        "does not chain to the org root through its intermediate",
        &[],
    );
    let line = line_for(&out, &tree.path(SERVER));
    assert!(line.contains("is not valid for the name DNS:participant1.customer1.com"));
    assert!(line.contains("hapki issue participant1 --org participant1 --kind server --force"));
    assert!(line_for(&out, &tree.path(SERVER_KEY)).contains("does not match"));
}

#[test]
fn key_swapped_for_another_key() {
    let tree = Tree::new();
    fs::copy(
        tree.path("participant1/db/private/db.customer1.com.key.pem"),
        tree.path(SERVER_KEY),
    )
    .unwrap();
    let out = assert_fails(
        &tree,
        &tree.path(SERVER_KEY),
        "does not match participant1.customer1.com.cert.pem",
        &[],
    );
    // The cert itself is fine: only the key is named.
    assert!(line_for(&out, &tree.path(SERVER)).starts_with("ok   "));
    assert!(out.ends_with("1 problems, 0 warnings\n"), "{out}");
}

#[test]
fn key_readable_by_others() {
    let tree = Tree::new();
    let key = tree.path(SERVER_KEY);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    assert_fails(
        &tree,
        &key,
        &format!(
            "(mode 0644), and it is a private key; restrict it with `chmod 600 {}`",
            key.display()
        ),
        &[],
    );
    // 0400 is as good as 0600.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(tree.verify(&[]).0, 0);
}

#[test]
fn private_folder_open_to_others() {
    let tree = Tree::new();
    let dir = tree.path("participant1/client");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert_fails(&tree, &dir, "chmod 700", &[]);
}

#[test]
fn haproxy_pem_with_another_key_or_open_mode() {
    let tree = Tree::new();
    let pem = tree.path("participant1/participant1/private/participant1.customer1.com.haproxy.pem");
    let text = fs::read_to_string(&pem).unwrap();
    let certs = &text[..text.find("-----BEGIN PRIVATE KEY").unwrap()];
    let other =
        fs::read_to_string(tree.path("participant1/db/private/db.customer1.com.key.pem")).unwrap();
    fs::write(&pem, format!("{certs}{other}")).unwrap();
    assert_fails(&tree, &pem, "holds another key than the leaf's", &[]);
    fs::write(&pem, &text).unwrap();
    fs::set_permissions(&pem, fs::Permissions::from_mode(0o644)).unwrap();
    assert_fails(&tree, &pem, "chmod 600", &[]);
    // Lost, it is restored from the cert and key, as the fix says.
    fs::remove_file(&pem).unwrap();
    let out = assert_fails(&tree, &pem, "is missing", &[]);
    assert!(line_for(&out, &pem).contains(
        "restore it from the cert and key with `hapki issue participant1 --org participant1 --kind server --profile"
    ));
    tree.issue(&["participant1", "--org", "participant1", "--kind", "server"]);
    assert_eq!(tree.verify(&[]).0, 0);
    assert_eq!(fs::read_to_string(&pem).unwrap(), text);
}

#[test]
fn truncated_pem() {
    let tree = Tree::new();
    let cert = tree.path("domain/db/certs/db.acme.com.cert.pem");
    let text = fs::read_to_string(&cert).unwrap();
    fs::write(&cert, &text[..text.len() / 2]).unwrap();
    assert_fails(&tree, &cert, "is truncated", &[]);
}

#[test]
fn key_where_a_cert_is_expected() {
    let tree = Tree::new();
    let cert = tree.path("domain/db/certs/db.acme.com.cert.pem");
    fs::copy(tree.path("domain/db/private/db.acme.com.key.pem"), &cert).unwrap();
    assert_fails(
        &tree,
        &cert,
        "holds a private key where a certificate is expected",
        &[],
    );
}

#[test]
fn chain_file_in_wrong_order() {
    let tree = Tree::new();
    let chain = tree.path(SERVER_CHAIN);
    let blocks = pem_blocks(&fs::read_to_string(&chain).unwrap());
    assert_eq!(blocks.len(), 3);
    fs::write(&chain, format!("{}{}{}", blocks[0], blocks[2], blocks[1])).unwrap();
    assert_fails(
        &tree,
        &chain,
        "must be leaf, intermediate, root, in that order, but holds leaf, root, intermediate",
        &[],
    );
}

#[test]
fn trust_bundle_in_wrong_order() {
    let tree = Tree::new();
    let bundle = tree.path("participant2/intermediate/certs/ca-chain.cert.pem");
    let mut blocks = pem_blocks(&fs::read_to_string(&bundle).unwrap());
    assert_eq!(blocks.len(), 3, "tier 3: intermediate, policy CA, root");
    blocks.reverse();
    fs::write(&bundle, blocks.concat()).unwrap();
    assert_fails(
        &tree,
        &bundle,
        "must be intermediate then policy CA then root",
        &[],
    );
}

#[test]
fn jwks_with_wrong_x5t() {
    let tree = Tree::new();
    let path = tree.path(JWKS);
    let mut jwks: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    // The fault of the shell procedure: base64url of the hex text, not of the digest bytes.
    jwks["keys"][0]["x5t"] = "NjRhM2Y4ZDk5YjUyNTdlMGE0ZmI5NjFjMmQzYjE1YjA3ZDFmZTY2Zg".into();
    fs::write(&path, serde_json::to_string_pretty(&jwks).unwrap()).unwrap();
    assert_fails(
        &tree,
        &path,
        "has an x5t that is not base64url(SHA-1) of x5c[0]",
        &[],
    );
}

#[test]
fn jwks_of_another_signing_key() {
    let tree = Tree::new();
    fs::copy(tree.path("participant2/jwt/jwks.json"), tree.path(JWKS)).unwrap();
    let out = assert_fails(
        &tree,
        &tree.path(JWKS),
        "does not chain to the org root",
        &[],
    );
    // Its tokens name a kid the JWKS no longer has.
    assert!(line_for(&out, &tree.path(TOKEN)).contains("which is not in the JWKS"));
}

#[test]
fn token_with_broken_signature() {
    let tree = Tree::new();
    let path = tree.path(TOKEN);
    let token = fs::read_to_string(&path).unwrap();
    let (signed, sig) = token.trim().rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    let i = sig.len() / 2;
    sig[i] = if sig[i] == 'A' { 'B' } else { 'A' };
    fs::write(
        &path,
        format!("{signed}.{}\n", sig.iter().collect::<String>()),
    )
    .unwrap();
    assert_fails(&tree, &path, "has a signature that does not verify", &[]);
    assert!(line_for(&tree.verify(&[]).1, &path)
        .contains("re-mint it with `hapki jwt mint --user alice --org participant1"));
}

#[test]
fn leaf_resigned_by_another_orgs_intermediate() {
    let tree = Tree::new();
    let cert = tree.path(SERVER);
    let other = |f: &str| tree.path(&format!("domain/intermediate/{f}"));
    // The same request (key, subject, SANs, EKU) signed by domain's intermediate: only the
    // issuer is wrong. openssl makes it; without openssl, hapki issues the same leaf in a
    // second tree whose CAs are other ones.
    let by_openssl = std::process::Command::new("openssl")
        .args(["x509", "-req", "-in"])
        .arg(tree.path(SERVER_CSR))
        .arg("-CA")
        .arg(other("certs/intermediate.cert.pem"))
        .arg("-CAkey")
        .arg(other("private/intermediate.key.pem"))
        .args([
            "-set_serial",
            "4660",
            "-days",
            "100",
            "-copy_extensions",
            "copy",
            "-out",
        ])
        .arg(&cert)
        .output()
        .is_ok_and(|o| o.status.success());
    if !by_openssl {
        let second = Tree::new();
        fs::copy(second.path(SERVER), &cert).unwrap();
        fs::copy(second.path(SERVER_KEY), tree.path(SERVER_KEY)).unwrap();
    }
    let out = assert_fails(
        &tree,
        &cert,
        "does not chain to the org root through its intermediate",
        &[],
    );
    // The key still matches and the names are right: the chain is what is wrong.
    assert!(
        line_for(&out, &tree.path(SERVER_KEY)).starts_with("ok   "),
        "{out}"
    );
    assert!(!line_for(&out, &cert).contains("is not valid for the name"));
    assert!(
        line_for(&out, &tree.path(SERVER_CHAIN)).contains("another leaf than the cert beside it")
    );
}

#[test]
fn expired_two_years_on() {
    let tree = Tree::new();
    let later = (unix_now() + 730 * 86400).to_string();
    let out = assert_fails(&tree, &tree.path(SERVER), "expired at ", &["--at", &later]);
    assert!(line_for(&out, &tree.path(TOKEN)).contains("expired at "));
    assert!(line_for(&out, &tree.path("domain/root/certs/ca.cert.pem")).starts_with("ok   "));
    // And the same tree is fine today.
    assert_eq!(tree.verify(&[]).0, 0);
}

#[test]
fn client_key_der_swapped() {
    let tree = Tree::new();
    let key = tree.path("participant1/client/admin-api.customer1.com.key.der");
    fs::copy(
        tree.path("participant1/client/participant1.customer1.com.key.der"),
        &key,
    )
    .unwrap();
    assert_fails(
        &tree,
        &key,
        "does not match admin-api.customer1.com.cert.der",
        &[],
    );
}

#[test]
fn warns_about_what_expires_within() {
    let tree = Tree::new();
    // Leaves live 365 days: nothing is close at 30 days, all of them are within 400.
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 0);
    assert!(!out.contains("warn "), "{out}");
    let (code, out) = tree.verify(&["--within", "400d"]);
    assert_eq!(code, 0, "warnings alone are not a failure:\n{out}");
    let line = line_for(&out, &tree.path(SERVER));
    assert!(
        line.starts_with("warn ") && line.contains("(in 36"),
        "{line}"
    );
    assert!(line.contains("before then, re-issue it with"), "{line}");
    assert!(line_for(
        &out,
        &tree.path("domain/intermediate/certs/intermediate.cert.pem")
    )
    .starts_with("ok   "));
    // Every leaf and JWT signing cert: 4 + 7 + 3 + 1.
    assert!(out.ends_with(" 0 problems, 15 warnings\n"), "{out}");
}

#[test]
fn json_reports_each_file_with_its_status() {
    let tree = Tree::new();
    fs::set_permissions(tree.path(SERVER_KEY), fs::Permissions::from_mode(0o640)).unwrap();
    let (code, list) = tree.json(&["--within", "400d"]);
    assert_eq!(code, 1);
    let find = |rel: &str| {
        let file = tree.path(rel).display().to_string();
        list.iter()
            .find(|e| e["file"] == file.as_str())
            .unwrap_or_else(|| panic!("no entry for {file}"))
    };
    let key = find(SERVER_KEY);
    assert_eq!(key["status"], "problem");
    assert_eq!(key["kind"], "server key");
    let problems = key["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].as_str().unwrap().contains("chmod 600"));
    assert_eq!(find(SERVER)["status"], "warning");
    assert_eq!(find(JWKS)["status"], "ok");
    assert_eq!(find(JWKS)["problems"], serde_json::json!([]));
    for e in &list {
        let status = e["status"].as_str().unwrap();
        assert!(["ok", "problem", "warning"].contains(&status));
        assert_eq!(status == "ok", e["problems"].as_array().unwrap().is_empty());
        assert!(e["kind"].is_string());
    }
    assert_eq!(list.iter().filter(|e| e["status"] == "problem").count(), 1);
}

#[test]
fn a_killed_init_is_completed_by_a_rerun() {
    let tree = Tree::new();
    // What a run stopped part-way leaves: an org's leaves and a token missing, a temp file.
    for rel in [
        "participant2/participant2",
        "participant2/client",
        "participant2/signing",
    ] {
        fs::remove_dir_all(tree.path(rel)).unwrap();
    }
    fs::remove_file(tree.path(TOKEN)).unwrap();
    // A PID above Linux's largest pid_max (2^22): no live process owns this temp file.
    let temp = tree.path("participant1/jwt/.alice.token.hapki-4194305.tmp");
    fs::write(&temp, "").unwrap();
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(line_for(&out, &tree.path(TOKEN)).contains("is missing"));
    assert!(line_for(
        &out,
        &tree.path("participant2/participant2/certs/participant2.customer2.com.cert.pem")
    )
    .contains("is missing, with its key"));
    assert!(line_for(
        &out,
        &tree.path("participant2/signing/jwt-sign.customer2.com.cert.pem")
    )
    .contains("is missing, with its key"));
    // bob's token still verifies with the JWKS on disk: only what is gone is named.
    assert!(line_for(&out, &tree.path("participant2/jwt/bob.token")).starts_with("ok   "));
    assert!(line_for(&out, &temp).contains("left by an interrupted hapki run"));

    // The re-run completes the tree and sweeps the dead run's temp file from the folder it writes.
    tree.init();
    assert!(!temp.exists());
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with(" 0 problems, 0 warnings\n"), "{out}");
}

#[test]
fn a_deleted_intermediate_is_named_and_rebuilt_by_init() {
    let tree = Tree::new();
    let int = tree.path("domain/intermediate/certs/intermediate.cert.pem");
    fs::remove_file(&int).unwrap();
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 1);
    assert!(line_for(&out, &int).contains("is missing, so no leaf of org `domain` can chain"));
    // Its leaves are not passed as good when their CA cannot be checked.
    assert!(
        line_for(&out, &tree.path("domain/db/certs/db.acme.com.cert.pem"))
            .contains("cannot be checked, since the CA of org `domain` has a problem")
    );
    // The fix it names works: init re-creates the intermediate (not a one-tier CA) and the
    // leaves under it.
    assert!(line_for(&out, &int).contains("`hapki init --profile"));
    tree.init();
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(line_for(&out, &int).starts_with("ok   "));
}

#[test]
fn init_completes_a_hierarchy_that_lost_every_intermediate_file_to_the_profiles_tier() {
    // Root left alone, every file of the intermediate gone (a run killed between the renames of
    // the root and of the intermediate did this once): init must not read it as a one-tier CA
    // and re-issue the leaves under the root, but restore the two tiers the profile asks for.
    let tree = Tree::new();
    fs::remove_dir_all(tree.path("domain/intermediate")).unwrap();
    tree.init();
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(line_for(
        &out,
        &tree.path("domain/intermediate/certs/intermediate.cert.pem")
    )
    .starts_with("ok   "));
}

#[test]
fn undeclared_leaves_are_checked_by_their_eku() {
    let tree = Tree::new();
    for (name, kind) in [("reporting", "proxy-backend"), ("metrics", "server")] {
        tree.issue(&[name, "--org", "participant1", "--kind", kind]);
    }
    let (code, out) = tree.verify(&[]);
    assert_eq!(code, 0, "{out}");
    let rel = "participant1/reporting/certs/reporting.customer1.com.cert.pem";
    assert_eq!(
        line_for(&out, &tree.path(rel)),
        format!("ok   {} (proxy-backend cert)", tree.path(rel).display())
    );
    let rel = "participant1/metrics/certs/metrics.customer1.com.cert.pem";
    assert!(line_for(&out, &tree.path(rel)).ends_with("(server cert)"));
}

#[test]
fn cannot_run_exits_2_with_one_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    hapki()
        .arg("verify")
        .arg(&missing)
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "error: the folder {} does not exist; give the folder `hapki init` wrote (./certs by default)\n",
            missing.display()
        ));
    let file = tmp.path().join("file");
    fs::write(&file, "").unwrap();
    hapki()
        .arg("verify")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(format!(
            "error: {} is not a folder; give the folder `hapki init` wrote (./certs by default)\n",
            file.display()
        ));
    hapki()
        .arg("verify")
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("holds no hapki tree"));
    hapki()
        .arg("verify")
        .arg(tmp.path())
        .args(["--at", "tomorrow"])
        .assert()
        .code(2)
        .stderr("error: the time `tomorrow` is not valid; give RFC 3339 such as `2026-11-26T12:00:00Z` or Unix seconds\n");
}
