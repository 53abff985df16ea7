//! PKCS#12 files as Java's `KeyStore` and `keytool`, and `openssl pkcs12`, read them:
//! PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for the bags and an HMAC-SHA256 MAC, the JDK's own
//! defaults since 8u301 (p12-keystore writes them by default; they are set here explicitly so
//! a change of the crate's defaults cannot weaken the files).

use crate::error::{Error, Result};
use crate::pki::OrgCa;
use crate::store::OrgLayout;
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12ImportPolicy,
    PrivateKey, PrivateKeyChain,
};

/// PBKDF2 iterations for the bags and the MAC: the JDK's default.
const ITERATIONS: u32 = 10_000;

fn cert(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| Error::bug(format!("a certificate for PKCS#12: {e}")))
}

fn write(ks: &KeyStore, password: &str) -> Result<Vec<u8>> {
    ks.writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(|e| Error::bug(format!("writing PKCS#12: {e}")))
}

/// A keystore of one private key entry `alias`: the PKCS#8 key and its chain (leaf first, root
/// last), as `keytool -importkeystore` and a JSSE `KeyManagerFactory` read it.
pub fn keystore(alias: &str, key_pkcs8: &[u8], chain: &[&[u8]], password: &str) -> Result<Vec<u8>> {
    let key = PrivateKey::from_der(key_pkcs8)
        .map_err(|e| Error::bug(format!("a PKCS#8 key for PKCS#12: {e}")))?;
    let certs = chain.iter().map(|d| cert(d)).collect::<Result<Vec<_>>>()?;
    // The local key id ties the key bag to its cert bag; any stable bytes do, and the leaf's
    // digest is what openssl uses too (there SHA-1; here SHA-256, which no reader minds).
    let id = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, chain[0]);
    let mut ks = KeyStore::new();
    ks.add_entry(
        alias,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(id.as_ref(), key, certs)),
    );
    write(&ks, password)
}

/// A truststore: each `(alias, der)` a trusted certificate entry (the bag carries Java's
/// trusted-key-usage attribute, without which `keytool` ignores a cert with no key).
pub fn truststore(certs: &[(String, Vec<u8>)], password: &str) -> Result<Vec<u8>> {
    let mut ks = KeyStore::new();
    for (alias, der) in certs {
        ks.add_entry(alias, KeyStoreEntry::Certificate(cert(der)?));
    }
    write(&ks, password)
}

/// The trusted certs of a truststore, sorted by alias, or `None` when it does not open with
/// `password` or is not PKCS#12 (then it is written again).
pub fn trusted_certs(p12: &[u8], password: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let ks = KeyStore::from_pkcs12(p12, password, Pkcs12ImportPolicy::Strict).ok()?;
    let mut v = Vec::new();
    for (alias, e) in ks.entries() {
        match e {
            KeyStoreEntry::Certificate(c) => v.push((alias.clone(), c.as_der().to_vec())),
            _ => return None,
        }
    }
    v.sort();
    Some(v)
}

/// The org's truststore (`NS/intermediate/certs/truststore.p12`) when the one on disk is
/// missing, does not open with its password, or holds other certs than the CA's; `None` when it
/// is current. PKCS#12 files carry random salts, so a current one is left alone rather than
/// written again: re-runs stay "nothing to do".
pub fn truststore_update(layout: &OrgLayout, ca: &OrgCa) -> Result<Option<Vec<u8>>> {
    if ca.levels.len() < 2 {
        // A one-tier CA has no intermediate/ folder (configs trust its root file directly).
        return Ok(None);
    }
    let org = (layout.dir.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut want: Vec<(String, Vec<u8>)> = (ca.levels.iter())
        .map(|c| (format!("{org}-{}", c.level.name()), c.der.to_vec()))
        .collect();
    want.sort();
    let pw = super::TRUSTSTORE_PASSWORD;
    let current = crate::store::read_io(&layout.truststore(), crate::store::CAP)
        .ok()
        .and_then(|b| trusted_certs(&b, pw));
    if current.as_ref() == Some(&want) {
        return Ok(None);
    }
    truststore(&want, pw).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyAlg;

    #[test]
    fn truststore_reads_back_what_was_written() {
        let key = crate::keys::generate(KeyAlg::EcdsaP256).unwrap();
        let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let c = p.self_signed(&key).unwrap();
        let certs = vec![("org-root".to_string(), c.der().to_vec())];
        let p12 = truststore(&certs, "changeit").unwrap();
        assert_eq!(trusted_certs(&p12, "changeit"), Some(certs));
        assert_eq!(trusted_certs(&p12, "wrong"), None);
        assert_eq!(trusted_certs(b"not pkcs12", "changeit"), None);
    }
}
