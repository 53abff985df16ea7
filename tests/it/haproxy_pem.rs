//! The combined chain + key PEM hapki writes for HAProxy's `crt`: where it is, its mode, and that
//! it is exactly the chain file followed by the key file, for every server and proxy-backend leaf.

use crate::support::fixture::Fixture;
use crate::support::tree::mode;
use std::fs;

const PROFILE: &str = r#"
[defaults]
ca_key = "ecdsa-p256"
leaf_key = "ecdsa-p256"

[[org]]
name = "participant1"
dns = "customer1.com"
organization = "Customer1 LLC"
servers = ["participant1"]
clients = ["admin-api"]
replicas = [{ name = "participant1b", of = "participant1" }]
proxies = [{ name = "lb-participant1", fronts = "participant1", backend_cert = true }]
"#;

#[test]
fn haproxy_pem_is_chain_then_key_mode_0600_for_servers_and_proxy_backends() {
    let fx = Fixture::profile(PROFILE).init();
    let org = fx.org("participant1");
    for node in ["participant1", "participant1b", "lb-participant1"] {
        let pem = org.join(format!("{node}/private/{node}.customer1.com.haproxy.pem"));
        let chain = fs::read_to_string(
            org.join(format!("{node}/certs/{node}-chain.customer1.com.cert.pem")),
        )
        .unwrap();
        let key =
            fs::read_to_string(org.join(format!("{node}/private/{node}.customer1.com.key.pem")))
                .unwrap();
        assert_eq!(fs::read_to_string(&pem).unwrap(), chain + &key, "{node}");
        assert_eq!(mode(&pem), 0o600, "{}", pem.display());
    }
    // Clients get none: HAProxy presents only the proxy-backend cert to its backends.
    let client_files: Vec<_> = fs::read_dir(org.join("client"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        client_files.iter().all(|f| !f.contains("haproxy")),
        "{client_files:?}"
    );
}

#[test]
fn deleted_haproxy_pem_is_written_again_by_init() {
    let fx = Fixture::profile(PROFILE).init();
    let node = fx.org("participant1").join("participant1");
    let pem = node.join("private/participant1.customer1.com.haproxy.pem");
    fs::remove_file(&pem).unwrap();
    fx.ok(&["init"]);
    let chain =
        fs::read_to_string(node.join("certs/participant1-chain.customer1.com.cert.pem")).unwrap();
    let key = fs::read_to_string(node.join("private/participant1.customer1.com.key.pem")).unwrap();
    assert_eq!(fs::read_to_string(&pem).unwrap(), chain + &key);
}
