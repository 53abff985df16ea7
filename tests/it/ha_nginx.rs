//! Proxy load balancing with NGINX (the seed's lb-participant1): NGINX terminates mTLS for
//! participant1.customer1.com and re-encrypts to the participant1 / participant1b pair with the
//! proxy's own cert, all with the files `hapki init` wrote, through `tests/ha/nginx-proxy.conf.tmpl`
//! (the config docs/ha-deployment.md shows).

use crate::support::fixture::Fixture;
use crate::support::ha::{
    curl, ha_fixture, nginx, nginx_backend, render, template, Backend, Server,
};
use crate::support::proc::free_port;

const SERVICE: &str = "participant1.customer1.com";

/// The proxy config of the docs, rendered for this test's ports and output dir.
fn start_proxy(pki: &Fixture, proxy: u16, primary: u16, backup: u16) -> Server {
    let site = render(
        &template("nginx-proxy.conf.tmpl"),
        &[
            pki.certs_var(),
            ("PROXY_PORT", proxy.to_string()),
            ("PRIMARY_PORT", primary.to_string()),
            ("BACKUP_PORT", backup.to_string()),
        ],
    );
    nginx(
        &pki.scratch("lb-participant1"),
        "lb-participant1",
        &site,
        &[proxy],
    )
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
    let _proxy = start_proxy(&pki, lb, p, b);
    let admin = pki.client("participant1", "admin-api");
    let ca = pki.bundle("participant1");

    let r = curl(SERVICE, lb, &ca, Some(&admin), &[]);
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("participant1"),
        "{r:?}"
    );
    // The backend verified the proxy's own cert, not the caller's.
    assert!(r.body.contains("CN=lb-participant1.customer1.com"), "{r:?}");

    primary.stop();
    let r = curl(SERVICE, lb, &ca, Some(&admin), &[]);
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
    let _backup = nginx_backend(&pki, &participant("participant1b", b));
    let _proxy = start_proxy(&pki, lb, p, b);
    let ca = pki.bundle("participant1");

    // NGINX finishes the handshake and answers 400 itself; the request never reaches a backend.
    let none = curl(SERVICE, lb, &ca, None, &[]);
    assert_eq!(none.status, 400, "{none:?}");
    assert_eq!(none.header("X-Backend"), None, "{none:?}");
    assert!(
        none.body.contains("No required SSL certificate"),
        "{none:?}"
    );

    let other = pki.client("participant2", "admin-api");
    let r = curl(SERVICE, lb, &ca, Some(&other), &[]);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.header("X-Backend"), None, "{r:?}");
    assert!(r.body.contains("SSL certificate error"), "{r:?}");
}

#[test]
fn proxy_refuses_a_backend_that_presents_another_orgs_cert() {
    let pki = ha_fixture();
    let (p, b, lb) = (free_port(), free_port(), free_port());
    // participant2's server cert chains to another CA and names another host.
    let _impostor = nginx_backend(
        &pki,
        &Backend {
            name: "impostor",
            port: p,
            cert: ("participant2", "participant2"),
            client_ca: Some("participant1"),
        },
    );
    // The backup port has nothing listening: the impostor is the only way through.
    let _proxy = start_proxy(&pki, lb, p, b);
    let r = curl(
        SERVICE,
        lb,
        &pki.bundle("participant1"),
        Some(&pki.client("participant1", "admin-api")),
        &[],
    );
    assert_eq!(r.status, 502, "{r:?}");
    assert_eq!(r.header("X-Backend"), None, "{r:?}");
}

#[test]
fn proxy_refuses_a_backend_whose_cert_lacks_the_service_name() {
    let pki = ha_fixture();
    let (p, b, lb) = (free_port(), free_port(), free_port());
    // Same CA, but the json server's cert does not name participant1.customer1.com.
    let _wrong_name = nginx_backend(
        &pki,
        &Backend {
            name: "json",
            port: p,
            cert: ("participant1", "json"),
            client_ca: Some("participant1"),
        },
    );
    let _proxy = start_proxy(&pki, lb, p, b);
    let r = curl(
        SERVICE,
        lb,
        &pki.bundle("participant1"),
        Some(&pki.client("participant1", "admin-api")),
        &[],
    );
    assert_eq!(r.status, 502, "{r:?}");
}

#[test]
fn caller_refuses_a_proxy_that_presents_another_orgs_cert() {
    let pki = ha_fixture();
    let (p, b, lb) = (free_port(), free_port(), free_port());
    let _primary = nginx_backend(&pki, &participant("participant1", p));
    // The proxy config with participant2's chain swapped in for participant1's.
    let site = render(
        &template("nginx-proxy.conf.tmpl")
            .replace(
                "participant1/participant1/certs/participant1-chain.customer1.com",
                "participant2/participant2/certs/participant2-chain.customer2.com",
            )
            .replace(
                "participant1/participant1/private/participant1.customer1.com",
                "participant2/participant2/private/participant2.customer2.com",
            ),
        &[
            pki.certs_var(),
            ("PROXY_PORT", lb.to_string()),
            ("PRIMARY_PORT", p.to_string()),
            ("BACKUP_PORT", b.to_string()),
        ],
    );
    let _proxy = nginx(&pki.scratch("lb-swapped"), "lb-swapped", &site, &[lb]);
    let r = curl(
        SERVICE,
        lb,
        &pki.bundle("participant1"),
        Some(&pki.client("participant1", "admin-api")),
        &[],
    );
    // curl: 60 = the peer's certificate cannot be verified.
    assert_eq!((r.exit, r.status), (60, 0), "{r:?}");
}
