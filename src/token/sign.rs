//! Signing tokens with a JWT signing key: the key parsed once, the header encoded once, each
//! token put together by the `jws` writer.

use super::jwk::{jwk_for, key_params};
use super::jws;
use crate::pki::check;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use jsonwebtoken::Algorithm;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

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
        Ok(Signer {
            key,
            header_b64: jws::encode_header(alg, &kid)?,
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
        let mut token = jws::signing_input(&self.header_b64, &payload);
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
        jws::append_signature(&mut token, &signature);
        Ok(token)
    }
}
