//! The token endpoint of `hapki serve` (`POST /oauth/token`, `POST /auth`) against the real
//! binary on free loopback ports, with real clients: curl, Python `requests` (tokens checked by
//! PyJWT against the JWKS the same server publishes, `tests/interop/token_client.py`) and
//! openssl for the mTLS cert thumbprint.
//!
//! Times: the server issues tokens and checks client certs at the real clock, so the tree is
//! made at the real clock too (a fixture without `.at`); no assertion depends on the date.

use crate::support::fixture::{crate_root, hapki_std, Fixture};
use crate::support::interop::python;
use crate::support::openssl::{der, digest};
use crate::support::proc::{free_port, KillOnDrop};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const P1: &str = "participant1";

/// A running `hapki serve --org participant1`, killed when dropped.
struct Server {
    _child: KillOnDrop,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(fx: &Fixture) -> Server {
        let port = free_port();
        let log = fx.dir.path().join("serve.log");
        let child = hapki_std()
            .args(["serve", "--org", P1, "--http", "off"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--profile")
            .arg(fx.profile_path())
            .arg("--out")
            .arg(&fx.out)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = child.0.try_wait().unwrap() {
                panic!(
                    "hapki serve exited ({st}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no server");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            _child: child,
            port,
            log,
        }
    }

    fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A table row of malformed requests: (row, path, curl arguments, status, the OAuth `error` of
/// the body when one is checked).
type BadRequestRow<'a> = (&'a str, &'a str, Vec<&'a str>, u16, Option<&'a str>);

/// A tree of the ECDSA-CA topology (RS256 JWT keys) made now, with `alice` a client whose
/// secret is returned.
fn tree() -> (Fixture, String) {
    let fx = Fixture::ecdsa().init();
    let (secret, err) = fx.ok(&["jwt", "client", "add", "alice", "--org", P1]);
    assert!(err.contains("printed above, once"), "{err}");
    (fx, secret.trim().to_string())
}

fn root(fx: &Fixture) -> PathBuf {
    fx.p1("root/certs/ca.cert.pem")
}

/// curl against the server; returns (status, headers, body).
fn curl(fx: &Fixture, s: &Server, path: &str, args: &[&str]) -> (u16, String, String) {
    let out: Output = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-D",
            "-",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
        ])
        .arg("--cacert")
        .arg(root(fx))
        .args(args)
        .arg(format!("{}{path}", s.base()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rest, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (
        code.trim().parse().unwrap_or(0),
        head.to_string(),
        body.to_string(),
    )
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    json(&String::from_utf8(crate::support::jwt::unb64url(payload)).unwrap())
}

fn run_client(
    fx: &Fixture,
    s: &Server,
    secret: &str,
    aud: &str,
    cert: Option<(&Path, &Path)>,
) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(crate_root().join("tests/interop/token_client.py"))
        .arg(s.base())
        .arg(root(fx))
        .args(["alice", secret, aud]);
    if let Some((c, k)) = cert {
        cmd.arg(c).arg(k);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "token_client.py failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log_text()
    );
    json(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn requests_and_pyjwt_get_verified_tokens_by_basic_post_and_the_seed_shapes() {
    let (fx, secret) = tree();
    assert_eq!(
        crate::support::tree::mode(&fx.p1("jwt/clients.json")) & 0o777,
        0o600
    );
    let stored = std::fs::read_to_string(fx.p1("jwt/clients.json")).unwrap();
    assert!(stored.contains("$argon2id$") && !stored.contains(&secret));
    let s = Server::start(&fx);
    let kid = fx.kid(P1);
    let r = run_client(&fx, &s, &secret, P1, None);
    for case in ["basic", "post", "seed_form", "seed_json"] {
        assert_eq!(r[case]["status"], 200, "{case}: {r}");
        let c = &r[case]["claims"];
        assert_eq!(c["sub"], "alice", "{case}");
        assert_eq!(c["scope"], "daml_ledger_api", "{case}");
        assert_eq!(c["aud"], P1, "{case}");
        assert_eq!(c["iss"], "local-jwt-provider", "{case}");
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            86_400,
            "{case}: the profile's lifetime"
        );
        assert!(c["jti"].is_string());
    }
    let b = &r["basic"]["body"];
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 86_400);
    assert_eq!(b["scope"], "daml_ledger_api");
    assert!(b["expires_at"].is_i64());
    assert_eq!(r["basic"]["cache"], "no-store");
    assert_eq!(
        r["seed_json"]["body"]["expires_at"],
        r["seed_json"]["claims"]["exp"]
    );
    let header = crate::support::jwt::split(b["access_token"].as_str().unwrap()).0;
    assert!(header.contains(&format!("\"kid\":\"{kid}\"")), "{header}");
    assert_eq!(r["wrong"]["status"], 401);
    assert_eq!(r["wrong"]["body"]["error"], "invalid_client");
    assert!(r["wrong"]["www"].as_str().unwrap().starts_with("Basic"));
    assert!(s.log_text().contains("POST /oauth/token 200 issued"));
}

#[test]
fn curl_gets_the_profile_shape_and_errors_say_nothing_of_which_part_was_wrong() {
    let (fx, secret) = tree();
    // navigator has custom claims in the profile; give it a secret of our own.
    let file = fx.dir.path().join("navigator.secret");
    std::fs::write(&file, "navigator-secret-0123456789\n").unwrap();
    let (out, _) = fx.ok(&[
        "jwt",
        "client",
        "add",
        "navigator",
        "--org",
        P1,
        "--secret-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out, "", "a given secret is not printed");
    let s = Server::start(&fx);
    let basic = "navigator:navigator-secret-0123456789";
    let (code, head, body) = curl(
        &fx,
        &s,
        "/oauth/token",
        &["-u", basic, "-d", "grant_type=client_credentials"],
    );
    assert_eq!(code, 200, "{body}");
    assert!(head
        .to_ascii_lowercase()
        .contains("cache-control: no-store"));
    let b = json(&body);
    assert!(
        b.get("scope").is_none(),
        "custom claims carry no scope: {b}"
    );
    let c = claims_of(b["access_token"].as_str().unwrap());
    let ledger = &c["https://daml.com/ledger-api"];
    assert_eq!(ledger["admin"], true);
    assert_eq!(ledger["applicationId"], "navigator");
    assert_eq!(ledger["participantId"], P1);

    let form = |id: &str, sec: &str| {
        format!("grant_type=client_credentials&client_id={id}&client_secret={sec}")
    };
    let wrong = curl(
        &fx,
        &s,
        "/oauth/token",
        &["-d", &form("alice", "wrong-secret-0123456789")],
    );
    let unknown = curl(&fx, &s, "/oauth/token", &["-d", &form("mallory", &secret)]);
    // bob is a user of participant2 only; participant_admin has no secret.
    let other = curl(
        &fx,
        &s,
        "/oauth/token",
        &["-d", &form("participant_admin", &secret)],
    );
    for (what, (code, _, body)) in [
        ("wrong secret", &wrong),
        ("unknown client", &unknown),
        ("no secret", &other),
    ] {
        assert_eq!(*code, 401, "{what}: {body}");
        assert_eq!(body, &wrong.2, "{what}: the same body as a wrong secret");
    }
    assert_eq!(json(&wrong.2)["error"], "invalid_client");
    // (row, curl arguments, status, the OAuth `error` of the body when one is checked)
    let alice = format!("alice:{secret}");
    let rows: [(&str, Vec<&str>, u16, Option<&str>); 3] = [
        (
            "grant_type=password",
            vec!["-u", &alice, "-d", "grant_type=password"],
            400,
            Some("unsupported_grant_type"),
        ),
        (
            "no grant_type",
            vec!["-u", &alice, "-d", "scope=x"],
            400,
            Some("invalid_request"),
        ),
        ("GET", vec![], 405, None),
    ];
    for (row, args, want_code, want_error) in rows {
        let (code, _, body) = curl(&fx, &s, "/oauth/token", &args);
        assert_eq!(code, want_code, "{row}: {body}");
        if let Some(e) = want_error {
            assert_eq!(json(&body)["error"].as_str(), Some(e), "{row}: {body}");
        }
    }

    fx.ok(&["jwt", "client", "remove", "alice", "--org", P1]);
    let (code, _, _) = curl(&fx, &s, "/oauth/token", &["-d", &form("alice", &secret)]);
    assert_eq!(code, 401, "a removed client is refused at once");
}

#[test]
fn bad_input_gets_clean_errors_and_the_rate_limit_holds() {
    let (fx, secret) = tree();
    let navigator = fx.dir.path().join("navigator.secret");
    std::fs::write(&navigator, "navigator-secret-0123456789").unwrap();
    fx.ok(&[
        "jwt",
        "client",
        "add",
        "navigator",
        "--org",
        P1,
        "--secret-file",
        navigator.to_str().unwrap(),
    ]);
    let s = Server::start(&fx);
    let huge = fx.dir.path().join("huge");
    std::fs::write(&huge, vec![b'a'; 1 << 20]).unwrap();
    let huge = format!("@{}", huge.display());
    let json_body = |bad| vec!["-H", "Content-Type: application/json", "-d", bad];
    let rows: [BadRequestRow; 5] = [
        (
            "a 1 MiB body",
            "/oauth/token",
            vec!["--data-binary", &huge],
            413,
            Some("invalid_request"),
        ),
        (
            "truncated JSON",
            "/auth",
            json_body("{\"grant_type\":"),
            400,
            Some("invalid_request"),
        ),
        (
            "a JSON array",
            "/auth",
            json_body("[1,2]"),
            400,
            Some("invalid_request"),
        ),
        (
            "a number as client_id",
            "/auth",
            json_body("{\"client_id\":7}"),
            400,
            Some("invalid_request"),
        ),
        (
            "Basic auth that is not base64",
            "/oauth/token",
            vec![
                "-H",
                "Authorization: Basic !!!",
                "-d",
                "grant_type=client_credentials",
            ],
            401,
            None,
        ),
    ];
    for (row, path, args, want_code, want_error) in rows {
        let (code, _, body) = curl(&fx, &s, path, &args);
        assert_eq!(code, want_code, "{row}: {body}");
        if let Some(e) = want_error {
            assert_eq!(json(&body)["error"].as_str(), Some(e), "{row}: {body}");
        }
    }

    // 1,000 wrong secrets in a row, over one keep-alive connection: a few are checked (each a
    // slow hash), the rest refused with 429 at once.
    let wrong = format!(
        "grant_type=client_credentials&client_id=alice&client_secret=wrong-{}",
        "x".repeat(20)
    );
    let mut args: Vec<String> = vec![
        "-sS".into(),
        "--max-time".into(),
        "120".into(),
        "--cacert".into(),
        root(&fx).display().to_string(),
        "-o".into(),
        "/dev/null".into(),
        "-w".into(),
        "%{http_code}\n".into(),
    ];
    for i in 0..1000 {
        if i > 0 {
            args.push("--next".into());
            args.extend([
                "--cacert".into(),
                root(&fx).display().to_string(),
                "-o".into(),
                "/dev/null".into(),
                "-w".into(),
                "%{http_code}\n".into(),
            ]);
        }
        args.extend([
            "-d".into(),
            wrong.clone(),
            format!("{}/oauth/token", s.base()),
        ]);
    }
    let started = Instant::now();
    let out = Command::new("curl").args(&args).output().unwrap();
    let codes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        codes.len(),
        1000,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked = codes.iter().filter(|c| *c == "401").count();
    let limited = codes.iter().filter(|c| *c == "429").count();
    assert_eq!(checked + limited, 1000, "{codes:?}");
    assert!(
        (6..=12).contains(&checked),
        "{checked} checked, {limited} limited"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // The limit holds for the right secret too, and says when to retry.
    let (code, head, body) = curl(
        &fx,
        &s,
        "/oauth/token",
        &[
            "-u",
            &format!("alice:{secret}"),
            "-d",
            "grant_type=client_credentials",
        ],
    );
    assert_eq!(code, 429, "{body}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    // Other clients and the other routes are served meanwhile.
    let navigator_ok = || {
        curl(
            &fx,
            &s,
            "/oauth/token",
            &[
                "-u",
                "navigator:navigator-secret-0123456789",
                "-d",
                "grant_type=client_credentials",
            ],
        )
    };
    let (code, _, body) = navigator_ok();
    assert_eq!(code, 200, "{body}");
    let (code, _, _) = curl(&fx, &s, "/healthz", &[]);
    assert_eq!(code, 200);

    // After a first lock (6 failures: 1 s), waiting is enough.
    let nav_wrong = "grant_type=client_credentials&client_id=navigator&client_secret=navigator-secret-wrong-000";
    for _ in 0..6 {
        assert_eq!(curl(&fx, &s, "/oauth/token", &["-d", nav_wrong]).0, 401);
    }
    assert_eq!(navigator_ok().0, 429);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(navigator_ok().0, 200);
}

#[test]
fn an_mtls_client_cert_gets_its_bound_token_and_foreign_or_revoked_certs_are_refused() {
    let (fx, secret) = tree();
    let s = Server::start(&fx);
    let cert = fx.p1("client/participant1.customer1.com.cert.pem");
    let key = fx.p1("client/participant1.customer1.com.key.pem");
    let r = run_client(&fx, &s, &secret, P1, Some((&cert, &key)));
    assert_eq!(r["mtls"]["status"], 200, "{r}");
    let claims = &r["mtls"]["claims"];
    assert_eq!(
        claims["sub"], "participant_admin",
        "the user the profile binds to the cert"
    );
    assert!(claims.get("aud").is_none());
    // The thumbprint as Python computed it, and as openssl does.
    let openssl_thumb = crate::support::jwt::b64url(&digest("sha256", &der(&cert)));
    assert_eq!(claims["cnf"]["x5t#S256"], r["mtls"]["thumbprint"]);
    assert_eq!(claims["cnf"]["x5t#S256"], openssl_thumb.as_str());

    // A cert of another org's CA, with curl.
    let p2_cert = fx.p2("client/participant2.customer2.com.cert.pem");
    let p2_key = fx.p2("client/participant2.customer2.com.key.pem");
    let with = |c: &Path, k: &Path| {
        curl(
            &fx,
            &s,
            "/oauth/token",
            &[
                "--cert",
                c.to_str().unwrap(),
                "--key",
                k.to_str().unwrap(),
                "-d",
                "grant_type=client_credentials",
            ],
        )
    };
    let (code, _, body) = with(&p2_cert, &p2_key);
    assert_eq!(
        (code, json(&body)["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (code, _, body) = with(&cert, &key);
    assert_eq!(code, 200, "{body}");
    // A client cert of the org bound to no user (admin-api) is refused too.
    let (code, _, _) = with(
        &fx.p1("client/admin-api.customer1.com.cert.pem"),
        &fx.p1("client/admin-api.customer1.com.key.pem"),
    );
    assert_eq!(code, 401);
    // Revoked in the index: refused from the next request on.
    fx.ok(&[
        "revoke",
        cert.to_str().unwrap(),
        "--reason",
        "key-compromise",
    ]);
    let (code, _, body) = with(&cert, &key);
    assert_eq!(
        (code, json(&body)["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

/// The endpoint signs with the current key of the rotation: a staged key (`jwt rotate`) does not
/// sign yet, and after `jwt rotate --promote` the new key signs from the next token on, without a
/// restart, with the kid the same server's JWKS publishes first.
#[test]
fn a_new_signing_key_signs_the_next_token() {
    let (fx, secret) = tree();
    let s = Server::start(&fx);
    let get = || {
        let (code, _, body) = curl(
            &fx,
            &s,
            "/oauth/token",
            &[
                "-u",
                &format!("alice:{secret}"),
                "-d",
                "grant_type=client_credentials",
            ],
        );
        assert_eq!(code, 200, "{body}");
        let token = json(&body)["access_token"].as_str().unwrap().to_string();
        crate::support::jwt::split(&token).0
    };
    let old = fx.kid(P1);
    assert!(get().contains(&old));
    // A staged key is published but does not sign yet; once promoted it signs at once.
    fx.ok(&["jwt", "rotate", "--org", P1]);
    assert!(get().contains(&old), "a staged key must not sign yet");
    fx.ok(&["jwt", "rotate", "--org", P1, "--promote"]);
    let new = fx.kid(P1);
    assert_ne!(old, new);
    let header = get();
    assert!(header.contains(&format!("\"kid\":\"{new}\"")), "{header}");
    let (_, _, jwks) = curl(&fx, &s, "/.well-known/jwks.json", &[]);
    assert_eq!(json(&jwks)["keys"][0]["kid"], new.as_str());
}

#[test]
fn client_add_and_remove_refuse_bad_input_with_a_sentence_and_change_nothing() {
    let fx = Fixture::ecdsa().init();
    let clients = fx.p1("jwt/clients.json");
    let refused = |row: &str, args: &[&str], says: &str| {
        let o = fx.cmd(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{row}: {args:?}: {err}");
        assert!(err.contains(says), "{row}: {args:?}: {err}");
        assert!(
            !clients.exists(),
            "{row}: {args:?} wrote {}",
            clients.display()
        );
    };
    let weak = fx.dir.path().join("weak.secret");
    let weak = weak.to_str().unwrap();
    let add_alice_with = [
        "jwt",
        "client",
        "add",
        "alice",
        "--org",
        P1,
        "--secret-file",
        weak,
    ];
    // (row, the arguments, the secret file's text when the row reads one, what stderr says)
    let rows: [(&str, &[&str], Option<&str>, &str); 4] = [
        (
            "a user of another org",
            &["jwt", "client", "add", "bob", "--org", P1],
            None,
            "is not a JWT user of org `participant1`",
        ),
        (
            "a short secret",
            &add_alice_with,
            Some("short\n"),
            "16 to 512",
        ),
        (
            "a secret with spaces",
            &add_alice_with,
            Some("has spaces in this secret\n"),
            "only letters, digits",
        ),
        (
            "removing a client that is none",
            &["jwt", "client", "remove", "alice", "--org", P1],
            None,
            "is not a client of org `participant1`",
        ),
    ];
    for (row, args, secret, says) in rows {
        if let Some(text) = secret {
            std::fs::write(weak, text).unwrap();
        }
        refused(row, args, says);
    }
    // Adding twice replaces the secret; the first one no longer matches.
    let (first, _) = fx.ok(&["jwt", "client", "add", "alice", "--org", P1]);
    let (second, err) = fx.ok(&["jwt", "client", "add", "alice", "--org", P1]);
    assert_ne!(first, second);
    assert!(err.contains("replaced the secret"), "{err}");
    let stored = std::fs::read_to_string(&clients).unwrap();
    assert_eq!(stored.matches("$argon2id$").count(), 1, "{stored}");
}

/// The JDK-only client of docs/tokens-endpoint.md (`tests/java/TokenClient.java`) gets a token
/// trusting the org's truststore, and the JDK-only JWKS client of serve_online verifies it
/// against the JWKS of the same server.
#[test]
fn a_jdk_only_java_client_gets_a_token_the_jwks_verifies() {
    let have = |c: &str| Command::new(c).arg("-version").output().is_ok();
    if !have("javac") || !have("java") {
        crate::support::skip::skipped(
            "token_endpoint::a_jdk_only_java_client_gets_a_token_the_jwks_verifies",
            "a JDK (javac, java) is not installed",
        );
        return;
    }
    let (fx, secret) = tree();
    let classes = fx.scratch("classes");
    for class in ["TokenClient", "JwksClient"] {
        let out = Command::new("javac")
            .arg("-d")
            .arg(&classes)
            .arg(crate_root().join(format!("tests/java/{class}.java")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "javac {class}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = Server::start(&fx);
    let store = fx.p1("intermediate/certs/truststore.p12");
    let java = |args: &[&str]| {
        let out = Command::new("java")
            .arg("-cp")
            .arg(&classes)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "java {args:?}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let url = format!("{}/oauth/token", s.base());
    let token = java(&[
        "TokenClient",
        &url,
        store.to_str().unwrap(),
        "changeit",
        "alice",
        &secret,
    ]);
    assert_eq!(claims_of(&token)["sub"], "alice");
    let jwks = format!("{}/.well-known/jwks.json", s.base());
    let ok = java(&[
        "JwksClient",
        &jwks,
        store.to_str().unwrap(),
        "changeit",
        &token,
    ]);
    assert!(ok.starts_with(&format!("OK kid={}", fx.kid(P1))), "{ok}");
}
