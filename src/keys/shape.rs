//! What a private key's structure says without loading it: its format (PKCS#8, PKCS#1, SEC1),
//! its algorithm, its curve and, for RSA, its public numbers. Read with the RustCrypto `pkcs8`,
//! `pkcs1`, `sec1` and `spki` crates (strict DER); loading a key for use stays with aws-lc-rs,
//! which also checks that the numbers make a key.

use der::Decode;
use pkcs1::{RsaPrivateKey, RsaPublicKey};
use pkcs8::PrivateKeyInfoRef;
use sec1::{EcParameters, EcPrivateKey};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// rsaEncryption (RFC 8017 appendix C).
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-RSASSA-PSS (RFC 8017 appendix C), whose private key is a PKCS#1 key too.
pub const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// id-ecPublicKey (RFC 5480 §2.1.1).
pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// The container a private key comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pkcs8,
    Pkcs1,
    Sec1,
}

impl Format {
    /// The name people know the format by.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pkcs8 => "PKCS#8",
            Format::Pkcs1 => "PKCS#1",
            Format::Sec1 => "SEC1",
        }
    }
}

/// An RSA key's public numbers, big-endian without leading zero octets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublicParts {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

impl RsaPublicParts {
    fn of(n: der::asn1::UintRef<'_>, e: der::asn1::UintRef<'_>) -> Self {
        // `UintRef` holds the integer without its leading zeros.
        RsaPublicParts {
            modulus: n.as_bytes().to_vec(),
            exponent: e.as_bytes().to_vec(),
        }
    }
}

/// What a private key's structure says.
#[derive(Clone, Debug)]
pub struct Shape {
    pub format: Format,
    /// The key's algorithm: that of its PKCS#8 AlgorithmIdentifier, or rsaEncryption for
    /// PKCS#1 and id-ecPublicKey for SEC1.
    pub algorithm: ObjectIdentifier,
    /// The named curve of an EC key, from its AlgorithmIdentifier or else from the SEC1 key
    /// inside.
    pub curve: Option<ObjectIdentifier>,
    /// The public numbers of an RSA (or RSA-PSS) key.
    pub rsa: Option<RsaPublicParts>,
}

/// A PKCS#8 PrivateKeyInfo (RFC 5208, or RFC 5958 with its public key). An RSA key must hold
/// a whole PKCS#1 key (every CRT number), so a truncated key is not taken for whole.
pub fn pkcs8(der: &[u8]) -> Option<Shape> {
    let info = PrivateKeyInfoRef::from_der(der).ok()?;
    let algorithm = info.algorithm.oid;
    let inner = info.private_key.as_bytes();
    let mut curve = None;
    let mut rsa = None;
    if algorithm == RSA_ENCRYPTION || algorithm == RSA_PSS {
        rsa = Some(pkcs1_parts(inner)?);
    } else if algorithm == EC_PUBLIC_KEY {
        // The curve may be given only inside the SEC1 structure.
        curve = info
            .algorithm
            .parameters_oid()
            .ok()
            .or_else(|| sec1_curve(inner));
    }
    Some(Shape {
        format: Format::Pkcs8,
        algorithm,
        curve,
        rsa,
    })
}

/// A PKCS#1 RSAPrivateKey (RFC 8017 appendix A.1.2).
pub fn pkcs1(der: &[u8]) -> Option<Shape> {
    Some(Shape {
        format: Format::Pkcs1,
        algorithm: RSA_ENCRYPTION,
        curve: None,
        rsa: Some(pkcs1_parts(der)?),
    })
}

/// A SEC1 ECPrivateKey (RFC 5915). One without its curve cannot be used on its own, so it does
/// not count as one.
pub fn sec1(der: &[u8]) -> Option<Shape> {
    Some(Shape {
        format: Format::Sec1,
        algorithm: EC_PUBLIC_KEY,
        curve: Some(sec1_curve(der)?),
        rsa: None,
    })
}

fn pkcs1_parts(der: &[u8]) -> Option<RsaPublicParts> {
    let k = RsaPrivateKey::from_der(der).ok()?;
    Some(RsaPublicParts::of(k.modulus, k.public_exponent))
}

fn sec1_curve(der: &[u8]) -> Option<ObjectIdentifier> {
    match EcPrivateKey::from_der(der).ok()?.parameters? {
        EcParameters::NamedCurve(oid) => Some(oid),
    }
}

/// The public numbers of an RSA SubjectPublicKeyInfo (RFC 8017 appendix A.1.1); `None` for any
/// other key.
pub fn spki_rsa(spki_der: &[u8]) -> Option<RsaPublicParts> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return None;
    }
    let k = RsaPublicKey::from_der(spki.subject_public_key.as_bytes()?).ok()?;
    Some(RsaPublicParts::of(k.modulus, k.public_exponent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyAlg;
    use rcgen::PublicKeyData;

    #[test]
    fn formats_of_generated_keys() {
        let rsa = crate::keys::generate(KeyAlg::Rsa2048).unwrap();
        let s = pkcs8(&rsa.serialize_der()).unwrap();
        assert_eq!(
            (s.format, s.algorithm, s.curve),
            (Format::Pkcs8, RSA_ENCRYPTION, None)
        );
        assert_eq!(s.rsa, spki_rsa(&rsa.subject_public_key_info()));
        assert_eq!(s.rsa.as_ref().unwrap().modulus.len(), 256);
        assert_eq!(s.rsa.unwrap().exponent, [1, 0, 1]);

        let ec = crate::keys::generate(KeyAlg::EcdsaP384).unwrap();
        let s = pkcs8(&ec.serialize_der()).unwrap();
        assert_eq!(s.algorithm, EC_PUBLIC_KEY);
        assert_eq!(s.curve.unwrap().to_string(), "1.3.132.0.34");
        assert!(s.rsa.is_none());
        assert_eq!(spki_rsa(&ec.subject_public_key_info()), None);

        let ed = crate::keys::generate(KeyAlg::Ed25519).unwrap();
        assert_eq!(
            pkcs8(&ed.serialize_der()).unwrap().algorithm.to_string(),
            "1.3.101.112"
        );
    }

    #[test]
    fn one_format_is_not_taken_for_another() {
        let rsa = crate::keys::generate(KeyAlg::Rsa2048)
            .unwrap()
            .serialize_der();
        assert!(pkcs1(&rsa).is_none());
        assert!(sec1(&rsa).is_none());
        let ec = crate::keys::generate(KeyAlg::EcdsaP256)
            .unwrap()
            .serialize_der();
        assert!(pkcs1(&ec).is_none());
        // The key inside a PKCS#8 RSA key is PKCS#1.
        let inner = PrivateKeyInfoRef::from_der(&rsa)
            .unwrap()
            .private_key
            .as_bytes();
        assert_eq!(pkcs1(inner).unwrap().rsa, pkcs8(&rsa).unwrap().rsa);
        // Cut short: refused, not read as far as it goes.
        assert!(pkcs8(&rsa[..rsa.len() - 10]).is_none());
        assert!(pkcs8(&[]).is_none());
    }
}
