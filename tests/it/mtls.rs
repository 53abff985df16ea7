//! A real mutual-TLS handshake on 127.0.0.1 with the files hapki writes, done by another
//! implementation: `openssl s_server` requiring a client cert (`-Verify 1 -verify_return_error`)
//! trusting only its org root, and `openssl s_client` checking the server's name against the org
//! root. Same-org client (and proxy-backend) certs get through; another org's client cert, or
//! none, is refused by the server; a client that trusts another org, or expects another name,
//! refuses the server.
//!
//! Every process is bounded in time and killed by its own pid.

use crate::support::fixture::Fixture;
use crate::support::proc::{drain, free_port, run_bounded, wait_for_line, KillOnDrop};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);
const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

/// Paths of one org's files.
struct OrgFiles {
    dir: PathBuf,
    dns: &'static str,
}

impl OrgFiles {
    fn root(&self) -> PathBuf {
        self.dir.join("root/certs/ca.cert.pem")
    }
    fn intermediate(&self) -> PathBuf {
        self.dir.join("intermediate/certs/intermediate.cert.pem")
    }
    fn server(&self, h: &str) -> (PathBuf, PathBuf) {
        (
            self.dir
                .join(format!("{h}/certs/{h}.{}.cert.pem", self.dns)),
            self.dir
                .join(format!("{h}/private/{h}.{}.key.pem", self.dns)),
        )
    }
    fn client(&self, c: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("client/{c}.{}.cert.pem", self.dns)),
            self.dir.join(format!("client/{c}.{}.key.pem", self.dns)),
        )
    }
}

/// An ECDSA tree of the built-in topology with participant1's and participant2's leaves.
fn build() -> (Fixture, OrgFiles, OrgFiles) {
    let fx = Fixture::ecdsa().cas();
    fx.ok(&["issue", "participant1"]);
    fx.ok(&["issue", "participant2"]);
    let p1 = OrgFiles {
        dir: fx.org("participant1"),
        dns: "customer1.com",
    };
    let p2 = OrgFiles {
        dir: fx.org("participant2"),
        dns: "customer2.com",
    };
    (fx, p1, p2)
}

/// `openssl s_server` on 127.0.0.1 presenting `cert` + `chain`, requiring a client cert that
/// chains to `trust`, answering each request with a status page (`-www`).
struct Server {
    proc: KillOnDrop,
    port: u16,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Server {
    fn start(cert: &Path, key: &Path, chain: &Path, trust: &Path) -> Server {
        let mut last = String::new();
        // The port was free when probed; another process may take it first, so retry.
        for _ in 0..5 {
            let port = free_port();
            let mut child = KillOnDrop(
                Command::new("openssl")
                    .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-www"])
                    .arg("-cert")
                    .arg(cert)
                    .arg("-key")
                    .arg(key)
                    .arg("-cert_chain")
                    .arg(chain)
                    .arg("-CAfile")
                    .arg(trust)
                    .args(["-Verify", "1", "-verify_return_error"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("openssl is installed (the mTLS test needs it)"),
            );
            let stderr = drain(child.0.stderr.take().unwrap());
            match wait_for_line(child.0.stdout.take().unwrap(), "ACCEPT", LIMIT) {
                Ok(stdout) => {
                    return Server {
                        proc: child,
                        port,
                        stdout,
                        stderr,
                    }
                }
                Err(e) => {
                    drop(child);
                    last = format!("{e}; s_server said: {}", stderr.join().unwrap());
                }
            }
        }
        panic!("openssl s_server did not start: {last}");
    }

    /// Stops the server (by its pid) and returns everything it printed.
    fn stop(self) -> String {
        drop(self.proc);
        let mut s = self.stdout.join().unwrap();
        s.push_str(&self.stderr.join().unwrap());
        s
    }
}

/// `openssl s_client` to the server, checking its cert against `trust` for `hostname`, and
/// presenting `client` (cert, key, chain) when given; sends one request. Returns (exit ok, output).
fn connect(
    port: u16,
    trust: &Path,
    hostname: &str,
    client: Option<(&Path, &Path, &Path)>,
) -> (bool, String) {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-verify_return_error", "-verify_hostname", hostname])
        .arg("-CAfile")
        .arg(trust)
        .arg("-ign_eof");
    if let Some((cert, key, chain)) = client {
        cmd.arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .arg("-cert_chain")
            .arg(chain);
    }
    run_bounded(cmd, REQUEST, LIMIT)
}

fn assert_handshake_ok(ok: bool, out: &str, hostname: &str, client_cn: &str, org: &str) {
    assert!(ok, "s_client failed:\n{out}");
    assert!(out.contains("Verification: OK"), "{out}");
    assert!(
        out.contains(&format!("Verified peername: {hostname}")),
        "{out}"
    );
    assert!(
        out.contains("HTTP/1.0 200 ok"),
        "no response from the server:\n{out}"
    );
    // The server's page shows the client cert it accepted.
    let page = &out[out.find("HTTP/1.0 200 ok").unwrap()..];
    let shown = &page[page
        .find("Client certificate")
        .unwrap_or_else(|| panic!("the server saw no client cert:\n{page}"))..];
    assert!(
        shown.contains(&format!(
            "Subject: C=US, ST=New York, O={org}, CN={client_cn}"
        )),
        "{shown}"
    );
}

#[test]
fn mtls_handshake_succeeds_with_a_same_org_client_cert() {
    let (_fx, p1, _p2) = build();
    let (cert, key) = p1.server("participant1");
    let server = Server::start(&cert, &key, &p1.intermediate(), &p1.root());
    let (ccert, ckey) = p1.client("admin-api");
    let (ok, out) = connect(
        server.port,
        &p1.root(),
        "participant1.customer1.com",
        Some((&ccert, &ckey, &p1.intermediate())),
    );
    let log = server.stop();
    assert_handshake_ok(
        ok,
        &out,
        "participant1.customer1.com",
        "admin-api.customer1.com",
        "Customer1 LLC",
    );
    assert!(!log.contains("verify error"), "{log}");
}

#[test]
fn mtls_handshake_fails_with_another_orgs_client_cert() {
    let (_fx, p1, p2) = build();
    let (cert, key) = p1.server("participant1");
    let server = Server::start(&cert, &key, &p1.intermediate(), &p1.root());
    let (ccert, ckey) = p2.client("admin-api");
    let (ok, out) = connect(
        server.port,
        &p1.root(),
        "participant1.customer1.com",
        Some((&ccert, &ckey, &p2.intermediate())),
    );
    let log = server.stop();
    // The client accepted the server; the server refused the client.
    assert!(out.contains("Verification: OK"), "{out}");
    assert!(!ok, "s_client succeeded with another org's cert:\n{out}");
    assert!(!out.contains("HTTP/1.0 200 ok"), "{out}");
    assert!(out.contains("alert unknown ca"), "{out}");
    assert!(
        log.contains("unable to get local issuer certificate")
            && log.contains("certificate verify failed"),
        "the server did not refuse the client cert:\n{log}"
    );
}

#[test]
fn mtls_server_refuses_a_client_without_a_cert() {
    let (_fx, p1, _p2) = build();
    let (cert, key) = p1.server("participant1");
    let server = Server::start(&cert, &key, &p1.intermediate(), &p1.root());
    let (ok, out) = connect(server.port, &p1.root(), "participant1.customer1.com", None);
    let log = server.stop();
    assert!(!ok, "s_client succeeded without a client cert:\n{out}");
    assert!(!out.contains("HTTP/1.0 200 ok"), "{out}");
    assert!(log.contains("peer did not return a certificate"), "{log}");
}

#[test]
fn mtls_replica_serves_the_service_name_and_the_proxy_backend_cert_is_accepted() {
    // participant1b stands in for participant1 (clients address the service), and the proxy
    // lb-participant1 presents its backend cert to it.
    let (_fx, p1, _p2) = build();
    let (cert, key) = p1.server("participant1b");
    let server = Server::start(&cert, &key, &p1.intermediate(), &p1.root());
    let backend_cert = p1
        .dir
        .join("lb-participant1/certs/lb-participant1.customer1.com.cert.pem");
    let backend_key = p1
        .dir
        .join("lb-participant1/private/lb-participant1.customer1.com.key.pem");
    let (ok, out) = connect(
        server.port,
        &p1.root(),
        "participant1.customer1.com",
        Some((&backend_cert, &backend_key, &p1.intermediate())),
    );
    let _ = server.stop();
    assert_handshake_ok(
        ok,
        &out,
        "participant1.customer1.com",
        "lb-participant1.customer1.com",
        "Customer1 LLC",
    );
}

#[test]
fn mtls_client_refuses_a_server_of_another_org_or_name() {
    let (_fx, p1, p2) = build();
    let (cert, key) = p1.server("participant1");
    let (ccert, ckey) = p1.client("admin-api");
    let client = Some((ccert.as_path(), ckey.as_path(), p1.intermediate()));

    // Trusting participant2's root only: participant1's server is not trusted.
    let server = Server::start(&cert, &key, &p1.intermediate(), &p1.root());
    let c = client.as_ref().map(|(a, b, i)| (*a, *b, i.as_path()));
    let (ok, out) = connect(server.port, &p2.root(), "participant1.customer1.com", c);
    let _ = server.stop();
    assert!(!ok, "{out}");
    assert!(
        out.contains("unable to get local issuer certificate"),
        "{out}"
    );
    assert!(!out.contains("HTTP/1.0 200 ok"), "{out}");

    // Expecting another name of the org: the server cert does not carry it.
    let server = Server::start(&cert, &key, &p1.intermediate(), &p1.root());
    let (ok, out) = connect(server.port, &p1.root(), "json.customer1.com", c);
    let _ = server.stop();
    assert!(!ok, "{out}");
    assert!(out.contains("hostname mismatch"), "{out}");
    assert!(!out.contains("HTTP/1.0 200 ok"), "{out}");
}
