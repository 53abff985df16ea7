//! PKCS#12 for Java: `hapki export p12` keystores and the truststore `init` writes per org
//! (`NS/intermediate/certs/truststore.p12`, password `changeit`), read by `keytool`, by
//! `openssl pkcs12`, and used by a JSSE server and client (Java standard library only) for a
//! mutual-TLS handshake.

use crate::support::fixture::Fixture;
use crate::support::proc::both;
use crate::support::skip::{have, skipped, test_name};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;

struct Tree {
    fx: Fixture,
    /// The fixture's folder (beside the output folder), for the exported files.
    root: PathBuf,
    out: PathBuf,
    pw: PathBuf,
}

impl Tree {
    /// A tree issued now (JSSE checks validity against the real clock).
    fn new() -> Tree {
        let fx = Fixture::shipped_ecdsa().init();
        let root = fx.dir.path().to_path_buf();
        let out = fx.out.clone();
        let pw = root.join("pw.txt");
        std::fs::write(&pw, "s3cret pass\n").unwrap();
        Tree { fx, root, out, pw }
    }

    fn export(&self, args: &[&str], to: &str) -> PathBuf {
        let to = self.root.join(to);
        let mut a = vec!["export", "p12"];
        a.extend_from_slice(args);
        a.extend(["--password-file", self.pw.to_str().unwrap()]);
        a.extend(["--to", to.to_str().unwrap()]);
        self.fx.run(&a).success();
        to
    }

    fn truststore(&self, org: &str) -> PathBuf {
        self.out.join(org).join("intermediate/certs/truststore.p12")
    }
}

fn run(cmd: &mut Proc) -> (bool, String) {
    let o = cmd.output().unwrap();
    (o.status.success(), both(&o))
}

fn keytool_list(store: &Path, pass: &str) -> String {
    let (ok, text) = run(Proc::new("keytool")
        .args(["-list", "-v", "-storetype", "PKCS12", "-keystore"])
        .arg(store)
        .args(["-storepass", pass]));
    assert!(ok, "keytool -list {}: {text}", store.display());
    text
}

#[test]
fn keytool_reads_the_keystore_and_the_truststore() {
    if !have("keytool") {
        return skipped(test_name!(), "keytool (Java) is not installed");
    }
    let t = Tree::new();
    let ks = t.export(&["participant1b"], "p1b.p12");
    assert_eq!(
        std::fs::metadata(&ks).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = keytool_list(&ks, "s3cret pass");
    assert!(text.contains("Your keystore contains 1 entry"), "{text}");
    assert!(text.contains("Alias name: participant1b"), "{text}");
    assert!(text.contains("Entry type: PrivateKeyEntry"), "{text}");
    assert!(text.contains("Certificate chain length: 3"), "{text}");
    assert!(
        text.contains("Owner: CN=participant1b.customer1.com"),
        "{text}"
    );
    assert!(
        text.contains("Owner: CN=participant1-root-ca.customer1.com"),
        "{text}"
    );

    let ts = t.truststore("participant1");
    assert_eq!(
        std::fs::metadata(&ts).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let text = keytool_list(&ts, "changeit");
    assert!(text.contains("Your keystore contains 2 entries"), "{text}");
    assert_eq!(
        text.matches("Entry type: trustedCertEntry").count(),
        2,
        "{text}"
    );
    assert!(text.contains("Alias name: participant1-root"), "{text}");
    assert!(
        text.contains("Alias name: participant1-intermediate"),
        "{text}"
    );
    assert!(!text.contains("PrivateKeyEntry"), "{text}");
    assert!(!text.contains("customer2"), "{text}");
    // A wrong password is refused (the MAC is checked).
    let (ok, _) = run(Proc::new("keytool")
        .args(["-list", "-storetype", "PKCS12", "-keystore"])
        .arg(&ks)
        .args(["-storepass", "wrong"]));
    assert!(!ok);
}

#[test]
fn openssl_reads_it_with_modern_encryption_and_the_key_matches_the_cert() {
    if !have("openssl") {
        return skipped(test_name!(), "openssl is not installed");
    }
    let t = Tree::new();
    let ks = t.export(&["admin-api", "--org", "participant2"], "a.p12");
    let pass = format!("file:{}", t.pw.display());
    let (ok, info) = run(Proc::new("openssl")
        .args(["pkcs12", "-info", "-noout", "-in"])
        .arg(&ks)
        .args(["-passin", &pass]));
    assert!(ok, "{info}");
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
    assert!(info.contains("PRF hmacWithSHA256"), "{info}");
    assert!(!info.contains("RC2") && !info.contains("3DES"), "{info}");
    let (ok, pem) = run(Proc::new("openssl")
        .args(["pkcs12", "-nodes", "-in"])
        .arg(&ks)
        .args(["-passin", &pass]));
    assert!(ok, "{pem}");
    assert_eq!(
        pem.matches("-----BEGIN CERTIFICATE-----").count(),
        3,
        "{pem}"
    );
    let key_start = pem.find("-----BEGIN PRIVATE KEY-----").expect("no key");
    let key_end = pem.find("-----END PRIVATE KEY-----").unwrap() + 25;
    let key = t.root.join("k.pem");
    std::fs::write(&key, &pem[key_start..key_end]).unwrap();
    let (ok, from_key) = run(Proc::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key));
    assert!(ok, "{from_key}");
    let (ok, from_cert) = run(Proc::new("openssl")
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(
            t.out
                .join("participant2/client/admin-api.customer2.com.cert.pem"),
        ));
    assert!(ok, "{from_cert}");
    assert_eq!(from_key, from_cert);
}

#[test]
fn java_mutual_tls_with_the_p12_files_and_another_orgs_client_is_refused() {
    if !have("javac") || !have("java") {
        return skipped(test_name!(), "javac/java (JDK 17) is not installed");
    }
    let t = Tree::new();
    let classes = t.root.join("classes");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/MtlsPair.java");
    let (ok, text) = run(Proc::new("javac").arg("-d").arg(&classes).arg(&src));
    assert!(ok, "javac: {text}");
    let server = t.export(&["participant1", "--kind", "server"], "server.p12");
    let client = t.export(&["admin-api", "--org", "participant1"], "client.p12");
    let other = t.export(&["admin-api", "--org", "participant2"], "other.p12");
    let trust = t.truststore("participant1");
    let pair = |client: &Path, trust: &Path, host: &str| {
        run(Proc::new("java")
            .arg("-cp")
            .arg(&classes)
            .arg("MtlsPair")
            .arg(&server)
            .arg("s3cret pass")
            .arg(client)
            .arg("s3cret pass")
            .arg(trust)
            .arg(host))
    };
    let (ok, text) = pair(&client, &trust, "participant1.customer1.com");
    assert!(ok, "{text}");
    assert!(text.contains("OK CN=admin-api.customer1.com"), "{text}");
    // participant2's client cert is not of participant1's CA: the server refuses it.
    let (ok, text) = pair(&other, &trust, "participant1.customer1.com");
    assert!(!ok, "{text}");
    assert!(text.starts_with("REFUSED"), "{text}");
    // The client checks the server's name: participant1's cert does not name participant2.
    let (ok, text) = pair(&client, &trust, "participant2.customer2.com");
    assert!(!ok, "{text}");
    assert!(text.contains("No subject alternative DNS name"), "{text}");
    // A truststore of another org: the client does not trust participant1's server.
    let (ok, text) = pair(
        &client,
        &t.truststore("participant2"),
        "participant1.customer1.com",
    );
    assert!(!ok, "{text}");
}

#[test]
fn truststore_is_kept_on_reruns_and_written_again_when_wrong() {
    let t = Tree::new();
    let ts = t.truststore("domain");
    let before = std::fs::read(&ts).unwrap();
    let init = || t.fx.ok(&["init"]).0;
    let text = init();
    assert!(text.contains("nothing to do"), "{text}");
    assert_eq!(std::fs::read(&ts).unwrap(), before);
    std::fs::write(&ts, b"not a truststore").unwrap();
    let text = init();
    assert!(text.contains("Java truststores"), "{text}");
    assert!(text.contains("domain"), "{text}");
    assert_ne!(std::fs::read(&ts).unwrap(), b"not a truststore");
    assert!(init().contains("nothing to do"));
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let t = Tree::new();
    let refused = |args: &[&str], pw: &Path, want: &str| {
        let to = t.root.join("x.p12");
        let mut a = vec!["export", "p12"];
        a.extend_from_slice(args);
        a.extend(["--password-file", pw.to_str().unwrap()]);
        a.extend(["--to", to.to_str().unwrap()]);
        t.fx.run(&a).code(2).stderr(predicates::str::contains(want));
        assert!(!to.exists());
    };
    let empty = t.root.join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    refused(&["participant1b"], &empty, "holds no password");
    refused(&["participant1"], &t.pw, "names several leaves; choose one with --org participant1 --kind server or --org participant1 --kind client");
    refused(
        &["nosuch"],
        &t.pw,
        "`nosuch` is no server, replica, proxy or client",
    );
    refused(
        &["participant1b", "--org", "participant2"],
        &t.pw,
        "of org `participant2`",
    );
    refused(
        &["participant1b"],
        &t.root.join("missing.txt"),
        "missing.txt",
    );
    std::fs::remove_file(
        t.out
            .join("participant1/participant1b/private/participant1b.customer1.com.key.pem"),
    )
    .unwrap();
    refused(&["participant1b"], &t.pw, "is missing; run `hapki init`");
}
