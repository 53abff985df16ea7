//! JWT on the wire: the Ledger API of participant1 stands behind the NGINX lb-participant1 proxy
//! (`tests/ha/nginx-proxy.conf.tmpl`) and requires `Authorization: Bearer <token>`. The stand-in
//! here is a small TLS server on rustls (another TLS stack than the OpenSSL of NGINX and curl)
//! that requires the proxy's client cert and checks the token the way `hapki jwt verify` does:
//! signature, kid, times and audience against participant1's JWKS, and the JWKS key's x5c chain
//! to participant1's root. Every token the backend judges is also judged by PyJWT and jwcrypto
//! with the same JWKS (at the real clock, as the backend: `hapki init` minted the tokens now).

use crate::support::fixture::Fixture;
use crate::support::ha::{curl, ha_fixture, Proxy, Server};
use crate::support::interop::Interop;
use crate::support::proc::free_port;
use hapki::token as jwt;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, sleep, JoinHandle};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const SERVICE: &str = "participant1.customer1.com";
/// The audience of participant1's scope tokens (its participant id).
const AUD: &str = "participant1";
/// How long the backend serves at most, whatever the test does.
const BACKEND_LIFETIME: Duration = Duration::from_secs(120);

/// The Ledger API stand-in: serves on its own thread until dropped (or `BACKEND_LIFETIME`).
struct JwtBackend {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl JwtBackend {
    /// Presents participant1's chain, requires a client cert of participant1's CA, and checks
    /// tokens against `jwks` with its keys rooted at `root`.
    fn start(pki: &Fixture, jwks: &Path, root: &Path) -> JwtBackend {
        let (chain, key) = pki.server("participant1", "participant1");
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&chain)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(pki.bundle("participant1")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let config = Arc::new(
            ServerConfig::builder()
                .with_client_cert_verifier(verifier)
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let jwks = jwt::parse_jwks(&std::fs::read(jwks).unwrap()).unwrap();
        let root = CertificateDer::from_pem_file(root).unwrap();

        // Bound here and handed over, so no other process can take the port in between.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let until = Instant::now() + BACKEND_LIFETIME;
            while !flag.load(Ordering::Relaxed) && Instant::now() < until {
                match listener.accept() {
                    Ok((conn, _)) => {
                        // A broken connection fails only that request; the caller sees it.
                        let _ = serve(conn, config.clone(), &jwks, &root);
                    }
                    Err(_) => sleep(Duration::from_millis(10)),
                }
            }
        });
        JwtBackend {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for JwtBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP/1.1 request over TLS: 200 with the token's subject and the client cert's CN when the
/// token verifies, 401 with the reason when it does not.
fn serve(
    conn: TcpStream,
    config: Arc<ServerConfig>,
    jwks: &jsonwebtoken::jwk::JwkSet,
    root: &CertificateDer<'_>,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let tls = ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut s = StreamOwned::new(tls, conn);
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let client = s
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| {
            let (_, x) = x509_parser::parse_x509_certificate(c).ok()?;
            let cn = x.subject().iter_common_name().next()?.as_str().ok()?;
            Some(cn.to_string())
        })
        .unwrap_or_default();
    let head = String::from_utf8_lossy(&head);
    let bearer = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("authorization")
            .then(|| v.trim().strip_prefix("Bearer ").map(str::to_string))?
    });
    let now = OffsetDateTime::now_utc();
    let (status, body) = match bearer {
        None => ("401 Unauthorized", "no bearer token".to_string()),
        Some(token) => match jwt::verify_token(&token, jwks, Some(AUD), now.unix_timestamp())
            .and_then(|v| {
                let jwk = jwks.find(&v.kid).expect("verify_token found the kid");
                jwt::check_jwk(jwk, Some(root), now)
                    .map_err(|m| format!("is signed by a JWKS {m}"))?;
                Ok(v)
            }) {
            Ok(v) => (
                "200 OK",
                format!(
                    "sub={} client={client}",
                    v.claims.get("sub").and_then(|s| s.as_str()).unwrap_or("")
                ),
            ),
            Err(m) => ("401 Unauthorized", format!("the token {m}")),
        },
    };
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         X-Backend: ledger-api\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    s.conn.send_close_notify();
    s.flush()
}

/// The documented NGINX proxy in front of `backend`; its backup port has nothing listening.
fn proxy(pki: &Fixture, backend: u16) -> (Server, u16) {
    let lb = free_port();
    let p = Proxy::Nginx;
    (p.start(pki, &p.template(), lb, backend, free_port()), lb)
}

fn bearer(token: &str) -> Vec<String> {
    vec![format!("Authorization: Bearer {token}")]
}

#[test]
fn alice_passes_through_the_proxy_and_a_participant2_token_is_refused() {
    let pki = ha_fixture();
    let backend = JwtBackend::start(
        pki,
        &pki.file("participant1/jwt/jwks.json"),
        &pki.file("participant1/root/certs/ca.cert.pem"),
    );
    let (_proxy, lb) = proxy(pki, backend.port);
    let ca = pki.bundle("participant1");
    let admin = pki.client("participant1", "admin-api");

    let r = curl(
        SERVICE,
        lb,
        &ca,
        Some(&admin),
        &bearer(&pki.token("participant1", "alice")),
    );
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}");
    // rustls verified the proxy's backend cert; the token came through the proxy untouched.
    assert_eq!(
        r.body, "sub=alice client=lb-participant1.customer1.com",
        "{r:?}"
    );

    let r = curl(
        SERVICE,
        lb,
        &ca,
        Some(&admin),
        &bearer(&pki.token("participant2", "bob")),
    );
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.body.contains("which is not in the JWKS"), "{r:?}");

    let r = curl(SERVICE, lb, &ca, Some(&admin), &[]);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.body, "no bearer token", "{r:?}");

    // A participant1 token for no audience (participant_admin) is not one for participant1.
    let r = curl(
        SERVICE,
        lb,
        &ca,
        Some(&admin),
        &bearer(&pki.token("participant1", "participant_admin")),
    );
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.body.contains("has no audience"), "{r:?}");

    Interop::org(pki, "participant1")
        .accept(&pki.token("participant1", "alice"), AUD)
        .refuse(&pki.token("participant2", "bob"), AUD)
        .refuse(&pki.token("participant1", "participant_admin"), AUD)
        .run();
}

/// A backend that must refuse alice's token: it serves `jwks_org`'s JWKS and trusts
/// `root_org`'s root for its signing keys.
struct Refusal {
    jwks_org: &'static str,
    root_org: &'static str,
    /// What the backend's 401 says.
    because: &'static str,
    /// The JWKS PyJWT and jwcrypto judge alice's token with, and whether they accept it.
    interop: (&'static str, bool),
}

/// alice's token through the proxy to a backend that refuses it, for each case of `Refusal`.
fn backend_refuses_alice(case: &str, r: Refusal) {
    let pki = ha_fixture();
    let backend = JwtBackend::start(
        pki,
        &pki.file(&format!("{}/jwt/jwks.json", r.jwks_org)),
        &pki.file(&format!("{}/root/certs/ca.cert.pem", r.root_org)),
    );
    let (_proxy, lb) = proxy(pki, backend.port);
    let reply = curl(
        SERVICE,
        lb,
        &pki.bundle("participant1"),
        Some(&pki.client("participant1", "admin-api")),
        &bearer(&pki.token("participant1", "alice")),
    );
    assert_eq!(reply.status, 401, "{case}: {reply:?}");
    assert!(reply.body.contains(r.because), "{case}: {reply:?}");
    let judged = Interop::org(pki, r.interop.0);
    let alice = pki.token("participant1", "alice");
    let judged = if r.interop.1 {
        judged.accept(&alice, AUD)
    } else {
        judged.refuse(&alice, AUD)
    };
    judged.run();
}

#[test]
fn backend_with_participant2s_jwks_refuses_alice() {
    backend_refuses_alice(
        "participant2's JWKS",
        Refusal {
            jwks_org: "participant2",
            root_org: "participant2",
            because: "which is not in the JWKS",
            interop: ("participant2", false),
        },
    );
}

#[test]
fn backend_refuses_alice_when_the_jwks_does_not_chain_to_its_trusted_root() {
    // participant1's JWKS, but the backend trusts participant2's root for signing keys.
    // PyJWT and jwcrypto pin no root: with that JWKS alone they accept the token, so it is the
    // JWKS key's chain, not the token, that the backend refused.
    backend_refuses_alice(
        "participant1's JWKS under participant2's root",
        Refusal {
            jwks_org: "participant1",
            root_org: "participant2",
            because: "is signed by a JWKS key",
            interop: ("participant1", true),
        },
    );
}
