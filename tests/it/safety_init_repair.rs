//! `init` never says "complete: nothing to do" on a tree `verify` rejects: a lost or garbled
//! trust bundle, root copy or CSR is written again from the kept certs and keys, and a key,
//! token or key folder opened to others is closed again; then `verify` accepts the tree.

use crate::support::fixture::{Fixture, AT};
use crate::support::tree::copy_tree;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

type Break = (&'static str, fn(&Path));

const CASES: &[Break] = &[
    ("intermediate/certs/ca-chain.cert.pem", |p| {
        std::fs::remove_file(p).unwrap()
    }),
    ("intermediate/certs/ca-chain.cert.pem", |p| {
        std::fs::write(p, "garbage\n").unwrap()
    }),
    ("intermediate/certs/root-ca.cert.pem", |p| {
        std::fs::remove_file(p).unwrap()
    }),
    ("intermediate/certs/root-ca.cert.pem", |p| {
        std::fs::write(p, "garbage\n").unwrap()
    }),
    ("intermediate/private/intermediate.key.pem", |p| {
        chmod(p, 0o644)
    }),
    (
        "participant1b/private/participant1b.customer1.com.key.pem",
        |p| chmod(p, 0o644),
    ),
    ("participant1b/private", |p| chmod(p, 0o755)),
    ("root/private", |p| chmod(p, 0o755)),
    ("intermediate/csr/intermediate.csr.pem", |p| {
        std::fs::write(p, "garbage\n").unwrap()
    }),
    (
        "participant1b/csr/participant1b.customer1.com.csr.pem",
        |p| std::fs::write(p, "garbage\n").unwrap(),
    ),
];

#[test]
fn init_repairs_every_file_verify_fails_that_it_can_rebuild() {
    let base = Fixture::shipped_ecdsa().at(AT).init();
    let t = base.copy();
    for (i, (file, break_it)) in CASES.iter().enumerate() {
        copy_tree(&base.out, &t.out);
        let path = t.path("participant1", file);
        break_it(&path);
        let v = t.verify(&[]);
        assert_eq!(
            v.status.code(),
            Some(1),
            "case {i} ({file}) is a real break"
        );
        let r = t.output(&["init"]);
        assert!(
            r.status.success(),
            "case {i} ({file}): {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let said = String::from_utf8_lossy(&r.stdout);
        assert!(!said.contains("nothing to do"), "case {i} ({file}): {said}");
        assert!(said.contains("repaired"), "case {i} ({file}): {said}");
        let v = t.verify(&[]);
        assert!(
            v.status.success(),
            "case {i} ({file}): {}",
            String::from_utf8_lossy(&v.stdout)
        );
    }
}
