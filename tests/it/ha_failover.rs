//! Client-side failover (the seed's CLIENTSIDE mode): a client knows both replicas of a service
//! and trusts only the org's bundle. It connects to the first endpoint, which is down, then the
//! second, and checks the service name on whichever answers, since every replica's cert names
//! the service it stands in for.

use crate::support::ha::{curl, ha_fixture, nginx_backend, Backend, Reply};
use crate::support::proc::free_port;
use std::path::{Path, PathBuf};

/// A client with several endpoints of one service, tried in order: the first TLS connection that
/// verifies `service` under `ca` and answers wins. Returns which endpoint that was, or every
/// failure.
fn failover(
    service: &str,
    ports: &[u16],
    ca: &Path,
    client: Option<&(PathBuf, PathBuf)>,
) -> Result<(usize, Reply), Vec<Reply>> {
    let mut failures = Vec::new();
    for (i, &port) in ports.iter().enumerate() {
        let r = curl(service, port, ca, client, &[]);
        if r.exit == 0 && r.status == 200 {
            return Ok((i, r));
        }
        failures.push(r);
    }
    Err(failures)
}

fn sequencer<'a>(name: &'a str, port: u16, cert: &'a str) -> Backend<'a> {
    // The sequencer public API has no mTLS.
    Backend {
        name,
        port,
        cert: ("domain", cert),
        client_ca: None,
    }
}

fn participant<'a>(name: &'a str, port: u16, cert: (&'a str, &'a str)) -> Backend<'a> {
    Backend {
        name,
        port,
        cert,
        client_ca: Some("participant1"),
    }
}

#[test]
fn sequencer_client_fails_over_to_sequencer2_and_back_verifying_the_service_name() {
    let pki = ha_fixture();
    let (s1, s2) = (free_port(), free_port());
    let ca = pki.bundle("domain");
    let seq2 = nginx_backend(pki, &sequencer("sequencer2", s2, "sequencer2"));

    // sequencer is down (nothing listens on s1): the client goes on to sequencer2.
    let (i, r) = failover("sequencer.acme.com", &[s1, s2], &ca, None).unwrap();
    assert_eq!(i, 1, "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("sequencer2"),
        "{r:?}"
    );

    // sequencer back, sequencer2 gone: the first endpoint answers under the same name.
    let _seq1 = nginx_backend(pki, &sequencer("sequencer", s1, "sequencer"));
    seq2.stop();
    let (i, r) = failover("sequencer.acme.com", &[s1, s2], &ca, None).unwrap();
    assert_eq!(i, 0, "{r:?}");
    assert_eq!(r.header("X-Backend").as_deref(), Some("sequencer"), "{r:?}");
}

#[test]
fn participant_client_fails_over_to_participant1b_with_its_client_cert() {
    let pki = ha_fixture();
    let (p1, p2) = (free_port(), free_port());
    let ca = pki.bundle("participant1");
    let admin = pki.client("participant1", "admin-api");
    let p1b = nginx_backend(
        pki,
        &participant("participant1b", p2, ("participant1", "participant1b")),
    );

    let (i, r) = failover("participant1.customer1.com", &[p1, p2], &ca, Some(&admin)).unwrap();
    assert_eq!(i, 1, "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("participant1b"),
        "{r:?}"
    );
    // The replica verified the caller's own admin cert (no proxy in between here).
    assert!(r.body.contains("CN=admin-api.customer1.com"), "{r:?}");

    let _p1 = nginx_backend(
        pki,
        &participant("participant1", p1, ("participant1", "participant1")),
    );
    p1b.stop();
    let (i, r) = failover("participant1.customer1.com", &[p1, p2], &ca, Some(&admin)).unwrap();
    assert_eq!(i, 0, "{r:?}");
    assert_eq!(
        r.header("X-Backend").as_deref(),
        Some("participant1"),
        "{r:?}"
    );
}

#[test]
fn client_refuses_a_replica_whose_cert_lacks_the_service_name() {
    let pki = ha_fixture();
    let (s1, s2) = (free_port(), free_port());
    // sequencer down; the "replica" presents mediator2's cert: the same CA, but it names the
    // mediator service, not sequencer.acme.com.
    let _wrong = nginx_backend(pki, &sequencer("wrong", s2, "mediator2"));
    let failures = failover("sequencer.acme.com", &[s1, s2], &pki.bundle("domain"), None)
        .expect_err("a cert without the service name was accepted");
    // curl 7: nothing listens; 60: the cert does not verify for the name.
    assert_eq!(failures[0].exit, 7, "{:?}", failures[0]);
    assert_eq!(failures[1].exit, 60, "{:?}", failures[1]);
    assert!(
        failures[1].stderr.contains("sequencer.acme.com"),
        "{:?}",
        failures[1]
    );
}

#[test]
fn client_refuses_a_participant_replica_with_another_orgs_cert() {
    let pki = ha_fixture();
    let (p1, p2) = (free_port(), free_port());
    let _impostor = nginx_backend(
        pki,
        &participant("impostor", p2, ("participant2", "participant2")),
    );
    let failures = failover(
        "participant1.customer1.com",
        &[p1, p2],
        &pki.bundle("participant1"),
        Some(&pki.client("participant1", "admin-api")),
    )
    .expect_err("another org's cert was accepted");
    assert_eq!(failures[0].exit, 7, "{:?}", failures[0]);
    assert_eq!(failures[1].exit, 60, "{:?}", failures[1]);
}
