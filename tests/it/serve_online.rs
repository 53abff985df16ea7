//! `hapki serve` against the real binary on free loopback ports, with real clients: curl
//! (HTTP/1.1 keep-alive and HTTP/2), PyJWT's `PyJWKClient`, a JDK-only Java client, and
//! `openssl ocsp` / `openssl crl`.
//!
//! Times: the server answers OCSP and TLS at the real clock, so the tree must be valid now. Each
//! tree is issued with `--at` one hour before the test's start (computed from the clock): its
//! certs are valid for the whole test and every issued time is fixed by the test, which is as
//! deterministic as a test of a live server can be.

use crate::support::fixture::{crate_root, hapki_std, Fixture};
use crate::support::openssl::openssl_raw;
use crate::support::proc::{both, free_port};
use crate::support::skip::{have, skipped, test_name};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ORG: &str = "participant1";
const DNS: &str = "customer1.com";

fn an_hour_ago() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now.as_secs() - 3600).to_string()
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {}", both(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The shipped ECDSA profile's tree, issued an hour ago (`init --at`; the fixture's other
/// commands run at the real clock, as the server does).
fn tree() -> Fixture {
    let fx = Fixture::shipped_ecdsa().bare();
    init(&fx);
    fx
}

fn init(fx: &Fixture) {
    fx.ok(&["init", "--at", &an_hour_ago()]);
}

/// A running `hapki serve`, killed when dropped (a test that fails mid-way leaves no server).
struct Server {
    child: Option<Child>,
    https: u16,
    http: u16,
    log: PathBuf,
}

impl Server {
    fn start(fx: &Fixture) -> Server {
        let (https, http) = (free_port(), free_port());
        let log = fx.scratch("serve").join("serve.log");
        let listen = format!("127.0.0.1:{https}");
        let plain = format!("127.0.0.1:{http}");
        let child = fx
            .std_cmd(&["serve", "--org", ORG, "--listen", &listen, "--http", &plain])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut s = Server {
            child: Some(child),
            https,
            http,
            log,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", http)).is_err()
            || TcpStream::connect(("127.0.0.1", https)).is_err()
        {
            if let Some(st) = s.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("hapki serve exited ({st}): {}", s.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https)
    }

    fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn alive(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn org(dir: &Path) -> PathBuf {
    dir.join(ORG)
}

fn root(dir: &Path) -> PathBuf {
    org(dir).join("root/certs/ca.cert.pem")
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs")
}

/// Status code and body of a curl request.
fn fetch(args: &[&str]) -> (u16, Vec<u8>) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let p = tmp.path().to_str().unwrap().to_string();
    let mut a = vec!["-o", &p, "-w", "%{http_code}"];
    a.extend_from_slice(args);
    let out = curl(&a);
    let code = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (code, std::fs::read(&p).unwrap_or_default())
}

#[test]
fn jwks_over_https_with_curl_http2_and_keep_alive() {
    let fx = tree();
    let s = Server::start(&fx);
    let ca = root(&fx.out);
    let ca = ca.to_str().unwrap();
    let jwks = std::fs::read(org(&fx.out).join("jwt/jwks.json")).unwrap();

    for path in ["/.well-known/jwks.json", "/.well_known/jwks.json"] {
        let out = curl(&["--cacert", ca, "-D", "-", &s.url(path)]);
        let text = ok(out, "curl");
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/"), "{head}");
        assert!(head.contains(" 200"), "{head}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("cache-control: max-age=300"), "{head}");
        assert_eq!(body.as_bytes(), &jwks[..], "{path}");
    }

    // HTTP/2 by ALPN.
    let out = curl(&[
        "--cacert",
        ca,
        "--http2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version}",
        &s.url("/.well-known/jwks.json"),
    ]);
    assert_eq!(ok(out, "curl --http2").trim(), "2");

    // HTTP/1.1 keep-alive: two requests, one connection.
    let out = curl(&[
        "--cacert",
        ca,
        "--http1.1",
        "-v",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        &s.url("/healthz"),
        &s.url("/.well-known/jwks.json"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Re-using existing connection"), "{err}");

    // Health on both sides; the JWKS only over HTTPS.
    assert_eq!(
        fetch(&["--cacert", ca, &s.url("/healthz")]),
        (200, b"ok\n".to_vec())
    );
    assert_eq!(fetch(&[&s.http_url("/healthz")]), (200, b"ok\n".to_vec()));
    assert_eq!(fetch(&[&s.http_url("/.well-known/jwks.json")]).0, 404);

    // One log line per request.
    let log = s.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains(" GET /.well_known/jwks.json 200 ")),
        "{log}"
    );
}

#[test]
fn a_new_jwks_is_served_without_restart() {
    let fx = tree();
    let s = Server::start(&fx);
    let ca = root(&fx.out);
    let ca = ca.to_str().unwrap();
    let path = org(&fx.out).join("jwt/jwks.json");
    let (code, before) = fetch(&["--cacert", ca, &s.url("/.well-known/jwks.json")]);
    assert_eq!(code, 200);
    // What a rotation does: a new file renamed over the old one.
    let newer = br#"{"keys":[]}"#;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, newer).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let (code, after) = fetch(&["--cacert", ca, &s.url("/.well-known/jwks.json")]);
    assert_eq!((code, &after[..]), (200, &newer[..]));
    assert_ne!(before, after);
    std::fs::remove_file(&path).unwrap();
    let (code, body) = fetch(&["--cacert", ca, &s.url("/.well-known/jwks.json")]);
    assert_eq!(code, 404);
    assert!(String::from_utf8_lossy(&body).contains("jwks.json does not exist"));
}

/// The venv's Python with PyJWT; `None` (the caller `test` reported SKIPPED) without it.
fn python(test: &str) -> Option<PathBuf> {
    let p = crate_root().join(".venv/bin/python");
    let works = Command::new(&p)
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        Some(p)
    } else {
        skipped(
            test,
            "PyJWT is not installed in .venv (pip install -r tests/interop/requirements.txt)",
        );
        None
    }
}

fn mint(fx: &Fixture, user: &str) -> String {
    fx.ok(&["jwt", "mint", "--user", user, "--org", ORG])
        .0
        .trim()
        .to_string()
}

#[test]
fn pyjwt_fetches_the_jwks_over_https_and_verifies_a_token() {
    let Some(py) = python(test_name!()) else {
        return;
    };
    let fx = tree();
    let s = Server::start(&fx);
    let token = mint(&fx, "alice");
    let script = r#"
import ssl, sys, jwt
url, cafile, token = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)  # trusts the org root only
client = jwt.PyJWKClient(url, ssl_context=ctx)
key = client.get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["ES256", "RS256"], options={"verify_aud": False})
assert claims["sub"] == "alice", claims
print("OK", key.key_id)
"#;
    let out = Command::new(py)
        .args(["-c", script, &s.url("/.well-known/jwks.json")])
        .arg(root(&fx.out))
        .arg(&token)
        .output()
        .unwrap();
    assert!(ok(out, "PyJWKClient").starts_with("OK "));

    // The same client refuses the server when it trusts another root.
    let other = tree();
    let out = Command::new(python(test_name!()).unwrap())
        .args(["-c", script, &s.url("/.well-known/jwks.json")])
        .arg(root(&other.out))
        .arg(&token)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"));
}

/// Compiles `tests/java/CLASS.java` into `classes` and makes a PKCS#12 truststore of the org
/// root there; `None` (after a SKIPPED note) without a JDK.
fn java_setup(test: &str, classes: &Path, class: &str, dir: &Path) -> Option<PathBuf> {
    if !have("javac") || !have("java") || !have("keytool") {
        skipped(test, "a JDK (javac, java, keytool) is not installed");
        return None;
    }
    let src = crate_root().join(format!("tests/java/{class}.java"));
    let out = Command::new("javac")
        .arg("-d")
        .arg(classes)
        .arg(&src)
        .output()
        .unwrap();
    ok(out, "javac");
    let store = classes.join("trust.p12");
    let out = Command::new("keytool")
        .args([
            "-importcert",
            "-noprompt",
            "-alias",
            "root",
            "-storetype",
            "PKCS12",
        ])
        .arg("-keystore")
        .arg(&store)
        .args(["-storepass", "changeit", "-file"])
        .arg(root(dir))
        .output()
        .unwrap();
    ok(out, "keytool -importcert");
    Some(store)
}

#[test]
fn a_jdk_only_java_client_fetches_the_jwks_and_verifies_a_token() {
    let fx = tree();
    let classes = tempfile::tempdir().unwrap();
    let Some(store) = java_setup(test_name!(), classes.path(), "JwksClient", &fx.out) else {
        return;
    };
    let s = Server::start(&fx);
    let token = mint(&fx, "alice");
    let out = Command::new("java")
        .arg("-cp")
        .arg(classes.path())
        .arg("JwksClient")
        .arg(s.url("/.well-known/jwks.json"))
        .arg(&store)
        .arg("changeit")
        .arg(&token)
        .output()
        .unwrap();
    assert!(ok(out, "java JwksClient").starts_with("OK kid="));
}

fn openssl(args: &[&str]) -> Output {
    openssl_raw(args, None)
}

struct Ocsp {
    issuer: String,
    leaf: String,
    chain: String,
}

fn ocsp_files(dir: &Path) -> Ocsp {
    let o = org(dir);
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    Ocsp {
        issuer: s(o.join("intermediate/certs/intermediate.cert.pem")),
        leaf: s(o.join(format!("participant1/certs/participant1.{DNS}.cert.pem"))),
        chain: s(o.join("intermediate/certs/ca-chain.cert.pem")),
    }
}

fn ocsp_query(f: &Ocsp, url: &str) -> (String, String) {
    ocsp_query_with(f, url, &[])
}

/// `openssl ocsp` about the participant's server cert at `url`, with `extra` arguments; its
/// stdout and stderr, after asserting that it succeeded.
fn ocsp_query_with(f: &Ocsp, url: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "ocsp",
        "-issuer",
        &f.issuer,
        "-cert",
        &f.leaf,
        "-url",
        url,
        "-CAfile",
        &f.chain,
        "-resp_text",
    ];
    args.extend_from_slice(extra);
    let out = openssl(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

fn serial_hex(cert: &str) -> String {
    let out = ok(openssl(&["x509", "-in", cert, "-noout", "-serial"]), "x509");
    out.trim().trim_start_matches("serial=").to_string()
}

#[test]
fn init_writes_delegated_ocsp_responders_that_openssl_accepts() {
    let fx = tree();
    let o = org(&fx.out);
    let cert = o.join(format!("intermediate/certs/ocsp.{DNS}.cert.pem"));
    let key = o.join(format!("intermediate/private/ocsp.{DNS}.key.pem"));
    let root_ocsp = o.join(format!("root/certs/root-ocsp.{DNS}.cert.pem"));
    assert!(key.exists() && root_ocsp.exists());
    let text = ok(
        openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"]),
        "x509 -text",
    );
    assert!(text.contains("OCSP Signing"), "{text}");
    assert!(text.contains("OCSP No Check"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    assert!(text.contains("Authority Key Identifier"), "{text}");
    let chain = o.join("intermediate/certs/ca-chain.cert.pem");
    let v = ok(
        openssl(&[
            "verify",
            "-purpose",
            "ocsphelper",
            "-CAfile",
            chain.to_str().unwrap(),
            cert.to_str().unwrap(),
        ]),
        "openssl verify",
    );
    assert!(v.contains(": OK"), "{v}");
    // A second init keeps them.
    let before = std::fs::read(&cert).unwrap();
    init(&fx);
    assert_eq!(std::fs::read(&cert).unwrap(), before);
}

#[test]
fn ocsp_good_then_revoked_without_restart_post_and_get() {
    let fx = tree();
    let s = Server::start(&fx);
    let f = ocsp_files(&fx.out);
    let url = s.http_url("/ocsp");
    let serial = serial_hex(&f.leaf);
    let index = org(&fx.out).join("intermediate/index.txt");
    // `init` records every cert in its CA's index; this test writes the lines itself, as
    // `openssl ca` would, starting from none.
    std::fs::remove_file(&index).unwrap();
    // Not in the index (there is none yet): unknown.
    let (out, _) = ocsp_query(&f, &url);
    assert!(out.contains(&format!("{}: unknown", f.leaf)), "{out}");

    // Valid in the index, the line `openssl ca` writes when it issues.
    std::fs::write(
        &index,
        format!("V\t271231235959Z\t\t{serial}\tunknown\t/C=US/CN=participant1.{DNS}\n"),
    )
    .unwrap();
    let (out, err) = ocsp_query(&f, &url);
    assert!(out.contains(&format!("{}: good", f.leaf)), "{out}");
    assert!(err.contains("Response verify OK"), "{err}");
    assert!(!err.contains("WARNING: no nonce"), "{err}");
    assert!(out.contains("Next Update"), "{out}");

    // Over HTTPS too.
    let (out, _) = ocsp_query(&f, &s.url("/ocsp"));
    assert!(out.contains(": good"), "{out}");

    // Revoke it in the index, the way `openssl ca -revoke` writes the line.
    std::fs::write(
        &index,
        format!(
            "R\t271231235959Z\t261201100000Z,keyCompromise\t{serial}\tunknown\t/C=US/CN=participant1.{DNS}\n"
        ),
    )
    .unwrap();
    let (out, err) = ocsp_query(&f, &url);
    assert!(out.contains(&format!("{}: revoked", f.leaf)), "{out}");
    assert!(out.contains("Reason: keyCompromise"), "{out}");
    assert!(
        out.contains("Revocation Time: Dec  1 10:00:00 2026 GMT"),
        "{out}"
    );
    assert!(err.contains("Response verify OK"), "{err}");

    // A cert the index does not list is unknown.
    std::fs::write(&index, "").unwrap();
    let (out, _) = ocsp_query(&f, &url);
    assert!(out.contains(": unknown"), "{out}");

    // GET form (RFC 6960 A.1): base64 of the DER request, URL-encoded, in the path.
    let tmp = tempfile::tempdir().unwrap();
    let req = tmp.path().join("req.der");
    let resp = tmp.path().join("resp.der");
    ok(
        openssl(&[
            "ocsp",
            "-issuer",
            &f.issuer,
            "-cert",
            &f.leaf,
            "-reqout",
            req.to_str().unwrap(),
        ]),
        "ocsp -reqout",
    );
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&req).unwrap());
    let enc = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let (code, body) = fetch(&[&s.http_url(&format!("/ocsp/{enc}"))]);
    assert_eq!(code, 200);
    std::fs::write(&resp, body).unwrap();
    let out = openssl(&[
        "ocsp",
        "-respin",
        resp.to_str().unwrap(),
        // The request the response answers, for openssl to check the nonce against (given
        // -cert as well, openssl would build a new request with a nonce of its own).
        "-reqin",
        req.to_str().unwrap(),
        "-CAfile",
        &f.chain,
        "-resp_text",
    ]);
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(o.contains("Cert Status: unknown"), "{o}\n{e}");
    assert!(e.contains("Response verify OK"), "{e}");
    assert!(
        !e.contains("WARNING: no nonce") && !e.contains("Nonce Verify error"),
        "{e}"
    );
}

/// The `Produced At:` line of `openssl ocsp -resp_text`.
fn produced_at(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("Produced At:"))
        .unwrap_or_else(|| panic!("no Produced At in {text}"))
        .trim()
        .to_string()
}

/// A request without a nonce, as the JDK's revocation checker sends it, gets the answer signed
/// for the same request before, byte for byte (ECDSA signatures differ on every signing), until
/// it stops being true: `hapki revoke` shows on the next request, without a restart.
#[test]
fn a_repeated_request_without_a_nonce_gets_the_answer_signed_before_until_a_revocation() {
    let fx = tree();
    let s = Server::start(&fx);
    let f = ocsp_files(&fx.out);
    let url = s.http_url("/ocsp");
    let tmp = tempfile::tempdir().unwrap();
    let ask = |n: u32| -> (String, Vec<u8>) {
        let resp = tmp.path().join(format!("resp{n}.der"));
        let resp_arg = resp.to_str().unwrap();
        let (text, _) = ocsp_query_with(&f, &url, &["-no_nonce", "-respout", resp_arg]);
        (text, std::fs::read(&resp).unwrap())
    };
    let (first, der) = ask(1);
    assert!(first.contains(&format!("{}: good", f.leaf)), "{first}");
    // `producedAt` has whole seconds: an answer signed a second later would carry another.
    std::thread::sleep(Duration::from_millis(1100));
    let (again, der_again) = ask(2);
    assert_eq!(
        der_again, der,
        "not the same signed answer:\n{first}\n{again}"
    );
    // With a nonce (openssl's default) the answer is signed for the request.
    let (fresh, _) = ocsp_query(&f, &url);
    assert!(fresh.contains(": good"), "{fresh}");
    assert_ne!(produced_at(&fresh), produced_at(&first));

    fx.ok(&["revoke", &f.leaf, "--reason", "key-compromise"]);
    let (revoked, der_revoked) = ask(3);
    assert!(
        revoked.contains(&format!("{}: revoked", f.leaf)),
        "{revoked}"
    );
    assert!(revoked.contains("Reason: keyCompromise"), "{revoked}");
    assert_ne!(der_revoked, der);
}

fn index_line(status: char, serial: &str, revoked: &str) -> String {
    format!("{status}\t271231235959Z\t{revoked}\t{serial}\tunknown\t/C=US/CN=x\n")
}

#[test]
fn java_checks_the_servers_chain_over_ocsp_in_a_tls_handshake() {
    let fx = tree();
    let classes = tempfile::tempdir().unwrap();
    let Some(store) = java_setup(test_name!(), classes.path(), "OcspClient", &fx.out) else {
        return;
    };
    let s = Server::start(&fx);
    let o = org(&fx.out);
    // The chain Java checks: the server's auth cert (in the intermediate's index) and the
    // intermediate (in the root's index).
    let auth = o.join(format!("auth/certs/auth.{DNS}.cert.pem"));
    let auth_serial = serial_hex(auth.to_str().unwrap());
    let inter = o.join("intermediate/certs/intermediate.cert.pem");
    let inter_serial = serial_hex(inter.to_str().unwrap());
    std::fs::write(o.join("root/index.txt"), index_line('V', &inter_serial, "")).unwrap();
    let leaf_index = o.join("intermediate/index.txt");
    let java = || {
        let out = Command::new("java")
            .arg("-cp")
            .arg(classes.path())
            .arg("OcspClient")
            .arg(s.url("/healthz"))
            .arg(&store)
            .arg("changeit")
            .arg(s.http_url("/ocsp"))
            .output()
            .unwrap();
        ok(out, "java OcspClient").trim().to_string()
    };
    std::fs::write(&leaf_index, index_line('V', &auth_serial, "")).unwrap();
    assert_eq!(java(), "OK");
    std::fs::write(
        &leaf_index,
        index_line('R', &auth_serial, "261201100000Z,keyCompromise"),
    )
    .unwrap();
    let refused = java();
    assert!(refused.starts_with("REFUSED: "), "{refused}");
    assert!(refused.contains("revoked"), "{refused}");
    let log = s.log_text();
    // The JDK asks with the GET form (RFC 6960 A.1).
    assert!(
        log.lines()
            .any(|l| l.contains(" GET /ocsp/") && l.contains(" 200 revoked ")),
        "{log}"
    );
}

#[test]
fn crls_are_served_as_on_disk_and_absent_ones_are_404() {
    let fx = tree();
    let o = org(&fx.out);
    // `init` signs an empty CRL per CA; this test starts from none to see the 404.
    for crl in ["intermediate/crl/intermediate.crl", "root/crl/ca.crl"] {
        for ext in ["pem", "der"] {
            let _ = std::fs::remove_file(o.join(format!("{crl}.{ext}")));
        }
    }
    let s = Server::start(&fx);
    assert_eq!(fetch(&[&s.http_url("/crl/intermediate.crl")]).0, 404);

    // A CRL signed by the intermediate, as the CRL commands will write it.
    let ca_pem =
        std::fs::read_to_string(o.join("intermediate/certs/intermediate.cert.pem")).unwrap();
    let key_pem =
        std::fs::read_to_string(o.join("intermediate/private/intermediate.key.pem")).unwrap();
    let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, &key).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let crl = rcgen::CertificateRevocationListParams {
        this_update: now - time::Duration::minutes(5),
        next_update: now + time::Duration::days(7),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap();
    let crl_dir = o.join("intermediate/crl");
    std::fs::create_dir_all(&crl_dir).unwrap();
    std::fs::write(crl_dir.join("intermediate.crl.der"), crl.der()).unwrap();
    std::fs::write(crl_dir.join("intermediate.crl.pem"), crl.pem().unwrap()).unwrap();

    let (code, der) = fetch(&[&s.http_url("/crl/intermediate.crl")]);
    assert_eq!((code, &der[..]), (200, &crl.der()[..]));
    let (code, pem) = fetch(&[
        "--cacert",
        root(&fx.out).to_str().unwrap(),
        &s.url("/crl/intermediate.crl.pem"),
    ]);
    assert_eq!((code, pem), (200, crl.pem().unwrap().into_bytes()));
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served.crl");
    std::fs::write(&served, &der).unwrap();
    let out = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        served.to_str().unwrap(),
        "-CAfile",
        o.join("intermediate/certs/ca-chain.cert.pem")
            .to_str()
            .unwrap(),
        "-noout",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("verify OK"));
    let head = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        &s.http_url("/crl/intermediate.crl"),
    ]);
    assert!(String::from_utf8_lossy(&head.stdout)
        .to_ascii_lowercase()
        .contains("content-type: application/pkix-crl"));
    let (code, body) = fetch(&[&s.http_url("/crl/root.crl")]);
    assert_eq!(code, 404);
    assert!(String::from_utf8_lossy(&body).contains("ca.crl.der does not exist"));
    assert_eq!(fetch(&[&s.http_url("/crl/nope.crl")]).0, 404);
}

/// The DER of an OCSPResponse with status malformedRequest (1) and no body.
const MALFORMED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x01];

#[test]
fn bad_input_gets_clean_errors_and_the_server_keeps_serving() {
    let fx = tree();
    let mut s = Server::start(&fx);
    let ca = root(&fx.out);
    let ca = ca.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // A body that is not an OCSP request: an OCSP error, as RFC 6960 wants.
    let (code, body) = fetch(&[
        "-H",
        "Content-Type: application/ocsp-request",
        "--data-binary",
        "garbage",
        &s.http_url("/ocsp"),
    ]);
    assert_eq!((code, &body[..]), (200, MALFORMED));
    // Not even claiming to be OCSP.
    assert_eq!(fetch(&["--data-binary", "x", &s.http_url("/ocsp")]).0, 415);
    assert_eq!(fetch(&[&s.http_url("/ocsp/%%%")]).0, 400);
    assert_eq!(
        fetch(&[&s.http_url("/ocsp/bm90IGRlcg==")]),
        (200, MALFORMED.to_vec())
    );

    // 10 MB body: 413, and the server goes on.
    let big = tmp.path().join("big");
    std::fs::write(&big, vec![0u8; 10 << 20]).unwrap();
    let arg = format!("@{}", big.display());
    for url in [s.http_url("/ocsp"), s.url("/ocsp")] {
        let (code, _) = fetch(&[
            "--cacert",
            ca,
            "-H",
            "Content-Type: application/ocsp-request",
            "--data-binary",
            &arg,
            &url,
        ]);
        assert_eq!(code, 413, "{url}");
    }
    assert_eq!(fetch(&["--cacert", ca, &s.url("/healthz")]).0, 200);

    // Unknown paths and methods.
    let (code, body) = fetch(&["--cacert", ca, &s.url("/nope")]);
    assert_eq!(code, 404);
    assert!(String::from_utf8_lossy(&body).starts_with("no such path: /nope;"));
    assert_eq!(fetch(&[&s.http_url("/")]).0, 404);
    assert_eq!(fetch(&["-X", "DELETE", &s.http_url("/healthz")]).0, 405);

    // 1,000 idle connections (half never start TLS), then a real request is still answered.
    let idle: Vec<TcpStream> = (0..1000)
        .map(|i| {
            let port = if i % 2 == 0 { s.https } else { s.http };
            TcpStream::connect(("127.0.0.1", port)).unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fetch(&["--cacert", ca, &s.url("/healthz")]).0, 200);
    assert_eq!(fetch(&[&s.http_url("/healthz")]).0, 200);
    drop(idle);

    // A slow client that never finishes its headers is cut off, not waited for.
    let mut slow = TcpStream::connect(("127.0.0.1", s.http)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(s.alive());

    // SIGTERM: a clean stop, exit 0, within 5 s.
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut child = s.child.take().unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", s.log_text());
    assert!(s.log_text().contains("stopped"));
}

#[test]
fn serve_help_has_examples_and_exit_codes() {
    let out = hapki_std().args(["serve", "--help"]).output().unwrap();
    let text = ok(out, "hapki serve --help");
    assert!(
        text.contains("EXAMPLES:\n  hapki serve --org participant1"),
        "{text}"
    );
    assert!(text.contains("EXIT CODES:\n  0  "), "{text}");
}

#[test]
fn startup_errors_are_one_sentence_and_exit_2() {
    let fx = Fixture::shipped_ecdsa().bare();
    std::fs::create_dir_all(&fx.out).unwrap();
    let out = fx.output(&[
        "serve",
        "--org",
        ORG,
        "--listen",
        "127.0.0.1:0",
        "--http",
        "off",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: the `auth` server cert of org `participant1` is missing"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    init(&fx);
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let out = fx.output(&["serve", "--org", ORG, "--listen", &listen, "--http", "off"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!("error: cannot listen on 127.0.0.1:{port} (--listen): it is in use by another process; pick another address with --listen")
    );
    let out = hapki_std()
        .args(["serve", "--org", "nope", "--profile"])
        .arg(fx.profile_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
