//! The token endpoint: the OAuth 2.0 client-credentials grant (RFC 6749 4.4) at
//! `POST /oauth/token`, and at `POST /auth` for the seed's clients. A client is a JWT user of
//! the org's profile and proves it with
//! - a secret (`client_secret_basic`: HTTP Basic; `client_secret_post`: in the body) whose
//!   argon2id hash `hapki jwt client add` put in `NS/jwt/clients.json`, or
//! - its mTLS client cert (RFC 8705 `tls_client_auth`): issued by the org's CA for the client
//!   the profile binds to the user (`client_cert`), listed and not revoked in the CA's index;
//!   the token then carries `cnf: {"x5t#S256": ..}` of that cert.
//!
//! The token is the one `hapki jwt mint` makes for the user (`token::TokenSpec` and the
//! `Signer`, with a `jti`), signed with the org's current JWT key as it is on disk now (a
//! `jwt rotate --promote` shows at the next request), with the profile's lifetime.
//!
//! Failures say nothing about which part was wrong: an unknown client, a wrong secret, a user
//! without a secret and a refused cert are the same `invalid_client`, and an unknown client
//! costs the same slow hash as a known one. Failed attempts are limited per client id
//! (`Limiter`); the slow hashes run on the blocking pool, a few at a time, so the server keeps
//! answering while they run.

use super::routes::{percent_decode, read_body, Reply};
use super::status::{CertStatus, StatusSource};
use super::watch::{Load, Watched};
use super::LEVELS;
use crate::model::{CaLevel, Kind};
use crate::profile::{JwtSpec, TokenFormat, UserSpec};
use crate::store::OrgLayout;
use crate::token::clients::{self, Clients};
use crate::token::{Signer, TokenSpec};
use base64::Engine;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use hyper::{Method, Request, Response, StatusCode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The largest token request body: the four parameters fit in well under 1 KiB.
pub const MAX_TOKEN_BODY: usize = 8 * 1024;
/// Slow hashes computed at once (each takes 19 MiB and tens of ms of one core).
const HASHES_AT_ONCE: usize = 4;

/// The one description of every failed client authentication.
const AUTH_FAILED: &str = "client authentication failed";

/// What the log line says of a token request.
pub const ISSUED: &str = "issued";
const REFUSED: &str = "refused";
const LIMITED: &str = "limited";
const BAD: &str = "bad-request";

pub struct Endpoint {
    jwt: JwtSpec,
    dns: String,
    signer: Watched<Signer>,
    last_signer: Mutex<Option<Arc<Signer>>>,
    clients: Watched<Clients>,
    cas: Vec<(CaLevel, Watched<CertificateDer<'static>>)>,
    limiter: Limiter,
    hashes: tokio::sync::Semaphore,
    /// Unknown clients are checked against this hash, so they cost what a known one costs.
    dummy: String,
    verified: Verified,
    jti_prefix: String,
    jti_next: AtomicU64,
}

fn signer(c: &[Vec<u8>]) -> Result<Signer, String> {
    let cert = CertificateDer::from_pem_slice(&c[0])
        .map_err(|_| "the JWT signing cert is not a readable PEM certificate".to_string())?;
    Signer::new(&c[1], &cert).map_err(|m| format!("the JWT signing key {m}"))
}

fn clients_file(c: &[Vec<u8>]) -> Result<Clients, String> {
    Clients::parse(&c[0])
}

fn ca_cert(c: &[Vec<u8>]) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_slice(&c[0]).map_err(|_| "not a readable PEM certificate".to_string())
}

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    // A failed system RNG leaves zeros; the jti counter still keeps tokens apart, and the
    // MAC key of `Verified` is then only as strong as no cache at all (it is checked below).
    let _ = aws_lc_rs::rand::fill(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Endpoint {
    pub fn new(layout: &OrgLayout, jwt: JwtSpec) -> Endpoint {
        let files = layout.jwt_signing();
        let cas = LEVELS
            .iter()
            .map(|&l| (l, Watched::new(vec![layout.ca(l).cert], ca_cert)))
            .collect();
        let dummy = clients::hash_secret(random_b64(32).as_bytes()).unwrap_or_default();
        Endpoint {
            jwt,
            dns: layout.dns.clone(),
            signer: Watched::new(vec![files.cert, files.key], signer),
            last_signer: Mutex::new(None),
            clients: Watched::new(vec![layout.clients()], clients_file),
            cas,
            limiter: Limiter::default(),
            hashes: tokio::sync::Semaphore::new(HASHES_AT_ONCE),
            dummy,
            verified: Verified::new(),
            jti_prefix: random_b64(12),
            jti_next: AtomicU64::new(0),
        }
    }

    /// The org's CA certs as they are now (for the TLS layer's acceptable-issuer hints).
    pub fn ca_certs(&self) -> Vec<CertificateDer<'static>> {
        self.cas
            .iter()
            .filter_map(|(_, w)| match w.get() {
                Load::Ready(c) => Some((*c).clone()),
                _ => None,
            })
            .collect()
    }

    /// The current signer: the key on disk now, or the last good one while the files are
    /// between two states (a rotation renames the cert and the key one after the other).
    fn current_signer(&self) -> Result<Arc<Signer>, String> {
        let mut last = self.last_signer.lock().unwrap_or_else(|p| p.into_inner());
        match self.signer.get() {
            Load::Ready(s) => {
                *last = Some(s.clone());
                Ok(s)
            }
            Load::Missing(why) | Load::Bad(why) => last.clone().ok_or(why),
        }
    }

    fn user(&self, name: &str) -> Option<&UserSpec> {
        self.jwt.users.iter().find(|u| u.name == name)
    }
}

/// Answers `POST /oauth/token` and `POST /auth`.
pub async fn handle(
    req: Request<Incoming>,
    ep: &Endpoint,
    status: &dyn StatusSource,
    peer: Option<&CertificateDer<'static>>,
) -> (Reply, &'static str) {
    if req.method() != Method::POST {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "the token endpoint takes POST",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return (r, BAD);
    }
    match answer(req, ep, status, peer).await {
        Ok(r) => (r, ISSUED),
        Err(Refusal(r, word)) => (*r, word),
    }
}

/// A refusal: the error reply (boxed: it is large for a `Result`) and the log's word.
struct Refusal(Box<Reply>, &'static str);

impl Refusal {
    fn new(r: Reply, word: &'static str) -> Refusal {
        Refusal(Box::new(r), word)
    }
}

fn bad_request(description: &str) -> Refusal {
    Refusal::new(
        error(StatusCode::BAD_REQUEST, "invalid_request", description),
        BAD,
    )
}

fn refused() -> Refusal {
    let mut r = error(StatusCode::UNAUTHORIZED, "invalid_client", AUTH_FAILED);
    r.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"hapki\", charset=\"UTF-8\""),
    );
    Refusal::new(r, REFUSED)
}

/// The parameters of a token request (RFC 6749 4.4.2, 2.3.1; `audience` as the seed sends it).
#[derive(Default, Debug)]
struct Params {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

const KNOWN: [&str; 5] = [
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "audience",
];

impl Params {
    fn set(&mut self, key: &str, value: String) -> Result<(), Refusal> {
        let slot = match key {
            "grant_type" => &mut self.grant_type,
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "scope" => &mut self.scope,
            // The token's audience is the user's profile shape, as the seed's service did with
            // the `audience` its clients send.
            _ => return Ok(()),
        };
        if slot.is_some() {
            return Err(bad_request(&format!(
                "the parameter {key} is given more than once"
            )));
        }
        *slot = Some(value);
        Ok(())
    }
}

fn parse_params(content_type: &str, body: &[u8]) -> Result<Params, Refusal> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut p = Params::default();
    let mut seen_audience = false;
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            for (k, v) in form_urlencoded::parse(body) {
                if k == "audience" {
                    if seen_audience {
                        return Err(bad_request(
                            "the parameter audience is given more than once",
                        ));
                    }
                    seen_audience = true;
                }
                p.set(&k, v.into_owned())?;
            }
        }
        "application/json" => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|_| bad_request("the request body is not valid JSON"))?;
            let Value::Object(m) = v else {
                return Err(bad_request("the request body is not a JSON object"));
            };
            for k in KNOWN {
                match m.get(k) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => p.set(k, s.clone())?,
                    // The seed's clients send one audience; a list is what Auth0-style
                    // clients send, and is as ignored.
                    Some(Value::Array(_)) if k == "audience" => {}
                    Some(_) => {
                        return Err(bad_request(&format!("the parameter {k} is not a string")))
                    }
                }
            }
        }
        "" => {
            return Err(bad_request(
                "the request has no Content-Type; send application/x-www-form-urlencoded or application/json",
            ))
        }
        _ => {
            return Err(bad_request(
                "the request body is neither application/x-www-form-urlencoded nor application/json",
            ))
        }
    }
    Ok(p)
}

/// How the client says who it is.
enum Credentials {
    Secret { id: String, secret: String },
    Cert { id: Option<String> },
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 2.3.1).
fn basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let plus = |s: &str| s.replace('+', " ");
    Some((percent_decode(&plus(id))?, percent_decode(&plus(secret))?))
}

fn credentials(
    authorization: Option<&str>,
    p: &mut Params,
    peer: Option<&CertificateDer<'static>>,
) -> Result<Credentials, Refusal> {
    if let Some(h) = authorization {
        let Some((id, secret)) = basic(h) else {
            return Err(refused());
        };
        if p.client_secret.is_some() {
            return Err(bad_request(
                "the client authenticates twice (HTTP Basic and client_secret in the body); use one",
            ));
        }
        if p.client_id.as_deref().is_some_and(|b| b != id) {
            return Err(bad_request(
                "client_id in the body differs from the one of HTTP Basic",
            ));
        }
        return Ok(Credentials::Secret { id, secret });
    }
    match (p.client_id.take(), p.client_secret.take()) {
        (Some(id), Some(secret)) => Ok(Credentials::Secret { id, secret }),
        (None, Some(_)) => Err(bad_request("client_secret is given without client_id")),
        (id, None) if peer.is_some() => Ok(Credentials::Cert { id }),
        (_, None) => Err(refused()),
    }
}

async fn answer(
    req: Request<Incoming>,
    ep: &Endpoint,
    status: &dyn StatusSource,
    peer: Option<&CertificateDer<'static>>,
) -> Result<Reply, Refusal> {
    let header = |name| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().map(str::to_string).unwrap_or_default())
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let authorization = header(AUTHORIZATION);
    let body = read_body(req.into_body(), MAX_TOKEN_BODY)
        .await
        .map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Refusal::new(
                    error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "invalid_request",
                        &format!(
                        "the request body is over {} KiB; a token request is a few hundred bytes",
                        MAX_TOKEN_BODY / 1024
                    ),
                    ),
                    BAD,
                )
            } else {
                bad_request("the request body did not arrive whole")
            }
        })?;
    let mut p = parse_params(&content_type, &body)?;
    match p.grant_type.as_deref() {
        None => return Err(bad_request("grant_type is missing")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(Refusal::new(
                error(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "this endpoint issues tokens for grant_type=client_credentials only",
                ),
                BAD,
            ))
        }
    }
    let (user, cnf) = match credentials(authorization.as_deref(), &mut p, peer)? {
        Credentials::Secret { id, secret } => (by_secret(ep, id, secret).await?, None),
        Credentials::Cert { id } => {
            let der = peer.expect("a Cert credential comes with a peer cert");
            let user = by_cert(ep, status, der, id.as_deref())?;
            let thumb = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
            let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(thumb.as_ref());
            (user, Some(x5t))
        }
    };
    issue(ep, user, cnf)
}

/// The user whose secret this is, or the same refusal for every way it is not.
async fn by_secret(ep: &Endpoint, id: String, secret: String) -> Result<&UserSpec, Refusal> {
    let key: String = id.chars().take(128).collect();
    if let Some(wait) = ep.limiter.locked(&key) {
        return Err(limited(wait));
    }
    let user = ep.user(&id);
    let stored = match (user, ep.clients.get()) {
        (Some(_), Load::Ready(c)) => c.clients.get(&id).map(|c| c.hash.clone()),
        _ => None,
    };
    let known = stored.is_some();
    let phc = stored.unwrap_or_else(|| ep.dummy.clone());
    if known && ep.verified.matches(&id, &phc, secret.as_bytes()) {
        ep.limiter.succeeded(&key);
        return user.ok_or_else(refused);
    }
    if let Err(wait) = ep.limiter.attempt(&key) {
        return Err(limited(wait));
    }
    let ok = {
        let _permit = ep.hashes.acquire().await.map_err(|_| refused())?;
        let (phc, secret) = (phc.clone(), secret.clone());
        tokio::task::spawn_blocking(move || clients::verify_secret(&phc, secret.as_bytes()))
            .await
            .unwrap_or(false)
    };
    match user {
        Some(u) if ok && known => {
            ep.limiter.succeeded(&key);
            ep.verified.remember(&id, &phc, secret.as_bytes());
            Ok(u)
        }
        _ => Err(refused()),
    }
}

fn limited(wait: Duration) -> Refusal {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "invalid_client",
        &format!("too many failed attempts for this client; retry in {secs} s"),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
    }
    Refusal::new(r, LIMITED)
}

/// The user the profile binds to this client cert (RFC 8705 2.1.2: the subject), once the cert
/// chains to the org's CA for client use and its CA's index lists it as not revoked.
fn by_cert<'e>(
    ep: &'e Endpoint,
    status: &dyn StatusSource,
    der: &CertificateDer<'static>,
    asked: Option<&str>,
) -> Result<&'e UserSpec, Refusal> {
    let cas: Vec<(CaLevel, Arc<CertificateDer<'static>>)> = ep
        .cas
        .iter()
        .filter_map(|(l, w)| match w.get() {
            Load::Ready(c) => Some((*l, c)),
            _ => None,
        })
        .collect();
    let Some((_, root)) = cas.iter().find(|(l, _)| *l == CaLevel::Root) else {
        return Err(refused());
    };
    let intermediates: Vec<CertificateDer<'_>> = cas
        .iter()
        .filter(|(l, _)| *l != CaLevel::Root)
        .map(|(_, c)| (**c).clone())
        .collect();
    let now = time::OffsetDateTime::now_utc();
    crate::pki::check::chain(der, Kind::Client, &intermediates, root, now)
        .map_err(|_| refused())?;
    let x = crate::pki::check::parse(der).map_err(|_| refused())?;
    // The issuing CA: the one whose subject is the cert's issuer (the chain check above made
    // sure it is one of the org's).
    let issuer = cas
        .iter()
        .find(|(_, c)| {
            crate::pki::check::parse(c).is_ok_and(|ca| ca.subject().as_raw() == x.issuer().as_raw())
        })
        .map(|(l, _)| *l)
        .ok_or_else(refused)?;
    // A cert the index does not list is refused too: the org's CA lists every cert it issues.
    if status.status(issuer, x.raw_serial()) != CertStatus::Good {
        return Err(refused());
    }
    let cn = x
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .ok_or_else(refused)?;
    let user = ep
        .jwt
        .users
        .iter()
        .find(|u| {
            u.client_cert
                .as_ref()
                .is_some_and(|c| format!("{c}.{}", ep.dns) == cn)
        })
        .ok_or_else(refused)?;
    if asked.is_some_and(|a| a != user.name) {
        return Err(refused());
    }
    Ok(user)
}

fn issue(ep: &Endpoint, user: &UserSpec, cnf: Option<String>) -> Result<Reply, Refusal> {
    let signer = ep.current_signer().map_err(|why| {
        Refusal::new(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                &format!("the org's JWT signing key cannot be used: {why}"),
            ),
            BAD,
        )
    })?;
    let iat = time::OffsetDateTime::now_utc().unix_timestamp();
    let spec = TokenSpec::for_user(&ep.jwt, user, iat);
    let mut claims = spec.claims();
    if let Some(m) = claims.as_object_mut() {
        let n = ep.jti_next.fetch_add(1, Ordering::Relaxed);
        m.insert("jti".into(), format!("{}-{n}", ep.jti_prefix).into());
        if let Some(x5t) = cnf {
            m.insert("cnf".into(), json!({ "x5t#S256": x5t }));
        }
    }
    let token = signer.sign(&claims).map_err(|why| {
        Refusal::new(
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &format!("signing failed: {why}"),
            ),
            BAD,
        )
    })?;
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": spec.ttl,
        "expires_at": spec.iat + spec.ttl,
    });
    if spec.format == TokenFormat::Scope {
        body["scope"] = json!(spec.scope);
    }
    Ok(json_reply(StatusCode::OK, &body))
}

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // RFC 6749 5.1: tokens and errors about credentials are never cached.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// An RFC 6749 5.2 error.
fn error(status: StatusCode, code: &str, description: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": code, "error_description": description}),
    )
}

/// Failed attempts per client id. The first `FREE_FAILURES` in a row are checked; each one
/// after locks the id for twice as long as the one before (1 s, 2 s, 4 s … up to `MAX_LOCK`),
/// and a locked id is refused with 429 without a check, right secret or not, so guessing runs
/// at one try per `MAX_LOCK` at best. An attempt counts before its check (concurrent guesses
/// cannot all slip in at once); a success clears the id; `FORGET` without a failure does too.
#[derive(Default)]
struct Limiter {
    ids: Mutex<HashMap<String, Failures>>,
}

struct Failures {
    count: u32,
    last: Instant,
    until: Option<Instant>,
}

const FREE_FAILURES: u32 = 5;
const MAX_LOCK: Duration = Duration::from_secs(60);
const FORGET: Duration = Duration::from_secs(15 * 60);
/// Ids tracked at once; past it the stalest are dropped (random ids cannot grow the map).
const MAX_IDS: usize = 10_000;

impl Limiter {
    fn locked(&self, id: &str) -> Option<Duration> {
        let now = Instant::now();
        let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        let f = ids.get(id)?;
        f.until.and_then(|u| u.checked_duration_since(now))
    }

    /// Counts an attempt about to be checked, or says how long the id is locked.
    fn attempt(&self, id: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.len() >= MAX_IDS && !ids.contains_key(id) {
            ids.retain(|_, f| now.duration_since(f.last) < FORGET);
            if ids.len() >= MAX_IDS {
                if let Some(stalest) = ids
                    .iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(k, _)| k.clone())
                {
                    ids.remove(&stalest);
                }
            }
        }
        let f = ids.entry(id.to_string()).or_insert(Failures {
            count: 0,
            last: now,
            until: None,
        });
        if now.duration_since(f.last) >= FORGET {
            f.count = 0;
            f.until = None;
        }
        if let Some(wait) = f.until.and_then(|u| u.checked_duration_since(now)) {
            return Err(wait);
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count > FREE_FAILURES {
            let doublings = (f.count - FREE_FAILURES - 1).min(16);
            f.until = Some(now + Duration::from_secs(1u64 << doublings).min(MAX_LOCK));
        }
        Ok(())
    }

    fn succeeded(&self, id: &str) {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// Secrets that passed the slow check, kept in memory as an HMAC-SHA256 under a key made at
/// start-up, so a client that asks again with the same secret is checked in microseconds
/// (constant-time) instead of tens of milliseconds. The entry names the stored hash it was
/// checked against: a new secret (`jwt client add`) or a removed client makes it useless at
/// once. Nothing of it is written anywhere, and a wrong secret still meets the slow hash.
struct Verified {
    key: Option<aws_lc_rs::hmac::Key>,
    known: Mutex<HashMap<String, (String, Vec<u8>)>>,
}

impl Verified {
    fn new() -> Verified {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // Without a random key there is no cache: every check is the slow one.
        let key = aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA256, &rng).ok();
        Verified {
            key,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, id: &str, secret: &[u8]) -> Option<Vec<u8>> {
        let key = self.key.as_ref()?;
        let mut ctx = aws_lc_rs::hmac::Context::with_key(key);
        ctx.update(id.as_bytes());
        ctx.update(&[0]);
        ctx.update(secret);
        Some(ctx.sign().as_ref().to_vec())
    }

    fn matches(&self, id: &str, phc: &str, secret: &[u8]) -> bool {
        let Some(mac) = self.mac(id, secret) else {
            return false;
        };
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        match known.get(id) {
            Some((h, m)) if h == phc => m.ct_eq(&mac).into(),
            _ => false,
        }
    }

    fn remember(&self, id: &str, phc: &str, secret: &[u8]) {
        if let Some(mac) = self.mac(id, secret) {
            self.known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_string(), (phc.to_string(), mac));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            basic(&format!("Basic {}", b64("alice:s3cr3t-value"))),
            Some(("alice".into(), "s3cr3t-value".into()))
        );
        assert_eq!(
            basic(&format!("basic {}", b64("a%40b:x%3Ay"))),
            Some(("a@b".into(), "x:y".into()))
        );
        assert_eq!(basic("Bearer abc"), None);
        assert_eq!(basic("Basic !!!"), None);
        assert_eq!(basic(&format!("Basic {}", b64("no-colon"))), None);
    }

    #[test]
    fn params_from_form_and_json() {
        let p = parse_params(
            "application/x-www-form-urlencoded; charset=UTF-8",
            b"grant_type=client_credentials&client_id=alice&client_secret=x&audience=https%3A%2F%2Fdaml.com%2Fledger-api&extra=1",
        )
        .unwrap_or_else(|_| panic!("form"));
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(p.client_id.as_deref(), Some("alice"));
        let p = parse_params(
            "application/json",
            br#"{"grant_type":"client_credentials","client_id":"alice","client_secret":"x","audience":"a"}"#,
        )
        .unwrap_or_else(|_| panic!("json"));
        assert_eq!(p.client_secret.as_deref(), Some("x"));
        for (ct, body) in [
            ("application/json", &b"{not json"[..]),
            ("application/json", b"[1]"),
            ("application/json", br#"{"client_id": 7}"#),
            (
                "application/x-www-form-urlencoded",
                b"client_id=a&client_id=b",
            ),
            ("text/plain", b"x"),
            ("", b"x"),
        ] {
            let Err(Refusal(r, _)) = parse_params(ct, body) else {
                panic!("{ct} {body:?} was taken");
            };
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn failures_lock_an_id_ever_longer() {
        let l = Limiter::default();
        for _ in 0..FREE_FAILURES + 1 {
            assert!(l.attempt("a").is_ok());
        }
        let wait = l.attempt("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(l.locked("a").is_some());
        assert!(l.locked("b").is_none());
        l.succeeded("a");
        assert!(l.attempt("a").is_ok());
    }
}
