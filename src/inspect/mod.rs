//! The inspect library behind `hapki inspect FILE [--json]`: shows one file for people (or, with `--json`, for scripts) —
//! a certificate or a chain of them, a CSR, a CRL, a private or public key, a JWKS or a JWT.
//!
//! The module owns telling the kind of a file by its content (never by its name), turning each
//! kind into a `Report`, and printing that report as text or JSON. It shows what a reader needs to
//! see and checks only what the file can tell on its own: a cert's validity window, a CRL's, a CSR's
//! self-signature, a JWKS's thumbprints against its own `x5c`, a JWT's times. Whether a cert
//! chains to its root is `hapki verify`'s job, a token's signature `hapki jwt verify`'s. Private
//! key material is never printed: a key shows its format, type, size and the SHA-256 of its
//! public half, so it can be matched to a cert by eye.
//!
//! # JSON output (`--json`)
//! One object. Every field listed is always present; absent values are `null` (or `[]`).
//! Times are RFC 3339 UTC; fingerprints and key ids are upper-case colon hex; serials are
//! upper-case hex without separators (as `openssl x509 -serial` prints them).
//!
//! ```text
//! { "file": path, "encoding": "pem" | "der" | "json" | "jws",
//!   "mode": "0600" (the file's permission bits),
//!   "warnings": [sentence, ...],
//!   "items": [item, ...] }                  // in file order; a chain file has one per cert
//! ```
//! Each item has a `kind` and the fields of that kind:
//! - `certificate`: `subject`, `issuer`, `self_signed`, `serial`, `not_before`, `not_after`,
//!   `status` (`valid` | `expired` | `not_yet_valid`), `status_text`, then the extensions
//!   (below), `public_key` (key object), `signature_algorithm`, `sha256_fingerprint`.
//! - `csr`: `subject`, `public_key`, `signature_algorithm`, `signature_valid` (bool, `null` when
//!   the algorithm is unsupported), then the extensions it requests.
//! - `crl`: `issuer`, `this_update`, `next_update`, `status` (`current` | `expired` |
//!   `not_yet_valid` | `no_next_update`), `status_text`, `crl_number` (decimal string),
//!   `authority_key_id`, `revoked_count`, `revoked` (every entry: `{serial, revoked_at, reason}`,
//!   `reason` an RFC 5280 CRLReason name or `null`), `signature_algorithm`,
//!   `sha256_fingerprint`.
//! - `private_key`: `format` (`PKCS#8` | `PKCS#1` | `SEC1`), `key` (key object).
//! - `public_key`: `key` (key object).
//! - `jwks`: `keys`, each `{kty, kid, alg, use, bits, curve, thumbprint_sha256,
//!   kid_is_thumbprint, x5c: [{subject, issuer, not_after, status, sha256_fingerprint} |
//!   {error}], x5t, x5t_s256, problems}` where `x5t` and `x5t_s256` are `{value, matches}` or
//!   `null`; `matches` is `null` when there is no `x5c` to compare with.
//! - `jwt`: `header`, `claims` (as decoded), `times` `{iat, nbf, exp}` (RFC 3339 or `null`),
//!   `status` (`valid` | `expired` | `not_yet_valid` | `no_expiry`), `status_text`,
//!   `signature_checked` (always `false`).
//!
//! Extensions (certificate and csr): `sans` (`DNS:..`, `IP:..`, `URI:..`, `email:..`),
//! `key_usage` and `extended_key_usage` (`{critical, values}` or `null`), `basic_constraints`
//! (`{critical, ca, path_len}` or `null`), `subject_key_id`, `authority_key_id`,
//! `crl_distribution_points`, `ocsp`, `ca_issuers`, `other_extensions` (name, OID and
//! criticality of every other extension). Key object: `{algorithm, bits, curve,
//! public_key_sha256}` where `algorithm` is `RSA`, `RSA-PSS`, `EC`, `Ed25519`, ... and
//! `public_key_sha256` is the SHA-256 of the DER SubjectPublicKeyInfo.

mod jose;
mod pkix;

use crate::error::{Error, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use time::OffsetDateTime;

/// Everything `inspect` shows about one file.
#[derive(Serialize)]
pub struct Report {
    pub file: String,
    pub encoding: &'static str,
    pub mode: Option<String>,
    pub warnings: Vec<String>,
    pub items: Vec<Item>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    Certificate(pkix::CertInfo),
    Csr(pkix::CsrInfo),
    Crl(pkix::CrlView),
    PrivateKey(pkix::PrivateKeyInfo),
    PublicKey(pkix::PublicKeyInfo),
    Jwks(jose::JwksInfo),
    Jwt(jose::JwtInfo),
}

impl Item {
    fn name(&self) -> &'static str {
        match self {
            Item::Certificate(_) => "certificate",
            Item::Csr(_) => "CSR",
            Item::Crl(_) => "CRL",
            Item::PrivateKey(_) => "private key",
            Item::PublicKey(_) => "public key",
            Item::Jwks(_) => "JWKS",
            Item::Jwt(_) => "JWT",
        }
    }
}

/// What a file's content turned out to be.
struct Parsed {
    encoding: &'static str,
    items: Vec<Item>,
    warnings: Vec<String>,
}

/// Reads `path` and describes it as of `now`.
pub fn report(path: &Path, now: OffsetDateTime) -> Result<Report> {
    // The cap of the biggest kind read here: a CRL of a CA with 100,000 revocations is over the
    // cap of a cert or key file.
    let bytes = crate::store::read_capped(path, crate::crl::CRL_CAP)?;
    let parsed = detect(path, &bytes, now)?;
    let mode = std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    let mut warnings = parsed.warnings;
    let holds_private_key = parsed
        .items
        .iter()
        .any(|i| matches!(i, Item::PrivateKey(_)));
    if let (true, Some(m)) = (holds_private_key, mode) {
        // SPEC: private keys are 0600 (or 0400); anything open to group or others leaks.
        if m & 0o077 != 0 {
            warnings.push(format!(
                "{} holds a private key that group or others can access (mode {m:04o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    Ok(Report {
        file: path.display().to_string(),
        encoding: parsed.encoding,
        mode: mode.map(|m| format!("{m:04o}")),
        warnings,
        items: parsed.items,
    })
}

/// Tells the kind by content: PEM armour, then a DER SEQUENCE, then JSON, then a compact JWS.
fn detect(path: &Path, bytes: &[u8], now: OffsetDateTime) -> Result<Parsed> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::input(format!(
            "{} is empty; expected {EXPECTED}",
            path.display()
        )));
    }
    // Armour only counts at the start of a line, as PEM parsers read it: a JWKS may quote a
    // PEM inside a JSON string.
    if pkix::pem_labels(body).next().is_some() {
        return pkix::from_pem(path, body, now);
    }
    if body[0] == 0x30 {
        return pkix::from_der(path, body, now);
    }
    match std::str::from_utf8(body).map(str::trim) {
        Ok(t) if t.starts_with('{') => jose::from_json(path, t, now),
        Ok(t) if crate::token::jws::looks_compact(t) => jose::from_jws(path, t, now),
        _ => Err(unknown(path)),
    }
}

/// The kinds `inspect` reads, for error sentences.
const EXPECTED: &str =
    "a certificate, CSR, CRL, private or public key (PEM or DER), a JWKS or a JWT";

fn unknown(path: &Path) -> Error {
    Error::input(format!(
        "{} is not {EXPECTED}; check that it is the file you meant",
        path.display()
    ))
}

// ---- shared formatting ----

/// Upper-case colon hex, the way openssl prints fingerprints.
fn colon_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// `3d 4h`, `2h 5m`, `4m 10s`: two units are all a reader needs.
fn fmt_span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, sec) = (s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

/// Where `now` falls in a validity window: a stable status and the sentence people read.
fn window(
    now: OffsetDateTime,
    not_before: Option<OffsetDateTime>,
    not_after: Option<OffsetDateTime>,
) -> (&'static str, String) {
    let secs = |t: OffsetDateTime| (t - now).whole_seconds();
    if let Some(nb) = not_before.filter(|nb| now < *nb) {
        return (
            "not_yet_valid",
            format!("not valid yet: becomes valid in {}", fmt_span(secs(nb))),
        );
    }
    match not_after {
        Some(na) if now > na => ("expired", format!("expired {} ago", fmt_span(secs(na)))),
        Some(na) => ("valid", format!("valid, expires in {}", fmt_span(secs(na)))),
        None => ("no_expiry", "valid, never expires".to_string()),
    }
}

/// Builds the aligned `label  value` lines of the human report.
struct Text(String);

impl Text {
    fn field(&mut self, label: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "  {label:<21}{value}");
    }

    fn opt(&mut self, label: &str, value: Option<impl std::fmt::Display>) {
        if let Some(v) = value {
            self.field(label, v);
        }
    }

    fn list(&mut self, label: &str, values: &[String]) {
        if !values.is_empty() {
            self.field(label, values.join(", "));
        }
    }

    fn line(&mut self, s: impl std::fmt::Display) {
        let _ = writeln!(self.0, "{s}");
    }
}

impl Report {
    /// The text people read.
    pub fn human(&self) -> String {
        let mut t = Text(String::new());
        let encoding = match self.encoding {
            "pem" => "PEM",
            "der" => "DER",
            "json" => "JSON",
            _ => "compact JWS",
        };
        t.line(format_args!(
            "{}: {} ({encoding})",
            self.file,
            summary(&self.items)
        ));
        let n = self.items.len();
        for (i, item) in self.items.iter().enumerate() {
            if n > 1 {
                t.line(format_args!("[{}/{n}] {}", i + 1, item.name()));
            }
            match item {
                Item::Certificate(c) => c.human(&mut t),
                Item::Csr(c) => c.human(&mut t),
                Item::Crl(c) => c.human(&mut t),
                Item::PrivateKey(k) => k.human(&mut t),
                Item::PublicKey(k) => k.human(&mut t),
                Item::Jwks(j) => j.human(&mut t),
                Item::Jwt(j) => j.human(&mut t),
            }
        }
        for w in &self.warnings {
            t.line(format_args!("warning: {w}"));
        }
        t.0
    }
}

/// `certificate`, `3 certificates`, `certificate, private key`.
fn summary(items: &[Item]) -> String {
    let mut parts: Vec<(&str, usize)> = Vec::new();
    for item in items {
        match parts.iter_mut().find(|(n, _)| *n == item.name()) {
            Some((_, c)) => *c += 1,
            None => parts.push((item.name(), 1)),
        }
    }
    parts
        .iter()
        .map(|(name, c)| match c {
            1 => name.to_string(),
            _ => format!("{c} {name}s"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn spans() {
        assert_eq!(fmt_span(0), "0s");
        assert_eq!(fmt_span(-250), "4m 10s");
        assert_eq!(fmt_span(7500), "2h 5m");
        assert_eq!(fmt_span(86400 * 364 + 3600 * 23 + 59), "364d 23h");
    }

    #[test]
    fn windows() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (s, t) = window(
            now,
            Some(now - Duration::days(1)),
            Some(now + Duration::hours(3)),
        );
        assert_eq!((s, t.as_str()), ("valid", "valid, expires in 3h 0m"));
        let (s, t) = window(now, None, Some(now - Duration::days(2)));
        assert_eq!((s, t.as_str()), ("expired", "expired 2d 0h ago"));
        let (s, _) = window(now, Some(now + Duration::minutes(1)), None);
        assert_eq!(s, "not_yet_valid");
        assert_eq!(window(now, None, None).0, "no_expiry");
    }

    #[test]
    fn hex() {
        assert_eq!(colon_hex(&[0x0a, 0xff, 0x10]), "0A:FF:10");
        assert_eq!(colon_hex(&[]), "");
    }
}
