//! Signing-key rollover end to end with the real server: `hapki serve` publishes the JWKS while
//! `hapki jwt rotate` stages, promotes and retires; PyJWT's `PyJWKClient` (over HTTPS, trusting
//! only the org root) fetches the JWKS from the server at every step and judges the tokens.
//!
//! Times: the server answers TLS at the real clock, so the tree is issued one hour before the
//! test starts and every rotation step runs at the real clock too (a `Fixture` of the shipped
//! ECDSA profile without `.at`).

use crate::support::fixture::{hapki_std, stdout_of_success, Fixture};
use crate::support::interop::python;
use crate::support::proc::free_port;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ORG: &str = "participant1";

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(fx: &Fixture) -> Server {
        let port = free_port();
        let log = std::fs::File::create(fx.out.join("serve.log")).unwrap();
        let child = fx
            .std_cmd(&["serve", "--org", ORG])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--http", "off"])
            .stdout(Stdio::null())
            .stderr(log)
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
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PyJWKClient fetches the JWKS from the server (a fresh client each time: no cache) and
/// verifies the token; prints `OK kid` or `REFUSED why`, and the kids the server publishes.
const JUDGE: &str = r#"
import json, ssl, sys, urllib.request, jwt
url, cafile, token = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)  # trusts the org root only
kids = [k["kid"] for k in json.load(urllib.request.urlopen(url, context=ctx))["keys"]]
print("KIDS", ",".join(kids))
try:
    client = jwt.PyJWKClient(url, ssl_context=ctx, cache_jwk_set=False)
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["ES256", "RS256"], options={"verify_aud": False})
    print("OK", key.key_id)
except jwt.exceptions.PyJWTError as e:
    print("REFUSED", type(e).__name__, e)
"#;

/// (the kids the server publishes, Ok(kid) or Err(why) of PyJWKClient's verdict on `token`).
fn judge(s: &Server, out: &Path, token: &str) -> (Vec<String>, Result<String, String>) {
    let o = Command::new(python())
        .args(["-c", JUDGE])
        .arg(format!(
            "https://127.0.0.1:{}/.well-known/jwks.json",
            s.port
        ))
        .arg(out.join(ORG).join("root/certs/ca.cert.pem"))
        .arg(token)
        .output()
        .unwrap();
    let text = stdout_of_success(&o);
    let mut lines = text.lines();
    let kids = lines.next().unwrap().strip_prefix("KIDS ").unwrap();
    let kids = kids.split(',').map(str::to_string).collect();
    let verdict = lines.next().unwrap();
    let v = match verdict.strip_prefix("OK ") {
        Some(k) => Ok(k.to_string()),
        None => Err(verdict.to_string()),
    };
    (kids, v)
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let h: serde_json::Value =
        serde_json::from_slice(&crate::support::jwt::unb64url(header)).unwrap();
    h["kid"].as_str().unwrap().to_string()
}

fn verify_passes(fx: &Fixture, step: &str) {
    let o = fx.verify(&[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains(" 0 problems, 0 warnings"),
        "verify after {step}: {text}"
    );
}

/// Every file under the org's signing and jwt folders with its bytes: what "nothing changed"
/// compares.
fn snapshot(out: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for d in ["signing", "jwt"] {
        let mut stack = vec![out.join(ORG).join(d)];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    v.push((e.path(), std::fs::read(e.path()).unwrap()));
                }
            }
        }
    }
    v.sort();
    v
}

fn rotate(fx: &Fixture, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["jwt", "rotate", "--org", ORG];
    args.extend_from_slice(extra);
    fx.output(&args)
}

fn mint_alice(fx: &Fixture) -> String {
    fx.ok(&["jwt", "mint", "--user", "alice", "--org", ORG]).0
}

#[test]
fn a_token_minted_before_rotate_verifies_after_promote_and_fails_after_retire_force() {
    let fx = Fixture::shipped_ecdsa().bare();
    let out = fx.out.as_path();
    let hour_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    fx.ok(&["init", "--at", &hour_ago.to_string()]);
    let s = Server::start(&fx);
    let old = std::fs::read_to_string(out.join(ORG).join("jwt/alice.token")).unwrap();
    let old = old.trim();
    let k1 = kid_of(old);
    assert_eq!(judge(&s, out, old), (vec![k1.clone()], Ok(k1.clone())));

    // Stage: the next key is published second; the old token still verifies.
    let staged = stdout_of_success(&rotate(&fx, &[]));
    assert!(staged.contains("published second"), "{staged}");
    let (kids, v) = judge(&s, out, old);
    assert_eq!((kids.len(), &kids[0], v), (2, &k1, Ok(k1.clone())));
    let k2 = kids[1].clone();
    verify_passes(&fx, "stage");
    // Minting still signs with the current key.
    let t = mint_alice(&fx);
    assert_eq!(kid_of(t.trim()), k1);

    // Nothing to retire yet: refused, nothing changed.
    let before = snapshot(out);
    let o = rotate(&fx, &["--retire"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(snapshot(out), before);

    // Promote: the new key is first, the old one still published; the old token verifies.
    stdout_of_success(&rotate(&fx, &["--promote"]));
    let (kids, v) = judge(&s, out, old);
    assert_eq!((kids, v), (vec![k2.clone(), k1.clone()], Ok(k1.clone())));
    let new = mint_alice(&fx);
    let new = new.trim();
    assert_eq!(kid_of(new), k2);
    assert_eq!(judge(&s, out, new).1, Ok(k2.clone()));
    verify_passes(&fx, "promote");
    // A re-run of init leaves the rotation alone.
    let (again, _) = fx.ok(&["init"]);
    assert!(again.contains("nothing to do"), "{again}");

    // Retire before the old key's tokens expired: refused with the time, nothing changed.
    let before = snapshot(out);
    let o = rotate(&fx, &["--retire"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "the retired key {k1} of org `{ORG}` cannot go before "
        )) && err.contains("pass --force"),
        "{err}"
    );
    assert_eq!(snapshot(out), before);
    verify_passes(&fx, "a refused retire");

    // Retire with --force: the old key is gone from the server, the old token fails.
    stdout_of_success(&rotate(&fx, &["--retire", "--force"]));
    let (kids, v) = judge(&s, out, old);
    assert_eq!(kids, vec![k2.clone()]);
    let why = v.unwrap_err();
    assert!(why.starts_with("REFUSED"), "{why}");
    assert_eq!(judge(&s, out, new).1, Ok(k2.clone()));
    assert!(!out.join(ORG).join("signing/retired").join(&k1).exists());
    // hapki's own verifier agrees: the old token's key is not in the JWKS any more.
    let o = hapki_std()
        .args(["jwt", "verify", old, "--jwks"])
        .arg(out.join(ORG).join("jwt/jwks.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("which is not in the JWKS"));
    verify_passes(&fx, "retire");
}
