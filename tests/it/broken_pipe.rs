//! A closed stdout (`hapki init | head -1`) ends the output, never in a panic.

use crate::support::fixture::{hapki_std, Fixture};
use std::process::Stdio;

const PROFILE: &str = r#"
[defaults]
ca_key = "ecdsa-p256"
leaf_key = "ecdsa-p256"
jwt_key = "ecdsa-p256"
[[org]]
name = "participant1"
dns = "customer1.com"
organization = "Customer1 LLC"
servers = ["participant1"]
clients = ["admin-api"]
[org.jwt]
users = [{ name = "alice" }]
"#;

/// Runs hapki with stdout a pipe whose reading end is already closed, so every write fails
/// with EPIPE (no race with a reader).
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    hapki_std()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_is_no_panic() {
    let fx = Fixture::profile(PROFILE).bare();
    let (p, o) = (
        fx.profile_path().to_str().unwrap(),
        fx.out.to_str().unwrap(),
    );
    let cert = format!("{o}/participant1/participant1/certs/participant1.customer1.com.cert.pem");
    for args in [
        vec!["init", "--profile", p, "--out", o],
        vec!["init", "--profile", p, "--out", o],
        vec!["verify", o, "--profile", p],
        vec!["inspect", &cert],
        vec!["jwt", "mint", "--user", "alice", "--profile", p, "--out", o],
    ] {
        let r = with_closed_stdout(&args);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(r.status.code(), Some(0), "{args:?}: {stderr}");
    }
    // The work was done all the same.
    assert!(std::path::Path::new(&cert).is_file());
}
