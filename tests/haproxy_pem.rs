//! The combined chain + key PEM hapki writes for HAProxy's `crt`: where it is, its mode, and that
//! it is exactly the chain file followed by the key file, for every server and proxy-backend leaf.

use assert_cmd::Command;
use std::fs;
use std::os::unix::fs::PermissionsExt;

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
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("p.toml");
    fs::write(&profile, PROFILE).unwrap();
    let out = tmp.path().join("certs");
    Command::cargo_bin("hapki")
        .unwrap()
        .args(["init", "--profile"])
        .arg(&profile)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let org = out.join("participant1");
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
        let mode = fs::metadata(&pem).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", pem.display());
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
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("p.toml");
    fs::write(&profile, PROFILE).unwrap();
    let out = tmp.path().join("certs");
    let init = || {
        Command::cargo_bin("hapki")
            .unwrap()
            .args(["init", "--profile"])
            .arg(&profile)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
    };
    init();
    let node = out.join("participant1/participant1");
    let pem = node.join("private/participant1.customer1.com.haproxy.pem");
    fs::remove_file(&pem).unwrap();
    init();
    let chain =
        fs::read_to_string(node.join("certs/participant1-chain.customer1.com.cert.pem")).unwrap();
    let key = fs::read_to_string(node.join("private/participant1.customer1.com.key.pem")).unwrap();
    assert_eq!(fs::read_to_string(&pem).unwrap(), chain + &key);
}
