//! `hapki serve`: one org's online half. HTTPS with the org's `auth` server cert (the JWKS, the
//! CRLs, OCSP, a health check) and plain HTTP for the revocation data alone (signed, and fetched
//! over HTTP by convention). Everything served is read from the tree and re-read when it
//! changes, so a revocation, a new CRL or a new JWKS shows without a restart. The HTTPS side
//! also answers the OAuth 2.0 token endpoint (`token.rs`), with mTLS client certs (`mtls.rs`).
//!
//! The stack: tokio, hyper 1 through hyper-util's auto (HTTP/1.1 with keep-alive, HTTP/2 by ALPN
//! or prior knowledge), tokio-rustls on aws-lc-rs. The limits that keep it up under abuse live
//! here: connections (a semaphore), request bodies, the TLS handshake and header read times.

mod log;
mod mtls;
mod ocsp;
mod ocsp_cache;
mod routes;
pub mod status;
mod tls;
pub mod token;
mod watch;

use crate::error::{Error, Result};
use crate::model::CaLevel;
use crate::store::OrgLayout;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::CertificateDer;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch as tokio_watch, Semaphore};

pub use status::{CertStatus, IndexStatus, Reason, StatusSource};

/// Connections served at once; more wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 1024;
/// The largest request body (an OCSP request is a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// Time a client has to finish the TLS handshake, and to send a request's headers.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request in flight for this long is closed: HTTP/1 has its header
/// timeout, but an HTTP/2 connection would otherwise stay open, idle, for ever.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// HTTP/2 PINGs find peers that are gone without a FIN (the idle timer needs no answer).
pub const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
pub const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);
/// Time in-flight requests get to finish after SIGTERM.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What `hapki serve` serves and where.
pub struct Options {
    pub org: String,
    pub layout: OrgLayout,
    pub listen: SocketAddr,
    pub http: Option<SocketAddr>,
    /// The org's JWT settings and users: who the token endpoint issues tokens to.
    pub jwt: crate::profile::JwtSpec,
}

/// Runs until SIGTERM or SIGINT; startup problems (no auth cert, an address in use) are errors.
pub fn run(opts: Options) -> Result<i32> {
    let endpoint = token::Endpoint::new(&opts.layout, opts.jwt.clone());
    let tls = tls::server_config(&opts.org, &opts.layout, &endpoint.ca_certs())?;
    let https = bind(opts.listen, "--listen")?;
    let http = opts.http.map(|a| bind(a, "--http")).transpose()?;
    let state = Arc::new(routes::State::new(&opts.layout).with_token(endpoint));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::input(format!("cannot start the server runtime: {e}")))?;
    log::start();
    let code = rt.block_on(async move {
        let mut note = format!("hapki serve: org {}, https://{}", opts.org, opts.listen);
        if let Some(a) = opts.http {
            note.push_str(&format!(", http://{a} (CRLs and OCSP)"));
        }
        log_line(&note);
        serve(https, http, tls, state).await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    log::flush();
    code
}

fn bind(addr: SocketAddr, flag: &str) -> Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => "it is in use by another process".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "binding it needs privileges (use a port above 1023)".to_string()
            }
            _ => e.to_string(),
        };
        Error::input(format!(
            "cannot listen on {addr} ({flag}): {why}; pick another address with {flag}"
        ))
    })?;
    l.set_nonblocking(true)
        .map_err(|e| Error::input(format!("cannot listen on {addr}: {e}")))?;
    Ok(l)
}

async fn serve(
    https: std::net::TcpListener,
    http: Option<std::net::TcpListener>,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<routes::State>,
) -> Result<i32> {
    // Before the first connection is taken: a SIGTERM from then on is a clean stop.
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let to_tokio = |l: std::net::TcpListener| {
        TcpListener::from_std(l).map_err(|e| Error::input(format!("cannot listen: {e}")))
    };
    let https = to_tokio(https)?;
    let http = http.map(to_tokio).transpose()?;
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop_tx, stop_rx) = tokio_watch::channel(false);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);

    let mut tasks = vec![tokio::spawn(accept_loop(
        https,
        Some(acceptor),
        state.clone(),
        limit.clone(),
        graceful.clone(),
        stop_rx.clone(),
    ))];
    if let Some(h) = http {
        tasks.push(tokio::spawn(accept_loop(
            h,
            None,
            state,
            limit,
            graceful.clone(),
            stop_rx,
        )));
    }
    wait_for_signal(term).await;
    log_line("hapki serve: stopping (no new connections; finishing requests in flight)");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    // Every accept loop has ended, so this holds the only reference left.
    if let Ok(g) = Arc::try_unwrap(graceful) {
        if tokio::time::timeout(DRAIN_TIMEOUT, g.shutdown())
            .await
            .is_err()
        {
            log_line("hapki serve: some connections did not finish in time; closing them");
        }
    }
    log_line("hapki serve: stopped");
    Ok(0)
}

async fn wait_for_signal(term: Option<tokio::signal::unix::Signal>) {
    match term {
        Some(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<routes::State>,
    limit: Arc<Semaphore>,
    graceful: Arc<GracefulShutdown>,
    mut stop: tokio_watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true)
        .max_buf_size(MAX_BODY.max(16 * 1024));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(H2_PING_INTERVAL))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let idle = idle_timeout();
    // Over TLS, ALPN has already said which protocol the connection speaks: a builder for
    // just that one serves it without the auto builder's sniffing of the first bytes (and its
    // rewind layer under every read). Plain HTTP, or TLS without ALPN, keeps the auto one.
    let builders = Arc::new(Builders {
        h1: builder.clone().http1_only(),
        h2: builder.clone().http2_only(),
        auto: builder,
    });
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let builders = builders.clone();
        let graceful = graceful.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let secure = tls.is_some();
            let activity = Arc::new(Activity::default());
            let seen = activity.clone();
            // The client cert of the TLS connection, known once the handshake is done (the
            // service is made before it).
            let client_cert: Arc<OnceLock<Option<CertificateDer<'static>>>> = Arc::default();
            let cert_of_conn = client_cert.clone();
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                let busy = Busy::start(seen.clone());
                let cert = cert_of_conn.clone();
                // Boxed as a `Send` future: checked here, where every lifetime is concrete (the
                // idle timer's generic wrapper otherwise asks rustc to prove it for all of them).
                let fut: std::pin::Pin<
                    Box<
                        dyn std::future::Future<Output = Result<_, std::convert::Infallible>>
                            + Send,
                    >,
                > = Box::pin(async move {
                    let _busy = busy;
                    let started = Instant::now();
                    let method = req.method().clone();
                    let path = req.uri().path().to_string();
                    // Owned here: a borrow of the connection's cell held across the await
                    // makes the future not `Send` for every lifetime once it runs under the
                    // idle timer.
                    let peer_cert: Option<CertificateDer<'static>> = cert.get().cloned().flatten();
                    let (resp, outcome) =
                        routes::handle(req, &state, secure, peer_cert.as_ref()).await;
                    let bytes = hyper::body::Body::size_hint(resp.body())
                        .exact()
                        .unwrap_or(0);
                    let mut line = String::with_capacity(96 + path.len());
                    let _ = write!(
                        line,
                        "{} {} {} ",
                        if secure { "https" } else { "http" },
                        peer,
                        method
                    );
                    push_log_safe(&mut line, &path);
                    let _ = write!(
                        line,
                        " {} {} {}B {:.1}ms",
                        resp.status().as_u16(),
                        outcome,
                        bytes,
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    log::line(line);
                    Ok::<_, std::convert::Infallible>(resp)
                });
                fut
            });
            match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    // In a block of its own: the borrow of the stream ends before the await.
                    let builder = {
                        let tls = stream.get_ref().1;
                        let sent = tls.peer_certificates();
                        let _ = client_cert
                            .set(sent.and_then(|c| c.first()).map(|c| c.clone().into_owned()));
                        match tls.alpn_protocol() {
                            Some(b"h2") => &builders.h2,
                            Some(b"http/1.1") => &builders.h1,
                            _ => &builders.auto,
                        }
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    until_idle(boxed(graceful.watch(conn.into_owned())), &activity, idle).await;
                }
                None => {
                    let conn = builders
                        .auto
                        .serve_connection(TokioIo::new(stream), service);
                    until_idle(boxed(graceful.watch(conn.into_owned())), &activity, idle).await;
                }
            }
        });
    }
}

/// The connection builders, one per protocol a connection may speak (see `accept_loop`).
struct Builders {
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
    auto: auto::Builder<TokioExecutor>,
}

/// A connection's requests: how many are in flight, and when the last one ended (as
/// `watch::mono_nanos`: two atomics, no lock, on every request).
struct Activity {
    in_flight: AtomicUsize,
    last: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            in_flight: 0.into(),
            last: watch::mono_nanos().into(),
        }
    }
}

impl Activity {
    fn quiet_for(&self) -> Duration {
        Duration::from_nanos(watch::mono_nanos().saturating_sub(self.last.load(Ordering::Acquire)))
    }
}

/// One request in flight, from its start until its response is built (dropped).
struct Busy(Arc<Activity>);

impl Busy {
    fn start(a: Arc<Activity>) -> Busy {
        a.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(a)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last.store(watch::mono_nanos(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `conn` until it ends, or until no request has been in flight for `idle`: then the
/// connection is dropped, which closes its socket (hyper has no idle timer for HTTP/2).
/// A connection's future as a boxed `Send` future: proven `Send` here, where its lifetimes are
/// concrete, so the idle timer's generic wrapper does not make rustc prove it for every lifetime
/// (a "higher-ranked lifetime error" otherwise).
fn boxed<'a, T>(
    f: impl std::future::Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
    Box::pin(f)
}

async fn until_idle<F: std::future::Future>(conn: F, a: &Activity, idle: Duration) {
    tokio::pin!(conn);
    loop {
        let wait = idle
            .saturating_sub(a.quiet_for())
            .max(Duration::from_millis(50));
        tokio::select! {
            _ = &mut conn => return,
            _ = tokio::time::sleep(wait) => {
                let quiet = a.in_flight.load(Ordering::Acquire) == 0;
                if quiet && a.quiet_for() >= idle {
                    return;
                }
            }
        }
    }
}

/// `IDLE_TIMEOUT`; debug builds take `HAPKI_TEST_IDLE_SECS` instead, so a test need not wait a
/// minute. Compiled out of release builds.
fn idle_timeout() -> Duration {
    #[cfg(debug_assertions)]
    if let Some(s) = std::env::var("HAPKI_TEST_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Duration::from_secs(s);
    }
    IDLE_TIMEOUT
}

/// A path as the log shows it, appended to `line`: at most 200 characters, control characters
/// escaped, so a request cannot forge or flood log lines.
fn push_log_safe(line: &mut String, path: &str) {
    let mut chars = path.chars();
    for c in chars.by_ref().take(200) {
        line.extend(c.escape_default());
    }
    if chars.next().is_some() {
        line.push('…');
    }
}

/// One line in the log (`log.rs`), with the time in front.
fn log_line(msg: &str) {
    log::line(msg.to_string());
}

/// The CA levels of an org's folder that a server may find files of (any tier).
const LEVELS: [CaLevel; 3] = [CaLevel::Root, CaLevel::Policy, CaLevel::Intermediate];
