//! JWT for the Ledger API: the JWKS of a signing cert (RFC 7517 key with RFC 7638 `kid`, `x5c`,
//! `x5t`, `x5t#S256`, which jsonwebtoken carries but never computes or checks), the three token
//! shapes Canton accepts, and token verification against a JWKS with a pinned clock.

pub mod stage;

use crate::model::fmt_time;
use crate::pki::check;
use crate::profile::{JwtSpec, TokenFormat, UserSpec};
use aws_lc_rs::digest;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use x509_parser::public_key::PublicKey;

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
    use base64::Engine;
    let payload = token.trim().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    numeric_date(&claims, "exp").ok().flatten()
}

/// Clock skew tolerated on exp, nbf and iat, in seconds.
pub const LEEWAY: i64 = 60;

/// The audience prefix of Canton 3.x audience-based tokens.
pub const AUD_PREFIX: &str = "https://daml.com/jwt/aud/participant/";

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An integer's big-endian bytes without leading zero octets (RFC 7518 §6.3.1).
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The JWS algorithm of a certificate's key and the public parameters of its JWK.
fn key_params(cert: &CertificateDer<'_>) -> Result<(Algorithm, AlgorithmParameters), String> {
    let x = check::parse(cert)?;
    let pk = x
        .public_key()
        .parsed()
        .map_err(|_| "has a public key hapki cannot read".to_string())?;
    match pk {
        PublicKey::RSA(rsa) => Ok((
            Algorithm::RS256,
            AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: b64url(unsigned(rsa.modulus)),
                e: b64url(unsigned(rsa.exponent)),
            }),
        )),
        PublicKey::EC(point) => {
            let raw = point.data();
            let (alg, curve, len) = match raw.len() {
                65 => (Algorithm::ES256, EllipticCurve::P256, 32),
                97 => (Algorithm::ES384, EllipticCurve::P384, 48),
                _ => return Err("has an elliptic curve key JWT cannot use".into()),
            };
            if raw[0] != 4 {
                return Err("has a compressed EC point, which a JWK cannot carry".into());
            }
            Ok((
                alg,
                AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve,
                    x: b64url(&raw[1..1 + len]),
                    y: b64url(&raw[1 + len..]),
                }),
            ))
        }
        PublicKey::Unknown(raw)
            if x.public_key().algorithm.algorithm.to_id_string() == "1.3.101.112" =>
        {
            Ok((
                Algorithm::EdDSA,
                AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: b64url(raw),
                }),
            ))
        }
        _ => Err("has a key type JWT signing does not support".into()),
    }
}

/// `x5t` and `x5t#S256`: base64url of the raw SHA-1 / SHA-256 digest of the DER (RFC 7517 §4.8),
/// not of its hex text.
pub fn x5t(der: &[u8]) -> (String, String) {
    (
        b64url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref()),
        b64url(digest::digest(&digest::SHA256, der).as_ref()),
    )
}

/// The JWK of a signing cert with its chain (issuing CA(s) up to the root).
pub fn jwk_for(cert: &CertificateDer<'_>, chain: &[CertificateDer<'_>]) -> Result<Jwk, String> {
    let (alg, params) = key_params(cert)?;
    let mut jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm(alg)),
            ..Default::default()
        },
        algorithm: params,
    };
    jwk.common.key_id = Some(
        jwk.thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| format!("has a key whose thumbprint cannot be computed ({e})"))?,
    );
    let (t1, t256) = x5t(cert);
    jwk.common.x509_chain = Some(
        std::iter::once(cert)
            .chain(chain)
            .map(|c| STANDARD.encode(c.as_ref()))
            .collect(),
    );
    jwk.common.x509_sha1_fingerprint = Some(t1);
    jwk.common.x509_sha256_fingerprint = Some(t256);
    Ok(jwk)
}

fn key_algorithm(alg: Algorithm) -> KeyAlgorithm {
    match alg {
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => KeyAlgorithm::RS256,
    }
}

pub fn jwks_json(keys: Vec<Jwk>) -> String {
    let mut s = serde_json::to_string_pretty(&JwkSet { keys }).unwrap_or_default();
    s.push('\n');
    s
}

/// A parsed private key, ready to sign. aws-lc-rs keys are used directly: jsonwebtoken's
/// `encode` re-parses (and for RSA re-validates) the DER key on every call, which costs as much
/// as a quarter of an RS256 signature, and minting many tokens should run at the speed of the
/// signature itself.
enum SigningKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Signs tokens with one parsed key: minting many tokens parses the key once, and one `Signer`
/// signs from many threads at once.
pub struct Signer {
    key: SigningKey,
    /// The base64url of the header, the same for every token of this key.
    header_b64: String,
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    /// From the signing key's PEM and its cert (which gives the algorithm and the kid).
    pub fn new(key_pem: &[u8], cert: &CertificateDer<'_>) -> Result<Signer, String> {
        let der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
            "holds no readable PEM private key (it may be truncated or of another kind)".to_string()
        })?;
        Signer::from_der(&der, cert)
    }

    /// From the signing key (PKCS#8, or PKCS#1 / SEC1) and its cert.
    pub fn from_der(key: &PrivateKeyDer<'_>, cert: &CertificateDer<'_>) -> Result<Signer, String> {
        let (alg, _) = key_params(cert)?;
        const UNUSABLE: &str =
            "holds a key JWT signing cannot use (of another type than its certificate's, or corrupt)";
        let unusable = |_: KeyRejected| UNUSABLE.to_string();
        let key = match (alg, key) {
            (Algorithm::RS256, PrivateKeyDer::Pkcs8(k)) => {
                SigningKey::Rsa(RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).map_err(unusable)?)
            }
            (Algorithm::RS256, PrivateKeyDer::Pkcs1(k)) => {
                SigningKey::Rsa(RsaKeyPair::from_der(k.secret_pkcs1_der()).map_err(unusable)?)
            }
            (Algorithm::ES256 | Algorithm::ES384, k) => {
                let a = if alg == Algorithm::ES256 {
                    &ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ECDSA_P384_SHA384_FIXED_SIGNING
                };
                SigningKey::Ecdsa(
                    match k {
                        PrivateKeyDer::Pkcs8(k) => {
                            EcdsaKeyPair::from_pkcs8(a, k.secret_pkcs8_der())
                        }
                        PrivateKeyDer::Sec1(k) => {
                            EcdsaKeyPair::from_private_key_der(a, k.secret_sec1_der())
                        }
                        _ => return Err(UNUSABLE.into()),
                    }
                    .map_err(unusable)?,
                )
            }
            (Algorithm::EdDSA, PrivateKeyDer::Pkcs8(k)) => SigningKey::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(k.secret_pkcs8_der())
                    .map_err(unusable)?,
            ),
            _ => return Err(UNUSABLE.into()),
        };
        let public: &[u8] = match &key {
            SigningKey::Rsa(k) => k.public_key().as_ref(),
            SigningKey::Ecdsa(k) => k.public_key().as_ref(),
            SigningKey::Ed25519(k) => k.public_key().as_ref(),
        };
        if public
            != check::parse(cert)?
                .public_key()
                .subject_public_key
                .data
                .as_ref()
        {
            return Err("does not match the public key of its certificate".into());
        }
        let kid = jwk_for(cert, &[])?.common.key_id.unwrap_or_default();
        // In the member order SPEC.md shows: alg, typ, kid (Canton refuses a token without kid).
        let alg_name =
            serde_json::to_value(alg).map_err(|e| format!("cannot name {alg:?} ({e})"))?;
        let header_json = serde_json::to_vec(&json!({"alg": alg_name, "typ": "JWT", "kid": kid}))
            .map_err(|e| format!("cannot encode the header ({e})"))?;
        Ok(Signer {
            key,
            header_b64: b64url(&header_json),
            kid,
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The compact JWS of `claims`: base64url(header).base64url(claims).base64url(signature).
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let payload =
            serde_json::to_vec(claims).map_err(|e| format!("cannot encode the claims ({e})"))?;
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 700);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let failed = |_| "signing failed".to_string();
        let signature: Vec<u8> = match &self.key {
            SigningKey::Rsa(k) => {
                let mut s = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, token.as_bytes(), &mut s)
                    .map_err(failed)?;
                s
            }
            SigningKey::Ecdsa(k) => k
                .sign(&self.rng, token.as_bytes())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            SigningKey::Ed25519(k) => k.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

/// What one token says, before it is signed.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    pub user: String,
    pub format: TokenFormat,
    /// `None`: no `aud` claim (participant_admin's scope token).
    pub aud: Option<String>,
    pub scope: String,
    pub participant_id: String,
    pub ledger_id: String,
    pub application_id: String,
    pub admin: bool,
    pub act_as: Vec<String>,
    pub read_as: Vec<String>,
    pub issuer: String,
    pub iat: i64,
    pub ttl: i64,
}

impl TokenSpec {
    /// The token of a profile user, at `iat`.
    pub fn for_user(jwt: &JwtSpec, u: &UserSpec, iat: i64) -> TokenSpec {
        let aud = match (u.format, u.audience) {
            (_, false) => None,
            (TokenFormat::Audience, true) => Some(format!("{AUD_PREFIX}{}", jwt.participant_id)),
            (_, true) => Some(jwt.participant_id.clone()),
        };
        TokenSpec {
            user: u.name.clone(),
            format: u.format,
            aud,
            scope: u.scope.clone().unwrap_or_else(|| "daml_ledger_api".into()),
            participant_id: jwt.participant_id.clone(),
            ledger_id: jwt.ledger_id.clone(),
            application_id: u.application_id.clone().unwrap_or_else(|| u.name.clone()),
            admin: u.admin,
            act_as: u.act_as.clone(),
            read_as: u.read_as.clone(),
            issuer: jwt.issuer.clone(),
            iat,
            ttl: jwt.ttl.0,
        }
    }

    /// The claims of the token, in the field order of SPEC.md.
    pub fn claims(&self) -> Value {
        let mut m = Map::new();
        match self.format {
            TokenFormat::Scope => {
                m.insert("sub".into(), json!(self.user));
                m.insert("scope".into(), json!(self.scope));
            }
            TokenFormat::Audience => {
                m.insert("sub".into(), json!(self.user));
            }
            TokenFormat::Custom => {
                m.insert(
                    "https://daml.com/ledger-api".into(),
                    json!({
                        "ledgerId": self.ledger_id,
                        "participantId": self.participant_id,
                        "applicationId": self.application_id,
                        "admin": self.admin,
                        "actAs": self.act_as,
                        "readAs": self.read_as,
                    }),
                );
            }
        }
        if let Some(aud) = &self.aud {
            m.insert("aud".into(), json!(aud));
        }
        m.insert("iat".into(), json!(self.iat));
        m.insert("exp".into(), json!(self.iat + self.ttl));
        m.insert("iss".into(), json!(self.issuer));
        Value::Object(m)
    }
}

/// A verified token's header and claims.
#[derive(Debug)]
pub struct Verified {
    pub kid: String,
    pub alg: String,
    pub claims: Value,
}

/// Verifies `token` against `jwks` at `now` (Unix seconds): its compact form, a kid that the JWKS
/// has, the signature, exp / nbf / iat with `LEEWAY`, and the audience when one is required.
/// The error is a sentence fragment about the token.
pub fn verify_token(
    token: &str,
    jwks: &JwkSet,
    aud: Option<&str>,
    now: i64,
) -> Result<Verified, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().take(2).any(|p| p.is_empty()) {
        return Err("is not a JWT (expected header.payload.signature)".into());
    }
    let names = ["header", "payload", "signature"];
    for (p, name) in parts.iter().zip(names) {
        if let Some(c) = p
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "has a {name} that is not base64url (it holds `{c}`); re-mint it with hapki jwt mint"
            ));
        }
    }
    let header: Value = URL_SAFE_NO_PAD
        .decode(parts[0])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("has a header that is not base64url JSON")?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or("has no kid in its header, and Canton refuses such a token")?
        .to_string();
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
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
    let mut v = Validation::new(alg);
    // Times and audience are checked below against the pinned clock, not the system's.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, &dkey, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => {
                format!("has a signature that does not verify with JWKS key `{kid}` (tampered, or signed by another key)")
            }
            _ => format!("cannot be decoded ({e})"),
        }
    })?;
    let claims = data.claims;
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

/// Checks a JWKS key against its own x5c: x5t and x5t#S256 are the digests of x5c[0], the key
/// parameters and kid are those of x5c[0]'s public key, and x5c[0] chains through the rest of
/// x5c to `root` (the org root; when `None`, to the last x5c cert) at `now`.
/// The error is a clause with the key as subject (`key `…` has an x5t that …`).
pub fn check_jwk(
    jwk: &Jwk,
    root: Option<&CertificateDer<'_>>,
    now: OffsetDateTime,
) -> Result<(), String> {
    let kid = jwk.common.key_id.as_deref().unwrap_or("");
    let x5c = jwk
        .common
        .x509_chain
        .as_ref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("key `{kid}` has no x5c chain"))?;
    let certs: Vec<CertificateDer<'static>> = x5c
        .iter()
        .map(|c| STANDARD.decode(c).map(CertificateDer::from))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("key `{kid}` has an x5c entry that is not standard base64 DER"))?;
    let leaf = &certs[0];
    let (t1, t256) = x5t(leaf);
    if jwk.common.x509_sha1_fingerprint.as_deref() != Some(t1.as_str()) {
        return Err(format!(
            "key `{kid}` has an x5t that is not base64url(SHA-1) of x5c[0] (expected {t1})"
        ));
    }
    if jwk.common.x509_sha256_fingerprint.as_deref() != Some(t256.as_str()) {
        return Err(format!(
            "key `{kid}` has an x5t#S256 that is not base64url(SHA-256) of x5c[0] (expected {t256})"
        ));
    }
    let expected = jwk_for(leaf, &[]).map_err(|m| format!("key `{kid}` has an x5c[0] that {m}"))?;
    if expected.algorithm != jwk.algorithm {
        return Err(format!(
            "key `{kid}` has public key parameters that are not those of its x5c[0] certificate"
        ));
    }
    if expected.common.key_id.as_deref() != Some(kid) {
        return Err(format!(
            "key `{kid}` has a kid that is not its RFC 7638 thumbprint (expected {})",
            expected.common.key_id.unwrap_or_default()
        ));
    }
    let (anchor, intermediates) = match root {
        Some(r) => (r.clone(), &certs[1..]),
        None if certs.len() > 1 => (certs[certs.len() - 1].clone(), &certs[1..certs.len() - 1]),
        None => return Err(format!("key `{kid}` has an x5c without its CA chain")),
    };
    check::chain(
        leaf,
        crate::model::Kind::JwtSigning,
        intermediates,
        &anchor,
        now,
    )
    .map_err(|m| format!("key `{kid}` has an x5c[0] that {m}"))?;
    if root.is_some() && certs.len() > 1 && certs[certs.len() - 1] != anchor {
        return Err(format!(
            "key `{kid}` has an x5c that ends in another root than the org's"
        ));
    }
    Ok(())
}

/// Parses a JWKS document.
pub fn parse_jwks(bytes: &[u8]) -> Result<JwkSet, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("is not a JWKS ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_strips_leading_zeros() {
        assert_eq!(unsigned(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(unsigned(&[0x80]), &[0x80]);
    }

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
                value: b64url(secret),
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

    #[test]
    fn x5t_is_digest_not_hex() {
        // SHA-1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d
        let (t1, _) = x5t(b"abc");
        assert_eq!(t1, "qZk-NkcGgWq6PiVxeFDCbJzQ2J0");
    }
}
