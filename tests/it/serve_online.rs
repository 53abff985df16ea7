//! `hapki serve` against the real binary on free loopback ports, with real clients: curl
//! (HTTP/1.1 keep-alive and HTTP/2), PyJWT's `PyJWKClient`, a JDK-only Java client, and
//! `openssl ocsp` / `openssl crl`.
//!
//! Times: the server answers OCSP and TLS at the real clock, so the tree must be valid now. Each
//! tree is issued with `--at` one hour before the test's start (computed from the clock): its
//! certs are valid for the whole test and every issued time is fixed by the test, which is as
//! deterministic as a test of a live server can be.

use assert_cmd::cargo::CommandCargoExt;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PROFILE: &str = "profiles/canton-ha-ecdsa.toml";
const ORG: &str = "participant1";
const DNS: &str = "customer1.com";

fn hapki() -> Command {
    Command::cargo_bin("hapki").unwrap()
}

fn an_hour_ago() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now.as_secs() - 3600).to_string()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn init(dir: &Path) {
    let out = hapki()
        .args(["init", "--profile", PROFILE, "--out"])
        .arg(dir)
        .args(["--at", &an_hour_ago()])
        .output()
        .unwrap();
    ok(out, "hapki init");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `hapki serve`, killed when dropped (a test that fails mid-way leaves no server).
struct Server {
    child: Option<Child>,
    https: u16,
    http: u16,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let (https, http) = (free_port(), free_port());
        let log = dir.join("serve.log");
        let child = hapki()
            .args(["serve", "--org", ORG, "--profile", PROFILE, "--out"])
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{https}")])
            .args(["--http", &format!("127.0.0.1:{http}")])
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
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let s = Server::start(dir.path());
    let ca = root(dir.path());
    let ca = ca.to_str().unwrap();
    let jwks = std::fs::read(org(dir.path()).join("jwt/jwks.json")).unwrap();

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
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let s = Server::start(dir.path());
    let ca = root(dir.path());
    let ca = ca.to_str().unwrap();
    let path = org(dir.path()).join("jwt/jwks.json");
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

fn python() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let works = Command::new(&p)
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        Some(p)
    } else {
        skip("PyJWT is not installed in .venv (pip install -r tests/interop/requirements.txt)");
        None
    }
}

fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must run this test: {why}"
    );
}

fn mint(dir: &Path, user: &str) -> String {
    let out = hapki()
        .args([
            "jwt",
            "mint",
            "--user",
            user,
            "--org",
            ORG,
            "--profile",
            PROFILE,
        ])
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    ok(out, "hapki jwt mint").trim().to_string()
}

#[test]
fn pyjwt_fetches_the_jwks_over_https_and_verifies_a_token() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let s = Server::start(dir.path());
    let token = mint(dir.path(), "alice");
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
        .arg(root(dir.path()))
        .arg(&token)
        .output()
        .unwrap();
    assert!(ok(out, "PyJWKClient").starts_with("OK "));

    // The same client refuses the server when it trusts another root.
    let other = tempfile::tempdir().unwrap();
    init(other.path());
    let out = Command::new(python().unwrap())
        .args(["-c", script, &s.url("/.well-known/jwks.json")])
        .arg(root(other.path()))
        .arg(&token)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"));
}

/// Compiles `tests/java/CLASS.java` into `classes` and makes a PKCS#12 truststore of the org
/// root there; `None` (after a SKIPPED note) without a JDK.
fn java_setup(classes: &Path, class: &str, dir: &Path) -> Option<PathBuf> {
    let have = |c: &str| Command::new(c).arg("-version").output().is_ok();
    if !have("javac") || !have("java") || !have("keytool") {
        skip("a JDK (javac, java, keytool) is not installed");
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/java/{class}.java"));
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
    let dir = tempfile::tempdir().unwrap();
    let classes = tempfile::tempdir().unwrap();
    init(dir.path());
    let Some(store) = java_setup(classes.path(), "JwksClient", dir.path()) else {
        return;
    };
    let s = Server::start(dir.path());
    let token = mint(dir.path(), "alice");
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
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs")
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
    let out = openssl(&[
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
    ]);
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
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let o = org(dir.path());
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
    init(dir.path());
    assert_eq!(std::fs::read(&cert).unwrap(), before);
}

#[test]
fn ocsp_good_then_revoked_without_restart_post_and_get() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let s = Server::start(dir.path());
    let f = ocsp_files(dir.path());
    let url = s.http_url("/ocsp");
    let serial = serial_hex(&f.leaf);
    let index = org(dir.path()).join("intermediate/index.txt");
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

fn index_line(status: char, serial: &str, revoked: &str) -> String {
    format!("{status}\t271231235959Z\t{revoked}\t{serial}\tunknown\t/C=US/CN=x\n")
}

#[test]
fn java_checks_the_servers_chain_over_ocsp_in_a_tls_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let classes = tempfile::tempdir().unwrap();
    init(dir.path());
    let Some(store) = java_setup(classes.path(), "OcspClient", dir.path()) else {
        return;
    };
    let s = Server::start(dir.path());
    let o = org(dir.path());
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
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let o = org(dir.path());
    // `init` signs an empty CRL per CA; this test starts from none to see the 404.
    for crl in ["intermediate/crl/intermediate.crl", "root/crl/ca.crl"] {
        for ext in ["pem", "der"] {
            let _ = std::fs::remove_file(o.join(format!("{crl}.{ext}")));
        }
    }
    let s = Server::start(dir.path());
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
        root(dir.path()).to_str().unwrap(),
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
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let mut s = Server::start(dir.path());
    let ca = root(dir.path());
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
    let out = hapki().args(["serve", "--help"]).output().unwrap();
    let text = ok(out, "hapki serve --help");
    assert!(
        text.contains("EXAMPLES:\n  hapki serve --org participant1"),
        "{text}"
    );
    assert!(text.contains("EXIT CODES:\n  0  "), "{text}");
}

#[test]
fn startup_errors_are_one_sentence_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = hapki()
        .args(["serve", "--org", ORG, "--profile", PROFILE, "--out"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--http", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: the `auth` server cert of org `participant1` is missing"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    init(dir.path());
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = hapki()
        .args(["serve", "--org", ORG, "--profile", PROFILE, "--out"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}"), "--http", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!("error: cannot listen on 127.0.0.1:{port} (--listen): it is in use by another process; pick another address with --listen")
    );
    let out = hapki()
        .args(["serve", "--org", "nope", "--profile", PROFILE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
