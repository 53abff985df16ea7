//! Harness of the HA end-to-end tests: one `hapki init` per test into its own temp folder (the
//! ECDSA fixture, so it takes a second), the config templates under `tests/ha/` and their
//! rendering, and servers (NGINX, HAProxy, PostgreSQL) that are bounded in time and stopped by
//! their own pid in `Drop`, so a failing test never leaks one. `Proxy` is the load balancer in
//! front of a participant pair, NGINX or HAProxy: each proxy scenario is written once and run
//! for both.
//!
//! Every server listens on 127.0.0.1 only, on a port of its own, with its config and logs in a
//! temp folder of its test: the tests run in parallel threads and share nothing.
//!
//! The HA fixtures use the real clock: NGINX, HAProxy, PostgreSQL and curl judge certs by it.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::fixture::Fixture;

/// How long any server may live, whatever happens to the test that started it: `timeout`
/// ends it (and its process group) even if the test process is killed before `Drop` runs.
pub const SERVER_LIFETIME_SECS: u64 = 240;
/// How long a server may take to start listening.
pub const START_DEADLINE: Duration = Duration::from_secs(20);
/// Upper bound for one client command (curl, psql): connect and request together.
pub const CLIENT_SECS: u64 = 15;

/// The folder of the config templates that the tests render and the docs include verbatim.
pub fn ha_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ha")
}

/// The text of template `name` under `tests/ha/`.
pub fn template(name: &str) -> String {
    let p = ha_dir().join(name);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Replaces every `${NAME}` of `vars` in `text`, and refuses to leave one unreplaced (NGINX's own
/// `$variables` have no braces in the templates, so they are left alone).
pub fn render(text: &str, vars: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    if let Some(i) = out.find("${") {
        let end = out[i..].find('}').map_or(out.len(), |e| i + e + 1);
        panic!("placeholder {} left unreplaced", &out[i..end]);
    }
    out
}

/// The PKI of the HA tests: `hapki init` of the ECDSA fixture, readable by the `postgres`
/// user, built once and shared (the HA tests read it; their servers' files go in scratch
/// folders of their own).
pub fn ha_fixture() -> &'static Fixture {
    static PKI: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    PKI.get_or_init(|| Fixture::ecdsa().readable_by_others().shared().init())
}

/// What the HA tests take from a fixture, by the paths SPEC.md gives.
impl Fixture {
    pub fn certs_var(&self) -> (&'static str, String) {
        ("CERTS", self.out.display().to_string())
    }

    /// A server's chain and key (`NS/H/certs/H-chain.D.cert.pem`, `NS/H/private/H.D.key.pem`).
    pub fn server(&self, org: &str, node: &str) -> (PathBuf, PathBuf) {
        let d = dns(org);
        (
            self.file(&format!("{org}/{node}/certs/{node}-chain.{d}.cert.pem")),
            self.file(&format!("{org}/{node}/private/{node}.{d}.key.pem")),
        )
    }

    /// A client's cert and key (`NS/client/C.D.cert.pem`, `NS/client/C.D.key.pem`).
    pub fn client(&self, org: &str, name: &str) -> (PathBuf, PathBuf) {
        let d = dns(org);
        (
            self.file(&format!("{org}/client/{name}.{d}.cert.pem")),
            self.file(&format!("{org}/client/{name}.{d}.key.pem")),
        )
    }

    /// An org's trust bundle (intermediate then root).
    pub fn bundle(&self, org: &str) -> PathBuf {
        self.file(&format!("{org}/intermediate/certs/ca-chain.cert.pem"))
    }

    /// A token `hapki init` minted.
    pub fn token(&self, org: &str, user: &str) -> String {
        fs::read_to_string(self.file(&format!("{org}/jwt/{user}.token")))
            .unwrap()
            .trim()
            .to_string()
    }
}

/// The DNS domain of each org of the profile.
pub fn dns(org: &str) -> &'static str {
    match org {
        "domain" => "acme.com",
        "participant1" => "customer1.com",
        "participant2" => "customer2.com",
        _ => panic!("no org {org} in the profile"),
    }
}

/// A program on PATH or in the sbin folders (where Debian puts nginx and haproxy), or the
/// package to install.
pub fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed; the HA tests need it (scripts/test.sh installs it)")
        })
}

/// The bin folder of the newest PostgreSQL server installed.
pub fn pg_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed (/usr/lib/postgresql); install the `postgresql` package",
        )
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no PostgreSQL server under /usr/lib/postgresql")
        .1
}

/// `program` run under `timeout`, so it can never outlive `secs`.
pub fn bounded(secs: u64, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("timeout");
    c.args(["-k", "5", &secs.to_string()]).arg(program);
    // Only the files a test names may be trusted: no CA store or proxy from the environment.
    for v in [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CURL_CA_BUNDLE",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        c.env_remove(v);
    }
    c
}

/// A server process started by a test. Dropping it stops it by its pid: the signal goes to the
/// `timeout` wrapper, which passes it to the server and the server's process group.
pub struct Server {
    pub name: String,
    child: Child,
    pub log: PathBuf,
    stop_signal: &'static str,
}

impl Server {
    /// Starts `cmd` bounded by `SERVER_LIFETIME_SECS`, its output in `dir/NAME.log`.
    pub fn spawn(name: &str, dir: &Path, program: &Path, args: &[&str]) -> Server {
        Self::spawn_with(name, dir, program, args, |_| {})
    }

    /// As `spawn`, with a hook to adjust the command (user, environment).
    pub fn spawn_with(
        name: &str,
        dir: &Path,
        program: &Path,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Server {
        let log = dir.join(format!("{name}.log"));
        let f = fs::File::create(&log).unwrap();
        let mut cmd = bounded(SERVER_LIFETIME_SECS, program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f);
        adjust(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Server {
            name: name.to_string(),
            child,
            log,
            stop_signal: "TERM",
        }
    }

    /// The signal that stops this server quickly and cleanly (PostgreSQL: INT, a fast shutdown).
    pub fn stop_with(mut self, signal: &'static str) -> Self {
        self.stop_signal = signal;
        self
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the server accepts connections on `port`, or fails the test with its log.
    pub fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + START_DEADLINE;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before listening on {port}:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {port} within {START_DEADLINE:?}:\n{}",
                self.name,
                self.log_text()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server now (what `Drop` does) and waits for it to exit.
    pub fn stop(self) {
        drop(self)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .arg(format!("-{}", self.stop_signal))
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts NGINX with `site` (a rendered `server`/`upstream` block) inside a harness config of
/// its own: foreground, one process (so its pid is the whole server), logs and temp files in
/// `dir`. Returns once it listens on every port of `ports`.
pub fn nginx(dir: &Path, name: &str, site: &str, ports: &[u16]) -> Server {
    nginx_main(dir, name, site, ports, false)
}

/// As `nginx`, with a master process (and one worker), which `nginx -s reload` needs: NGINX
/// without one loses TLS on its listeners when reloaded. Stopping the master stops the worker.
pub fn nginx_reloadable(dir: &Path, name: &str, site: &str, ports: &[u16]) -> Server {
    nginx_main(dir, name, site, ports, true)
}

fn nginx_main(dir: &Path, name: &str, site: &str, ports: &[u16], master: bool) -> Server {
    let d = dir.display().to_string();
    fs::write(dir.join("site.conf"), site).unwrap();
    let mut main = render(&template("nginx-main.conf.tmpl"), &[("DIR", d.clone())]);
    if master {
        let with = main.replace("master_process off;", "master_process on;");
        assert_ne!(
            with, main,
            "nginx-main.conf.tmpl no longer sets master_process off"
        );
        main = with;
    }
    let conf = dir.join("nginx.conf");
    fs::write(&conf, main).unwrap();
    let mut s = Server::spawn(
        name,
        dir,
        &tool("nginx"),
        &[
            "-p",
            &d,
            "-e",
            &format!("{d}/error.log"),
            "-c",
            conf.to_str().unwrap(),
        ],
    );
    for &p in ports {
        s.wait_listening(p);
    }
    s
}

/// Which cert a stand-in backend presents and whether it requires a client cert.
pub struct Backend<'a> {
    pub name: &'a str,
    pub port: u16,
    /// (org, node) of the server cert it presents.
    pub cert: (&'a str, &'a str),
    /// The org whose trust bundle verifies client certs, or `None` for no client auth (the
    /// sequencer public API).
    pub client_ca: Option<&'a str>,
}

/// An NGINX stand-in for a Canton node: TLS with the given server cert, optionally requiring a
/// client cert, answering every request with the client cert's subject and an `X-Backend`
/// header naming itself.
pub fn nginx_backend(fx: &Fixture, b: &Backend<'_>) -> Server {
    let (chain, key) = fx.server(b.cert.0, b.cert.1);
    let (ca, verify) = match b.client_ca {
        Some(org) => (fx.bundle(org), "on"),
        None => (fx.bundle(b.cert.0), "off"),
    };
    let site = render(
        &template("nginx-backend.conf.tmpl"),
        &[
            ("NAME", b.name.to_string()),
            ("PORT", b.port.to_string()),
            ("CHAIN", chain.display().to_string()),
            ("KEY", key.display().to_string()),
            ("CLIENT_CA", ca.display().to_string()),
            ("VERIFY_CLIENT", verify.to_string()),
        ],
    );
    let dir = fx.scratch(b.name);
    nginx(&dir, b.name, &site, &[b.port])
}

/// What curl got.
#[derive(Debug)]
pub struct Reply {
    /// curl's exit code (0: an HTTP answer arrived; 35, 56, 60, ...: TLS refused).
    pub exit: i32,
    /// HTTP status, 0 when there was none.
    pub status: u16,
    pub headers: String,
    pub body: String,
    pub stderr: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// One HTTPS request with curl (OpenSSL) to `https://HOST:PORT/`, `HOST` resolved to 127.0.0.1
/// so the name checked is the service name, trusting only `ca`.
pub fn curl(
    host: &str,
    port: u16,
    ca: &Path,
    client: Option<&(PathBuf, PathBuf)>,
    headers: &[String],
) -> Reply {
    let tmp = tempfile::tempdir().unwrap();
    let hdr = tmp.path().join("headers");
    let mut c = bounded(CLIENT_SECS + 5, "curl");
    c.args(["-sS", "--max-time", &CLIENT_SECS.to_string()])
        .args(["--connect-timeout", "5"])
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg("--cacert")
        .arg(ca)
        .arg("-D")
        .arg(&hdr)
        .args(["-w", "%{http_code}"]);
    if let Some((cert, key)) = client {
        c.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    for h in headers {
        c.arg("-H").arg(h);
    }
    c.arg(format!("https://{host}:{port}/"));
    let out: Output = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // -w appends the status code (three digits) after the body.
    let (body, code) = stdout.split_at(stdout.len().saturating_sub(3));
    Reply {
        exit: out.status.code().unwrap_or(-1),
        status: code.parse().unwrap_or(0),
        headers: fs::read_to_string(&hdr).unwrap_or_default(),
        body: body.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The effective uid of this process, from /proc (the crate forbids the unsafe a libc call needs).
pub fn euid() -> u32 {
    proc_status_id("Uid:")
}

/// The effective gid of this process, from /proc.
pub fn egid() -> u32 {
    proc_status_id("Gid:")
}

fn proc_status_id(field: &str) -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("/proc/self/status has no {field} line"))
}

/// The uid and gid of a system user, from /etc/passwd.
pub fn user_ids(name: &str) -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no user `{name}` (the postgresql package creates it)"))
}

/// Runs `cmd` as the user `(uid, gid)`.
pub fn as_user(cmd: &mut Command, ids: (u32, u32)) -> &mut Command {
    cmd.uid(ids.0).gid(ids.1)
}

/// The load balancer in front of participant1's pair (the seed's lb-participant1), configured
/// by the template docs/ha-deployment.md shows for it. Every proxy scenario runs for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proxy {
    /// `tests/ha/nginx-proxy.conf.tmpl`: chain and key files.
    Nginx,
    /// `tests/ha/haproxy.cfg.tmpl`: the combined chain + key PEMs hapki writes for `crt`.
    Haproxy,
}

impl Proxy {
    /// The documented config of this proxy (not yet rendered).
    pub fn template(self) -> String {
        template(match self {
            Proxy::Nginx => "nginx-proxy.conf.tmpl",
            Proxy::Haproxy => "haproxy.cfg.tmpl",
        })
    }

    /// Starts the proxy with `config` (a template's text, maybe edited) rendered for this
    /// fixture and these ports; returns once it listens on `proxy`.
    pub fn start(
        self,
        fx: &Fixture,
        config: &str,
        proxy: u16,
        primary: u16,
        backup: u16,
    ) -> Server {
        let text = render(
            config,
            &[
                fx.certs_var(),
                ("PROXY_PORT", proxy.to_string()),
                ("PRIMARY_PORT", primary.to_string()),
                ("BACKUP_PORT", backup.to_string()),
            ],
        );
        match self {
            Proxy::Nginx => nginx(
                &fx.scratch("lb-participant1"),
                "lb-participant1",
                &text,
                &[proxy],
            ),
            Proxy::Haproxy => {
                let dir = fx.scratch("haproxy");
                let conf = dir.join("haproxy.cfg");
                fs::write(&conf, text).unwrap();
                // -db: foreground, one process, so the test's pid is the whole proxy.
                let mut s = Server::spawn(
                    "haproxy",
                    &dir,
                    &tool("haproxy"),
                    &["-db", "-f", conf.to_str().unwrap()],
                );
                s.wait_listening(proxy);
                s
            }
        }
    }

    /// What a caller gets once the primary stopped: NGINX passes the very next request to the
    /// backup (`proxy_next_upstream`); HAProxy turns to it once its health check (every 500 ms)
    /// has seen the primary down, and may answer 503 until then.
    pub fn after_primary_stops(self, request: impl Fn() -> Reply) -> Reply {
        match self {
            Proxy::Nginx => request(),
            Proxy::Haproxy => {
                let deadline = Instant::now() + Duration::from_secs(15);
                loop {
                    let r = request();
                    if r.status == 200 || Instant::now() > deadline {
                        break r;
                    }
                    sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Asserts the proxy refused a caller's missing or wrong client cert before any backend
    /// saw the request. NGINX finishes the handshake and answers 400 itself with `nginx_says`
    /// in the body; HAProxy (`verify required`) aborts the handshake: no HTTP answer at all.
    pub fn assert_refused_caller(self, r: &Reply, nginx_says: &str) {
        match self {
            Proxy::Nginx => {
                assert_eq!(r.status, 400, "{r:?}");
                assert!(r.body.contains(nginx_says), "{r:?}");
            }
            Proxy::Haproxy => {
                assert_ne!(r.exit, 0, "{r:?}");
                assert_eq!(r.status, 0, "{r:?}");
            }
        }
        assert_eq!(r.header("X-Backend"), None, "{r:?}");
    }

    /// The status of a request no backend would take: NGINX 502 (the upstream's TLS failed),
    /// HAProxy 503 (no server it would talk to is up).
    pub fn no_backend_status(self) -> u16 {
        match self {
            Proxy::Nginx => 502,
            Proxy::Haproxy => 503,
        }
    }
}

/// `config` with the cert and key of `node` (participant1's) swapped for those of `other`
/// (org, node): every file of it, chain, key or HAProxy PEM. Panics when the config names no
/// such file, so a template change cannot make a negative test pass for nothing.
pub fn swap_cert(config: &str, node: &str, other: (&str, &str)) -> String {
    let (org, n) = other;
    let d = dns(org);
    let out = config
        .replace(
            &format!("participant1/{node}/certs/{node}-chain.customer1.com"),
            &format!("{org}/{n}/certs/{n}-chain.{d}"),
        )
        .replace(
            &format!("participant1/{node}/private/{node}.customer1.com"),
            &format!("{org}/{n}/private/{n}.{d}"),
        );
    assert_ne!(out, config, "the config names no file of {node}");
    assert!(
        !out.contains(&format!("participant1/{node}/")),
        "a file of {node} is left in the config:\n{out}"
    );
    out
}

/// A stand-in for a participant1 node `name` presenting its own cert and requiring a client
/// cert of participant1's CA.
pub fn participant(name: &str, port: u16) -> Backend<'_> {
    Backend {
        name,
        port,
        cert: ("participant1", name),
        client_ca: Some("participant1"),
    }
}
