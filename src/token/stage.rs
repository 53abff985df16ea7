//! The JWT part of a tree: an org's JWT settings, its signing leaf, its JWKS and its signer, as
//! `init`, `jwt keygen`, `jwt mint` and `verify` all need them.

use super::{jwk_for, jwks_json, Signer};
use crate::error::{Error, Result};
use crate::model::{KeyAlg, Kind, Label};
use crate::pki::{self, adhoc_spec, OrgCa};
use crate::profile::{JwtSpec, OrgSpec};
use crate::store::{OrgLayout, JWT_SIGNING_NAME};
use rustls_pki_types::CertificateDer;

/// The JWT settings of an org: its profile section, or the profile's defaults for an org without
/// one.
pub fn jwt_spec(org: &OrgSpec) -> JwtSpec {
    org.jwt
        .clone()
        .unwrap_or_else(|| JwtSpec::default_for(&org.name))
}

/// The JWT signing leaf of an org.
pub fn signing_spec(org: &OrgSpec, key: Option<KeyAlg>) -> crate::profile::LeafSpec {
    let label = Label::parse(JWT_SIGNING_NAME, "name").expect("jwt-sign is a valid label");
    adhoc_spec(org, &label, Kind::JwtSigning, &[], None, key)
}

/// Why hapki refuses to make a JWT signing key of type `alg`, if it does: Canton's Ledger API
/// verifies RS256, ES256 and ES512 tokens only (and HMAC ones in tests), so a P-384 key (ES384)
/// or an Ed25519 key (EdDSA) would sign tokens no participant accepts.
pub fn jwt_key_refusal(alg: KeyAlg) -> Option<&'static str> {
    match alg {
        KeyAlg::EcdsaP384 => Some(
            "Canton accepts RS256, ES256 and ES512 tokens only and rejects P-384 (ES384) ones; choose rsa2048 (RS256) or ecdsa-p256 (ES256)",
        ),
        KeyAlg::Ed25519 => Some(
            "Canton accepts RS256, ES256 and ES512 tokens only and rejects Ed25519 (EdDSA) ones; choose rsa2048 (RS256) or ecdsa-p256 (ES256)",
        ),
        _ => None,
    }
}

/// The JWKS of an org's signing cert with its CA chain (issuing CA first, root last).
pub fn jwks_for(cert: &CertificateDer<'_>, ca: &OrgCa) -> Result<String> {
    let chain: Vec<CertificateDer<'static>> =
        ca.levels.iter().rev().map(|c| c.der.clone()).collect();
    jwks_for_chain(cert, &chain)
}

/// `jwks_for` from the CA certs alone (issuing CA first, root last), for `hapki verify`, which
/// reads CA certs but needs no CA key.
pub fn jwks_for_chain(cert: &CertificateDer<'_>, chain: &[CertificateDer<'_>]) -> Result<String> {
    let jwk = jwk_for(cert, chain).map_err(|m| Error::bug(format!("the JWT signing cert {m}")))?;
    Ok(jwks_json(vec![jwk]))
}

/// Loads an org's signer (key parsed once) from the layout.
pub fn load_signer(layout: &OrgLayout, org: &OrgSpec) -> Result<Signer> {
    let files = layout.jwt_signing();
    for p in [&files.cert, &files.key] {
        if !p.exists() {
            return Err(Error::input(format!(
                "org `{}` has no JWT signing key ({} is missing); create it with `hapki jwt keygen --org {}`",
                org.name,
                p.display(),
                org.name
            )));
        }
    }
    let (der, _) = pki::read_cert(&files.cert)?;
    let key_pem = crate::store::read(&files.key)?;
    Signer::new(&key_pem, &der).map_err(|m| {
        Error::input(format!(
            "{} {m}; re-create it with `hapki jwt keygen --force`",
            files.key.display()
        ))
    })
}
