//! Revocation as the real consumers enforce it: NGINX (`ssl_client_certificate` + `ssl_crl`),
//! HAProxy (`crl-file`) and PostgreSQL (`ssl_crl_file`), each configured with the chain CRL
//! bundle hapki writes, by the CRL line docs/revocation.md shows for it, added to the documented
//! config of the HA tests (`tests/ha/`). Each scenario runs as an operator would: `hapki revoke`
//! or `hapki crl`, then a reload (`nginx -s reload`, `pg_ctl reload`; HAProxy, which the harness
//! runs in the foreground without a master process, is restarted, which is what a reload does to
//! its CRL), then the clients again:
//!
//! - a revoked client is refused (NGINX: HTTP 400; HAProxy, PostgreSQL: the handshake, with a
//!   `certificate revoked` alert) while a good one is served;
//! - the consequence docs/revocation.md spells out: once a CA's CRL is past its nextUpdate
//!   (`hapki crl --at` eight days back makes the 7-day CRL of the issuing CA expired), EVERY
//!   client is refused, and `hapki crl` plus a reload brings the good ones back (the revoked one
//!   stays refused: the re-signed CRL still lists it);
//! - NGINX with only the issuing CA's CRL (the root's missing: `ssl_crl` pointed at
//!   `intermediate.crl.pem` instead of the bundle) refuses every client too.
//!
//! The servers judge certs and CRLs by the wall clock, so the PKI is made at the real time, one
//! per test (the tests change it).

use crate::ha_postgres::{db_key, psql, start_cluster, Cluster};
use crate::support::fixture::{crate_root, Fixture};
use crate::support::ha::{
    bounded, curl, nginx_backend, nginx_reloadable, participant, render, tool, Proxy, Reply,
    Server, CLIENT_SECS,
};
use crate::support::proc::{both, free_port};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SERVICE: &str = "participant1.customer1.com";
/// The client the scenarios revoke, and one that stays good (both of participant1's CA).
const VICTIM: &str = "admin-api";
const GOOD: &str = "participant1";
/// How long a reloaded server may take to apply its new files.
const RELOAD_DEADLINE: Duration = Duration::from_secs(15);

/// The line of docs/revocation.md that starts with `directive` (the NGINX, HAProxy or
/// PostgreSQL CRL setting), with the docs' tree root `/certs/` as the fixture's `${CERTS}/`.
fn doc_line(directive: &str) -> String {
    let p = crate_root().join("docs/revocation.md");
    let text = std::fs::read_to_string(&p).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(directive))
        .unwrap_or_else(|| panic!("{} has no line starting with `{directive}`", p.display()));
    assert!(line.contains("/certs/"), "{line}");
    line.trim().replace("/certs/", "${CERTS}/")
}

/// The CRL file setting for each consumer, as docs/revocation.md gives it.
fn nginx_crl() -> String {
    doc_line("ssl_crl ")
}

fn haproxy_crl() -> String {
    let bind = doc_line("bind ");
    let at = bind
        .find("crl-file ")
        .unwrap_or_else(|| panic!("the HAProxy bind line of the docs has no crl-file: {bind}"));
    let file = bind[at..].split_whitespace().nth(1).unwrap();
    format!("crl-file {file}")
}

fn postgres_crl() -> String {
    doc_line("ssl_crl_file")
}

/// Inserts `line` after the first line of `config` containing `after`; panics when none does.
fn insert_after(config: &str, after: &str, line: &str) -> String {
    let at = config
        .find(after)
        .unwrap_or_else(|| panic!("the config has no `{after}`:\n{config}"));
    let eol = at + config[at..].find('\n').unwrap() + 1;
    format!("{}    {line}\n{}", &config[..eol], &config[eol..])
}

/// A documented proxy config with its CRL setting, reading `crl` (the docs' bundle path, or
/// another file of the tree).
fn proxy_config(proxy: Proxy, crl: &str) -> String {
    let bundle = "${CERTS}/participant1/intermediate/crl/ca-chain.crl.pem";
    match proxy {
        Proxy::Nginx => insert_after(
            &proxy.template(),
            "ssl_verify_client",
            &nginx_crl().replace(bundle, crl),
        ),
        Proxy::Haproxy => {
            let t = proxy.template();
            let bind = t
                .lines()
                .find(|l| l.trim_start().starts_with("bind "))
                .unwrap();
            let with = format!("{bind} {}", haproxy_crl().replace(bundle, crl));
            t.replacen(bind, &with, 1)
        }
    }
}

/// Why a consumer refused a client, as each one tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Revoked,
    CrlExpired,
    /// Some refusal; the scenario does not care which check came first.
    Any,
}

impl Why {
    /// NGINX's error log: `client SSL certificate verify error: (N:TEXT)`.
    fn nginx_log(self) -> &'static str {
        match self {
            Why::Revoked => "(23:certificate revoked)",
            Why::CrlExpired => "(12:CRL has expired)",
            Why::Any => "client SSL certificate verify error",
        }
    }

    /// The TLS alert OpenSSL on the client (curl, libpq) reports when the server aborts the
    /// handshake.
    fn alert(self) -> &'static str {
        match self {
            Why::Revoked => "alert certificate revoked",
            Why::CrlExpired => "alert certificate expired",
            Why::Any => "alert",
        }
    }
}

/// The consumers, each in front of participant1's clients with the CRL bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Consumer {
    Proxy(Proxy),
    Postgres,
}

/// A running consumer and what it needs to be asked and reloaded.
enum Running<'f> {
    Proxy {
        fx: &'f Fixture,
        proxy: Proxy,
        config: String,
        lb: u16,
        primary: u16,
        backup: u16,
        // The proxy stops before its backends.
        server: Option<Server>,
        _backends: [Server; 2],
    },
    Postgres {
        fx: &'f Fixture,
        cluster: Cluster,
    },
}

impl Consumer {
    fn start(self, fx: &Fixture) -> Running<'_> {
        match self {
            Consumer::Proxy(proxy) => {
                let bundle = "${CERTS}/participant1/intermediate/crl/ca-chain.crl.pem";
                Running::start_proxy(fx, proxy, proxy_config(proxy, bundle))
            }
            Consumer::Postgres => {
                let crl = postgres_crl();
                let cluster = start_cluster(
                    fx,
                    &[
                        (
                            "ssl_min_protocol_version",
                            &format!("{crl}\nssl_min_protocol_version"),
                        ),
                        // The victim is a user too, so that only its revocation refuses it.
                        (
                            "participant1.customer1.com   canton",
                            "participant1.customer1.com   canton\nhapki      admin-api.customer1.com      canton",
                        ),
                    ],
                    &db_key(fx, "participant1", "db"),
                );
                Running::Postgres { fx, cluster }
            }
        }
    }
}

/// What one client got from a consumer: curl's reply with what NGINX logged meanwhile, or
/// psql's output.
#[derive(Debug)]
enum Answer {
    Http(Reply, String),
    Psql(std::process::Output),
}

impl<'f> Running<'f> {
    fn start_proxy(fx: &'f Fixture, proxy: Proxy, config: String) -> Running<'f> {
        let (lb, primary, backup) = (free_port(), free_port(), free_port());
        let backends = [
            nginx_backend(fx, &participant("participant1", primary)),
            nginx_backend(fx, &participant("participant1b", backup)),
        ];
        let server = start_one(fx, proxy, &config, lb, primary, backup);
        Running::Proxy {
            fx,
            proxy,
            config,
            lb,
            primary,
            backup,
            server: Some(server),
            _backends: backends,
        }
    }

    /// participant1's client `name` asks.
    fn ask(&self, name: &str) -> Answer {
        match self {
            Running::Proxy { fx, lb, server, .. } => {
                let cert = fx.client("participant1", name);
                let log = server
                    .as_ref()
                    .unwrap()
                    .log
                    .parent()
                    .unwrap()
                    .join("error.log");
                let before = std::fs::read(&log).map_or(0, |b| b.len());
                let reply = curl(SERVICE, *lb, &fx.bundle("participant1"), Some(&cert), &[]);
                let after = std::fs::read(&log).unwrap_or_default();
                let logged = String::from_utf8_lossy(&after[before.min(after.len())..]);
                Answer::Http(reply, logged.into_owned())
            }
            Running::Postgres { fx, cluster } => Answer::Psql(psql(
                fx,
                cluster.port,
                Some(fx.client("participant1", name)),
            )),
        }
    }

    fn served(a: &Answer) -> bool {
        match a {
            Answer::Http(r, _) => r.status == 200 && r.header("X-Backend").is_some(),
            Answer::Psql(o) => {
                o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("canton|")
            }
        }
    }

    fn assert_served(&self, name: &str) {
        let a = self.ask(name);
        assert!(Self::served(&a), "{name} was not served: {a:?}");
    }

    /// Asserts `name` is refused, for the reason `why` as this consumer tells it.
    fn assert_refused(&self, name: &str, why: Why) {
        let a = self.ask(name);
        self.check_refused(&a, why)
            .unwrap_or_else(|e| panic!("{name}: {e}: {a:?}"));
    }

    fn check_refused(&self, a: &Answer, why: Why) -> Result<(), String> {
        match (self, a) {
            (Running::Proxy { proxy, .. }, Answer::Http(r, logged)) => {
                if r.header("X-Backend").is_some() {
                    return Err("a backend answered".into());
                }
                match proxy {
                    // NGINX completes the handshake and answers 400 itself.
                    Proxy::Nginx => {
                        if r.status != 400 || !r.body.contains("The SSL certificate error") {
                            return Err("no 400 for the client cert".into());
                        }
                        if !logged.contains(why.nginx_log()) {
                            return Err(format!("error.log does not say {}", why.nginx_log()));
                        }
                    }
                    // HAProxy (`verify required`) aborts the handshake: no HTTP answer.
                    Proxy::Haproxy => {
                        if r.exit == 0 || r.status != 0 || !r.stderr.contains(why.alert()) {
                            return Err(format!("no handshake refusal with {}", why.alert()));
                        }
                    }
                }
                Ok(())
            }
            (Running::Postgres { .. }, Answer::Psql(o)) => {
                if o.status.success() || !both(o).contains(why.alert()) {
                    return Err(format!("no handshake refusal with {}", why.alert()));
                }
                Ok(())
            }
            _ => Err("an answer of another consumer".into()),
        }
    }

    /// The operator's reload after hapki changed the CRLs.
    fn reload(&mut self) {
        match self {
            Running::Proxy {
                proxy: Proxy::Nginx,
                server,
                ..
            } => {
                let dir = server.as_ref().unwrap().log.parent().unwrap().to_path_buf();
                let log = dir.join("error.log");
                let from = std::fs::read(&log).map_or(0, |b| b.len());
                let out = bounded(CLIENT_SECS, tool("nginx"))
                    .arg("-p")
                    .arg(&dir)
                    .arg("-e")
                    .arg(dir.join("error.log"))
                    .arg("-c")
                    .arg(dir.join("nginx.conf"))
                    .args(["-s", "reload"])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "nginx -s reload: {}", both(&out));
                // `-s reload` only signals the master: the old workers accept until they are
                // told to shut down, so wait for that before the next request.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                loop {
                    let b = std::fs::read(&log).unwrap_or_default();
                    let new = String::from_utf8_lossy(&b[from.min(b.len())..]).into_owned();
                    let started = new.matches("start worker process ").count();
                    if started > 0 && new.matches("gracefully shutting down").count() >= started {
                        break;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "nginx did not finish its reload in 10 s: {new}"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
            Running::Proxy {
                fx,
                proxy: proxy @ Proxy::Haproxy,
                config,
                lb,
                primary,
                backup,
                server,
                ..
            } => {
                server.take().unwrap().stop();
                *server = Some(start_one(fx, *proxy, config, *lb, *primary, *backup));
            }
            Running::Postgres { cluster, .. } => cluster.reload(),
        }
    }

    /// After a reload: waits (bounded) until `name` gets `served` or refused for `why` (a
    /// reload applies its files a moment after the command returns), and fails with the last
    /// answer when it never does.
    fn after_reload(&self, name: &str, served: bool, why: Why) {
        let deadline = Instant::now() + RELOAD_DEADLINE;
        loop {
            let a = self.ask(name);
            let done = if served {
                Self::served(&a)
            } else {
                self.check_refused(&a, why).is_ok()
            };
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} still not {} {RELOAD_DEADLINE:?} after the reload: {a:?}",
                if served { "served" } else { "refused" }
            );
            sleep(Duration::from_millis(200));
        }
    }
}

/// The proxy alone (its backends run): HAProxy as the HA tests start it; NGINX the same way,
/// but with a master process, so that `nginx -s reload` works as in production.
fn start_one(
    fx: &Fixture,
    proxy: Proxy,
    config: &str,
    lb: u16,
    primary: u16,
    backup: u16,
) -> Server {
    match proxy {
        Proxy::Haproxy => proxy.start(fx, config, lb, primary, backup),
        Proxy::Nginx => {
            let site = render(
                config,
                &[
                    fx.certs_var(),
                    ("PROXY_PORT", lb.to_string()),
                    ("PRIMARY_PORT", primary.to_string()),
                    ("BACKUP_PORT", backup.to_string()),
                ],
            );
            let dir = fx.scratch("lb-participant1");
            nginx_reloadable(&dir, "lb-participant1", &site, &[lb])
        }
    }
}

/// The real-clock PKI of one test, readable by the `postgres` user.
fn pki() -> Fixture {
    Fixture::ecdsa().readable_by_others().init()
}

/// Now minus `days`, as Unix seconds for `--at`.
fn days_ago(days: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (now - days * 86_400).to_string()
}

/// The whole day two of a consumer: revoke one client, let the issuing CA's CRL expire, sign
/// it again.
fn revoke_then_expire_then_resign(consumer: Consumer) {
    let fx = pki();
    let mut c = consumer.start(&fx);
    c.assert_served(GOOD);
    c.assert_served(VICTIM);

    // Revoked: only that client is refused.
    let (out, _) = fx.ok(&[
        "revoke",
        VICTIM,
        "--org",
        "participant1",
        "--reason",
        "key-compromise",
    ]);
    assert!(out.contains("revoked client admin-api"), "{out}");
    c.reload();
    c.after_reload(VICTIM, false, Why::Revoked);
    c.assert_served(GOOD);

    // The issuing CA's CRL expired (signed eight days back, valid seven): every client refused.
    fx.ok(&["crl", "--org", "participant1", "--at", &days_ago(8)]);
    c.reload();
    c.after_reload(GOOD, false, Why::CrlExpired);
    c.assert_refused(VICTIM, Why::Any);

    // `hapki crl` (what the cron line runs) and a reload: back, and the revocation holds.
    let (out, _) = fx.ok(&["crl", "--org", "participant1"]);
    assert!(out.contains("intermediate.crl.pem (1 revoked"), "{out}");
    c.reload();
    c.after_reload(GOOD, true, Why::Any);
    c.assert_refused(VICTIM, Why::Revoked);
}

/// One `#[test]` per consumer of a scenario `fn(Consumer)`.
macro_rules! per_consumer {
    ($scenario:ident: $($test:ident => $consumer:expr),+ $(,)?) => {
        $(
            #[test]
            fn $test() {
                $scenario($consumer);
            }
        )+
    };
}

per_consumer!(revoke_then_expire_then_resign:
    nginx_refuses_a_revoked_client_and_every_client_once_a_crl_expired => Consumer::Proxy(Proxy::Nginx),
    haproxy_refuses_a_revoked_client_and_every_client_once_a_crl_expired => Consumer::Proxy(Proxy::Haproxy),
    postgres_refuses_a_revoked_client_and_every_client_once_a_crl_expired => Consumer::Postgres,
);

#[test]
fn nginx_with_the_issuing_cas_crl_alone_refuses_every_client_and_the_bundle_fixes_it() {
    let fx = pki();
    // `ssl_crl` at the issuing CA's CRL, not the bundle: the root's CRL is missing.
    let alone = "${CERTS}/participant1/intermediate/crl/intermediate.crl.pem";
    let mut c = Running::start_proxy(&fx, Proxy::Nginx, proxy_config(Proxy::Nginx, alone));
    let a = c.ask(GOOD);
    c.check_refused(&a, Why::Any)
        .unwrap_or_else(|e| panic!("{e}: {a:?}"));
    let Answer::Http(_, logged) = &a else {
        unreachable!()
    };
    assert!(
        logged.contains("(3:unable to get certificate CRL)"),
        "{logged}"
    );
    c.assert_refused(VICTIM, Why::Any);
    let Running::Proxy { server, .. } = &c else {
        unreachable!()
    };
    let dir = server.as_ref().unwrap().log.parent().unwrap().to_path_buf();

    // The bundle, as docs/revocation.md configures it, and a reload: served.
    let site = std::fs::read_to_string(dir.join("site.conf")).unwrap();
    let fixed = site.replace(
        &alone.replace("${CERTS}", &fx.out.display().to_string()),
        &fx.out
            .join("participant1/intermediate/crl/ca-chain.crl.pem")
            .display()
            .to_string(),
    );
    assert_ne!(fixed, site);
    std::fs::write(dir.join("site.conf"), fixed).unwrap();
    c.reload();
    c.after_reload(GOOD, true, Why::Any);
    c.assert_served(VICTIM);
}
