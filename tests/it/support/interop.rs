//! Tokens and JWKS judged by other JWT implementations: PyJWT and jwcrypto, driven through
//! `tests/interop/jwt_interop.py`. Every JWT test that judges hapki's tokens with hapki's own
//! checks also judges them here.
//!
//! The Python interpreter is `$HAPKI_PYTHON`, else `.venv/bin/python` at the crate root, made by
//!     python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt
//! (scripts/test.sh does it). Without it these tests fail, they do not skip: CI must run them.

use super::fixture::{crate_root, Fixture};
use super::jwt::signing;
use std::path::{Path, PathBuf};

pub const SETUP: &str =
    "python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt";

/// The libraries of the script, each judging every token.
const LIBS: [&str; 2] = ["PyJWT", "jwcrypto"];

pub fn python() -> PathBuf {
    let (p, from) = match std::env::var_os("HAPKI_PYTHON") {
        Some(p) => (PathBuf::from(p), "HAPKI_PYTHON"),
        None => (crate_root().join(".venv/bin/python"), "the crate's venv"),
    };
    assert!(
        p.is_file(),
        "the JWT interop checks need a Python with PyJWT and jwcrypto, but {from} ({}) does not \
         exist; in {} run: {SETUP} (or set HAPKI_PYTHON to such an interpreter)",
        p.display(),
        crate_root().display()
    );
    p
}

/// One run of jwt_interop.py: an org's JWKS and signing cert, the tokens to judge and the clock.
pub struct Interop {
    jwks: PathBuf,
    cert: PathBuf,
    now: Option<i64>,
    libs: Vec<&'static str>,
    /// (flag, file, audience), flag one of --accept, --refuse, --accept-lines.
    cases: Vec<(&'static str, PathBuf, String)>,
    /// Tokens written to files here, so the script can read them.
    scratch: tempfile::TempDir,
    judged: usize,
}

impl Interop {
    /// The JWKS and signing cert of `org` in the fixture.
    pub fn org(fx: &Fixture, org: &str) -> Interop {
        let (_, cert, _) = signing(org);
        Interop::new(&fx.path(org, "jwt/jwks.json"), &fx.path(org, &cert))
    }

    pub fn new(jwks: &Path, cert: &Path) -> Interop {
        python(); // fail first, and clearly, when there is no interpreter
        Interop {
            jwks: jwks.to_path_buf(),
            cert: cert.to_path_buf(),
            now: None,
            libs: LIBS.to_vec(),
            cases: Vec::new(),
            scratch: tempfile::tempdir().unwrap(),
            judged: 0,
        }
    }

    /// Both libraries judge at Unix time `now` (default: the real clock).
    pub fn at(mut self, now: i64) -> Interop {
        self.now = Some(now);
        self
    }

    /// Only PyJWT judges (jwcrypto does not check that iat is not in the future).
    pub fn pyjwt_only(mut self) -> Interop {
        self.libs = vec!["PyJWT"];
        self
    }

    /// A token (its text, or a file holding it) both libraries must accept for `aud` ("-": no
    /// audience asked).
    pub fn accept(self, token: &str, aud: &str) -> Interop {
        self.case("--accept", token, aud)
    }

    /// A token both libraries must refuse for `aud`.
    pub fn refuse(self, token: &str, aud: &str) -> Interop {
        self.case("--refuse", token, aud)
    }

    /// Every token of `file` (one per line) both libraries must accept for `aud`.
    pub fn accept_lines(mut self, file: &Path, aud: &str) -> Interop {
        let n = std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        self.judged += n;
        self.cases
            .push(("--accept-lines", file.to_path_buf(), aud.to_string()));
        self
    }

    fn case(mut self, flag: &'static str, token: &str, aud: &str) -> Interop {
        let file = if Path::new(token).is_file() {
            PathBuf::from(token)
        } else {
            let f = self
                .scratch
                .path()
                .join(format!("token-{}", self.cases.len()));
            std::fs::write(&f, token).unwrap();
            f
        };
        self.judged += 1;
        self.cases.push((flag, file, aud.to_string()));
        self
    }

    /// Runs the script; asserts every check passed and each library judged each token.
    /// Returns the report.
    pub fn run(self) -> String {
        let python = python();
        let mut cmd = std::process::Command::new(&python);
        cmd.arg(crate_root().join("tests/interop/jwt_interop.py"))
            .arg("--jwks")
            .arg(&self.jwks)
            .arg("--cert")
            .arg(&self.cert)
            .arg("--libs")
            .arg(self.libs.join(","));
        if let Some(now) = self.now {
            cmd.arg("--now").arg(now.to_string());
        }
        for (flag, file, aud) in &self.cases {
            cmd.arg(flag).arg(file).arg(aud);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "jwt_interop.py failed (a missing module means the venv lacks the packages: {SETUP}):\n{report}"
        );
        assert!(report.contains("all interop checks passed"), "{report}");
        let verdicts = report
            .lines()
            .filter(|l| {
                self.libs
                    .iter()
                    .any(|lib| l.starts_with(&format!("ok:   {lib} ")))
            })
            .filter(|l| l.contains(" accepts ") || l.contains(" refuses "))
            .count();
        assert_eq!(
            verdicts,
            self.libs.len() * self.judged,
            "each library judged each token:\n{report}"
        );
        report
    }
}
