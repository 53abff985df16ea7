//! The JWKS document (RFC 7517 §5): written as `jwt keygen` and `init` publish it, parsed as
//! `jwt verify` and `verify` read it.

use jsonwebtoken::jwk::{Jwk, JwkSet};

pub fn jwks_json(keys: Vec<Jwk>) -> String {
    let mut s = serde_json::to_string_pretty(&JwkSet { keys }).unwrap_or_default();
    s.push('\n');
    s
}

/// Parses a JWKS document.
pub fn parse_jwks(bytes: &[u8]) -> Result<JwkSet, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("is not a JWKS ({e})"))
}
