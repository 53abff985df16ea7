//! The one fixture of the integration tests: a temp folder with a profile in it and the output
//! folder `certs/` beside it, built step by step by the real binary.
//!
//! ```ignore
//! let fx = Fixture::ecdsa().init();          // `hapki init` of the Canton HA topology, ECDSA
//! let fx = Fixture::ecdsa().at(AT).keys();   // `ca init` + `jwt keygen`, on a clock at AT
//! let fx = Fixture::profile(TEXT).bare();    // a profile of the test's own, nothing run yet
//! fx.mint(&["--user", "alice"]);             // `jwt mint --at AT ...`
//! let copy = fx.copy();                     // its own copy of fx's tree, to break
//! static T: OnceLock<Fixture> = ...;        // `.shared()`: built once, read by many tests
//! ```
//!
//! The profile text comes from one source, the shipped `profiles/canton-ha.toml` (the built-in
//! topology), with its key algorithms (and tier) rewritten: `Fixture::ecdsa()` has ECDSA P-256
//! CAs and leaves, made in a fraction of a second, and RSA 2048 JWT keys (RS256, what Canton's
//! `jwt-rs-256-*` auth expects). Tests of another topology pass their own text.
//!
//! Time: every hapki command that issues or checks takes `--at TIME` (issuing ones through
//! `Common`, and `verify`, `jwt verify`). A fixture built with `.at(AT)` passes `--at AT` to
//! each of its commands (`fx.cmd`, `fx.ok`, `fx.run`, and the steps `.cas()`, `.keys()`,
//! `.init()`) that does not name its own `--at`: its certs are then valid at `AT`, and the test
//! gives the same result on any day. No command such a fixture runs lacks `--at`, so no clock is
//! faked (`fx.cmd` refuses to run one on an `.at` fixture rather than run it at the real time).
//! Without `.at`, the fixture uses the real clock: what the tests of real servers (NGINX,
//! HAProxy, PostgreSQL, curl, which judge certs by the wall clock) and of relative times (a
//! cert's notBefore a few minutes before now) need.

use super::tree::copy_tree;
use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The pinned clock of every mint and verify: RFC 3339 and Unix seconds.
pub const AT: &str = "2026-11-26T12:00:00Z";
pub const AT_UNIX: i64 = 1_795_694_400;

/// The commands that take `--at`: those with `Common` (every issuing one) and the checks.
const TAKES_AT: &[&[&str]] = &[
    &["init"],
    &["ca", "init"],
    &["issue"],
    &["renew"],
    &["revoke"],
    &["crl"],
    &["list"],
    &["jwt", "keygen"],
    &["jwt", "mint"],
    &["jwt", "rotate"],
    &["jwt", "verify"],
    &["verify"],
];

/// How long one fixture step (`hapki init` and the like) may run.
const STEP_LIMIT: Duration = Duration::from_secs(120);

/// The crate root (where `profiles/`, `docs/` and `tests/` are).
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The text of a profile shipped under `profiles/`.
pub fn shipped_profile(name: &str) -> String {
    let p = crate_root().join("profiles").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The built-in topology (`profiles/canton-ha.toml`) with other CA and leaf key algorithms and
/// tier; JWT signing keys stay RSA 2048 (RS256).
pub fn canton_ha_profile(ca_key: &str, leaf_key: &str, tier: u8) -> String {
    let mut seen = [0; 3];
    let text: String = shipped_profile("canton-ha.toml")
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("ca_key =") {
                seen[0] += 1;
                format!("ca_key = \"{ca_key}\"\n")
            } else if t.starts_with("leaf_key =") {
                seen[1] += 1;
                format!("leaf_key = \"{leaf_key}\"\njwt_key = \"rsa2048\"\n")
            } else if t.starts_with("tier =") {
                seen[2] += 1;
                format!("tier = {tier}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_eq!(
        seen,
        [1, 1, 1],
        "profiles/canton-ha.toml no longer sets ca_key, leaf_key and tier once each; update the tests"
    );
    text
}

/// The profile of `Fixture::ecdsa()`.
pub fn ecdsa_profile() -> String {
    canton_ha_profile("ecdsa-p256", "ecdsa-p256", 2)
}

/// What a fixture is made of before its first step runs.
#[must_use = "a builder does nothing until .bare(), .cas(), .keys() or .init()"]
pub struct Builder {
    /// The profile text, or `None` for the built-in one (no `--profile`).
    profile: Option<String>,
    readable_by_others: bool,
    clock: Option<String>,
    shared: bool,
}

/// A temp folder with the profile (`profile.toml`) and the output folder (`certs/`) in it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    profile: Option<PathBuf>,
    pub out: PathBuf,
    /// The time (`--at`) every command runs at, or `None` for the real clock.
    clock: Option<String>,
}

impl Fixture {
    /// The Canton HA topology with ECDSA P-256 CAs and leaves and RSA 2048 JWT keys.
    pub fn ecdsa() -> Builder {
        Fixture::profile(&ecdsa_profile())
    }

    /// A profile of the test's own.
    pub fn profile(text: &str) -> Builder {
        Builder {
            profile: Some(text.to_string()),
            readable_by_others: false,
            clock: None,
            shared: false,
        }
    }

    /// A profile shipped under `profiles/` (`canton-ha-ecdsa.toml`: P-384 CAs, P-256 leaves and
    /// ES256 JWT keys), copied into the fixture's folder.
    pub fn shipped(name: &str) -> Builder {
        Fixture::profile(&shipped_profile(name))
    }

    /// The shipped `profiles/canton-ha-ecdsa.toml`.
    pub fn shipped_ecdsa() -> Builder {
        Fixture::shipped("canton-ha-ecdsa.toml")
    }

    /// The built-in profile (RSA 4096 CAs, RSA 2048 leaves): no `--profile` is passed.
    pub fn builtin() -> Builder {
        Builder {
            profile: None,
            readable_by_others: false,
            clock: None,
            shared: false,
        }
    }

    /// The profile file; panics for a fixture of the built-in profile, which has none.
    pub fn profile_path(&self) -> &Path {
        self.profile
            .as_deref()
            .expect("a fixture of the built-in profile has no profile file")
    }

    /// The profile path as hapki prints it.
    pub fn profile_shown(&self) -> String {
        self.profile_path().display().to_string()
    }

    /// `hapki ARGS [--profile P] [--at T] --out O`, run in the fixture's folder and bounded in
    /// time.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::from_std(self.std_cmd(args));
        c.timeout(STEP_LIMIT);
        c
    }

    /// The same command as a plain std command, for tests that spawn it and wire its stdio
    /// themselves (no time bound: the test keeps its own).
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = hapki_std();
        c.args(args);
        if let Some(p) = &self.profile {
            c.arg("--profile").arg(p);
        }
        c.args(self.clock_args(args).iter().flatten())
            .arg("--out")
            .arg(&self.out)
            .current_dir(self.dir.path());
        c
    }

    /// Runs `hapki ARGS ...` (as `cmd`) to its end, whatever its exit.
    pub fn output(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().expect("run hapki")
    }

    /// `hapki verify OUT [--profile P] [--at T] EXTRA` run to its end (verify takes the tree as
    /// its argument, not `--out`).
    pub fn verify(&self, extra: &[&str]) -> std::process::Output {
        Command::from_std(self.verify_cmd(extra))
            .timeout(STEP_LIMIT)
            .output()
            .expect("run hapki verify")
    }

    /// The command of `verify`, for tests that spawn it themselves.
    pub fn verify_cmd(&self, extra: &[&str]) -> std::process::Command {
        let mut c = hapki_std();
        c.arg("verify").arg(&self.out).args(extra);
        if let Some(p) = &self.profile {
            c.arg("--profile").arg(p);
        }
        let mut args = vec!["verify"];
        args.extend_from_slice(extra);
        c.args(self.clock_args(&args).iter().flatten())
            .current_dir(self.dir.path());
        c
    }

    /// A fixture of its own with the same profile and clock, and a copy (`cp -a`: modes and
    /// times kept) of this one's output tree: for tests that break and repair one tree in
    /// turn, or change what a shared fixture holds.
    pub fn copy(&self) -> Fixture {
        let fx = Builder {
            profile: self
                .profile
                .as_ref()
                .map(|p| std::fs::read_to_string(p).expect("read profile")),
            readable_by_others: false,
            clock: self.clock.clone(),
            shared: false,
        }
        .bare();
        if self.out.exists() {
            copy_tree(&self.out, &fx.out);
        }
        fx
    }

    /// `--at T` for a command of an `.at(T)` fixture that does not name its own time.
    fn clock_args(&self, args: &[&str]) -> Option<[&str; 2]> {
        let at = self.clock.as_deref()?;
        if args.contains(&"--at") {
            return None;
        }
        assert!(
            TAKES_AT.iter().any(|verb| args.starts_with(verb)),
            "hapki {args:?} takes no --at, so a fixture pinned with .at({at}) cannot run it at \
             that time; run it on a fixture without .at()"
        );
        Some(["--at", at])
    }

    pub fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd(args).assert()
    }

    /// Runs `hapki ARGS` and asserts exit 0; returns (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.cmd(args).output().expect("run hapki");
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert!(
            o.status.success(),
            "hapki {args:?} failed ({:?})\nstdout: {out}\nstderr: {err}",
            o.status
        );
        (out, err)
    }

    /// The folder of an org under the output folder.
    pub fn org(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// A path under `certs/ORG/`.
    pub fn path(&self, org: &str, rel: &str) -> PathBuf {
        self.out.join(org).join(rel)
    }

    /// `certs/ORG/REL` as text, for messages.
    pub fn show(&self, org: &str, rel: &str) -> String {
        self.path(org, rel).display().to_string()
    }

    pub fn p1(&self, rel: &str) -> PathBuf {
        self.path("participant1", rel)
    }

    pub fn p2(&self, rel: &str) -> PathBuf {
        self.path("participant2", rel)
    }

    /// A file `hapki init` wrote, by its path under the output folder (as SPEC.md spells it,
    /// `participant1/participant1/certs/...`); asserts it is there.
    pub fn file(&self, rel: &str) -> PathBuf {
        let p = self.out.join(rel);
        assert!(p.exists(), "hapki did not write {}", p.display());
        p
    }

    /// A fresh folder of its own in the fixture's temp folder (a server's config and logs, a
    /// test's files), named `NAME-XXXXXX`: tests that share a fixture never share one.
    pub fn scratch(&self, name: &str) -> PathBuf {
        tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(self.dir.path())
            .expect("a scratch folder")
            .keep()
    }

    /// The org's JWKS as JSON.
    pub fn jwks(&self, org: &str) -> serde_json::Value {
        let p = self.path(org, "jwt/jwks.json");
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    }

    /// The kid of the org's one JWKS key.
    pub fn kid(&self, org: &str) -> String {
        self.jwks(org)["keys"][0]["kid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Mints with `--at AT` and returns what was printed on stdout.
    pub fn mint(&self, args: &[&str]) -> String {
        let mut all = vec!["jwt", "mint", "--at", AT];
        all.extend_from_slice(args);
        let out = self.cmd(&all).output().unwrap();
        assert!(
            out.status.success(),
            "hapki {all:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Builder {
    /// The temp folder readable by other users (the `postgres` server must reach the public
    /// certs; every private/ folder stays 0700).
    pub fn readable_by_others(mut self) -> Builder {
        self.readable_by_others = true;
        self
    }

    /// Every command of the fixture runs at `at` (RFC 3339 or Unix seconds: `--at at`), so its
    /// certs are valid at that time whatever the date.
    pub fn at(mut self, at: impl Into<String>) -> Builder {
        self.clock = Some(at.into());
        self
    }

    /// A fixture for a `static OnceLock<Fixture>` that several tests read and none changes
    /// (a test that changes it works on `fx.copy()`). A static is never dropped, so its folder
    /// is made under the target folder, and the next test process removes it (`shared_root`).
    pub fn shared(mut self) -> Builder {
        self.shared = true;
        self
    }

    /// The profile written, nothing run.
    pub fn bare(self) -> Fixture {
        let mut b = tempfile::Builder::new();
        b.prefix("hapki-it-");
        let dir = if self.shared {
            b.tempdir_in(shared_root())
        } else {
            b.tempdir()
        }
        .expect("temp dir");
        if self.readable_by_others {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let profile = self.profile.map(|text| {
            let p = dir.path().join("profile.toml");
            std::fs::write(&p, text).expect("write profile");
            p
        });
        let out = dir.path().join("certs");
        Fixture {
            dir,
            profile,
            out,
            clock: self.clock,
        }
    }

    /// Every org's CA (`hapki ca init`).
    pub fn cas(self) -> Fixture {
        let fx = self.bare();
        fx.ok(&["ca", "init"]);
        fx
    }

    /// The CAs plus the JWT signing key and JWKS of every org with JWT users.
    pub fn keys(self) -> Fixture {
        let fx = self.cas();
        fx.ok(&["jwt", "keygen"]);
        fx
    }

    /// The whole tree (`hapki init`).
    pub fn init(self) -> Fixture {
        let fx = self.bare();
        fx.ok(&["init"]);
        fx
    }
}

/// Where this test process keeps its shared fixtures: `target/tmp/shared-PID`. The first call
/// removes the folders of test processes that are gone, so shared fixtures do not pile up.
fn shared_root() -> &'static Path {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let gone = name
                .strip_prefix("shared-")
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let root = base.join(format!("shared-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("the shared fixtures' folder");
        root
    })
}

/// The real `hapki` binary.
pub fn hapki() -> Command {
    Command::cargo_bin("hapki").expect("the hapki binary is built")
}

/// The real `hapki` binary as a plain std command, for tests that wire its stdio themselves.
pub fn hapki_std() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_hapki"))
}

/// The shipped ECDSA profile, by path.
pub const ECDSA_PROFILE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/canton-ha-ecdsa.toml");

/// `hapki ARGS --profile <shipped ECDSA profile> --out OUT`, run to its end.
pub fn hapki_ecdsa(out: &Path, args: &[&str]) -> std::process::Output {
    hapki_std()
        .args(args)
        .args(["--profile", ECDSA_PROFILE, "--out"])
        .arg(out)
        .output()
        .unwrap()
}

/// A temp folder with `certs/` in it, `hapki init --at AT` of the shipped ECDSA profile: the
/// tree the `hapki_ecdsa` tests (lifecycle_*) start from. Returns (folder, `certs/`).
pub fn ecdsa_tree(at: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("certs");
    stdout_of_success(&hapki_ecdsa(&out, &["init", "--at", at]));
    (d, out)
}

/// The stdout of a run that must have succeeded; its status and both streams when it did not.
pub fn stdout_of_success(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
