//! The clients of the token endpoint (`hapki serve`'s `POST /oauth/token`): `NS/jwt/clients.json`
//! holds, per profile JWT user, only a slow hash of its secret (argon2id, as a PHC string), never
//! the secret. `hapki jwt client add | remove` write it; the server reads it and checks secrets
//! here.
//!
//! The file:
//! ```json
//! {"clients": {"alice": {"hash": "$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH", "added": "2026-12-01T10:00:00Z"}}}
//! ```

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// The bounds a stored hash's parameters must keep: a hand-edited `m=4194304` would let one
/// request take 4 GiB, so a file outside them is refused as a whole.
const MAX_M_COST: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 4;

/// The shortest and longest secret `jwt client add` takes.
pub const MIN_SECRET: usize = 16;
pub const MAX_SECRET: usize = 512;

/// One client: the PHC string of its secret's argon2id hash and when it was added.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub hash: String,
    pub added: String,
}

/// The whole file, by user name.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Clients {
    pub clients: BTreeMap<String, Client>,
}

impl Clients {
    /// Parses `clients.json`; every hash must be an argon2id PHC string within the bounds, so
    /// a bad entry shows when the file is read, not as a refused client later.
    pub fn parse(bytes: &[u8]) -> Result<Clients, String> {
        let c: Clients =
            serde_json::from_slice(bytes).map_err(|e| format!("is not a clients file ({e})"))?;
        for (name, client) in &c.clients {
            parse_hash(&client.hash)
                .map_err(|why| format!("has a bad hash for `{name}`: {why}"))?;
        }
        Ok(c)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

fn parse_hash(phc: &str) -> Result<(PasswordHash<'_>, Params), String> {
    let h = PasswordHash::new(phc).map_err(|e| format!("not a PHC string ({e})"))?;
    if h.algorithm != Algorithm::Argon2id.ident() {
        return Err(format!("the algorithm is {}, not argon2id", h.algorithm));
    }
    let p = Params::try_from(&h).map_err(|e| format!("bad parameters ({e})"))?;
    if p.m_cost() > MAX_M_COST || p.t_cost() > MAX_T_COST || p.p_cost() > MAX_P_COST {
        return Err(format!(
            "parameters over the bounds (m ≤ {MAX_M_COST}, t ≤ {MAX_T_COST}, p ≤ {MAX_P_COST})"
        ));
    }
    if h.salt.is_none() || h.hash.is_none() {
        return Err("no salt or no hash".into());
    }
    Ok((h, p))
}

/// The argon2id hash (OWASP's parameters, the crate's default: 19 MiB, 2 passes, 1 lane) of
/// `secret` with a fresh random salt, as a PHC string.
pub fn hash_secret(secret: &[u8]) -> Result<String, String> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| "the system random source failed".to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| format!("salt: {e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT);
    argon
        .hash_password(secret, &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing failed ({e})"))
}

/// Whether `secret` is the one `phc` was made from: the hash is recomputed with the stored
/// salt and parameters and the two outputs compared in constant time (`subtle`), so the time
/// an answer takes says nothing about how many bytes matched. Slow by design (tens of ms):
/// callers off an async runtime's workers.
pub fn verify_secret(phc: &str, secret: &[u8]) -> bool {
    let Ok((stored, params)) = parse_hash(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let argon = Argon2::default();
    let Ok(again) = argon.hash_password_customized(
        secret,
        Some(stored.algorithm),
        stored.version,
        params,
        salt,
    ) else {
        return false;
    };
    match again.hash {
        Some(out) => out.as_bytes().ct_eq(expected.as_bytes()).into(),
        None => false,
    }
}

/// A new secret: 32 random bytes in base64url (43 characters, 256 bits).
pub fn generate_secret() -> Result<String, String> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| "the system random source failed".to_string())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Why `secret` cannot be a client secret, if it cannot. Only RFC 3986 unreserved characters:
/// they read the same in a form body, a JSON body and HTTP Basic (which RFC 6749 2.3.1 wants
/// form-encoded and most client libraries send raw), so every client library sends them alike.
pub fn secret_error(secret: &str) -> Option<String> {
    let n = secret.chars().count();
    if !(MIN_SECRET..=MAX_SECRET).contains(&n) {
        return Some(format!(
            "is {n} characters long; a client secret has {MIN_SECRET} to {MAX_SECRET}"
        ));
    }
    if let Some(c) = secret
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~".contains(*c)))
    {
        return Some(format!(
            "holds `{}`; a client secret has only letters, digits and - . _ ~ (they read the same in a form, JSON and HTTP Basic)",
            c.escape_default()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_only() {
        let h = hash_secret(b"correct-horse-battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_secret(&h, b"correct-horse-battery"));
        assert!(!verify_secret(&h, b"correct-horse-batterz"));
        assert!(!verify_secret("not a hash", b"x"));
        let c = Clients {
            clients: [(
                "alice".to_string(),
                Client {
                    hash: h,
                    added: "2026-12-01T00:00:00Z".into(),
                },
            )]
            .into(),
        };
        assert_eq!(Clients::parse(c.to_json().as_bytes()).unwrap(), c);
    }

    #[test]
    fn refuses_other_algorithms_and_huge_parameters() {
        let huge = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(parse_hash(huge).unwrap_err().contains("bounds"));
        let argon2i = "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(parse_hash(argon2i).unwrap_err().contains("argon2id"));
        let file = format!(r#"{{"clients":{{"a":{{"hash":"{huge}","added":"x"}}}}}}"#);
        assert!(Clients::parse(file.as_bytes()).is_err());
    }

    #[test]
    fn secrets_are_unreserved_characters() {
        let s = generate_secret().unwrap();
        assert_eq!(s.len(), 43);
        assert_eq!(secret_error(&s), None);
        assert!(secret_error("short").unwrap().contains("16 to 512"));
        assert!(secret_error("has a space in it!!").unwrap().contains("` `"));
        assert!(secret_error("plus+sign+is+not+ok").unwrap().contains("`+`"));
    }
}
