//! Encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2 with AES-256-CBC) through the `pkcs8`
//! crate: writing CA keys with the parameters `openssl pkey` reads, opening them (and keys
//! openssl wrote), and telling the scheme of one without its passphrase (for `verify`).

use crate::error::{Error, Result};
use crate::model::Kdf;
use pkcs8::der::Decode;
use pkcs8::pkcs5::{pbes2, scrypt, EncryptionScheme};
use pkcs8::{EncryptedPrivateKeyInfoRef, LineEnding, PrivateKeyInfoRef};
use rcgen::KeyPair;
use std::path::Path;
use zeroize::Zeroizing;

pub const LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// PBKDF2-HMAC-SHA256 rounds: OWASP's 2023 figure for SHA-256.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// Whether `pem` holds an encrypted PKCS#8 key (by its PEM label).
pub fn is_encrypted(pem: &[u8]) -> bool {
    let start = format!("-----BEGIN {LABEL}-----");
    String::from_utf8_lossy(pem)
        .trim_start()
        .starts_with(&start)
}

/// `kp` as encrypted PKCS#8 PEM under `pass`.
pub fn encrypt(kp: &KeyPair, kdf: Kdf, pass: &[u8]) -> Result<Zeroizing<String>> {
    let der = Zeroizing::new(kp.serialize_der());
    let info = PrivateKeyInfoRef::from_der(&der)
        .map_err(|e| Error::bug(format!("a generated key is no PKCS#8: {e}")))?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt)
        .and_then(|_| aws_lc_rs::rand::fill(&mut iv))
        .map_err(|_| Error::bug("the system random source failed"))?;
    let params = match kdf {
        // N=2^14 r=8 p=1: openssl's own scrypt defaults (a larger N exceeds the memory limit
        // `openssl pkey` applies when it reads the key).
        Kdf::Scrypt => scrypt::Params::new(14, 8, 1)
            .map_err(|e| Error::bug(format!("scrypt parameters: {e}")))
            .and_then(|p| {
                pbes2::Parameters::generate_scrypt_aes256cbc(p, &salt, iv)
                    .map_err(|e| Error::bug(format!("scrypt parameters: {e}")))
            })?,
        Kdf::Pbkdf2 => {
            pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, iv)
                .map_err(|e| Error::bug(format!("PBKDF2 parameters: {e}")))?
        }
    };
    let doc = info
        .encrypt_with_params(params, pass)
        .map_err(|e| Error::bug(format!("encrypting a CA key: {e}")))?;
    doc.to_pem(LABEL, LineEnding::LF)
        .map_err(|e| Error::bug(format!("encoding an encrypted CA key: {e}")))
}

/// The DER of the `ENCRYPTED PRIVATE KEY` block of `pem`.
fn der_of(pem: &[u8], path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let text = std::str::from_utf8(pem).map_err(|_| not_readable(path))?;
    let (label, der) =
        pkcs8::der::pem::decode_vec(text.trim().as_bytes()).map_err(|_| not_readable(path))?;
    if label != LABEL {
        return Err(not_readable(path));
    }
    Ok(Zeroizing::new(der))
}

fn not_readable(path: &Path) -> Error {
    Error::input(format!(
        "{} holds no readable encrypted PKCS#8 key (it may be truncated); restore it from a backup",
        path.display()
    ))
}

/// Opens the encrypted key in `pem` with `pass`; `from` says where the passphrase came from.
pub fn decrypt(pem: &[u8], path: &Path, pass: &[u8], from: &str) -> Result<KeyPair> {
    let der = der_of(pem, path)?;
    let info = EncryptedPrivateKeyInfoRef::from_der(&der).map_err(|_| not_readable(path))?;
    scheme_of(&info.encryption_algorithm).map_err(|why| {
        Error::input(format!(
            "{} is encrypted with {why}, which hapki does not open; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc` or `-scrypt`",
            path.display()
        ))
    })?;
    let plain = info.decrypt(pass).map_err(|_| {
        Error::input(format!(
            "{from} does not open {} (a wrong passphrase); give the one the CA keys were written with",
            path.display()
        ))
    })?;
    KeyPair::try_from(plain.as_bytes()).map_err(|_| {
        Error::input(format!(
            "{} decrypts to a private key hapki cannot use (unsupported type or corrupt); restore it from a backup",
            path.display()
        ))
    })
}

/// What `verify` says of an encrypted key without its passphrase: `scrypt, AES-256-CBC`, or
/// why it is not a key hapki opens.
pub fn describe(pem: &[u8], path: &Path) -> Result<String, String> {
    let der = der_of(pem, path).map_err(|e| e.to_string())?;
    let info = EncryptedPrivateKeyInfoRef::from_der(&der)
        .map_err(|_| "it holds no readable encrypted PKCS#8 structure".to_string())?;
    scheme_of(&info.encryption_algorithm)
}

fn scheme_of(s: &EncryptionScheme) -> Result<String, String> {
    let EncryptionScheme::Pbes2(p) = s else {
        return Err("PBES1 (a legacy scheme with DES or RC2)".into());
    };
    let cipher = match p.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { .. } => "AES-128-CBC",
        pbes2::EncryptionScheme::Aes192Cbc { .. } => "AES-192-CBC",
        pbes2::EncryptionScheme::Aes256Cbc { .. } => "AES-256-CBC",
        _ => return Err("a cipher other than AES-CBC".into()),
    };
    let kdf = match &p.kdf {
        pbes2::Kdf::Pbkdf2(k) => format!("PBKDF2 ({} iterations)", k.iteration_count),
        pbes2::Kdf::Scrypt(_) => "scrypt".to_string(),
        _ => return Err("a key derivation other than PBKDF2 or scrypt".into()),
    };
    Ok(format!("{kdf}, {cipher}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyAlg;

    #[test]
    fn keys_round_trip_and_a_wrong_passphrase_is_refused() {
        let kp = crate::keys::generate(KeyAlg::EcdsaP256).unwrap();
        let p = Path::new("k.pem");
        for kdf in [Kdf::Scrypt, Kdf::Pbkdf2] {
            let pem = encrypt(&kp, kdf, b"s3cret").unwrap();
            assert!(is_encrypted(pem.as_bytes()));
            let back = decrypt(pem.as_bytes(), p, b"s3cret", "the file").unwrap();
            assert_eq!(back.serialize_der(), kp.serialize_der());
            let e = decrypt(pem.as_bytes(), p, b"wrong", "the file").unwrap_err();
            assert!(e.to_string().contains("wrong passphrase"), "{e}");
            let d = describe(pem.as_bytes(), p).unwrap();
            assert!(d.ends_with("AES-256-CBC"), "{d}");
        }
        assert!(!is_encrypted(kp.serialize_pem().as_bytes()));
    }
}
