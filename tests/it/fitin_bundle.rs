//! `hapki export bundle NODE`: exactly one node's files. The tar of participant1b holds no
//! other node's private key (each key's public half is checked with openssl against every
//! server and proxy cert of the tree), keys are 0600 inside it (GNU tar lists the modes), and
//! the Kubernetes manifests parse as YAML (PyYAML) with the fields Kubernetes requires.

use crate::support::fixture::{crate_root, Fixture};
use crate::support::skip::{have, skipped, test_name};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::sync::OnceLock;

const AT: &str = "2026-12-01T00:00:00Z";

/// The tree of the shipped ECDSA profile issued at AT, shared: export only reads it (and takes
/// no --at, so the fixture has no clock of its own).
fn tree() -> &'static Fixture {
    static TREE: OnceLock<Fixture> = OnceLock::new();
    TREE.get_or_init(|| {
        let fx = Fixture::shipped_ecdsa().shared().bare();
        fx.ok(&["init", "--at", AT]);
        fx
    })
}

/// A file path for a test's own export.
fn target(name: &str) -> PathBuf {
    tree().scratch("export").join(name)
}

fn export(args: &[&str], to: &Path) {
    let mut a = vec!["export", "bundle"];
    a.extend(args);
    a.push("--to");
    a.push(to.to_str().unwrap());
    let o = tree().output(&a);
    assert!(o.status.success(), "{o:?}");
}

/// `openssl pkey -pubout` of a key, or `x509 -pubkey` of a cert: the public half as PEM.
fn public_half(file: &Path, cert: bool) -> String {
    let o = if cert {
        Proc::new("openssl")
            .args(["x509", "-noout", "-pubkey", "-in"])
            .arg(file)
            .output()
    } else {
        Proc::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(file)
            .output()
    }
    .unwrap();
    assert!(o.status.success(), "{}: {o:?}", file.display());
    String::from_utf8(o.stdout).unwrap()
}

/// Every server and proxy-backend cert of the tree: node name -> public half.
fn node_certs(out: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for org in std::fs::read_dir(out).unwrap() {
        let org = org.unwrap().path();
        for node in std::fs::read_dir(&org).unwrap() {
            let certs = node.unwrap().path().join("certs");
            let Ok(rd) = std::fs::read_dir(&certs) else {
                continue;
            };
            for f in rd {
                let f = f.unwrap().path();
                let n = f.file_name().unwrap().to_string_lossy().into_owned();
                if n.ends_with(".cert.pem")
                    && !n.contains("-chain.")
                    && !org.join("intermediate/certs").eq(&certs)
                {
                    m.insert(n, public_half(&f, true));
                }
            }
        }
    }
    m
}

#[test]
fn participant1b_tar_holds_its_files_and_no_other_nodes_key() {
    for bin in ["openssl", "tar"] {
        if !have(bin) {
            return skipped(test_name!(), &format!("{bin} is not installed"));
        }
    }
    let out = &tree().out;
    let tar = target("p1b.tar");
    export(&["participant1b"], &tar);
    // GNU tar lists it: modes and paths.
    let o = Proc::new("tar").arg("-tvf").arg(&tar).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let listing = String::from_utf8(o.stdout).unwrap();
    let mut files = Vec::new();
    for line in listing.lines() {
        let mode = line.split_whitespace().next().unwrap();
        let path = line.split_whitespace().last().unwrap();
        if mode.starts_with('-') {
            files.push(path.to_string());
            let secret = path.contains("/private/")
                || path.ends_with(".key.pem")
                || path.ends_with(".key.der");
            assert_eq!(
                mode,
                if secret { "-rw-------" } else { "-rw-r--r--" },
                "{line}"
            );
        } else if path.ends_with("private") || path.ends_with("client") {
            assert_eq!(mode, "drwx------", "{line}");
        }
    }
    let want = [
        "participant1/participant1b/certs/participant1b.customer1.com.cert.pem",
        "participant1/participant1b/certs/participant1b-chain.customer1.com.cert.pem",
        "participant1/participant1b/private/participant1b.customer1.com.key.pem",
        "participant1/intermediate/certs/ca-chain.cert.pem",
        "participant1/client/admin-api.customer1.com.key.pem",
        "participant1/client/participant1-chain.customer1.com.cert.pem",
        "participant1/client/participant1.customer1.com.key.der",
        "participant1/jwt/jwks.json",
        "participant1/signing/jwt-sign.customer1.com.cert.pem",
    ];
    for w in want {
        assert!(files.iter().any(|f| f == w), "{w} missing:\n{listing}");
    }
    for f in &files {
        assert!(
            !f.contains("participant1/participant1/"),
            "another node's file {f}"
        );
        assert!(
            !f.contains("/root/private") && !f.contains("intermediate/private"),
            "{f}"
        );
        assert!(!f.contains("signing/jwt-sign.customer1.com.key"), "{f}");
        assert!(!f.ends_with(".token"), "{f}");
    }
    // Extract and check each private key: its public half is that of a cert in the bundle,
    // and of no other node's cert in the tree.
    let x = tree().scratch("x");
    let o = Proc::new("tar")
        .arg("-xpf")
        .arg(&tar)
        .arg("-C")
        .arg(&x)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let others: Vec<(String, String)> = node_certs(out)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("participant1b."))
        .collect();
    assert!(others.len() > 10, "{others:?}");
    let mut keys = 0;
    for f in files.iter().filter(|f| f.ends_with(".key.pem")) {
        keys += 1;
        let pubk = public_half(&x.join(f), false);
        let cert = x.join(
            f.replace("/private/", "/certs/")
                .replace(".key.pem", ".cert.pem"),
        );
        assert_eq!(
            pubk,
            public_half(&cert, true),
            "{f} does not match its cert"
        );
        for (n, other) in &others {
            assert_ne!(&pubk, other, "{f} is the key of {n}");
        }
    }
    assert_eq!(
        keys, 3,
        "participant1b's server key and two client keys:\n{listing}"
    );
}

#[test]
fn proxy_bundle_has_its_backend_cert_and_the_fronted_primary() {
    let tar = target("lb.tar");
    export(&["lb-participant1"], &tar);
    let o = Proc::new("tar").arg("-tf").arg(&tar).output().unwrap();
    let listing = String::from_utf8(o.stdout).unwrap();
    for w in [
        "participant1/lb-participant1/private/lb-participant1.customer1.com.haproxy.pem",
        "participant1/participant1/private/participant1.customer1.com.haproxy.pem",
        "participant1/participant1/certs/participant1-chain.customer1.com.cert.pem",
        "participant1/intermediate/certs/ca-chain.cert.pem",
    ] {
        assert!(listing.lines().any(|l| l == w), "{w} missing:\n{listing}");
    }
    assert!(!listing.contains("participant1b"), "{listing}");
    assert!(!listing.contains("client/"), "{listing}");
}

#[test]
fn k8s_manifests_are_valid_yaml_with_the_fields_kubernetes_requires() {
    let py = crate_root().join(".venv/bin/python");
    let has_yaml = Proc::new(&py)
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_yaml {
        return skipped(
            test_name!(),
            ".venv/bin/python with PyYAML (tests/interop/requirements.txt) is missing",
        );
    }
    let out = &tree().out;
    let yaml = target("p1b.yaml");
    export(&["participant1b", "--format", "k8s"], &yaml);
    let script = r#"
import base64, re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
dns1123 = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
out = []
for d in docs:
    for k in ("apiVersion", "kind", "metadata", "data"):
        assert k in d, (k, d.get("kind"))
    name = d["metadata"]["name"]
    assert dns1123.match(name) and len(name) <= 63, name
    if d["kind"] == "Secret":
        assert d["type"] == "kubernetes.io/tls", d["type"]
        crt = base64.b64decode(d["data"]["tls.crt"], validate=True).decode()
        key = base64.b64decode(d["data"]["tls.key"], validate=True).decode()
        assert crt.startswith("-----BEGIN CERTIFICATE-----"), name
        assert "PRIVATE KEY-----" in key, name
        out.append("%s %s %d" % (d["kind"], name, crt.count("BEGIN CERTIFICATE")))
    else:
        assert d["kind"] == "ConfigMap"
        out.append("%s %s %s" % (d["kind"], name, ",".join(sorted(d["data"]))))
print("\n".join(out))
"#;
    let o = Proc::new(&py)
        .arg("-c")
        .arg(script)
        .arg(&yaml)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        report.trim(),
        "Secret participant1-participant1b-server 3\n\
         Secret participant1-admin-api-client 2\n\
         Secret participant1-participant1-client 2\n\
         ConfigMap participant1-participant1b-trust ca-chain.cert.pem,jwks.json,jwt-sign.customer1.com.cert.pem"
    );
    // Each Secret's key is its own cert's: the server Secret holds participant1b's key.
    let text = std::fs::read_to_string(&yaml).unwrap();
    use base64::Engine;
    let key = std::fs::read(
        out.join("participant1/participant1b/private/participant1b.customer1.com.key.pem"),
    )
    .unwrap();
    assert!(text.contains(&base64::engine::general_purpose::STANDARD.encode(key)));
    let other = std::fs::read(
        out.join("participant1/participant1/private/participant1.customer1.com.key.pem"),
    )
    .unwrap();
    assert!(!text.contains(&base64::engine::general_purpose::STANDARD.encode(other)));
}

#[test]
fn bad_input_is_refused() {
    let to = target("b.tar");
    for (args, want) in [
        (vec!["lb-sequencer"], "`lb-sequencer` is no node"),
        (vec!["db"], "`db` is a node of several orgs"),
        (
            vec!["participant1b", "--format", "zip"],
            "--format `zip` is not known",
        ),
        (
            vec!["admin-api", "--org", "participant1"],
            "`admin-api` is no server, replica or proxy",
        ),
    ] {
        let mut a = vec!["export", "bundle"];
        a.extend(args);
        a.extend(["--to", to.to_str().unwrap()]);
        let o = tree().output(&a);
        assert_eq!(o.status.code(), Some(2), "{a:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{a:?}: {err}");
        assert!(!to.exists());
    }
}
