//! `hapki init` killed part-way (SIGKILL, no chance to clean up) and run again: the second run
//! completes the tree and `hapki verify` passes. The kills land at fractions of a full run's
//! time, so some of them hit the middle of writing the tree.

use assert_cmd::cargo::CommandCargoExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One org with many clients, so that writing the tree takes long enough to be interrupted.
fn profile(clients: usize) -> String {
    let names: Vec<String> = (0..clients).map(|i| format!("\"c{i}\"")).collect();
    format!(
        r#"
[defaults]
ca_key = "ecdsa-p256"
leaf_key = "ecdsa-p256"
jwt_key = "ecdsa-p256"
[[org]]
name = "participant1"
dns = "customer1.com"
organization = "Customer1 LLC"
servers = ["participant1", "db"]
clients = [{}]
[org.jwt]
users = [{{ name = "alice" }}, {{ name = "bob" }}]
"#,
        names.join(", ")
    )
}

fn hapki(args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("hapki").unwrap();
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn a_killed_init_is_completed_by_the_next_run_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, profile(300)).unwrap();
    let p = p.to_str().unwrap();

    // A full run, for its duration and its number of files.
    let full = dir.path().join("full");
    let started = Instant::now();
    assert!(
        hapki(&["init", "--profile", p, "--out", full.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let took = started.elapsed();
    let all = count_files(&full);

    let mut partial = 0;
    for (i, frac) in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        .iter()
        .enumerate()
    {
        let out = dir.path().join(format!("k{i}"));
        let o = out.to_str().unwrap();
        let mut child = hapki(&["init", "--profile", p, "--out", o])
            .spawn()
            .unwrap();
        std::thread::sleep(took.mul_f64(*frac));
        let _ = child.kill();
        let _ = child.wait();
        let n = count_files(&out);
        if n > 0 && n < all {
            partial += 1;
        }
        assert!(
            hapki(&["init", "--profile", p, "--out", o])
                .status()
                .unwrap()
                .success(),
            "re-run after a kill at {frac} of {took:?}"
        );
        let v = Command::cargo_bin("hapki")
            .unwrap()
            .args(["verify", o, "--profile", p])
            .output()
            .unwrap();
        assert_eq!(
            v.status.code(),
            Some(0),
            "kill at {frac} of {took:?} left {n} of {all} files; verify after the re-run:\n{}",
            String::from_utf8_lossy(&v.stdout)
        );
        // No temp file of the killed run is left behind once the tree is complete.
        assert_eq!(count_files(&out), all, "kill at {frac}");
    }
    eprintln!("{partial} of 9 kills left a partial tree (a full run took {took:?})");
    // Some kills must have hit the middle of writing, or this test proved nothing.
    assert!(
        partial > 0,
        "no kill left a partial tree (a full run took {took:?}); the profile needs more leaves"
    );
}
