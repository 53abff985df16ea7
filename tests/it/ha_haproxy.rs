//! Proxy load balancing with HAProxy (the seed's default balancer): the same shape as the NGINX
//! proxy, through `tests/ha/haproxy.cfg.tmpl` (the config docs/ha-deployment.md shows), with the
//! combined chain + key PEMs hapki writes for HAProxy's `crt`.

use crate::support::fixture::Fixture;
use crate::support::ha::{
    curl, ha_fixture, nginx_backend, render, template, tool, Backend, Server,
};
use crate::support::proc::free_port;
use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

const SERVICE: &str = "participant1.customer1.com";

fn start_haproxy(pki: &Fixture, cfg: &str, proxy: u16, primary: u16, backup: u16) -> Server {
    let dir = pki.scratch("haproxy");
    let conf = dir.join("haproxy.cfg");
    fs::write(
        &conf,
        render(
            cfg,
            &[
                pki.certs_var(),
                ("PROXY_PORT", proxy.to_string()),
                ("PRIMARY_PORT", primary.to_string()),
                ("BACKUP_PORT", backup.to_string()),
            ],
        ),
    )
    .unwrap();
    // -db: foreground, one process, so the test's pid is the whole proxy.
    let mut s = Server::spawn(
        "haproxy",
        &dir,
        &tool("haproxy"),
        &["-db", "-f", conf.to_str().unwrap()],
    );
    s.wait_listening(proxy);
    s
}

fn participant(name: &str, port: u16) -> Backend<'_> {
    Backend {
        name,
        port,
        cert: ("participant1", name),
        client_ca: Some("participant1"),
    }
}

#[test]
fn admin_client_reaches_primary_as_the_proxy_then_the_backup_when_primary_stops() {
    let pki = ha_fixture();
    let (p, b, lb) = (free_port(), free_port(), free_port());
    let primary = nginx_backend(&pki, &participant("participant1", p));
    let _backup = nginx_backend(&pki, &participant("participant1b", b));
    let _proxy = start_haproxy(&pki, &template("haproxy.cfg.tmpl"), lb, p, b);
    let admin = pki.client("participant1", "admin-api");
    let ca = pki.bundle("participant1");

    let r = curl(SERVICE, lb, &ca, Some(&admin), &[]);
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("participant1"),
        "{r:?}"
    );
    assert!(r.body.contains("CN=lb-participant1.customer1.com"), "{r:?}");

    primary.stop();
    // HAProxy turns to the backup once its health check has seen the primary down (every
    // 500 ms); until then a request may get a 503.
    let deadline = Instant::now() + Duration::from_secs(15);
    let r = loop {
        let r = curl(SERVICE, lb, &ca, Some(&admin), &[]);
        if r.status == 200 || Instant::now() > deadline {
            break r;
        }
        sleep(Duration::from_millis(200));
    };
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("participant1b"),
        "{r:?}"
    );
    assert!(r.body.contains("CN=lb-participant1.customer1.com"), "{r:?}");
}

#[test]
fn proxy_refuses_callers_without_a_participant1_client_cert() {
    let pki = ha_fixture();
    let (p, b, lb) = (free_port(), free_port(), free_port());
    let _primary = nginx_backend(&pki, &participant("participant1", p));
    let _proxy = start_haproxy(&pki, &template("haproxy.cfg.tmpl"), lb, p, b);
    let ca = pki.bundle("participant1");

    // `verify required`: HAProxy aborts the handshake, so there is no HTTP answer at all.
    let none = curl(SERVICE, lb, &ca, None, &[]);
    assert_ne!(none.exit, 0, "{none:?}");
    assert_eq!(none.status, 0, "{none:?}");

    let other = pki.client("participant2", "admin-api");
    let r = curl(SERVICE, lb, &ca, Some(&other), &[]);
    assert_ne!(r.exit, 0, "{r:?}");
    assert_eq!(r.status, 0, "{r:?}");

    // The same proxy lets participant1's client through, so it was the cert that was refused.
    let ok = curl(
        SERVICE,
        lb,
        &ca,
        Some(&pki.client("participant1", "admin-api")),
        &[],
    );
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[test]
fn proxy_refuses_a_backend_that_presents_another_orgs_cert() {
    let pki = ha_fixture();
    let (p, b, lb) = (free_port(), free_port(), free_port());
    let _impostor = nginx_backend(
        &pki,
        &Backend {
            name: "impostor",
            port: p,
            cert: ("participant2", "participant2"),
            client_ca: Some("participant1"),
        },
    );
    let _proxy = start_haproxy(&pki, &template("haproxy.cfg.tmpl"), lb, p, b);
    let r = curl(
        SERVICE,
        lb,
        &pki.bundle("participant1"),
        Some(&pki.client("participant1", "admin-api")),
        &[],
    );
    // 503: no server HAProxy would talk to; the impostor never answered.
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("X-Backend"), None, "{r:?}");
}

#[test]
fn backend_refuses_a_proxy_that_presents_another_orgs_client_cert() {
    let pki = ha_fixture();
    let (p, b, lb) = (free_port(), free_port(), free_port());
    let _primary = nginx_backend(&pki, &participant("participant1", p));
    // The proxy's backend cert swapped for a combined PEM of participant2's CA.
    let cfg = template("haproxy.cfg.tmpl").replace(
        "participant1/lb-participant1/private/lb-participant1.customer1.com.haproxy.pem",
        "participant2/participant2/private/participant2.customer2.com.haproxy.pem",
    );
    let _proxy = start_haproxy(&pki, &cfg, lb, p, b);
    let r = curl(
        SERVICE,
        lb,
        &pki.bundle("participant1"),
        Some(&pki.client("participant1", "admin-api")),
        &[],
    );
    // The backend (NGINX, `ssl_verify_client on`) answers 400 itself: its location, which names
    // the backend, is never reached.
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("SSL certificate error"), "{r:?}");
    assert_eq!(r.header("X-Backend"), None, "{r:?}");
}
