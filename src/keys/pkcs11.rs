//! CA keys in a PKCS#11 token (an HSM, a YubiHSM, a cloud HSM, SoftHSM2 in tests) through the
//! `cryptoki` crate: the module is loaded at run time from the profile's `module-path`, so a
//! build needs no HSM library. Keys are generated in the token (sensitive, never extractable),
//! labelled `hapki-ORG-LEVEL`, found again by that label and the public key of the cert they
//! certify, and sign there: RSA with CKM_SHA256_RSA_PKCS, ECDSA with CKM_ECDSA over a digest
//! hapki computes, its raw r‖s re-encoded as the DER ECDSA-Sig-Value X.509 carries.
//!
//! One module context and one logged-in session per token for the whole run (a module may be
//! initialised once per process, and a login per signature would cost a round trip to a
//! network HSM each time); signatures through the one session are serialised by its mutex.

use crate::error::{Error, Result};
use crate::model::{KeyAlg, Pkcs11Uri};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rcgen::SignatureAlgorithm;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// The DER of the namedCurve OIDs (ECParameters) of P-256 and P-384.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// A logged-in session on one token.
pub struct Token {
    uri: Pkcs11Uri,
    session: Mutex<Session>,
}

/// A CA private key in a token: its handle, its public key as X.509 carries it, and the
/// algorithm it signs with.
pub struct TokenKey {
    token: Arc<Token>,
    handle: ObjectHandle,
    /// The public key object, for a key pair generated in this run (`destroyer`).
    public_handle: Option<ObjectHandle>,
    /// The public key bytes of the SubjectPublicKeyInfo (PKCS#1 RSAPublicKey, or the EC point).
    public: Vec<u8>,
    alg: &'static SignatureAlgorithm,
    pub label: String,
}

static MODULES: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());
static TOKENS: Mutex<Vec<Arc<Token>>> = Mutex::new(Vec::new());

fn module(uri: &Pkcs11Uri) -> Result<Pkcs11> {
    let mut mods = MODULES
        .lock()
        .map_err(|_| Error::bug("the PKCS#11 module list is poisoned"))?;
    if let Some((_, m)) = mods.iter().find(|(p, _)| *p == uri.module_path) {
        return Ok(m.clone());
    }
    let m = Pkcs11::new(&uri.module_path).map_err(|e| {
        Error::input(format!(
            "cannot load the PKCS#11 module {} of ca_key_store ({e}); install it or fix module-path in the profile",
            uri.module_path.display()
        ))
    })?;
    m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| {
            Error::input(format!(
                "the PKCS#11 module {} does not start ({e}); check its configuration (for SoftHSM2, SOFTHSM2_CONF and its token folder)",
                uri.module_path.display()
            ))
        })?;
    mods.push((uri.module_path.clone(), m.clone()));
    Ok(m)
}

/// The logged-in session on the token `uri` names (opened once per run).
pub fn token(uri: &Pkcs11Uri) -> Result<Arc<Token>> {
    let mut tokens = TOKENS
        .lock()
        .map_err(|_| Error::bug("the PKCS#11 token list is poisoned"))?;
    if let Some(t) = tokens.iter().find(|t| t.uri == *uri) {
        return Ok(t.clone());
    }
    let m = module(uri)?;
    let fail = |what: &str, e: cryptoki::error::Error| {
        Error::input(format!(
            "the PKCS#11 module {} could not {what} ({}); check the token and the module",
            uri.module_path.display(),
            short(&e)
        ))
    };
    let slot = m
        .get_slots_with_token()
        .map_err(|e| fail("list its slots", e))?
        .into_iter()
        .find(|s| {
            m.get_token_info(*s)
                .is_ok_and(|i| i.label().trim_end() == uri.token)
        })
        .ok_or_else(|| {
            Error::input(format!(
                "the PKCS#11 module {} has no token labelled `{}`; create it (SoftHSM2: softhsm2-util --init-token --free --label {}) or fix token= in ca_key_store",
                uri.module_path.display(),
                uri.token,
                uri.token
            ))
        })?;
    let session = m
        .open_rw_session(slot)
        .map_err(|e| fail("open a session", e))?;
    let pin = read_pin(uri)?;
    session
        .login(UserType::User, Some(&AuthPin::from(pin.as_str())))
        .map_err(|e| {
            Error::input(format!(
                "the PIN in {} does not log in to the PKCS#11 token `{}` ({}); put the token's user PIN on its first line",
                uri.pin_file.display(),
                uri.token,
                short(&e)
            ))
        })?;
    let t = Arc::new(Token {
        uri: uri.clone(),
        session: Mutex::new(session),
    });
    tokens.push(t.clone());
    Ok(t)
}

/// A PKCS#11 error as its return value's name (`PinIncorrect`): cryptoki's Display quotes the
/// standard's paragraph on it, too long for a one-sentence message.
fn short(e: &cryptoki::error::Error) -> String {
    match e {
        cryptoki::error::Error::Pkcs11(rv, _) => format!("{rv:?}"),
        other => other.to_string(),
    }
}

fn read_pin(uri: &Pkcs11Uri) -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(crate::store::read_capped(&uri.pin_file, 4096)?);
    let text = std::str::from_utf8(&bytes).unwrap_or("");
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(Error::input(format!(
            "{} (the pin-source of ca_key_store) holds no PIN on its first line; write the token's user PIN there",
            uri.pin_file.display()
        )));
    }
    Ok(Zeroizing::new(line.to_string()))
}

impl Token {
    fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>> {
        self.session
            .lock()
            .map_err(|_| Error::bug("a PKCS#11 session is poisoned"))
    }

    fn fail(&self, what: &str, e: cryptoki::error::Error) -> Error {
        Error::input(format!(
            "the PKCS#11 token `{}` could not {what} ({}); check the token (is it full, or read-only?)",
            self.uri.token,
            short(&e)
        ))
    }
}

/// Generates a key pair of `alg` in the token, labelled `label`: the private half sensitive
/// and never extractable, both halves stored on the token.
pub fn generate(uri: &Pkcs11Uri, alg: KeyAlg, label: &str) -> Result<TokenKey> {
    let token = token(uri)?;
    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| Error::bug("the system random source failed"))?;
    let common = |private: bool| {
        vec![
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ]
    };
    let mut public = common(false);
    public.push(Attribute::Verify(true));
    let mut private = common(true);
    private.extend([
        Attribute::Sign(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        // A CA key signs and does nothing else.
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
    ]);
    let mechanism = match alg {
        KeyAlg::Rsa2048 | KeyAlg::Rsa3072 | KeyAlg::Rsa4096 => {
            let bits: u64 = match alg {
                KeyAlg::Rsa2048 => 2048,
                KeyAlg::Rsa3072 => 3072,
                _ => 4096,
            };
            public.push(Attribute::ModulusBits(bits.into()));
            public.push(Attribute::PublicExponent(vec![1, 0, 1]));
            Mechanism::RsaPkcsKeyPairGen
        }
        KeyAlg::EcdsaP256 | KeyAlg::EcdsaP384 => {
            let params = if alg == KeyAlg::EcdsaP256 {
                P256_PARAMS
            } else {
                P384_PARAMS
            };
            public.push(Attribute::EcParams(params.to_vec()));
            Mechanism::EccKeyPairGen
        }
        KeyAlg::Ed25519 => {
            return Err(Error::input(
                "ca_key = \"ed25519\" with a PKCS#11 ca_key_store is not supported (few tokens sign Ed25519); use rsa4096 or ecdsa-p256",
            ))
        }
    };
    let (pub_h, priv_h) = {
        let s = token.session()?;
        s.generate_key_pair(&mechanism, &public, &private)
            .map_err(|e| token.fail(&format!("generate a {alg} key"), e))?
    };
    let public = public_of(&token, pub_h)?;
    Ok(TokenKey {
        alg: crate::keys::sig_alg(alg),
        token,
        handle: priv_h,
        public_handle: Some(pub_h),
        public,
        label: label.to_string(),
    })
}

/// The key labelled `label` whose public key is `spki_key` (the subjectPublicKey bytes of the
/// cert it certifies). `Ok(None)` when the token holds none.
pub fn find(uri: &Pkcs11Uri, label: &str, spki_key: &[u8]) -> Result<Option<TokenKey>> {
    let token = token(uri)?;
    let privs = {
        let s = token.session()?;
        s.find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| token.fail("search its keys", e))?
    };
    for h in privs {
        let (id, kind) = {
            let s = token.session()?;
            let attrs = s
                .get_attributes(h, &[AttributeType::Id, AttributeType::KeyType])
                .map_err(|e| token.fail("read a key's attributes", e))?;
            let mut id = Vec::new();
            let mut kind = None;
            for a in attrs {
                match a {
                    Attribute::Id(v) => id = v,
                    Attribute::KeyType(k) => kind = Some(k),
                    _ => {}
                }
            }
            (id, kind)
        };
        let pubs = {
            let s = token.session()?;
            s.find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(id)])
                .map_err(|e| token.fail("search its keys", e))?
        };
        for p in pubs {
            let public = public_of(&token, p)?;
            if public != spki_key {
                continue;
            }
            let alg = match kind {
                Some(KeyType::RSA) => &rcgen::PKCS_RSA_SHA256,
                Some(KeyType::EC) if public.len() == 65 => &rcgen::PKCS_ECDSA_P256_SHA256,
                Some(KeyType::EC) if public.len() == 97 => &rcgen::PKCS_ECDSA_P384_SHA384,
                _ => continue,
            };
            return Ok(Some(TokenKey {
                token: token.clone(),
                handle: h,
                public_handle: None,
                public,
                alg,
                label: label.to_string(),
            }));
        }
    }
    Ok(None)
}

/// The public key of a token object as X.509's subjectPublicKey holds it.
fn public_of(token: &Token, h: ObjectHandle) -> Result<Vec<u8>> {
    let attrs = {
        let s = token.session()?;
        s.get_attributes(
            h,
            &[
                AttributeType::KeyType,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
                AttributeType::EcPoint,
            ],
        )
        .map_err(|e| token.fail("read a public key", e))?
    };
    let (mut n, mut e, mut point) = (None, None, None);
    for a in attrs {
        match a {
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            _ => {}
        }
    }
    match (n, e, point) {
        (Some(n), Some(e), _) => Ok(yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_bigint_bytes(&n, true);
                w.next().write_bigint_bytes(&e, true);
            })
        })),
        (_, _, Some(p)) => Ok(ec_point(&p)),
        _ => Err(Error::input(format!(
            "a public key in the PKCS#11 token `{}` is neither RSA nor EC; remove it or use another label",
            token.uri.token
        ))),
    }
}

/// CKA_EC_POINT is the DER OCTET STRING of the point (PKCS#11 2.40), though some modules hand
/// out the bare point: unwrap the first form, keep the second.
fn ec_point(v: &[u8]) -> Vec<u8> {
    match v {
        [0x04, len, rest @ ..] if *len as usize == rest.len() && *len < 0x80 => rest.to_vec(),
        [0x04, 0x81, len, rest @ ..] if *len as usize == rest.len() => rest.to_vec(),
        _ => v.to_vec(),
    }
}

/// DER ECDSA-Sig-Value { r INTEGER, s INTEGER } of PKCS#11's raw r‖s.
pub fn ecdsa_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    Some(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_bigint_bytes(r, true);
            w.next().write_bigint_bytes(s, true);
        })
    }))
}

impl TokenKey {
    /// Destroys the key pair this run generated in the token (`None` for a key found there):
    /// for a run that fails before its files land, so the token keeps no key no CA cert
    /// certifies. Best effort: a token that refuses is left as it is (the key is then an
    /// orphan under its label, which `find` passes over, as it matches keys by public key).
    pub fn destroyer(&self) -> Option<impl FnOnce() + Send + Sync + 'static> {
        let public = self.public_handle?;
        let (token, private) = (Arc::clone(&self.token), self.handle);
        Some(move || {
            if let Ok(s) = token.session() {
                let _ = s.destroy_object(private);
                let _ = s.destroy_object(public);
            }
        })
    }

    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    pub fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }

    pub fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        use aws_lc_rs::digest;
        let s = self
            .token
            .session
            .lock()
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        if self.alg == &rcgen::PKCS_RSA_SHA256 {
            return s
                .sign(&Mechanism::Sha256RsaPkcs, self.handle, msg)
                .map_err(|_| rcgen::Error::RemoteKeyError);
        }
        let d = if self.alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
            digest::digest(&digest::SHA384, msg)
        } else {
            digest::digest(&digest::SHA256, msg)
        };
        let raw = s
            .sign(&Mechanism::Ecdsa, self.handle, d.as_ref())
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        ecdsa_der(&raw).ok_or(rcgen::Error::RemoteKeyError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ecdsa_signatures_become_der() {
        // r with its top bit set takes a 0x00 octet; s with leading zeros loses them.
        let mut raw = vec![0x80; 32];
        raw.extend([0u8, 0, 0x01].iter().chain([0x22; 29].iter()));
        let der = ecdsa_der(&raw).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x43, 0x02, 0x21, 0x00]);
        assert_eq!(&der[5 + 32..5 + 32 + 2], &[0x02, 30]);
        assert_eq!(der.len(), 2 + 35 + 32);
        assert!(ecdsa_der(&[1, 2, 3]).is_none());
        // CKA_EC_POINT wrapped in its OCTET STRING, and bare.
        let p = vec![0x04; 65];
        assert_eq!(ec_point(&[&[0x04, 65][..], &p].concat()), p);
        assert_eq!(ec_point(&p), p);
    }
}
