//! What each path answers. Every answer is built from files of the tree, read through
//! `Watched` so a change on disk shows at the next request; a file that is not there is a 404
//! that names it, never a panic.
//!
//! | path | answer |
//! | --- | --- |
//! | `GET /.well-known/jwks.json`, `/.well_known/jwks.json` | `NS/jwt/jwks.json` (HTTPS only) |
//! | `GET /crl/{root,policy,intermediate}.crl` | the CA's CRL, DER (`NS/LEVEL/crl/STEM.crl.der`) |
//! | `GET /crl/{..}.crl.pem`, `/crl/{..}.pem` | the same CRL, PEM; `ca` is an alias of `root` |
//! | `POST /ocsp` (or `/`), `GET /ocsp/BASE64` | RFC 6960 OCSP |
//! | `GET /healthz` | `ok` |
//! | `POST /oauth/token`, `POST /auth` | the token endpoint (`token.rs`, HTTPS only) |

use super::ocsp::Responder;
use super::ocsp_cache::{self, Versions};
use super::status::{IndexStatus, StatusSource};
use super::token::Endpoint;
use super::watch::{Load, Watched};
use super::{LEVELS, MAX_BODY};
use crate::model::CaLevel;
use crate::store::OrgLayout;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use rustls_pki_types::CertificateDer;
use std::path::PathBuf;
use std::sync::Arc;

pub type Reply = Response<Full<Bytes>>;

struct Crl {
    level: CaLevel,
    pem: Watched<Bytes>,
    der: Watched<Bytes>,
}

/// Everything the routes read, each a watched file. The files served as they are (the JWKS,
/// the CRLs) are held as `Bytes`: a response shares them, it does not copy them.
pub struct State {
    jwks: Watched<Bytes>,
    crls: Vec<Crl>,
    responders: Vec<Watched<Responder>>,
    status: Box<dyn StatusSource>,
    ocsp_answers: ocsp_cache::Cache,
    token: Option<Endpoint>,
}

/// The file-name stem of a CA's CRL: the root's is `ca`, as its cert is `ca.cert.pem`.
pub fn crl_stem(level: CaLevel) -> &'static str {
    match level {
        CaLevel::Root => "ca",
        CaLevel::Policy => "policy",
        CaLevel::Intermediate => "intermediate",
    }
}

fn crl_path(layout: &OrgLayout, level: CaLevel, ext: &str) -> PathBuf {
    layout
        .dir
        .join(level.name())
        .join("crl")
        .join(format!("{}.crl.{ext}", crl_stem(level)))
}

fn jwks_bytes(c: &[Vec<u8>]) -> Result<Bytes, String> {
    let v: serde_json::Value =
        serde_json::from_slice(&c[0]).map_err(|e| format!("it is not valid JSON ({e})"))?;
    if !v.get("keys").is_some_and(|k| k.is_array()) {
        return Err("it has no `keys` array".into());
    }
    Ok(Bytes::copy_from_slice(&c[0]))
}

fn crl_pem(c: &[Vec<u8>]) -> Result<Bytes, String> {
    if !String::from_utf8_lossy(&c[0]).contains("-----BEGIN X509 CRL-----") {
        return Err("it holds no PEM X509 CRL".into());
    }
    Ok(Bytes::copy_from_slice(&c[0]))
}

fn crl_der(c: &[Vec<u8>]) -> Result<Bytes, String> {
    if c[0].first() != Some(&0x30) {
        return Err("it is not a DER CRL".into());
    }
    Ok(Bytes::copy_from_slice(&c[0]))
}

impl State {
    pub fn new(layout: &OrgLayout) -> Self {
        Self::with_status(layout, Box::new(IndexStatus::new(&layout.dir)))
    }

    pub fn with_status(layout: &OrgLayout, status: Box<dyn StatusSource>) -> Self {
        let crls = LEVELS
            .iter()
            .map(|&level| Crl {
                level,
                pem: Watched::new(vec![crl_path(layout, level, "pem")], crl_pem)
                    .capped(crate::crl::CRL_CAP),
                der: Watched::new(vec![crl_path(layout, level, "der")], crl_der)
                    .capped(crate::crl::CRL_CAP),
            })
            .collect();
        let responders = LEVELS
            .iter()
            .map(|&level| {
                let r = layout.ocsp_responder(level);
                let parse: fn(&[Vec<u8>]) -> Result<Responder, String> = match level {
                    CaLevel::Root => |c| Responder::parse(CaLevel::Root, c),
                    CaLevel::Policy => |c| Responder::parse(CaLevel::Policy, c),
                    CaLevel::Intermediate => |c| Responder::parse(CaLevel::Intermediate, c),
                };
                Watched::new(vec![layout.ca(level).cert, r.cert, r.key], parse)
            })
            .collect();
        State {
            jwks: Watched::new(vec![layout.jwks()], jwks_bytes),
            crls,
            responders,
            status,
            ocsp_answers: ocsp_cache::Cache::default(),
            token: None,
        }
    }

    /// The same, with the token endpoint at `/oauth/token` and `/auth`.
    pub fn with_token(mut self, token: Endpoint) -> Self {
        self.token = Some(token);
        self
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A sentence for people, with the status it goes with.
fn text(status: StatusCode, msg: impl Into<String>) -> Reply {
    let mut m = msg.into();
    m.push('\n');
    reply(status, "text/plain; charset=utf-8", m.into_bytes())
}

fn unavailable<T>(load: Load<T>, what: &str) -> Reply {
    match load {
        Load::Ready(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "unreachable"),
        Load::Missing(why) => text(
            StatusCode::NOT_FOUND,
            format!("{what} is not published yet: {why}"),
        ),
        Load::Bad(why) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} cannot be served: {why}"),
        ),
    }
}

const PATHS: &str =
    "/.well-known/jwks.json, /crl/{root,policy,intermediate}.crl[.pem], /ocsp, /oauth/token, /auth, /healthz";

/// Answers one request; the second value is a word for the log line (the OCSP outcome).
/// `peer` is the client cert of the TLS connection, if it sent one.
pub async fn handle(
    req: Request<Incoming>,
    st: &State,
    secure: bool,
    peer: Option<&CertificateDer<'static>>,
) -> (Reply, &'static str) {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let get = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/healthz" if get => (text(StatusCode::OK, "ok"), "-"),
        "/.well-known/jwks.json" | "/.well_known/jwks.json" if get => {
            if !secure {
                return (
                    text(
                        StatusCode::NOT_FOUND,
                        "the JWKS is served over HTTPS only (the --listen address)",
                    ),
                    "-",
                );
            }
            match st.jwks.get() {
                Load::Ready(b) => {
                    let mut r = reply(StatusCode::OK, "application/json", Bytes::clone(&b));
                    r.headers_mut()
                        .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
                    (r, "-")
                }
                other => (unavailable(other, "the JWKS"), "-"),
            }
        }
        p if get && p.starts_with("/crl/") => (crl(st, &p["/crl/".len()..]), "-"),
        "/ocsp" | "/" if method == Method::POST => ocsp_post(req, st).await,
        "/oauth/token" | "/auth" => match (&st.token, secure) {
            (Some(ep), true) => super::token::handle(req, ep, st.status.as_ref(), peer).await,
            _ => (
                text(
                    StatusCode::NOT_FOUND,
                    "the token endpoint is served over HTTPS only (the --listen address)",
                ),
                "-",
            ),
        },
        p if get && p.starts_with("/ocsp/") => ocsp_get(st, &p["/ocsp/".len()..]),
        "/healthz" | "/.well-known/jwks.json" | "/.well_known/jwks.json" => {
            (not_allowed("GET, HEAD"), "-")
        }
        "/ocsp" => (not_allowed("POST"), "-"),
        _ => (
            text(
                StatusCode::NOT_FOUND,
                format!("no such path: {}; this server answers {PATHS}", clip(&path)),
            ),
            "-",
        ),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

fn not_allowed(allow: &'static str) -> Reply {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this path takes {allow}"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

fn crl(st: &State, file: &str) -> Reply {
    let (name, pem) = if let Some(n) = file.strip_suffix(".crl.pem") {
        (n, true)
    } else if let Some(n) = file.strip_suffix(".pem") {
        (n, true)
    } else if let Some(n) = file.strip_suffix(".crl") {
        (n, false)
    } else {
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "no such CRL: /crl/{}; ask for /crl/NAME.crl (DER) or /crl/NAME.crl.pem with NAME root, policy or intermediate",
                clip(file)
            ),
        );
    };
    let level = match name {
        "root" | "ca" => CaLevel::Root,
        "policy" => CaLevel::Policy,
        "intermediate" => CaLevel::Intermediate,
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                format!(
                    "no CA named `{}`; the CRLs are root, policy and intermediate",
                    clip(name)
                ),
            )
        }
    };
    let Some(c) = st.crls.iter().find(|c| c.level == level) else {
        return text(StatusCode::NOT_FOUND, "no such CRL");
    };
    let what = format!("the {} CRL", level.name());
    if pem {
        return match c.pem.get() {
            Load::Ready(b) => reply(StatusCode::OK, "application/x-pem-file", Bytes::clone(&b)),
            other => unavailable(other, &what),
        };
    }
    match c.der.get() {
        Load::Ready(b) => reply(StatusCode::OK, "application/pkix-crl", Bytes::clone(&b)),
        // Only the PEM on disk: its DER is the base64 inside it.
        Load::Missing(why) => match c.pem.get() {
            Load::Ready(p) => {
                use rustls_pki_types::pem::PemObject;
                match rustls_pki_types::CertificateRevocationListDer::from_pem_slice(&p) {
                    Ok(d) => reply(StatusCode::OK, "application/pkix-crl", d.to_vec()),
                    Err(_) => unavailable(Load::<()>::Bad("its PEM does not decode".into()), &what),
                }
            }
            _ => unavailable(Load::<()>::Missing(why), &what),
        },
        other => unavailable(other, &what),
    }
}

async fn ocsp_post(req: Request<Incoming>, st: &State) -> (Reply, &'static str) {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/ocsp-request")
    {
        return (
            text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "POST /ocsp takes an OCSP request (Content-Type: application/ocsp-request)",
            ),
            "-",
        );
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_CAP as u64) {
        return (too_large(), "-");
    }
    let body = match read_body(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(reply) => return (reply, "-"),
    };
    ocsp_reply(st, &body)
}

/// What is read and thrown away of a body over `MAX_BODY` before the 413 goes out: HTTP/2
/// clients (curl among them) take a response that overtakes their upload, followed by a stream
/// reset, for a failure, so a moderate excess is drained first; beyond this the stream is cut.
const DRAIN_CAP: usize = 16 * 1024 * 1024;

/// The request body, at most `max` bytes of it kept; 413 above, 400 for a broken upload.
pub(super) async fn read_body(mut body: Incoming, max: usize) -> Result<Vec<u8>, Reply> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + super::HEADER_TIMEOUT;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(f))) => f,
            Ok(None) => break,
            Ok(Some(Err(_))) | Err(_) if seen > max => return Err(too_large()),
            Ok(Some(Err(_))) | Err(_) => {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    "the request body did not arrive whole",
                ))
            }
        };
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= max {
                kept.extend_from_slice(&data);
            } else if seen > DRAIN_CAP {
                return Err(too_large());
            }
        }
    }
    if seen > max {
        return Err(too_large());
    }
    Ok(kept)
}

fn too_large() -> Reply {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is over {} KiB; an OCSP request is a few hundred bytes",
            MAX_BODY / 1024
        ),
    )
}

fn ocsp_get(st: &State, encoded: &str) -> (Reply, &'static str) {
    let b64 = percent_decode(encoded);
    let der = b64.as_deref().and_then(|s| {
        let e = &base64::engine::general_purpose::STANDARD;
        e.decode(s)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(s))
            .ok()
    });
    match der {
        Some(d) if d.len() <= MAX_BODY => ocsp_reply(st, &d),
        Some(_) => (too_large(), "-"),
        None => (
            text(
                StatusCode::BAD_REQUEST,
                "GET /ocsp/B64 takes the DER OCSP request in base64 (RFC 6960 A.1), URL-encoded",
            ),
            "-",
        ),
    }
}

fn ocsp_reply(st: &State, der: &[u8]) -> (Reply, &'static str) {
    // Before the responders and the status are looked at: an answer made from them is then
    // tagged with versions no newer than what it was made from (`ocsp_cache`).
    let versions = Versions::read(st.status.as_ref());
    let responders: Vec<Arc<Responder>> = st
        .responders
        .iter()
        .filter_map(|w| match w.get() {
            Load::Ready(r) => Some(r),
            _ => None,
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (body, summary) =
        (st.ocsp_answers).answer(der, &responders, st.status.as_ref(), &versions, now);
    (
        reply(StatusCode::OK, "application/ocsp-response", body),
        summary,
    )
}

/// RFC 3986 percent-decoding of one path segment (`%2B` -> `+`), hand-written because it is
/// ten lines and no crate in the tree offers it; `None` for a bad escape or non-UTF-8.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA with many revocations has a CRL over the 4 MiB cap of a cert file (100,000
    /// revocations are some 7 MB): it is served all the same, in DER and in PEM.
    #[test]
    fn a_crl_over_the_cert_cap_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OrgLayout::new(dir.path(), "participant1", "customer1.com");
        let size = usize::try_from(crate::store::CAP).unwrap() + (1 << 20);
        let mut der = vec![0x30];
        der.resize(size, 0x5a);
        let crl_dir = dir.path().join("participant1/intermediate/crl");
        std::fs::create_dir_all(&crl_dir).unwrap();
        std::fs::write(crl_dir.join("intermediate.crl.der"), &der).unwrap();
        let pem = format!(
            "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
            "A".repeat(size)
        );
        std::fs::write(crl_dir.join("intermediate.crl.pem"), &pem).unwrap();
        let st = State::new(&layout);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = |r: Reply| {
            assert_eq!(r.status(), StatusCode::OK);
            rt.block_on(r.into_body().collect()).unwrap().to_bytes()
        };
        assert_eq!(body(crl(&st, "intermediate.crl")).len(), der.len());
        assert_eq!(body(crl(&st, "intermediate.crl.pem")).len(), pem.len());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("ab%2Bc%2f%3D").as_deref(), Some("ab+c/="));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
    }
}
