//! hapki never reads a FIFO, a device or a socket, and reads no more than a few MiB of any
//! file: a FIFO in place of a cert, `/dev/zero`, or a link to it gives a prompt sentence that
//! says what the file is, never a hang or a process that grows until the kernel kills it.

use crate::support::fixture::{hapki_std, Fixture, AT};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` (a hapki command) with a deadline; a run that outlives it is killed and fails the
/// test. Returns the output and the peak memory (KiB) the kernel saw, from `/proc/PID/status`.
fn run_within(mut cmd: Command, secs: u64) -> (Output, u64) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            for l in s.lines() {
                if let Some(v) = l.strip_prefix("VmHWM:") {
                    let kib: u64 = v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0);
                    peak = peak.max(kib);
                }
            }
        }
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), peak);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung for {secs}s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn tree() -> Fixture {
    let fx = Fixture::shipped_ecdsa().at(AT).bare();
    let (r, _) = run_within(fx.std_cmd(&["init"]), 120);
    assert!(r.status.success());
    fx
}

/// `hapki inspect FILE`.
fn inspect(file: &str) -> Command {
    let mut c = hapki_std();
    c.args(["inspect", file]);
    c
}

fn mkfifo(p: &Path) {
    std::fs::remove_file(p).unwrap();
    let ok = Command::new("mkfifo").arg(p).status().unwrap().success();
    assert!(ok, "mkfifo {}", p.display());
}

#[test]
fn a_fifo_in_place_of_a_cert_is_named_not_waited_on() {
    let fx = tree();
    let cert = fx.p1("participant1b/certs/participant1b.customer1.com.cert.pem");
    mkfifo(&cert);
    let c = cert.to_str().unwrap();

    let (r, _) = run_within(inspect(c), 20);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&r.stderr),
        format!("error: cannot read {c}: it is a FIFO (named pipe), not a regular file; replace it with a regular file\n")
    );

    let (r, _) = run_within(fx.verify_cmd(&[]), 20);
    assert_eq!(r.status.code(), Some(1));
    let report = String::from_utf8_lossy(&r.stdout);
    let line = report.lines().find(|l| l.contains(c)).unwrap();
    assert!(
        line.contains("it is a fifo (named pipe), not a regular file"),
        "{line}"
    );

    // init replaces what it cannot read by a new cert, and the tree verifies again.
    let (r, _) = run_within(fx.std_cmd(&["init"]), 60);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let (r, _) = run_within(fx.verify_cmd(&[]), 20);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stdout));
}

#[test]
fn inspect_of_a_device_says_it_is_one() {
    let (r, peak) = run_within(inspect("/dev/zero"), 20);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&r.stderr),
        "error: cannot read /dev/zero: it is a device, not a regular file; replace it with a regular file\n"
    );
    assert!(peak < 256 * 1024, "inspect grew to {peak} KiB");
}

#[test]
fn a_cert_linked_to_dev_zero_is_refused_quickly_in_bounded_memory() {
    let fx = tree();
    let cert = fx.p1("participant1b/certs/participant1b.customer1.com.cert.pem");
    std::fs::remove_file(&cert).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &cert).unwrap();
    for args in [
        &["issue", "participant1b", "--force"][..],
        &["issue", "participant1b"][..],
        &["init"][..],
    ] {
        let (r, peak) = run_within(fx.std_cmd(args), 30);
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains(&format!(
                "{} is a symbolic link; hapki does not write through links; remove it",
                cert.display()
            )),
            "{args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(peak < 256 * 1024, "{args:?} grew to {peak} KiB");
    }
    let (r, peak) = run_within(fx.verify_cmd(&[]), 30);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stdout).contains("it is a device, not a regular file"));
    assert!(peak < 256 * 1024, "verify grew to {peak} KiB");
}
