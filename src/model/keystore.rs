//! Where an org's CA private keys live, as the profile says (`ca_key_encryption`,
//! `ca_key_store`): plain PKCS#8 files, encrypted PKCS#8 files, or a PKCS#11 token named by an
//! RFC 7512 URI. Only the words are checked here; `keys::ca_key` does the I/O.

use crate::error::{Error, Result};
use std::path::PathBuf;

/// How CA keys are kept.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CaKeyStore {
    /// PEM files, unencrypted PKCS#8 (the default, as before).
    #[default]
    Plain,
    /// PEM files, encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`) at the same paths.
    Encrypted(Kdf),
    /// Generated in, and signing in, a PKCS#11 token; no key file.
    Pkcs11(Pkcs11Uri),
}

/// The password-based key derivation of an encrypted PKCS#8 key (PBES2, AES-256-CBC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kdf {
    /// scrypt N=2^14 r=8 p=1: what `openssl pkcs8 -topk8 -scrypt` writes.
    Scrypt,
    /// PBKDF2-HMAC-SHA256, 600,000 iterations (OWASP's figure for SHA-256).
    Pbkdf2,
}

impl CaKeyStore {
    /// The store of the profile's two settings, each as the user wrote it.
    pub fn parse(encryption: Option<&str>, store: Option<&str>) -> Result<CaKeyStore> {
        let kdf = match encryption.map(str::trim) {
            None | Some("none") => None,
            Some("scrypt") => Some(Kdf::Scrypt),
            Some("pbkdf2") => Some(Kdf::Pbkdf2),
            Some(other) => {
                return Err(Error::input(format!(
                    "ca_key_encryption `{}` is not known; use \"scrypt\", \"pbkdf2\" or \"none\"",
                    other.escape_debug()
                )))
            }
        };
        match (store.map(str::trim), kdf) {
            (None | Some("file"), None) => Ok(CaKeyStore::Plain),
            (None | Some("file"), Some(k)) => Ok(CaKeyStore::Encrypted(k)),
            (Some(uri), None) => Ok(CaKeyStore::Pkcs11(Pkcs11Uri::parse(uri)?)),
            (Some(_), Some(_)) => Err(Error::input(
                "ca_key_encryption and a PKCS#11 ca_key_store exclude each other (a key in a token never leaves it, so there is no file to encrypt); drop one of them",
            )),
        }
    }
}

/// The parts of a `pkcs11:` URI (RFC 7512) hapki uses: the token by label, the module to load
/// and where its user PIN is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// The token label (`token=`), percent-decoded.
    pub token: String,
    /// The PKCS#11 module (`module-path=`), loaded at run time.
    pub module_path: PathBuf,
    /// The file holding the user PIN (`pin-source=file:...`), first line.
    pub pin_file: PathBuf,
    /// The URI as written, for messages.
    pub uri: String,
}

impl Pkcs11Uri {
    pub fn parse(uri: &str) -> Result<Pkcs11Uri> {
        let bad = |why: &str| {
            Error::input(format!(
                "ca_key_store `{}` {why}; write it as pkcs11:token=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/path/to/pin",
                uri.escape_debug()
            ))
        };
        if !uri.starts_with("pkcs11:") {
            return Err(bad("is not a PKCS#11 URI (it must start with `pkcs11:`)"));
        }
        // A trailing `;` before the query is common in hand-written URIs (and in p11-kit's
        // output) though RFC 7512's grammar has none; the parser is strict, so drop it.
        let tidy = uri.replacen(";?", "?", 1);
        let tidy = tidy.strip_suffix(';').unwrap_or(&tidy);
        let m = pk11_uri_parser::parse(tidy)
            .map_err(|_| bad("is not a valid RFC 7512 URI (check the `;`, `?` and `&`)"))?;
        let decode = |v: &str, what: &str| -> Result<String> {
            percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| bad(&format!("has a {what} that is not UTF-8 once decoded")))
        };
        let token = decode(
            m.token()
                .ok_or_else(|| bad("names no token (token=LABEL)"))?,
            "token",
        )?;
        if token.is_empty() {
            return Err(bad("has an empty token label"));
        }
        let module_path = decode(
            m.module_path()
                .ok_or_else(|| bad("names no module (module-path=/path/to/module.so)"))?,
            "module-path",
        )?;
        if m.pin_value().is_some() {
            return Err(bad(
                "carries the PIN itself (pin-value); keep the PIN out of the profile: put it in a file and use pin-source=file:/path/to/pin",
            ));
        }
        let pin = decode(
            m.pin_source().ok_or_else(|| {
                bad("says nowhere to find the PIN (pin-source=file:/path/to/pin)")
            })?,
            "pin-source",
        )?;
        let pin_file = match pin.strip_prefix("file://") {
            Some(p) => p.to_string(),
            None => match pin.strip_prefix("file:") {
                Some(p) => p.to_string(),
                None => return Err(bad(
                    "has a pin-source that is not a file (only pin-source=file:PATH is supported)",
                )),
            },
        };
        if pin_file.is_empty() {
            return Err(bad("has an empty pin-source file"));
        }
        Ok(Pkcs11Uri {
            token,
            module_path: PathBuf::from(module_path),
            pin_file: PathBuf::from(pin_file),
            uri: uri.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_parse() {
        assert_eq!(CaKeyStore::parse(None, None).unwrap(), CaKeyStore::Plain);
        assert_eq!(
            CaKeyStore::parse(Some("none"), None).unwrap(),
            CaKeyStore::Plain
        );
        assert_eq!(
            CaKeyStore::parse(Some("scrypt"), None).unwrap(),
            CaKeyStore::Encrypted(Kdf::Scrypt)
        );
        assert_eq!(
            CaKeyStore::parse(Some("pbkdf2"), Some("file")).unwrap(),
            CaKeyStore::Encrypted(Kdf::Pbkdf2)
        );
        assert!(CaKeyStore::parse(Some("aes"), None).is_err());
        let uri = "pkcs11:token=hapki%20ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin";
        assert!(CaKeyStore::parse(Some("scrypt"), Some(uri)).is_err());
        let CaKeyStore::Pkcs11(u) = CaKeyStore::parse(None, Some(uri)).unwrap() else {
            panic!("a PKCS#11 store")
        };
        assert_eq!(u.token, "hapki ca");
        assert_eq!(
            u.module_path,
            PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")
        );
        assert_eq!(u.pin_file, PathBuf::from("/run/pin"));
    }

    #[test]
    fn uris_parse_as_rfc_7512_says() {
        // The form with `;` before the query that people write by hand.
        let u =
            Pkcs11Uri::parse("pkcs11:token=t1;?module-path=/m.so&pin-source=file:pin.txt").unwrap();
        assert_eq!(
            (u.token.as_str(), u.pin_file.to_str().unwrap()),
            ("t1", "pin.txt")
        );
        for bad in [
            "token=t?module-path=/m.so&pin-source=file:/p",
            "pkcs11:?module-path=/m.so&pin-source=file:/p",
            "pkcs11:token=t?pin-source=file:/p",
            "pkcs11:token=t?module-path=/m.so",
            "pkcs11:token=t?module-path=/m.so&pin-value=1234",
            "pkcs11:token=t?module-path=/m.so&pin-source=|/bin/pin",
        ] {
            let e = Pkcs11Uri::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("ca_key_store `"), "{bad}: {e}");
        }
    }
}
