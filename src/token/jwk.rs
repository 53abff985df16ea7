//! The JWK of a JWT signing cert (RFC 7517 key with RFC 7638 `kid`, `x5c`, `x5t`, `x5t#S256`,
//! which jsonwebtoken carries but never computes or checks), and the check of a published key
//! against its own `x5c`.

use super::jws::b64url;
use crate::pki::check;
use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::Algorithm;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::public_key::PublicKey;

/// An integer's big-endian bytes without leading zero octets (RFC 7518 §6.3.1).
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The JWS algorithm of a certificate's key and the public parameters of its JWK.
pub(super) fn key_params(
    cert: &CertificateDer<'_>,
) -> Result<(Algorithm, AlgorithmParameters), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_strips_leading_zeros() {
        assert_eq!(unsigned(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(unsigned(&[0x80]), &[0x80]);
    }

    #[test]
    fn x5t_is_digest_not_hex() {
        // SHA-1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d
        let (t1, _) = x5t(b"abc");
        assert_eq!(t1, "qZk-NkcGgWq6PiVxeFDCbJzQ2J0");
    }
}
