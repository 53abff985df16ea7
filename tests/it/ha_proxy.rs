//! Proxy load balancing (the seed's lb-participant1): a proxy terminates mTLS for
//! participant1.customer1.com and re-encrypts to the participant1 / participant1b pair with the
//! proxy's own cert, all with the files `hapki init` wrote, through the config docs/ha-deployment.md
//! shows for it: `tests/ha/nginx-proxy.conf.tmpl` (NGINX) or `tests/ha/haproxy.cfg.tmpl`
//! (HAProxy, with the combined chain + key PEMs hapki writes for its `crt`).
//!
//! Each scenario is written once, for a `Proxy`, and run for NGINX and for HAProxy.

use crate::support::fixture::Fixture;
use crate::support::ha::{
    curl, ha_fixture, nginx_backend, participant, swap_cert, Backend, Proxy, Reply, Server,
};
use crate::support::proc::free_port;

const SERVICE: &str = "participant1.customer1.com";

/// One scenario's fixture and ports: the proxy's, the primary's and the backup's (nothing
/// listens on the backend ports until a scenario starts a backend there).
struct Setup {
    fx: &'static Fixture,
    lb: u16,
    primary: u16,
    backup: u16,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            fx: ha_fixture(),
            lb: free_port(),
            primary: free_port(),
            backup: free_port(),
        }
    }

    fn start(&self, proxy: Proxy, config: &str) -> Server {
        proxy.start(self.fx, config, self.lb, self.primary, self.backup)
    }

    /// A request to the service through the proxy, with participant1's bundle and `client`.
    fn request(&self, client: Option<(&str, &str)>) -> Reply {
        let cert = client.map(|(org, name)| self.fx.client(org, name));
        curl(
            SERVICE,
            self.lb,
            &self.fx.bundle("participant1"),
            cert.as_ref(),
            &[],
        )
    }
}

const ADMIN: Option<(&str, &str)> = Some(("participant1", "admin-api"));

/// One `#[test]` per proxy for a scenario `fn(Proxy)`, so each proxy's run passes or fails
/// on its own: `per_proxy!(scenario: nginx_test_name, haproxy_test_name);`.
macro_rules! per_proxy {
    ($scenario:ident: $nginx:ident, $haproxy:ident) => {
        #[test]
        fn $nginx() {
            $scenario(Proxy::Nginx);
        }

        #[test]
        fn $haproxy() {
            $scenario(Proxy::Haproxy);
        }
    };
}

fn admin_client_reaches_primary_as_the_proxy_then_the_backup_when_primary_stops(proxy: Proxy) {
    let s = Setup::new();
    let primary = nginx_backend(s.fx, &participant("participant1", s.primary));
    let _backup = nginx_backend(s.fx, &participant("participant1b", s.backup));
    let _proxy = s.start(proxy, &proxy.template());

    let r = s.request(ADMIN);
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("participant1"),
        "{r:?}"
    );
    // The backend verified the proxy's own cert, not the caller's.
    assert!(r.body.contains("CN=lb-participant1.customer1.com"), "{r:?}");

    primary.stop();
    let r = proxy.after_primary_stops(|| s.request(ADMIN));
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("participant1b"),
        "{r:?}"
    );
    assert!(r.body.contains("CN=lb-participant1.customer1.com"), "{r:?}");
}

per_proxy!(admin_client_reaches_primary_as_the_proxy_then_the_backup_when_primary_stops:
    nginx_admin_client_reaches_primary_as_the_proxy_then_the_backup_when_primary_stops,
    haproxy_admin_client_reaches_primary_as_the_proxy_then_the_backup_when_primary_stops);

fn proxy_refuses_callers_without_a_participant1_client_cert(proxy: Proxy) {
    let s = Setup::new();
    let _primary = nginx_backend(s.fx, &participant("participant1", s.primary));
    let _backup = nginx_backend(s.fx, &participant("participant1b", s.backup));
    let _proxy = s.start(proxy, &proxy.template());

    proxy.assert_refused_caller(&s.request(None), "No required SSL certificate");
    proxy.assert_refused_caller(
        &s.request(Some(("participant2", "admin-api"))),
        "SSL certificate error",
    );
    // The same proxy lets participant1's client through, so it was the cert that was refused.
    let ok = s.request(ADMIN);
    assert_eq!(ok.status, 200, "{ok:?}");
}

per_proxy!(proxy_refuses_callers_without_a_participant1_client_cert:
    nginx_proxy_refuses_callers_without_a_participant1_client_cert,
    haproxy_proxy_refuses_callers_without_a_participant1_client_cert);

/// The one backend there presents `cert` (org, node) for the service; the proxy must refuse
/// it: no backend answers, and nothing else is there to (the backup port has nothing
/// listening).
fn proxy_refuses_the_backend(proxy: Proxy, case: &str, name: &str, cert: (&str, &str)) {
    let s = Setup::new();
    let _backend = nginx_backend(
        s.fx,
        &Backend {
            name,
            port: s.primary,
            cert,
            client_ca: Some("participant1"),
        },
    );
    let _proxy = s.start(proxy, &proxy.template());
    let r = s.request(ADMIN);
    assert_eq!(r.status, proxy.no_backend_status(), "{case}: {r:?}");
    assert_eq!(r.header("X-Backend"), None, "{case}: {r:?}");
}

fn proxy_refuses_a_backend_that_presents_another_orgs_cert(proxy: Proxy) {
    // participant2's server cert chains to another CA and names another host.
    let case = "a backend with another org's cert";
    proxy_refuses_the_backend(proxy, case, "impostor", ("participant2", "participant2"));
}

per_proxy!(proxy_refuses_a_backend_that_presents_another_orgs_cert:
    nginx_proxy_refuses_a_backend_that_presents_another_orgs_cert,
    haproxy_proxy_refuses_a_backend_that_presents_another_orgs_cert);

fn proxy_refuses_a_backend_whose_cert_lacks_the_service_name(proxy: Proxy) {
    // Same CA, but the json server's cert does not name participant1.customer1.com.
    let case = "a backend whose cert lacks the service name";
    proxy_refuses_the_backend(proxy, case, "json", ("participant1", "json"));
}

per_proxy!(proxy_refuses_a_backend_whose_cert_lacks_the_service_name:
    nginx_proxy_refuses_a_backend_whose_cert_lacks_the_service_name,
    haproxy_proxy_refuses_a_backend_whose_cert_lacks_the_service_name);

fn caller_refuses_a_proxy_that_presents_another_orgs_cert(proxy: Proxy) {
    let s = Setup::new();
    let _primary = nginx_backend(s.fx, &participant("participant1", s.primary));
    // The proxy config with participant2's server chain and key in place of participant1's.
    let config = swap_cert(
        &proxy.template(),
        "participant1",
        ("participant2", "participant2"),
    );
    let _proxy = s.start(proxy, &config);
    let r = s.request(ADMIN);
    // curl: 60 = the peer's certificate cannot be verified.
    assert_eq!((r.exit, r.status), (60, 0), "{r:?}");
}

per_proxy!(caller_refuses_a_proxy_that_presents_another_orgs_cert:
    nginx_caller_refuses_a_proxy_that_presents_another_orgs_cert,
    haproxy_caller_refuses_a_proxy_that_presents_another_orgs_cert);

fn backend_refuses_a_proxy_that_presents_another_orgs_client_cert(proxy: Proxy) {
    let s = Setup::new();
    let _primary = nginx_backend(s.fx, &participant("participant1", s.primary));
    // The proxy's backend cert swapped for participant2's (another CA).
    let config = swap_cert(
        &proxy.template(),
        "lb-participant1",
        ("participant2", "participant2"),
    );
    let _proxy = s.start(proxy, &config);
    let r = s.request(ADMIN);
    // The backend (NGINX, `ssl_verify_client on`) answers 400 itself: its location, which names
    // the backend, is never reached.
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("SSL certificate error"), "{r:?}");
    assert_eq!(r.header("X-Backend"), None, "{r:?}");
}

per_proxy!(backend_refuses_a_proxy_that_presents_another_orgs_client_cert:
    nginx_backend_refuses_a_proxy_that_presents_another_orgs_client_cert,
    haproxy_backend_refuses_a_proxy_that_presents_another_orgs_client_cert);
