//! Client chain files `NS/client/C-chain.D.cert.pem` (leaf, then the CAs below the root): a
//! TLS server that trusts only the org's root accepts a client that sends the chain file and
//! refuses one that sends only its leaf. The server is `openssl s_server`; the clients are curl
//! (which sends a cert file's whole chain, as NGINX's `proxy_ssl_certificate` does) and
//! `openssl s_client`.

use crate::support::fixture::Fixture;
use crate::support::proc::{free_port, KillOnDrop};
use crate::support::skip::{have, skipped, test_name};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

const AT: &str = "2026-12-01T00:00:00Z";

fn tree() -> Fixture {
    Fixture::shipped_ecdsa().at(AT).init()
}

/// `openssl s_server` with participant1's server chain, requiring a client cert that
/// verifies against participant1's root alone.
fn server(p1: &Path) -> (KillOnDrop, u16) {
    let port = free_port();
    let child = Proc::new("openssl")
        .arg("s_server")
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .arg("-cert")
        .arg(p1.join("participant1/certs/participant1.customer1.com.cert.pem"))
        .arg("-cert_chain")
        .arg(p1.join("participant1/certs/participant1-chain.customer1.com.cert.pem"))
        .arg("-key")
        .arg(p1.join("participant1/private/participant1.customer1.com.key.pem"))
        .arg("-CAfile")
        .arg(p1.join("root/certs/ca.cert.pem"))
        .args(["-Verify", "2", "-verify_return_error", "-www"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = KillOnDrop(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (s, port)
}

fn curl(p1: &Path, port: u16, cert: &Path) -> std::process::Output {
    Proc::new("curl")
        .args(["-sS", "--max-time", "10", "--cert"])
        .arg(cert)
        .arg("--key")
        .arg(p1.join("client/admin-api.customer1.com.key.pem"))
        .arg("--cacert")
        .arg(p1.join("root/certs/ca.cert.pem"))
        .args([
            "--resolve",
            &format!("participant1.customer1.com:{port}:127.0.0.1"),
        ])
        .arg(format!("https://participant1.customer1.com:{port}/"))
        .output()
        .unwrap()
}

fn s_client(p1: &Path, port: u16, chain: Option<&Path>) -> std::process::Output {
    let mut c = Proc::new("openssl");
    c.arg("s_client")
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "participant1.customer1.com"])
        .arg("-cert")
        .arg(p1.join("client/admin-api.customer1.com.cert.pem"))
        .arg("-key")
        .arg(p1.join("client/admin-api.customer1.com.key.pem"))
        .arg("-CAfile")
        .arg(p1.join("root/certs/ca.cert.pem"))
        .args([
            "-verify_return_error",
            "-verify_hostname",
            "participant1.customer1.com",
        ])
        .arg("-ign_eof");
    if let Some(ch) = chain {
        c.arg("-cert_chain").arg(ch);
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.0\r\n\r\n");
    child.wait_with_output().unwrap()
}

fn pem_count(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .unwrap()
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

#[test]
fn server_trusting_only_the_root_accepts_the_client_chain_and_refuses_the_bare_leaf() {
    for bin in ["openssl", "curl"] {
        if !have(bin) {
            return skipped(test_name!(), &format!("{bin} is not installed"));
        }
    }
    let fx = tree();
    let p1: PathBuf = fx.org("participant1");
    let chain = p1.join("client/admin-api-chain.customer1.com.cert.pem");
    let leaf = p1.join("client/admin-api.customer1.com.cert.pem");
    // Leaf then intermediate, and no root (the server holds it).
    assert_eq!(pem_count(&chain), 2);
    let chain_text = std::fs::read_to_string(&chain).unwrap();
    assert!(chain_text.starts_with(&std::fs::read_to_string(&leaf).unwrap()));
    assert!(chain_text.ends_with(
        &std::fs::read_to_string(p1.join("intermediate/certs/intermediate.cert.pem")).unwrap()
    ));

    let (_srv, port) = server(&p1);
    let ok = curl(&p1, port, &chain);
    assert!(ok.status.success(), "the chain was refused: {ok:?}");
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("<HTML>"),
        "{ok:?}"
    );
    let refused = curl(&p1, port, &leaf);
    assert!(
        !refused.status.success(),
        "the bare leaf was accepted: {refused:?}"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("unknown ca"),
        "{refused:?}"
    );

    let ok = s_client(&p1, port, Some(&chain));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("<HTML>"),
        "s_client with the chain: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let refused = s_client(&p1, port, None);
    assert!(
        !String::from_utf8_lossy(&refused.stdout).contains("<HTML>"),
        "s_client with the bare leaf got an answer"
    );
}

#[test]
fn verify_accepts_client_chains_and_init_restores_a_wrong_one() {
    let fx = tree();
    let out = &fx.out;
    let verify = || fx.verify(&[]);
    let v = verify();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let chain = out.join("participant2/client/participant2-chain.customer2.com.cert.pem");
    // A chain with the root appended (what the server chain files hold) is not a client chain.
    let mut text = std::fs::read_to_string(&chain).unwrap();
    text += &std::fs::read_to_string(out.join("participant2/root/certs/ca.cert.pem")).unwrap();
    std::fs::write(&chain, text).unwrap();
    let v = verify();
    assert_eq!(v.status.code(), Some(1));
    let report = String::from_utf8_lossy(&v.stdout);
    assert!(
        report.contains("must be leaf, intermediate, no root"),
        "{report}"
    );
    fx.ok(&["init"]);
    assert_eq!(pem_count(&chain), 2);
    assert!(verify().status.success());
}

#[test]
fn a_client_name_ending_in_chain_is_refused() {
    let fx = Fixture::profile(
        "[defaults]\nca_key = \"ecdsa-p256\"\nleaf_key = \"ecdsa-p256\"\n[[org]]\nname = \"o\"\ndns = \"o.com\"\norganization = \"O\"\nservers = [\"s\"]\nclients = [\"a\", \"a-chain\"]\n",
    )
    .bare();
    fx.run(&["init"]).code(2).stderr(predicates::str::contains(
        "the client name `a-chain` ends in `-chain`",
    ));
    assert!(!fx.out.exists());
}
