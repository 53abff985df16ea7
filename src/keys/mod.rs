//! Key pairs: generation (in parallel across every core, since RSA generation dominates the cost
//! of a run; each key handed on the moment it exists, so the run signs and stores around it), PKCS#8 loading through rustls-pki-types, the signature algorithm each key
//! naturally signs with, and (in `shape`) what a key's structure says without loading it.
//! CA keys (`ca_key`) may instead be encrypted PKCS#8 files (`encrypted`, opened with the run's
//! `passphrase`) or live in a PKCS#11 token (`pkcs11`).

pub mod ca_key;
pub mod encrypted;
pub mod passphrase;
pub mod pkcs11;
pub mod shape;

pub use ca_key::CaKey;

use crate::error::{Error, Result};
use crate::model::KeyAlg;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
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

/// Generates one key per entry, on every core, and returns them in the order asked (see
/// `generate_each`).
pub fn generate_many(algs: &[KeyAlg]) -> Result<Vec<KeyPair>> {
    if let [alg] = algs {
        return Ok(vec![generate(*alg)?]);
    }
    let slots: Vec<OnceLock<Result<KeyPair>>> = algs.iter().map(|_| OnceLock::new()).collect();
    generate_each(algs, |i, key| {
        let ok = key.is_ok();
        let _ = slots[i].set(key);
        ok
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(|| Err(Error::bug("a key of the batch was never generated")))
        })
        .collect()
}

/// Generates one key per entry of `algs` on every core and hands each, with its position, to
/// `each` on the thread that made it, the moment it is made: the caller can sign and store
/// what needs that key while the other keys are still being generated. Each key is a job of a
/// FIFO scope, which the pool's threads take in the order they were spawned, so callers that put
/// the costliest keys first get the longest-job-first schedule: RSA generation time varies a
/// lot from key to key, and the small keys at the end fill in whatever imbalance the big ones
/// leave. (A parallel iterator would split the list in halves up front, which leaves one core
/// idle at the end when one half happens to draw the slow primes.) When `each` returns false
/// the batch stops: keys not yet started are never generated (nor handed over). Returns when
/// every job has ended. Shows a progress line on stderr when it is a terminal and the work is
/// large enough to notice.
pub fn generate_each(algs: &[KeyAlg], each: impl Fn(usize, Result<KeyPair>) -> bool + Sync) {
    let slow = algs.iter().filter(|a| a.is_rsa()).count() >= 2;
    let progress = progress_line(algs.len(), slow && std::io::stderr().is_terminal());
    let stop = AtomicBool::new(false);
    rayon::scope_fifo(|s| {
        for (i, alg) in algs.iter().enumerate() {
            let (progress, stop, each) = (&progress, &stop, &each);
            s.spawn_fifo(move |_| {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let key = generate(*alg);
                progress.inc(1);
                if !each(i, key) {
                    stop.store(true, Ordering::Relaxed);
                }
            });
        }
    });
    progress.finish_and_clear();
}

/// `| generating keys 3/7` on stderr, a spinner turning while the keys come, cleared when done
/// (or dropped on an error); hidden unless `shown`.
fn progress_line(total: usize, shown: bool) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{spinner} generating keys {pos}/{len}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_strings(&["|", "/", "-", "\\", " "]);
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_finish(ProgressFinish::AndClear);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
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

/// The modulus size of an RSA SubjectPublicKeyInfo, in bits (whole octets).
pub fn rsa_bits(spki_der: &[u8]) -> Option<usize> {
    shape::spki_rsa(spki_der).map(|k| k.modulus.len() * 8)
}

/// The modulus and public exponent (big-endian, no leading zeros) of an RSA PKCS#8 key, read
/// from its structure alone. Loading an RSA key validates it (about 3 ms for RSA 4096), which is
/// what a TLS stack does with a leaf key; this is the cheap `openssl rsa -modulus` comparison for
/// keys nothing loads at run time. `None` when `pkcs8` is not a well-formed RSA PKCS#8 key.
pub fn rsa_public_parts(pkcs8: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let s = shape::pkcs8(pkcs8).filter(|s| s.algorithm == shape::RSA_ENCRYPTION)?;
    s.rsa.map(|k| (k.modulus, k.exponent))
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
    fn generate_many_returns_the_keys_in_the_order_asked() {
        let algs = [
            KeyAlg::Rsa2048,
            KeyAlg::EcdsaP384,
            KeyAlg::Ed25519,
            KeyAlg::EcdsaP256,
            KeyAlg::EcdsaP256,
        ];
        let keys = generate_many(&algs).unwrap();
        assert_eq!(keys.iter().map(alg_of).collect::<Vec<_>>(), algs);
        assert_eq!(
            alg_of(&generate_many(&[KeyAlg::Ed25519]).unwrap()[0]),
            KeyAlg::Ed25519
        );
        assert!(generate_many(&[]).unwrap().is_empty());
    }

    #[test]
    fn generate_each_hands_every_key_over_once_and_stops_when_told() {
        let algs: Vec<KeyAlg> = (0..40)
            .map(|i| match i % 3 {
                0 => KeyAlg::EcdsaP256,
                1 => KeyAlg::Ed25519,
                _ => KeyAlg::EcdsaP384,
            })
            .collect();
        let got = std::sync::Mutex::new(Vec::new());
        generate_each(&algs, |i, k| {
            got.lock().unwrap().push((i, alg_of(&k.unwrap())));
            true
        });
        let mut got = got.into_inner().unwrap();
        got.sort_by_key(|(i, _)| *i);
        assert_eq!(got, algs.iter().copied().enumerate().collect::<Vec<_>>());

        // Told to stop at the first key, the batch hands over at most the keys already being
        // made by the other threads.
        let n = std::sync::atomic::AtomicUsize::new(0);
        generate_each(&algs, |_, _| {
            n.fetch_add(1, Ordering::SeqCst);
            false
        });
        let n = n.into_inner();
        assert!(
            (1..=rayon::current_num_threads()).contains(&n),
            "{n} keys after a stop"
        );
    }

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
