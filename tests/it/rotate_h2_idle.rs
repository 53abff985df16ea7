//! `hapki serve` closes an HTTP/2 connection that has no request in flight for its idle
//! timeout (HTTP/1 has its header timeout; HTTP/2 had nothing). Debug builds take the timeout
//! from `HAPKI_TEST_IDLE_SECS`, so the test waits seconds, not a minute. The client is
//! Python's `ssl` speaking raw HTTP/2 frames: ALPN h2, the preface, SETTINGS, then silence.

use crate::support::fixture::{stdout_of_success, Fixture};
use crate::support::interop::python;
use crate::support::proc::free_port;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CLIENT: &str = r#"
import socket, ssl, sys, time
port, cafile, idle = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile)
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
# The preface, an empty SETTINGS frame, then one GET of /healthz on stream 1 (HPACK static
# table: :method GET, :scheme https, :path /, then :path "/healthz" as a literal).
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
block = b"\x82\x87\x44\x08/healthz\x41\x09localhost"
s.sendall(len(block).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + block)
start = time.time()
s.settimeout(idle * 4 + 10)
got = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except (ssl.SSLError, ConnectionResetError):
    pass
except socket.timeout:
    print("STILL OPEN after", time.time() - start)
    sys.exit(0)
print("CLOSED after %.1f s, %d bytes" % (time.time() - start, len(got)))
"#;

#[test]
fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let fx = Fixture::shipped_ecdsa().bare();
    let hour_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    fx.ok(&["init", "--at", &hour_ago.to_string()]);
    let port = free_port();
    let mut child = fx
        .std_cmd(&["serve", "--org", "participant1"])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--http", "off"])
        .env("HAPKI_TEST_IDLE_SECS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = Command::new(python())
        .args(["-c", CLIENT, &port.to_string()])
        .arg(fx.p1("root/certs/ca.cert.pem"))
        .arg("2")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let text = stdout_of_success(&o);
    let secs: f64 = text
        .strip_prefix("CLOSED after ")
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the idle HTTP/2 connection was not closed: {text}"));
    // Answered (a response's frames came back), then closed about 2 s after that answer.
    assert!((1.5..8.0).contains(&secs), "{text}");
    let bytes: usize = text
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes > 9, "{text}");
}
