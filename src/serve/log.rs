//! The server's log: one line per request (and a few about starting and stopping) on stderr,
//! each with the time in front. Requests do not write: they hand the line to a thread of its
//! own, which writes through a buffer and flushes whenever it has caught up, then gathers lines
//! for 2 ms, so a burst of requests costs one `write` and one wake-up for many lines, and a
//! line reaches stderr within a few milliseconds. The queue is bounded: a stderr that blocks (a full pipe) slows requests down,
//! as a direct write would, instead of growing memory without limit. A closed stderr is no
//! reason to stop serving: write errors are dropped.

use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Lines queued at most before a request waits for the writer.
const QUEUE: usize = 16 * 1024;

/// How long lines may gather before they are written, once the first of them has been.
const COALESCE: std::time::Duration = std::time::Duration::from_millis(2);

enum Msg {
    Line(SystemTime, String),
    /// Answered once every line queued before it is written and flushed.
    Flush(SyncSender<()>),
}

static WRITER: OnceLock<SyncSender<Msg>> = OnceLock::new();

/// Starts the writer thread (once; later calls do nothing). Without it, lines are written
/// directly.
pub fn start() {
    WRITER.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        // If no thread can be made, the receiver is dropped with the closure, every send
        // fails, and `line` writes the line itself.
        let _ = std::thread::Builder::new()
            .name("hapki-log".into())
            .spawn(move || write_loop(rx));
        tx
    });
}

/// Logs `msg` with the current time.
pub fn line(msg: String) {
    let now = SystemTime::now();
    match WRITER.get() {
        Some(tx) => {
            if let Err(e) = tx.send(Msg::Line(now, msg)) {
                if let Msg::Line(t, m) = e.0 {
                    write_direct(t, &m);
                }
            }
        }
        None => write_direct(now, &msg),
    }
}

/// Waits until every line logged so far is on stderr (before the process exits).
pub fn flush() {
    if let Some(tx) = WRITER.get() {
        let (done_tx, done_rx) = sync_channel(1);
        if tx.send(Msg::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(2));
        }
    }
}

fn write_direct(t: SystemTime, msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{} {msg}", stamp(t));
}

fn stamp(t: SystemTime) -> String {
    crate::model::fmt_time(time::OffsetDateTime::from(t))
}

fn write_loop(rx: Receiver<Msg>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    // The time is printed to the second: formatted once per second, not once per line.
    let mut second: (u64, String) = (u64::MAX, String::new());
    let mut handle = |m: Msg, out: &mut std::io::BufWriter<std::io::Stderr>| match m {
        Msg::Line(t, msg) => {
            let secs = t
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if second.0 != secs {
                second = (secs, stamp(t));
            }
            let _ = out.write_all(second.1.as_bytes());
            let _ = out.write_all(b" ");
            let _ = out.write_all(msg.as_bytes());
            let _ = out.write_all(b"\n");
        }
        Msg::Flush(done) => {
            let _ = out.flush();
            let _ = done.send(());
        }
    };
    while let Ok(m) = rx.recv() {
        handle(m, &mut out);
        while let Ok(m) = rx.try_recv() {
            handle(m, &mut out);
        }
        let _ = out.flush();
        // A pause before waiting again: while this thread is not parked on the queue, a
        // request's send wakes no one (no futex, no context switch), so under load the lines
        // of COALESCE go out in one write, at most a few hundred wake-ups a second.
        std::thread::sleep(COALESCE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_time_to_the_second() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_796_119_200_750);
        assert_eq!(stamp(t), "2026-12-01T10:00:00Z");
    }
}
