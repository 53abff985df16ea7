//! The JOSE side of `inspect`: a JWKS (RFC 7517) key by key, with its `x5c` certs and whether
//! its `kid`, `x5t` and `x5t#S256` are what RFC 7638 and RFC 7517 §4.8 say they should be; and a
//! JWT (RFC 7519, compact JWS, read with `token::jws`) as its header, claims and times.
//! Signatures are not checked here.

use super::pkix::{cert_summary, curve_bits, modulus_bits, CertSummary};
use super::{colon_hex, window, Item, Parsed, Text};
use crate::error::{Error, Result};
use crate::model::fmt_time;
use crate::token::jws::{self, Jws, JwsError, Lapse, Part};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use time::OffsetDateTime;

// ---- JWKS ----

#[derive(Serialize)]
pub struct JwksInfo {
    keys: Vec<JwkInfo>,
}

#[derive(Serialize)]
struct JwkInfo {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    bits: Option<u32>,
    curve: Option<String>,
    thumbprint_sha256: Option<String>,
    kid_is_thumbprint: Option<bool>,
    x5c: Vec<X5c>,
    x5t: Option<DigestCheck>,
    x5t_s256: Option<DigestCheck>,
    problems: Vec<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum X5c {
    Cert(CertSummary),
    Bad { error: String },
}

#[derive(Serialize)]
struct DigestCheck {
    value: String,
    /// `None` when there is no readable `x5c[0]` to compare with.
    matches: Option<bool>,
}

/// Members that only a private key has (RFC 7518 §6.2.2, §6.3.2); their values are never read
/// into the report.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth"];

pub(super) fn from_json(path: &Path, text: &str, now: OffsetDateTime) -> Result<Parsed> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        Error::input(format!(
            "{} starts like JSON but does not parse ({e}); expected a JWKS",
            path.display()
        ))
    })?;
    let mut warnings = Vec::new();
    let keys: Vec<&Value> = match v.get("keys") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        _ if v.get("kty").is_some() => {
            warnings.push(format!(
                "{} holds a single JWK, not a JWK set; a JWKS wraps keys in {{\"keys\": [...]}}",
                path.display()
            ));
            vec![&v]
        }
        _ => {
            return Err(Error::input(format!(
                "{} is JSON but not a JWKS: it has no \"keys\" array",
                path.display()
            )))
        }
    };
    let keys = keys.into_iter().map(|k| jwk_info(k, now)).collect();
    Ok(Parsed {
        encoding: "json",
        items: vec![Item::Jwks(JwksInfo { keys })],
        warnings,
    })
}

fn jwk_info(k: &Value, now: OffsetDateTime) -> JwkInfo {
    let s = |name: &str| k.get(name).and_then(Value::as_str).map(String::from);
    let kty = s("kty");
    let mut problems = Vec::new();
    if !k.is_object() {
        problems.push("is not a JSON object".to_string());
    }
    let (bits, curve) = match kty.as_deref() {
        Some("RSA") => (
            s("n")
                .and_then(|n| b64url(&n))
                .and_then(|n| modulus_bits(&n)),
            None,
        ),
        Some("EC") => (s("crv").as_deref().and_then(curve_bits), s("crv")),
        Some("OKP") => (None, s("crv")),
        Some("oct") => {
            problems.push(
                "is a symmetric (oct) key: its secret is in this file; a JWKS must publish public keys only"
                    .to_string(),
            );
            (None, None)
        }
        Some(_) => (None, None),
        None => {
            problems.push("has no \"kty\"".to_string());
            (None, None)
        }
    };
    let private: Vec<&str> = PRIVATE_MEMBERS
        .iter()
        .copied()
        .filter(|m| k.get(m).is_some())
        .collect();
    if !private.is_empty() {
        problems.push(format!(
            "holds private key material ({}); a JWKS must publish public keys only: remove those members",
            private.join(", ")
        ));
    }
    let thumbprint = thumbprint(k);
    let kid = s("kid");
    let kid_is_thumbprint = kid.as_ref().zip(thumbprint.as_ref()).map(|(a, b)| a == b);

    let mut x5c = Vec::new();
    let mut first_der = None;
    match k.get("x5c") {
        None => {}
        Some(Value::Array(certs)) => {
            for (i, c) in certs.iter().enumerate() {
                // x5c holds standard base64, not base64url (RFC 7517 §4.7).
                let der = c.as_str().and_then(|c| STANDARD.decode(c).ok());
                let entry = match der.as_deref().map(|d| (d, cert_summary(d, now))) {
                    Some((d, Some(summary))) => {
                        if i == 0 {
                            first_der = Some(d.to_vec());
                        }
                        X5c::Cert(summary)
                    }
                    Some((_, None)) => X5c::Bad {
                        error: "is not a valid X.509 certificate".into(),
                    },
                    None => X5c::Bad {
                        error: "is not a standard-base64 DER certificate".into(),
                    },
                };
                x5c.push(entry);
            }
        }
        Some(_) => problems.push("has an \"x5c\" that is not an array".to_string()),
    }
    // What `hapki jwt keygen` writes, and `jwt verify` and `verify` demand: the same strings.
    let expected = first_der.as_deref().map(crate::token::x5t);
    let (sha1, sha256) = match &expected {
        Some((a, b)) => (Some(a.as_str()), Some(b.as_str())),
        None => (None, None),
    };
    let x5t = s("x5t").map(|v| check_digest("x5t", "SHA-1", v, sha1, &mut problems));
    let x5t_s256 =
        s("x5t#S256").map(|v| check_digest("x5t#S256", "SHA-256", v, sha256, &mut problems));

    JwkInfo {
        kty,
        kid,
        alg: s("alg"),
        usage: s("use"),
        bits,
        curve,
        thumbprint_sha256: thumbprint,
        kid_is_thumbprint,
        x5c,
        x5t,
        x5t_s256,
        problems,
    }
}

/// The RFC 7638 SHA-256 thumbprint. Only the required members go to jsonwebtoken, so an `alg`
/// or `use` it does not know cannot stop the computation.
fn thumbprint(k: &Value) -> Option<String> {
    let m = |name: &str| k.get(name).cloned();
    let required = match k.get("kty")?.as_str()? {
        "RSA" => json!({"kty": "RSA", "n": m("n")?, "e": m("e")?}),
        "EC" => json!({"kty": "EC", "crv": m("crv")?, "x": m("x")?, "y": m("y")?}),
        "OKP" => json!({"kty": "OKP", "crv": m("crv")?, "x": m("x")?}),
        // The thumbprint of a secret key would be computed from the secret; not shown.
        _ => return None,
    };
    let jwk: Jwk = serde_json::from_value(required).ok()?;
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

fn check_digest(
    member: &str,
    hash: &str,
    value: String,
    expected: Option<&str>,
    problems: &mut Vec<String>,
) -> DigestCheck {
    let Some(expected) = expected else {
        return DigestCheck {
            value,
            matches: None,
        };
    };
    let matches = value == expected;
    if !matches {
        // The shell procedure hapki replaces encodes the hex text of the fingerprint.
        let as_text = b64url(&value)
            .and_then(|g| String::from_utf8(g).ok())
            .map(|t| t.replace(':', "").to_ascii_uppercase());
        let hex = b64url(expected).map(|d| colon_hex(&d).replace(':', ""));
        problems.push(if value.trim_end_matches('=') == expected {
            format!("\"{member}\" is padded with `=`, which base64url in JOSE forbids")
        } else if as_text.is_some() && as_text == hex {
            format!("\"{member}\" is the base64url of the hex text of the {hash} fingerprint, not of the digest bytes (RFC 7517 §4.8)")
        } else {
            format!("\"{member}\" is not the base64url {hash} digest of x5c[0]")
        });
    }
    DigestCheck {
        value,
        matches: Some(matches),
    }
}

/// base64url as JOSE writes it (no padding); padded input is accepted too.
fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

// ---- JWT ----

#[derive(Serialize)]
pub struct JwtInfo {
    header: Value,
    claims: Value,
    times: Times,
    status: &'static str,
    status_text: String,
    signature_checked: bool,
}

#[derive(Serialize)]
struct Times {
    iat: Option<String>,
    nbf: Option<String>,
    exp: Option<String>,
}

pub(super) fn from_jws(path: &Path, t: &str, now: OffsetDateTime) -> Result<Parsed> {
    let refused = |what: String| {
        Error::input(format!(
            "{} looks like a JWT but its {what}; expected a token `header.payload.signature`",
            path.display()
        ))
    };
    let (jws, lapses) = jws::split_lenient(t).map_err(|e| match e {
        JwsError::Json { part, .. } => refused(format!("{} is not JSON", part.name())),
        JwsError::HeaderNotObject => Error::input(format!(
            "{} looks like a JWT but its header is not a JSON object",
            path.display()
        )),
        JwsError::Base64 { part, .. } | JwsError::Alphabet { part, .. } => {
            refused(format!("{} is not base64url", part.name()))
        }
        JwsError::Shape => super::unknown(path),
    })?;
    let mut warnings = Vec::new();
    for (part, lapse) in lapses {
        let problem = match (part, lapse) {
            // The signature is not checked here, so neither is its encoding (and only a
            // signature can be undecodable without an error).
            (Part::Signature, _) | (_, Lapse::Undecodable) => continue,
            (_, Lapse::Padded) => "is padded with `=`, which JWS forbids (RFC 7515 §2)",
            (_, Lapse::StandardBase64) => {
                "is standard base64 (with `+` or `/`), not base64url; Canton and most JWT libraries refuse it"
            }
        };
        warnings.push(format!("the {} {problem}", part.name()));
    }
    let Jws {
        header,
        claims,
        signature_b64,
        ..
    } = jws;
    if signature_b64.is_empty() {
        warnings.push("the token has no signature (an unsecured JWT); Canton refuses it".into());
    }
    let mut time_of = |claim: &str| -> Option<OffsetDateTime> {
        let v = claims.get(claim)?;
        let t = v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f.floor() as i64))
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok());
        if t.is_none() {
            warnings.push(format!(
                "the \"{claim}\" claim is not a NumericDate (seconds since 1970): {v}"
            ));
        }
        t
    };
    let (iat, nbf, exp) = (time_of("iat"), time_of("nbf"), time_of("exp"));
    let (status, status_text) = window(now, nbf, exp);
    let status_text = match status {
        "no_expiry" => "valid, never expires (no \"exp\" claim)".to_string(),
        _ => status_text,
    };
    Ok(Parsed {
        encoding: "jws",
        items: vec![Item::Jwt(JwtInfo {
            header,
            claims,
            times: Times {
                iat: iat.map(fmt_time),
                nbf: nbf.map(fmt_time),
                exp: exp.map(fmt_time),
            },
            status,
            status_text,
            signature_checked: false,
        })],
        warnings,
    })
}

// ---- human text ----

impl JwksInfo {
    pub(super) fn human(&self, t: &mut Text) {
        if self.keys.is_empty() {
            t.field("keys", "none (an empty key set verifies no token)");
        }
        for (i, k) in self.keys.iter().enumerate() {
            let mut head = vec![format!("kty {}", k.kty.as_deref().unwrap_or("?"))];
            head.extend(k.curve.clone());
            head.extend(k.bits.map(|b| format!("{b} bits")));
            head.extend(k.alg.as_ref().map(|a| format!("alg {a}")));
            head.extend(k.usage.as_ref().map(|u| format!("use {u}")));
            t.field(&format!("key {}", i + 1), head.join(", "));
            let kid = match (&k.kid, k.kid_is_thumbprint, &k.thumbprint_sha256) {
                (None, _, _) => "none".to_string(),
                (Some(kid), Some(true), _) => format!("{kid} (its RFC 7638 thumbprint)"),
                (Some(kid), _, Some(tp)) => {
                    format!("{kid} (not its RFC 7638 thumbprint, which is {tp})")
                }
                (Some(kid), _, None) => kid.clone(),
            };
            t.field("  kid", kid);
            for (j, c) in k.x5c.iter().enumerate() {
                let v = match c {
                    X5c::Cert(c) => c.describe(),
                    X5c::Bad { error } => error.clone(),
                };
                t.field(&format!("  x5c[{j}]"), v);
            }
            for (name, check) in [("  x5t", &k.x5t), ("  x5t#S256", &k.x5t_s256)] {
                if let Some(c) = check {
                    let verdict = match c.matches {
                        Some(true) => "matches x5c[0]",
                        Some(false) => "DOES NOT match x5c[0]",
                        None => "not compared (no readable x5c[0])",
                    };
                    t.field(name, format!("{} ({verdict})", c.value));
                }
            }
            for p in &k.problems {
                t.field("  problem", p);
            }
        }
    }
}

impl JwtInfo {
    pub(super) fn human(&self, t: &mut Text) {
        t.field("header", &self.header);
        t.line("  claims");
        let pretty = serde_json::to_string_pretty(&self.claims).unwrap_or_default();
        for line in pretty.lines() {
            t.line(format_args!("    {line}"));
        }
        t.opt("issued at (iat)", self.times.iat.as_ref());
        t.opt("not before (nbf)", self.times.nbf.as_ref());
        t.opt("expires (exp)", self.times.exp.as_ref());
        t.field("status", &self.status_text);
        t.field(
            "signature",
            "not checked here; `hapki jwt verify FILE --jwks JWKS` checks it",
        );
    }
}
