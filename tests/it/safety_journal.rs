//! A command replaces its files all together or not at all: `ca init --force` killed (or
//! failing) before each of its renames in turn leaves the old CA or the new one in full, and
//! the next `hapki init` settles it (journal) into a tree `verify` accepts, with no temp file
//! of a private key left behind. The kills come from a test-only hook in debug builds
//! (`HAPKI_TEST_KILL_AT_RENAME=K` aborts before the K-th rename, like a SIGKILL: no cleanup).

use crate::support::fixture::{Fixture, AT};
use crate::support::tree::{contents, copy_tree};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn pem_blocks(b: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(b);
    s.split_inclusive("-----END CERTIFICATE-----\n")
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// The CA files of participant1 agree with each other: the root cert, its copy and the last
/// cert of the bundle are one cert, the intermediate the bundle's first; returns the root.
fn one_ca(out: &Path) -> String {
    let ns = out.join("participant1");
    let root = std::fs::read(ns.join("root/certs/ca.cert.pem")).unwrap();
    let copy = std::fs::read(ns.join("intermediate/certs/root-ca.cert.pem")).unwrap();
    let int = std::fs::read(ns.join("intermediate/certs/intermediate.cert.pem")).unwrap();
    let bundle =
        pem_blocks(&std::fs::read(ns.join("intermediate/certs/ca-chain.cert.pem")).unwrap());
    let root = pem_blocks(&root).remove(0);
    assert_eq!(pem_blocks(&copy), vec![root.clone()], "root copy");
    assert_eq!(
        bundle,
        vec![pem_blocks(&int).remove(0), root.clone()],
        "bundle"
    );
    root
}

/// Each CA level of participant1 keeps copies (newcerts/) of exactly the certs its index lists:
/// none of a CA the run replaced, none missing.
fn copies_match_index(out: &Path) {
    for level in ["root", "intermediate"] {
        let dir = out.join("participant1").join(level);
        let mut copies: Vec<String> = std::fs::read_dir(dir.join("newcerts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        copies.sort();
        let mut listed: Vec<String> = std::fs::read_to_string(dir.join("index.txt"))
            .unwrap()
            .lines()
            .map(|l| format!("{}.pem", l.split('\t').nth(3).unwrap()))
            .collect();
        listed.sort();
        assert_eq!(copies, listed, "{level}");
    }
}

fn leftovers(m: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<&PathBuf> {
    m.keys()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.contains(".hapki-") || n == ".hapki.lock"
        })
        .collect()
}

/// The tree every test breaks a copy of, and that copy.
fn base_tree() -> (Fixture, Fixture) {
    let base = Fixture::shipped_ecdsa().at(AT).init();
    let t = base.copy();
    (base, t)
}

const CA_INIT: &[&str] = &["ca", "init", "--force", "--org", "participant1"];

#[test]
fn ca_init_force_killed_at_every_rename_is_settled_by_the_next_init() {
    let (base, t) = base_tree();
    let old_root = one_ca(&base.out);
    let mut kills = 0;
    let mut saw_old = false;
    let mut saw_new = false;
    for k in 1..200 {
        copy_tree(&base.out, &t.out);
        let r = t
            .cmd(CA_INIT)
            .env("HAPKI_TEST_KILL_AT_RENAME", k.to_string())
            .output()
            .unwrap();
        if r.status.success() {
            break; // K is past the last rename
        }
        assert_eq!(
            r.status.code(),
            None,
            "K={k}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        kills += 1;
        assert!(
            t.out.join(".hapki-journal").exists(),
            "K={k}: the journal is there"
        );
        // verify sees the interrupted run before anything settles it.
        let v = t.verify(&[]);
        assert_eq!(v.status.code(), Some(1), "K={k}");
        assert!(
            String::from_utf8_lossy(&v.stdout)
                .contains(".hapki-journal (journal of an interrupted run): is pending"),
            "K={k}"
        );
        let i = t.output(&["init"]);
        assert!(
            i.status.success(),
            "K={k}: {}",
            String::from_utf8_lossy(&i.stderr)
        );
        let v = t.verify(&[]);
        assert!(
            v.status.success(),
            "K={k}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
        let root = one_ca(&t.out);
        copies_match_index(&t.out);
        if root == old_root {
            saw_old = true;
        } else {
            saw_new = true;
        }
        let snap = contents(&t.out);
        assert!(leftovers(&snap).is_empty(), "K={k}: {:?}", leftovers(&snap));
    }
    assert!(kills >= 6, "ca init --force made only {kills} renames");
    // Every new file was staged before the first rename, so a kill rolls forward.
    assert!(saw_new && !saw_old, "old {saw_old}, new {saw_new}");
}

#[test]
fn a_rename_that_fails_puts_every_old_file_back() {
    let (base, t) = base_tree();
    let before = contents(&base.out);
    let mut failures = 0;
    for k in 1..200 {
        copy_tree(&base.out, &t.out);
        let r = t
            .cmd(CA_INIT)
            .env("HAPKI_TEST_FAIL_AT_RENAME", k.to_string())
            .output()
            .unwrap();
        if r.status.success() {
            break;
        }
        failures += 1;
        assert_eq!(r.status.code(), Some(2), "K={k}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.starts_with("error: cannot write "), "K={k}: {err}");
        assert_eq!(contents(&t.out), before, "K={k}: the tree is as it was");
    }
    assert!(
        failures >= 6,
        "ca init --force made only {failures} renames"
    );
}

#[test]
fn a_journal_whose_temp_files_are_gone_rolls_back_to_the_old_files() {
    let (base, t) = base_tree();
    let before = contents(&base.out);
    // Killed before its 3rd rename, then a temp file lost (as if never flushed): the new CA is
    // not complete, so the old one comes back.
    let r = t
        .cmd(CA_INIT)
        .env("HAPKI_TEST_KILL_AT_RENAME", "3")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), None);
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.out.join(".hapki-journal")).unwrap()).unwrap();
    let entries = journal["entries"].as_array().unwrap();
    // The old CA's newcerts/ copies go with it: journaled as removals (no temp), each with a
    // backup of the old file, after every rename of the batch.
    let removals: Vec<&serde_json::Value> =
        entries.iter().filter(|e| e["temp"].is_null()).collect();
    let old_copies = ["root", "intermediate"]
        .iter()
        .flat_map(|l| std::fs::read_dir(base.p1(&format!("{l}/newcerts"))).unwrap())
        .count();
    assert_eq!(removals.len(), old_copies, "{journal:#}");
    assert!(removals
        .iter()
        .all(|e| e["target"].as_str().unwrap().contains("/newcerts/") && e["backup"].is_string()));
    let first_removal = entries.iter().position(|e| e["temp"].is_null()).unwrap();
    assert!(entries[first_removal..].iter().all(|e| e["temp"].is_null()));
    // The last rename of the batch has not happened: its temp file is lost.
    let last = entries
        .iter()
        .rev()
        .find(|e| e["temp"].is_string())
        .unwrap();
    std::fs::remove_file(t.out.join(last["temp"].as_str().unwrap())).unwrap();
    let i = t.output(&["init"]);
    assert!(i.status.success(), "{}", String::from_utf8_lossy(&i.stderr));
    assert_eq!(contents(&t.out), before);
}

#[test]
fn a_rolled_back_issue_leaves_no_index_line_for_the_cert_that_never_landed() {
    let (base, t) = base_tree();
    let before = contents(&base.out);
    let index = t.out.join("participant1/intermediate/index.txt");
    let lines = std::fs::read_to_string(&index).unwrap().lines().count();
    // An ad-hoc issue appends its index line before its renames; killed at its 2nd rename, the
    // line is there while the cert is not...
    let r = t
        .cmd(&[
            "issue",
            "extra",
            "--org",
            "participant1",
            "--kind",
            "client",
        ])
        .env("HAPKI_TEST_KILL_AT_RENAME", "2")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), None);
    let now = std::fs::read_to_string(&index).unwrap();
    assert_eq!(now.lines().count(), lines + 1, "{now}");
    assert!(now
        .lines()
        .last()
        .unwrap()
        .ends_with("CN=extra.customer1.com"));
    // ...and when a temp file is then lost, the next run rolls the batch back: the journal
    // names the index with its length before, so the line goes too.
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.out.join(".hapki-journal")).unwrap()).unwrap();
    assert_eq!(
        journal["appended"][0]["target"],
        "participant1/intermediate/index.txt"
    );
    let last = journal["entries"].as_array().unwrap().last().unwrap();
    std::fs::remove_file(t.out.join(last["temp"].as_str().unwrap())).unwrap();
    let i = t.output(&["crl", "--org", "domain"]);
    assert!(i.status.success(), "{}", String::from_utf8_lossy(&i.stderr));
    let after = contents(&t.out);
    let rel = Path::new("participant1/intermediate/index.txt");
    assert_eq!(after[rel], before[rel]);
    assert!(t.verify(&[]).status.success());
}

#[test]
fn temp_files_of_a_killed_run_are_swept_by_the_next_writer() {
    let (_base, t) = base_tree();
    // A run killed while staging leaves temp files (a CA private key's among them) and no
    // journal; the next init, which has nothing to write there, removes them all the same.
    let planted = t.p1("root/private/.ca.key.pem.hapki-999999999-0011223344556677.tmp");
    std::fs::write(&planted, "half a key").unwrap();
    let i = t.output(&["init"]);
    assert!(i.status.success());
    assert!(!planted.exists());
}
