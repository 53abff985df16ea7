//! Interop with another implementation: every CA and leaf hapki writes for the Canton HA topology
//! passes `openssl verify -x509_strict` with the purpose of its kind (servers also with
//! `-verify_hostname` for every service name they must answer to), against the org root with the
//! CAs below it as untrusted; a client cert is refused as a server cert, a server cert as a client
//! cert, and no org's leaf verifies under another org's root.
//!
//! The first test builds the real default profile (RSA 4096 CAs, RSA 2048 leaves) once; the
//! others cover ECDSA and a three-tier Ed25519 hierarchy.

use crate::support::fixture::{canton_ha_profile, Fixture};
use crate::support::openssl::{assert_openssl_verifies, openssl, openssl_verify};
use crate::support::tree::files_under;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct Org {
    name: &'static str,
    dns: &'static str,
    /// Each server (and HA replica) with the extra names its cert must be valid for.
    servers: &'static [(&'static str, &'static [&'static str])],
    clients: &'static [&'static str],
    proxy_backends: &'static [&'static str],
}

/// The topology of SPEC.md's table (profiles/canton-ha.toml).
const TOPOLOGY: &[Org] = &[
    Org {
        name: "domain",
        dns: "acme.com",
        servers: &[
            ("domain-manager", &[]),
            (
                "sequencer",
                &["sequencer2.acme.com", "lb-sequencer.acme.com"],
            ),
            ("mediator", &["mediator2.acme.com"]),
            ("db", &[]),
            (
                "sequencer2",
                &["sequencer.acme.com", "lb-sequencer.acme.com"],
            ),
            ("mediator2", &["mediator.acme.com"]),
        ],
        clients: &[
            "admin-api",
            "sequencer",
            "mediator",
            "domain",
            "remote-admin",
        ],
        proxy_backends: &[],
    },
    Org {
        name: "participant1",
        dns: "customer1.com",
        servers: &[
            (
                "participant1",
                &[
                    "participant1b.customer1.com",
                    "lb-participant1.customer1.com",
                ],
            ),
            ("auth", &[]),
            ("db", &[]),
            ("json", &[]),
            (
                "participant1b",
                &[
                    "participant1.customer1.com",
                    "lb-participant1.customer1.com",
                ],
            ),
        ],
        clients: &["admin-api", "participant1"],
        proxy_backends: &["lb-participant1"],
    },
    Org {
        name: "participant2",
        dns: "customer2.com",
        servers: &[
            ("participant2", &[]),
            ("auth", &[]),
            ("db", &[]),
            ("json", &[]),
        ],
        clients: &["admin-api", "participant2"],
        proxy_backends: &[],
    },
];

/// Builds the topology: the CAs, then each org's leaves.
fn build(fx: &Fixture) {
    fx.ok(&["ca", "init"]);
    for org in TOPOLOGY {
        fx.ok(&["issue", org.name]);
    }
}

/// Every check of this file on a built tree of `tier` CAs. Returns the cert files it checked.
fn check_tree(out: &Path, tier: u8) -> BTreeSet<PathBuf> {
    let mut checked = BTreeSet::new();
    for org in TOPOLOGY {
        let dir = out.join(org.name);
        let root = dir.join("root/certs/ca.cert.pem");
        let policy = dir.join("policy/certs/policy.cert.pem");
        let inter = dir.join("intermediate/certs/intermediate.cert.pem");

        // The CAs, each against the root with the CAs above it as untrusted.
        assert_openssl_verifies(&root, None, &[], &root);
        checked.insert(root.clone());
        let untrusted = match tier {
            1 => None,
            2 => {
                assert_openssl_verifies(&root, None, &[], &inter);
                checked.insert(inter.clone());
                Some(inter.clone())
            }
            _ => {
                assert_openssl_verifies(&root, None, &[], &policy);
                assert_openssl_verifies(&root, Some(&policy), &[], &inter);
                checked.extend([policy.clone(), inter.clone()]);
                // Every CA below the root: what a peer gets in the chain file.
                let both = out.with_file_name(format!("{}-untrusted.pem", org.name));
                std::fs::write(
                    &both,
                    [
                        std::fs::read(&inter).unwrap(),
                        std::fs::read(&policy).unwrap(),
                    ]
                    .concat(),
                )
                .unwrap();
                Some(both)
            }
        };
        let u = untrusted.as_deref();
        let fqdn = |n: &str| format!("{n}.{}", org.dns);

        for (h, extra) in org.servers {
            let cert = dir.join(format!("{h}/certs/{h}.{}.cert.pem", org.dns));
            let own = fqdn(h);
            for name in std::iter::once(own.as_str())
                .chain(["localhost"])
                .chain(extra.iter().copied())
            {
                assert_openssl_verifies(
                    &root,
                    u,
                    &["-purpose", "sslserver", "-verify_hostname", name],
                    &cert,
                );
            }
            for ip in ["127.0.0.1", "::1"] {
                assert_openssl_verifies(
                    &root,
                    u,
                    &["-purpose", "sslserver", "-verify_ip", ip],
                    &cert,
                );
            }
            // Not for a name it does not carry, nor for the unspecified address.
            assert_refused(
                &root,
                u,
                &["-purpose", "sslserver", "-verify_hostname", &fqdn("other")],
                &cert,
                "hostname mismatch",
            );
            assert_refused(
                &root,
                u,
                &["-purpose", "sslserver", "-verify_ip", "0.0.0.0"],
                &cert,
                "IP address mismatch",
            );
            // A server cert is not a client cert.
            assert_refused(
                &root,
                u,
                &["-purpose", "sslclient"],
                &cert,
                "unsuitable certificate purpose",
            );
            checked.insert(cert);
        }
        let client_certs = org
            .clients
            .iter()
            .map(|c| dir.join(format!("client/{c}.{}.cert.pem", org.dns)));
        let backend_certs = org
            .proxy_backends
            .iter()
            .map(|p| dir.join(format!("{p}/certs/{p}.{}.cert.pem", org.dns)));
        for cert in client_certs.chain(backend_certs) {
            assert_openssl_verifies(&root, u, &["-purpose", "sslclient"], &cert);
            // A client cert is refused as a server cert.
            assert_refused(
                &root,
                u,
                &["-purpose", "sslserver"],
                &cert,
                "unsuitable certificate purpose",
            );
            checked.insert(cert);
        }
    }

    // No org's leaf verifies under another org's root, even with its own intermediate supplied.
    let p1 = out.join("participant1");
    let p2 = out.join("participant2");
    let (ok, text) = openssl_verify(
        &p1.join("root/certs/ca.cert.pem"),
        Some(&p2.join("intermediate/certs/ca-chain.cert.pem")),
        &["-purpose", "sslclient"],
        &p2.join("client/admin-api.customer2.com.cert.pem"),
    );
    assert!(
        !ok,
        "participant2's client verifies under participant1's root:\n{text}"
    );
    checked
}

/// openssl verify refuses `cert`, for the reason given.
fn assert_refused(
    root: &Path,
    untrusted: Option<&Path>,
    extra: &[&str],
    cert: &Path,
    reason: &str,
) {
    let (ok, text) = openssl_verify(root, untrusted, extra, cert);
    assert!(
        !ok && text.contains(reason),
        "openssl verify {extra:?} did not refuse {} with `{reason}`:\n{text}",
        cert.display()
    );
}

/// Every certificate file (not chain or bundle) under `out`.
fn cert_files(out: &Path) -> BTreeSet<PathBuf> {
    files_under(out)
        .into_iter()
        .filter(|f| {
            f.ends_with(".cert.pem")
                && !f.contains("-chain.")
                && !f.ends_with("ca-chain.cert.pem")
                && !f.ends_with("root-ca.cert.pem")
        })
        .map(|f| out.join(f))
        .collect()
}

fn public_key_line(cert: &Path) -> String {
    let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", cert.to_str().unwrap()]);
    assert!(ok, "{text}");
    text.lines()
        .find(|l| l.contains("Public-Key:"))
        .unwrap_or_else(|| panic!("no key line in {}", cert.display()))
        .trim()
        .to_string()
}

#[test]
fn default_rsa_profile_every_ca_and_leaf_passes_openssl_verify_x509_strict_for_its_purpose() {
    let fx = Fixture::builtin().bare();
    build(&fx);
    let out = fx.out.clone();
    let checked = check_tree(&out, 2);
    // Every cert hapki wrote was checked: 3 roots, 3 intermediates, 25 leaves.
    assert_eq!(checked, cert_files(&out));
    assert_eq!(checked.len(), 31);

    // The default key sizes: RSA 4096 CAs and RSA 2048 leaves.
    let p1 = out.join("participant1");
    for ca in [
        "root/certs/ca.cert.pem",
        "intermediate/certs/intermediate.cert.pem",
    ] {
        assert_eq!(
            public_key_line(&p1.join(ca)),
            "Public-Key: (4096 bit)",
            "{ca}"
        );
    }
    for leaf in [
        "participant1/certs/participant1.customer1.com.cert.pem",
        "client/admin-api.customer1.com.cert.pem",
    ] {
        assert_eq!(
            public_key_line(&p1.join(leaf)),
            "Public-Key: (2048 bit)",
            "{leaf}"
        );
    }
    // The chain file a server presents is accepted as one bundle by openssl too.
    assert_openssl_verifies(
        &p1.join("root/certs/ca.cert.pem"),
        Some(&p1.join("participant1/certs/participant1-chain.customer1.com.cert.pem")),
        &[
            "-purpose",
            "sslserver",
            "-verify_hostname",
            "participant1.customer1.com",
        ],
        &p1.join("participant1/certs/participant1.customer1.com.cert.pem"),
    );
}

#[test]
fn ecdsa_p256_profile_passes_openssl_verify_x509_strict_for_its_purpose() {
    let fx = Fixture::ecdsa().bare();
    build(&fx);
    let checked = check_tree(&fx.out, 2);
    assert_eq!(checked, cert_files(&fx.out));
    assert_eq!(
        public_key_line(
            &fx.out
                .join("participant1/client/admin-api.customer1.com.cert.pem")
        ),
        "Public-Key: (256 bit)"
    );
}

#[test]
fn ecdsa_p384_ca_tier1_profile_passes_openssl_verify_x509_strict_for_its_purpose() {
    let fx = Fixture::profile(&canton_ha_profile("ecdsa-p384", "ecdsa-p256", 1)).bare();
    build(&fx);
    let checked = check_tree(&fx.out, 1);
    assert_eq!(checked, cert_files(&fx.out));
    // A P-384 issuer signs with its natural hash, SHA-384.
    let (_, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        fx.out
            .join("domain/sequencer/certs/sequencer.acme.com.cert.pem")
            .to_str()
            .unwrap(),
    ]);
    assert!(
        text.contains("Signature Algorithm: ecdsa-with-SHA384"),
        "{text}"
    );
}

#[test]
fn ed25519_tier3_profile_passes_openssl_verify_x509_strict_for_its_purpose() {
    let fx = Fixture::profile(&canton_ha_profile("ed25519", "ed25519", 3)).bare();
    build(&fx);
    let checked = check_tree(&fx.out, 3);
    assert_eq!(checked, cert_files(&fx.out));
    assert_eq!(checked.len(), 3 * 3 + 25);
    assert_eq!(
        public_key_line(
            &fx.out
                .join("participant2/participant2/certs/participant2.customer2.com.cert.pem")
        ),
        "ED25519 Public-Key:"
    );
}
