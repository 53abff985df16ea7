//! Compact JWTs taken apart and put together here, not by the code under test, and the file
//! names of an org's JWT signing key.

use super::fixture::{Fixture, AT};
use super::openssl::openssl_ok;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::path::Path;

/// An org's root and issuing CA certs, relative to its folder.
pub const ROOT: &str = "root/certs/ca.cert.pem";
pub const INTERMEDIATE: &str = "intermediate/certs/intermediate.cert.pem";

/// The signing key files of an org (`NS/signing/jwt-sign.D.{key,cert,pub}.pem`).
pub fn signing(org: &str) -> (String, String, String) {
    let d = match org {
        "participant1" => "customer1.com",
        "participant2" => "customer2.com",
        _ => unreachable!(),
    };
    (
        format!("signing/jwt-sign.{d}.key.pem"),
        format!("signing/jwt-sign.{d}.cert.pem"),
        format!("signing/jwt-sign.{d}.pub.pem"),
    )
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64url(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("`{s}` is not unpadded base64url: {e}"))
}

/// The decoded header and payload text of a compact JWT, and its signature bytes.
pub fn split(token: &str) -> (String, String, Vec<u8>) {
    let p: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(p.len(), 3, "not a compact JWT: {token}");
    (
        String::from_utf8(unb64url(p[0])).unwrap(),
        String::from_utf8(unb64url(p[1])).unwrap(),
        unb64url(p[2]),
    )
}

/// An RS256 token over exactly `header` and `payload` (JSON text), signed by openssl with
/// `key_pem`: for the tokens hapki must refuse although their signature is good.
pub fn sign_rs256(key_pem: &Path, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes())
    );
    let sig = openssl_ok(
        &["dgst", "-sha256", "-sign", key_pem.to_str().unwrap()],
        Some(input.as_bytes()),
    );
    format!("{input}.{}", b64url(&sig))
}

/// The ECDSA fixture's CAs at AT, and participant1's JWT signing key made ECDSA P-256 (ES256)
/// by `jwt keygen --key ecdsa-p256`.
pub fn es256_fixture() -> Fixture {
    let pki = Fixture::ecdsa().at(AT).cas();
    pki.run(&[
        "jwt",
        "keygen",
        "--org",
        "participant1",
        "--key",
        "ecdsa-p256",
    ])
    .success();
    pki
}
