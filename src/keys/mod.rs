//! Key pairs: generation (in parallel across every core, since RSA generation dominates the cost
//! of a run), PKCS#8 loading through rustls-pki-types, and the signature algorithm each key
//! naturally signs with.

use crate::error::{Error, Result};
use crate::model::KeyAlg;
use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The signature algorithm a key of `alg` signs certificates with.
pub fn sig_alg(alg: KeyAlg) -> &'static SignatureAlgorithm {
    match alg {
        KeyAlg::Rsa2048 | KeyAlg::Rsa3072 | KeyAlg::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        KeyAlg::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyAlg::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyAlg::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

pub fn generate(alg: KeyAlg) -> Result<KeyPair> {
    let size = match alg {
        KeyAlg::Rsa2048 => Some(RsaKeySize::_2048),
        KeyAlg::Rsa3072 => Some(RsaKeySize::_3072),
        KeyAlg::Rsa4096 => Some(RsaKeySize::_4096),
        _ => None,
    };
    let kp = match size {
        Some(s) => KeyPair::generate_rsa_for(sig_alg(alg), s),
        None => KeyPair::generate_for(sig_alg(alg)),
    };
    kp.map_err(|e| Error::bug(format!("generating a {alg} key failed: {e}")))
}

/// Generates one key per entry, on every core, and returns them in the order asked. The entries
/// are a work queue taken in order by every thread of the pool, so callers that put the costliest
/// keys first get the longest-job-first schedule: RSA generation time varies a lot from key to
/// key, and the small keys at the end fill in whatever imbalance the big ones leave. (A parallel
/// iterator would split the list in halves up front, which leaves one core idle at the end when
/// one half happens to draw the slow primes.) Shows a progress line on stderr when it is a
/// terminal and the work is large enough to notice.
pub fn generate_many(algs: &[KeyAlg]) -> Result<Vec<KeyPair>> {
    let done = Arc::new(AtomicUsize::new(0));
    let slow = algs.iter().filter(|a| a.is_rsa()).count() >= 2;
    let progress = (slow && std::io::stderr().is_terminal())
        .then(|| Progress::start(algs.len(), done.clone()));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<KeyPair>>>> =
        algs.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(alg) = algs.get(i) else { break };
        let k = generate(*alg);
        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(k);
        done.fetch_add(1, Ordering::Relaxed);
    };
    if algs.len() > 1 {
        rayon::broadcast(|_| work());
    } else {
        work();
    }
    drop(progress);
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(Error::bug("a key of the batch was never generated")))
        })
        .collect()
}

/// A spinner line on stderr, cleared when dropped.
struct Progress {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(total: usize, done: Arc<AtomicUsize>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let frames = ['|', '/', '-', '\\'];
            let mut i = 0;
            while !s.load(Ordering::Relaxed) {
                let n = done.load(Ordering::Relaxed);
                eprint!("\r{} generating keys {n}/{total}", frames[i % 4]);
                let _ = std::io::stderr().flush();
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            eprint!("\r\x1b[2K");
        });
        Progress {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Loads a PKCS#8 (or PKCS#1 / SEC1) PEM private key.
pub fn load(path: &Path) -> Result<KeyPair> {
    let bytes = crate::store::read(path)?;
    parse_pem(&bytes, path)
}

pub fn parse_pem(bytes: &[u8], path: &Path) -> Result<KeyPair> {
    let der = PrivateKeyDer::from_pem_slice(bytes).map_err(|_| {
        Error::input(format!(
            "{} holds no readable PEM private key (it may be truncated or of another kind); restore it or re-issue with --force",
            path.display()
        ))
    })?;
    KeyPair::try_from(&der).map_err(|_| {
        Error::input(format!(
            "{} holds a private key hapki cannot use (unsupported type or corrupt); re-issue it with --force",
            path.display()
        ))
    })
}

/// The algorithm (and for RSA the size) of a key pair.
pub fn alg_of(kp: &KeyPair) -> KeyAlg {
    let a = kp.algorithm();
    if a == &rcgen::PKCS_ECDSA_P256_SHA256 {
        KeyAlg::EcdsaP256
    } else if a == &rcgen::PKCS_ECDSA_P384_SHA384 {
        KeyAlg::EcdsaP384
    } else if a == &rcgen::PKCS_ED25519 {
        KeyAlg::Ed25519
    } else {
        match rsa_bits(&kp.subject_public_key_info()) {
            Some(b) if b > 3072 => KeyAlg::Rsa4096,
            Some(b) if b > 2048 => KeyAlg::Rsa3072,
            _ => KeyAlg::Rsa2048,
        }
    }
}

/// The modulus size of an RSA SubjectPublicKeyInfo, in bits.
pub fn rsa_bits(spki_der: &[u8]) -> Option<usize> {
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    match spki.parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => Some(rsa.key_size()),
        _ => None,
    }
}

/// The modulus and public exponent (big-endian, no leading zeros) of an RSA PKCS#8 key, read
/// from its structure alone. Loading an RSA key validates it (about 3 ms for RSA 4096), which is
/// what a TLS stack does with a leaf key; this is the cheap `openssl rsa -modulus` comparison for
/// keys nothing loads at run time. `None` when `pkcs8` is not a well-formed RSA PKCS#8 key.
pub fn rsa_public_parts(pkcs8: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
    let (oid, key) = yasna::parse_der(pkcs8, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            let oid = r.next().read_sequence(|r| {
                let oid = r.next().read_oid()?;
                r.read_optional(|r| r.read_null())?;
                Ok(oid)
            })?;
            let key = r.next().read_bytes()?;
            // Optional attributes and public key (PKCS#8 v2).
            while r.read_optional(|r| r.read_der())?.is_some() {}
            Ok((oid, key))
        })
    })
    .ok()?;
    if oid.components().as_slice() != RSA_ENCRYPTION {
        return None;
    }
    let strip = |b: Vec<u8>| b.into_iter().skip_while(|x| *x == 0).collect::<Vec<u8>>();
    yasna::parse_der(&key, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            let n = r.next().read_bigint_bytes()?.0;
            let e = r.next().read_bigint_bytes()?.0;
            // d, p, q, dP, dQ, qInv: all there, so a truncated key is not taken for whole.
            for _ in 0..6 {
                r.next().read_bigint_bytes()?;
            }
            Ok((strip(n), strip(e)))
        })
    })
    .ok()
}

/// PKCS#8 DER of a key (what Java-based Canton clients read as `.key.der`).
pub fn pkcs8_der(kp: &KeyPair) -> Vec<u8> {
    kp.serialize_der()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;

    #[test]
    fn rsa_public_parts_are_the_spki_ones() {
        let kp = generate(KeyAlg::Rsa2048).unwrap();
        let spki = kp.subject_public_key_info();
        let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki).unwrap();
        let PublicKey::RSA(rsa) = info.parsed().unwrap() else {
            panic!("an RSA key")
        };
        let strip = |b: &[u8]| {
            b.iter()
                .copied()
                .skip_while(|x| *x == 0)
                .collect::<Vec<_>>()
        };
        let der = pkcs8_der(&kp);
        assert_eq!(
            rsa_public_parts(&der),
            Some((strip(rsa.modulus), strip(rsa.exponent)))
        );
        assert_eq!(rsa_public_parts(&der[..der.len() - 10]), None);
        let ec = generate(KeyAlg::EcdsaP256).unwrap();
        assert_eq!(rsa_public_parts(&pkcs8_der(&ec)), None);
    }
}
