//! Token verification against a JWKS with a pinned clock: the token read by the `jws` codec,
//! its signature checked by jsonwebtoken with the JWKS key, its times and audience here.

use super::jws::{self, Jws};
use crate::model::fmt_time;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use time::OffsetDateTime;

/// Clock skew tolerated on exp, nbf and iat, in seconds.
pub const LEEWAY: i64 = 60;

/// The time claim `name` (RFC 7519 NumericDate: seconds since 1970, a fraction allowed), or
/// why it is not one.
fn numeric_date(claims: &Value, name: &str) -> std::result::Result<Option<i64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "has an {name} claim that is not a number ({v}); {name} is seconds since 1970"
                )
            }),
    }
}

/// The `exp` of a token read without checking its signature: only to tell whether a token file
/// still holds a live token before it is replaced.
pub fn unverified_exp(token: &str) -> Option<i64> {
    let (jws, _) = jws::split_lenient(token.trim()).ok()?;
    numeric_date(&jws.claims, "exp").ok().flatten()
}

/// A verified token's header and claims.
#[derive(Debug)]
pub struct Verified {
    pub kid: String,
    pub alg: String,
    pub claims: Value,
}

/// Verifies `token` against `jwks` at `now` (Unix seconds): its compact form (`jws::split`), a kid
/// that the JWKS has, the signature, exp / nbf / iat with `LEEWAY`, and the audience when one is required.
/// The error is a sentence fragment about the token.
pub fn verify_token(
    token: &str,
    jwks: &JwkSet,
    aud: Option<&str>,
    now: i64,
) -> Result<Verified, String> {
    let jws = jws::split(token).map_err(|e| e.to_string())?;
    let kid = jws
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or("has no kid in its header, and Canton refuses such a token")?
        .to_string();
    let alg_name = jws.header.get("alg").and_then(Value::as_str).unwrap_or("");
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("is signed by key `{kid}`, which is not in the JWKS"))?;
    let alg: Algorithm = alg_name
        .parse()
        .map_err(|_| format!("uses the algorithm `{alg_name}`, which hapki does not accept"))?;
    let key_alg = jwk
        .common
        .key_algorithm
        .map(|a| a.to_string())
        .unwrap_or_default();
    if !key_alg.is_empty() && key_alg != alg_name {
        return Err(format!(
            "says alg {alg_name} but its JWKS key `{kid}` is for {key_alg}"
        ));
    }
    let dkey = DecodingKey::from_jwk(jwk)
        .map_err(|e| format!("names JWKS key `{kid}`, which cannot be used ({e})"))?;
    // The signature over the signing input as it stands in the token (RFC 7515 §5.2).
    let verified = jsonwebtoken::crypto::verify(
        jws.signature_b64,
        jws.signing_input().as_bytes(),
        &dkey,
        alg,
    )
    .map_err(|e| format!("cannot be decoded ({e})"))?;
    if !verified {
        return Err(format!(
            "has a signature that does not verify with JWKS key `{kid}` (tampered, or signed by another key)"
        ));
    }
    let Jws { claims, .. } = jws;
    let exp = numeric_date(&claims, "exp")?.ok_or("has no exp claim; every hapki token expires")?;
    // RFC 7519 §4.1.4: the time must be *before* exp, so exp + leeway itself is already too late.
    // Saturating: an exp near i64::MAX is far in the future, not wrapped into the past.
    if now >= exp.saturating_add(LEEWAY) {
        return Err(format!("expired at {}", fmt_unix(exp)));
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")? {
        if now.saturating_add(LEEWAY) < nbf {
            return Err(format!("is not valid until {}", fmt_unix(nbf)));
        }
    }
    if let Some(iat) = numeric_date(&claims, "iat")? {
        if now.saturating_add(LEEWAY) < iat {
            return Err(format!("was issued in the future, at {}", fmt_unix(iat)));
        }
    }
    if let Some(want) = aud {
        let got: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !got.contains(&want) {
            return Err(if got.is_empty() {
                format!("has no audience, so audience `{want}` is not accepted")
            } else {
                format!(
                    "is for audience `{}`, so audience `{want}` is not accepted",
                    got.join("`, `")
                )
            });
        }
    }
    Ok(Verified {
        kid,
        alg: alg_name.to_string(),
        claims,
    })
}

fn fmt_unix(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .map(fmt_time)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::{AlgorithmParameters, CommonParameters, Jwk};
    use serde_json::json;

    /// A JWKS of one HS256 key `k` and a token signed with it, for the time checks.
    fn hs256(claims: Value) -> (String, JwkSet) {
        use jsonwebtoken::jwk::{OctetKeyParameters, OctetKeyType};
        let secret = b"a test secret of thirty-two bytes";
        let jwk = Jwk {
            common: CommonParameters {
                key_id: Some("k".into()),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::OctetKey(OctetKeyParameters {
                key_type: OctetKeyType::Octet,
                value: jws::b64url(secret),
            }),
        };
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("k".into());
        let token = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap();
        (token, JwkSet { keys: vec![jwk] })
    }

    #[test]
    fn exp_far_in_the_future_and_exp_of_another_type() {
        let (t, set) = hs256(json!({"iat": 1000, "exp": i64::MAX}));
        assert!(verify_token(&t, &set, None, 2000).is_ok());
        let (t, set) = hs256(json!({"iat": 1000, "nbf": i64::MIN, "exp": 5000}));
        assert!(verify_token(&t, &set, None, 2000).is_ok());
        let (t, set) = hs256(json!({"iat": 1000, "exp": "tomorrow"}));
        assert_eq!(
            verify_token(&t, &set, None, 2000).unwrap_err(),
            "has an exp claim that is not a number (\"tomorrow\"); exp is seconds since 1970"
        );
        let (t, set) = hs256(json!({"iat": 1000}));
        assert_eq!(
            verify_token(&t, &set, None, 2000).unwrap_err(),
            "has no exp claim; every hapki token expires"
        );
        assert_eq!(unverified_exp(&t), None);
        let (t, _) = hs256(json!({"iat": 1000, "exp": 77}));
        assert_eq!(unverified_exp(&t), Some(77));
    }

    #[test]
    fn expired_at_exp_plus_leeway_is_refused() {
        // The check: a one-day token is refused a day and a minute after iat.
        let (t, set) = hs256(json!({"iat": 1000, "exp": 1000 + 86400}));
        assert!(verify_token(&t, &set, None, 1000 + 86400 + LEEWAY - 1).is_ok());
        assert_eq!(
            verify_token(&t, &set, None, 1000 + 86400 + LEEWAY).unwrap_err(),
            "expired at 1970-01-02T00:16:40Z"
        );
    }
}
