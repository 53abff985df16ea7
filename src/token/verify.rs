//! Token verification against a JWKS with a pinned clock: the token read by the `jws` codec,
//! its signature checked by jsonwebtoken with the JWKS key, its times and audience here.

use super::jws::{self, Jws};
use crate::model::fmt_time;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyOperations, PublicKeyUse,
};
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
    key_may_verify(jwk, &kid)?;
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
    // Without an `alg` member the key type still fixes the algorithms it can verify; without
    // this check jsonwebtoken is handed an RSA or EC key for HMAC and says only
    // "InvalidKeyFormat".
    let (family, fits) = key_family(&jwk.algorithm, alg);
    if !fits {
        return Err(format!(
            "says alg {alg_name} but its JWKS key `{kid}` is {family} and has no alg member, so it cannot verify {alg_name}; re-mint the token with `hapki jwt mint`, or publish the key that signed it"
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

/// Refuses a JWKS key published for something else than verifying signatures: a `use` other
/// than `sig` (RFC 7517 §4.2) or `key_ops` without `verify` (§4.3). Both members are optional:
/// a key without them may verify (hapki writes `use: "sig"`).
fn key_may_verify(jwk: &Jwk, kid: &str) -> Result<(), String> {
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(other) => {
            let name = match other {
                PublicKeyUse::Other(s) => s.as_str(),
                _ => "enc",
            };
            return Err(format!(
                "is signed by JWKS key `{kid}`, whose use is `{}`, not `sig`, so it may not verify tokens (RFC 7517 §4.2); publish the signing key with \"use\": \"sig\", as `hapki jwt keygen` writes it",
                name.escape_debug()
            ));
        }
    }
    if let Some(ops) = &jwk.common.key_operations {
        if !ops.contains(&KeyOperations::Verify) {
            return Err(format!(
                "is signed by JWKS key `{kid}`, whose key_ops do not include `verify`, so it may not verify tokens (RFC 7517 §4.3); publish the signing key without key_ops (or with `verify` in them), as `hapki jwt keygen` writes it"
            ));
        }
    }
    Ok(())
}

/// What a JWK's key type is, in words, and whether it can verify `alg` (RFC 7518 §3.1).
fn key_family(params: &AlgorithmParameters, alg: Algorithm) -> (&'static str, bool) {
    use Algorithm::*;
    match params {
        AlgorithmParameters::RSA(_) => (
            "an RSA key",
            matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
        ),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => ("an EC P-256 key (ES256)", alg == ES256),
            EllipticCurve::P384 => ("an EC P-384 key (ES384)", alg == ES384),
            // jsonwebtoken has no ES512, so a P-521 key verifies nothing here.
            EllipticCurve::P521 => ("an EC P-521 key (ES512)", false),
            _ => ("an EC key on a curve JWS EC keys do not use", false),
        },
        AlgorithmParameters::OctetKeyPair(_) => ("an OKP key (EdDSA)", alg == EdDSA),
        AlgorithmParameters::OctetKey(_) => {
            ("an HMAC secret", matches!(alg, HS256 | HS384 | HS512))
        }
        _ => ("a key of a type hapki does not know", false),
    }
}

/// Checks the token's `iss` against the issuer a verifier expects (RFC 7519 §4.1.1: a
/// case-sensitive string). The error is a sentence fragment about the token.
pub fn check_issuer(claims: &Value, want: &str) -> Result<(), String> {
    match claims.get("iss") {
        Some(Value::String(got)) if got == want => Ok(()),
        Some(Value::String(got)) => Err(format!(
            "is from issuer `{}`, so issuer `{want}` is not accepted",
            got.escape_debug()
        )),
        Some(other) => Err(format!(
            "has an iss claim that is not a string ({other}), so issuer `{want}` is not accepted"
        )),
        None => Err(format!(
            "has no iss claim, so issuer `{want}` is not accepted"
        )),
    }
}

/// A Unix time as RFC 3339, or as the number where it is past year 9999.
pub fn fmt_unix(t: i64) -> String {
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
