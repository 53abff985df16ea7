//! A CA's private key wherever the profile keeps it: a PEM file (plain or encrypted PKCS#8) or
//! a PKCS#11 token. Either signs through rcgen's `SigningKey`, so certs, CSRs and CRLs are made
//! the same way whatever holds the key.

use super::{encrypted, passphrase, pkcs11};
use crate::error::{Error, Result};
use crate::model::{CaKeyStore, CaLevel, KeyAlg};
use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey};
use std::path::Path;
use zeroize::Zeroizing;

/// A CA private key.
pub enum CaKey {
    /// A key from (or for) a PEM file; `pem` is what the file holds: plain or encrypted.
    File {
        key: KeyPair,
        pem: Zeroizing<String>,
    },
    /// A key that lives in a PKCS#11 token; no file.
    Token(pkcs11::TokenKey),
}

impl CaKey {
    /// The token key, for a key kept in a PKCS#11 token.
    pub fn token(&self) -> Option<&pkcs11::TokenKey> {
        match self {
            CaKey::Token(t) => Some(t),
            CaKey::File { .. } => None,
        }
    }

    /// A key kept as a plain PKCS#8 file.
    pub fn plain(key: KeyPair) -> CaKey {
        let pem = Zeroizing::new(key.serialize_pem());
        CaKey::File { key, pem }
    }

    /// What the key file holds (`None`: the key is in a token and there is no file).
    pub fn file_pem(&self) -> Option<&str> {
        match self {
            CaKey::File { pem, .. } => Some(pem.as_str()),
            CaKey::Token(_) => None,
        }
    }

    /// Whether its file is encrypted PKCS#8.
    pub fn is_encrypted(&self) -> bool {
        self.file_pem()
            .is_some_and(|p| encrypted::is_encrypted(p.as_bytes()))
    }

    /// The token key, when the key is in one.
    pub fn token_key(&self) -> Option<&pkcs11::TokenKey> {
        match self {
            CaKey::Token(t) => Some(t),
            CaKey::File { .. } => None,
        }
    }

    /// The file form `store` asks for, when the file on disk has another (a profile switched
    /// from `none` to `scrypt` or back): `init` rewrites the key in place.
    pub fn rewrapped(&self, store: &CaKeyStore, path: &Path) -> Result<Option<Zeroizing<String>>> {
        let CaKey::File { key, .. } = self else {
            return Ok(None);
        };
        match (store, self.is_encrypted()) {
            (CaKeyStore::Plain, true) => Ok(Some(Zeroizing::new(key.serialize_pem()))),
            (CaKeyStore::Encrypted(kdf), false) => {
                let pass = passphrase::get(path, true)?;
                encrypted::encrypt(key, *kdf, &pass.bytes).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// The token label of the CA key of `level` of `org`.
pub fn label(org: &str, level: CaLevel) -> String {
    format!("hapki-{org}-{}", level.name())
}

/// A new CA key for `level` of `org`, to be written to `path` or made in the token: `kp` is the
/// key generated in the run's batch for a file store (`None` for a token, which makes its own).
pub fn create(
    store: &CaKeyStore,
    alg: KeyAlg,
    org: &str,
    level: CaLevel,
    path: &Path,
    kp: Option<KeyPair>,
) -> Result<CaKey> {
    let file_key = || kp.ok_or_else(|| Error::bug("no generated key for a CA key file"));
    match store {
        CaKeyStore::Plain => Ok(CaKey::plain(file_key()?)),
        CaKeyStore::Encrypted(kdf) => {
            let key = file_key()?;
            let pass = passphrase::get(path, true)?;
            let pem = encrypted::encrypt(&key, *kdf, &pass.bytes)?;
            Ok(CaKey::File { key, pem })
        }
        CaKeyStore::Pkcs11(uri) => pkcs11::generate(uri, alg, &label(org, level)).map(CaKey::Token),
    }
}

/// The key of `level` of `org` that `cert_key` (the cert's subjectPublicKey) certifies: its
/// file at `path` when there is one, else (with a PKCS#11 store) the token's key by label.
/// `Ok(None)` when there is neither.
pub fn open(
    store: &CaKeyStore,
    org: &str,
    level: CaLevel,
    path: &Path,
    cert_key: &[u8],
) -> Result<Option<CaKey>> {
    if path.exists() {
        return load_file(path).map(Some);
    }
    match store {
        CaKeyStore::Pkcs11(uri) => {
            let label = label(org, level);
            match pkcs11::find(uri, &label, cert_key)? {
                Some(k) => Ok(Some(CaKey::Token(k))),
                None => Err(Error::input(format!(
                    "the PKCS#11 token `{}` holds no key labelled `{label}` that matches the {} CA cert; restore the token or re-create the CA with `hapki ca init --force`",
                    uri.token,
                    level.name()
                ))),
            }
        }
        _ => Ok(None),
    }
}

/// A CA key file, plain or encrypted (then opened with this run's passphrase).
pub fn load_file(path: &Path) -> Result<CaKey> {
    let bytes = Zeroizing::new(crate::store::read(path)?);
    let key = if encrypted::is_encrypted(&bytes) {
        let pass = passphrase::get(path, false)?;
        encrypted::decrypt(&bytes, path, &pass.bytes, &pass.from)?
    } else {
        super::parse_pem(&bytes, path)?
    };
    let pem = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    Ok(CaKey::File { key, pem })
}

impl PublicKeyData for CaKey {
    fn der_bytes(&self) -> &[u8] {
        match self {
            CaKey::File { key, .. } => key.der_bytes(),
            CaKey::Token(t) => t.public_key(),
        }
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            CaKey::File { key, .. } => key.algorithm(),
            CaKey::Token(t) => t.algorithm(),
        }
    }
}

impl SigningKey for CaKey {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        match self {
            CaKey::File { key, .. } => key.sign(msg),
            CaKey::Token(t) => t.sign(msg),
        }
    }
}
