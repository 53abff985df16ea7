//! One writer per output folder (`OUT/.hapki.lock`): concurrent writers wait their turn and
//! the tree `verify` then reads is whole; a writer that waits past `--wait` names the holder.

use crate::support::fixture::{Fixture, AT};
use std::process::{Command, Output};

/// A fixture of the shipped ECDSA profile at AT, nothing run yet.
fn bare() -> Fixture {
    Fixture::shipped_ecdsa().at(AT).bare()
}

/// Runs `n` copies of `cmd` at once and returns their outputs.
fn at_once(n: usize, cmd: impl Fn() -> Command) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            cmd()
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn all_ok(outs: &[Output]) {
    for o in outs {
        assert!(
            o.status.success(),
            "a concurrent writer failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn eight_concurrent_inits_on_a_fresh_folder_leave_a_tree_verify_accepts() {
    let fx = bare();
    all_ok(&at_once(8, || fx.std_cmd(&["init"])));
    let v = fx.verify(&[]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert!(
        !fx.out.join(".hapki.lock").exists(),
        "the lock file goes with its last holder"
    );
}

#[test]
fn eight_concurrent_issues_of_one_name_leave_a_tree_verify_accepts() {
    let fx = bare();
    let init = fx.output(&["init"]);
    assert!(init.status.success());
    all_ok(&at_once(8, || {
        fx.std_cmd(&["issue", "participant1b", "--force"])
    }));
    let v = fx.verify(&[]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn a_held_lock_makes_a_writer_fail_after_wait_naming_the_pid() {
    let fx = bare();
    let out = &fx.out;
    std::fs::create_dir(out).unwrap();
    let path = out.join(".hapki.lock");
    let holder = std::fs::File::create(&path).unwrap();
    holder.lock().unwrap();
    std::fs::write(&path, format!("{}\n", std::process::id())).unwrap();
    let started = std::time::Instant::now();
    let r = fx.output(&["init", "--wait", "1s"]);
    let took = started.elapsed();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        err,
        format!(
            "error: {} is being written by another hapki (PID {}) and stayed locked for 1s; wait for it to finish, or pass a longer --wait\n",
            out.display(),
            std::process::id()
        )
    );
    assert!(took >= std::time::Duration::from_secs(1), "{took:?}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    // Nothing was written while the lock was held.
    assert_eq!(std::fs::read_dir(out).unwrap().count(), 1);
    // Once it is released the same command goes through.
    drop(holder);
    let r = fx.output(&["init", "--wait", "1s"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}
