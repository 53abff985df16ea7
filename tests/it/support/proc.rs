//! Child processes bounded in time and stopped by their own pid, and free loopback ports.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A child process that is killed (by its own pid) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` with `stdin`, killing it after `limit`; returns (exit success, stdout + stderr).
pub fn run_bounded(
    mut cmd: std::process::Command,
    stdin: &[u8],
    limit: Duration,
) -> (bool, String) {
    let mut child = KillOnDrop(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    child
        .0
        .stdin
        .take()
        .unwrap()
        .write_all(stdin)
        .expect("write stdin");
    let out = drain(child.0.stdout.take().unwrap());
    let err = drain(child.0.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "{cmd:?} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = out.join().unwrap();
    text.push_str(&err.join().unwrap());
    (status.success(), text)
}

/// A finished process's stdout then stderr, as text (for messages and searches).
pub fn both(o: &std::process::Output) -> String {
    let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&o.stderr));
    text
}

/// Reads a pipe to the end on a thread.
pub fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Waits until a line containing `marker` appears on `r` (within `limit`); the lines read so
/// far and the rest of the stream come back from the returned handle once the stream ends.
pub fn wait_for_line(
    r: impl Read + Send + 'static,
    marker: &'static str,
    limit: Duration,
) -> Result<std::thread::JoinHandle<String>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut all = String::new();
        let mut reader = BufReader::new(r);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !sent && line.contains(marker) {
                let _ = tx.send(());
                sent = true;
            }
            all.push_str(&line);
            line.clear();
        }
        all
    });
    match rx.recv_timeout(limit) {
        Ok(()) => Ok(h),
        Err(_) => Err(format!("`{marker}` did not appear within {limit:?}")),
    }
}

/// Ports handed out in this test process, so parallel tests never get the same one.
static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port nothing listens on right now (the kernel picks it: bind 127.0.0.1:0).
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut seen = PORTS.lock().unwrap();
        if seen.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}
