//! Postgres with TLS (the participants' and domain's databases): a throwaway cluster run as the
//! `postgres` user with participant1's db server cert, client certs checked against
//! participant1's CA and mapped to a user, through `tests/ha/postgresql-tls.conf.tmpl`,
//! `pg_hba.conf.tmpl` and `pg_ident.conf.tmpl` (the settings docs/ha-deployment.md shows);
//! psql connects with `sslmode=verify-full`.

use crate::support::fixture::Fixture;
use crate::support::ha::{
    as_user, bounded, dns, egid, euid, ha_fixture, pg_bin, render, template, user_ids, Server,
    CLIENT_SECS,
};
use crate::support::proc::{both, free_port};
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A running cluster and the temp folder that holds it (removed after the server stops).
/// lifecycle_consumers.rs starts one too (with a CRL), and reloads it.
pub(crate) struct Cluster {
    pub(crate) port: u16,
    // Field order: the server stops before its folder is removed.
    _server: Server,
    _root: tempfile::TempDir,
}

/// initdb, the TLS settings of the templates (with `swap` applied to their text, for the
/// negative tests), and the server on a free loopback port; returns once it accepts connections.
pub(crate) fn start_cluster(pki: &Fixture, swap: &[(&str, &str)], key: &Path) -> Cluster {
    let pg = pg_user();
    let root = tempfile::Builder::new()
        .prefix("hapki-pg-")
        .tempdir()
        .unwrap();
    chown(root.path(), Some(pg.0), Some(pg.1)).unwrap();
    let data = root.path().join("data");
    let out = as_user(&mut bounded(120, pg_bin().join("initdb")), pg)
        .current_dir(root.path())
        .args([
            "--no-sync",
            "--auth=reject",
            "--username=canton",
            "-E",
            "UTF8",
        ])
        .args(["--locale=C", "-D"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "initdb: {}", both(&out));

    let vars = [pki.certs_var()];
    let tmpl = |name: &str| {
        let mut t = template(name);
        for (from, to) in swap {
            t = t.replace(from, to);
        }
        render(&t, &vars)
    };
    let mut files = vec![
        ("hapki-tls.conf", tmpl("postgresql-tls.conf.tmpl")),
        ("pg_hba.conf", tmpl("pg_hba.conf.tmpl")),
        ("pg_ident.conf", tmpl("pg_ident.conf.tmpl")),
    ];
    let mut conf = fs::read_to_string(data.join("postgresql.conf")).unwrap();
    conf.push_str("\ninclude 'hapki-tls.conf'\n");
    files.push(("postgresql.conf", conf));
    for (name, body) in files {
        let p = data.join(name);
        fs::write(&p, body).unwrap();
        chown(&p, Some(pg.0), Some(pg.1)).unwrap();
    }
    let key_copy = data.join("db.customer1.com.key.pem");
    fs::copy(key, &key_copy).unwrap();
    chown(&key_copy, Some(pg.0), Some(pg.1)).unwrap();
    fs::set_permissions(&key_copy, fs::Permissions::from_mode(0o600)).unwrap();

    let port = free_port();
    let sock = root.path().display().to_string();
    let server = Server::spawn_with(
        "postgres",
        root.path(),
        &pg_bin().join("postgres"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            &format!("port={port}"),
            "-c",
            &format!("unix_socket_directories={sock}"),
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=10",
            "-c",
            "fsync=off",
        ],
        |c| {
            as_user(c, pg).current_dir(root.path());
        },
    )
    // SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for sessions to end).
    .stop_with("INT");
    let mut server = server;
    server.wait_listening(port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = bounded(10, pg_bin().join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .unwrap();
        if ready.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "postgres not ready:\n{}",
            server.log_text()
        );
        sleep(Duration::from_millis(100));
    }
    Cluster {
        port,
        _server: server,
        _root: root,
    }
}

/// PostgreSQL refuses to run as root: as root (CI) the cluster runs as the `postgres` user,
/// otherwise as the user running the tests.
fn pg_user() -> (u32, u32) {
    if euid() == 0 {
        user_ids("postgres")
    } else {
        (euid(), egid())
    }
}

impl Cluster {
    /// `pg_ctl reload`, as an operator runs it: the server re-reads its config and TLS files.
    pub(crate) fn reload(&self) {
        let out = as_user(&mut bounded(30, pg_bin().join("pg_ctl")), pg_user())
            .current_dir(self._root.path())
            .arg("reload")
            .arg("-D")
            .arg(self._root.path().join("data"))
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl reload: {}", both(&out));
    }
}

/// psql to `db.customer1.com` (hostaddr 127.0.0.1, so the name is verified without DNS) with
/// `sslmode=verify-full` and participant1's bundle, as user `canton`, with an optional client
/// cert; asks who it is and what client cert the server saw.
pub(crate) fn psql(pki: &Fixture, port: u16, client: Option<(PathBuf, PathBuf)>) -> Output {
    let home = tempfile::tempdir().unwrap();
    // Without a client cert, point libpq at files that do not exist, so it sends none (and does
    // not pick up a default from ~/.postgresql).
    let (cert, key) =
        client.unwrap_or_else(|| (home.path().join("none.crt"), home.path().join("none.key")));
    let conninfo = format!(
        "hostaddr=127.0.0.1 host=db.customer1.com port={port} dbname=postgres user=canton \
         sslmode=verify-full sslrootcert={} sslcert={} sslkey={} connect_timeout=10",
        pki.bundle("participant1").display(),
        cert.display(),
        key.display()
    );
    let mut c = bounded(CLIENT_SECS, pg_bin().join("psql"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PG") {
            c.env_remove(k);
        }
    }
    c.env("HOME", home.path())
        .args(["-X", "-A", "-t", "-c"])
        .arg(
            "SELECT current_user, (SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
        )
        .arg(conninfo)
        .output()
        .unwrap()
}

pub(crate) fn db_key(pki: &Fixture, org: &str, node: &str) -> PathBuf {
    let d = dns(org);
    pki.file(&format!("{org}/{node}/private/{node}.{d}.key.pem"))
}

#[test]
fn participant1_connects_with_verify_full_and_its_client_cert_others_are_refused() {
    let pki = ha_fixture();
    let c = start_cluster(pki, &[], &db_key(pki, "participant1", "db"));

    let ok = psql(
        pki,
        c.port,
        Some(pki.client("participant1", "participant1")),
    );
    assert!(ok.status.success(), "{}", both(&ok));
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(out.starts_with("canton|"), "{out}");
    assert!(out.contains("CN=participant1.customer1.com"), "{out}");

    let none = psql(pki, c.port, None);
    assert!(!none.status.success());
    assert!(
        both(&none).contains("connection requires a valid client certificate"),
        "{}",
        both(&none)
    );

    // A valid cert of the right CA whose CN pg_ident.conf does not map to `canton`.
    let unmapped = psql(pki, c.port, Some(pki.client("participant1", "admin-api")));
    assert!(!unmapped.status.success());
    assert!(
        both(&unmapped).contains("certificate authentication failed"),
        "{}",
        both(&unmapped)
    );

    // A cert of another org's CA: refused in the handshake.
    let other = psql(
        pki,
        c.port,
        Some(pki.client("participant2", "participant2")),
    );
    assert!(!other.status.success());
    assert!(both(&other).contains("SSL error"), "{}", both(&other));
}

/// The server presents the chain `chain` (in place of participant1's db chain) and the key of
/// `key` (org, node); psql, verifying participant1's db, refuses it saying `because`.
fn psql_refuses_the_server(case: &str, chain: &str, key: (&str, &str), because: &str) {
    let pki = ha_fixture();
    let c = start_cluster(
        pki,
        &[("participant1/db/certs/db-chain.customer1.com", chain)],
        &db_key(pki, key.0, key.1),
    );
    let r = psql(
        pki,
        c.port,
        Some(pki.client("participant1", "participant1")),
    );
    assert!(!r.status.success(), "{case}: {}", both(&r));
    assert!(both(&r).contains(because), "{case}: {}", both(&r));
}

#[test]
fn psql_refuses_a_server_with_another_orgs_db_cert() {
    psql_refuses_the_server(
        "participant2's db cert",
        "participant2/db/certs/db-chain.customer2.com",
        ("participant2", "db"),
        "certificate verify failed",
    );
}

#[test]
fn psql_refuses_a_server_cert_of_the_right_ca_for_another_name() {
    // participant1's json cert: the right CA, but it does not name db.customer1.com.
    psql_refuses_the_server(
        "participant1's json cert",
        "participant1/json/certs/json-chain.customer1.com",
        ("participant1", "json"),
        "does not match host name \"db.customer1.com\"",
    );
}
