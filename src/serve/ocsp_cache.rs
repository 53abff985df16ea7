//! Signed OCSP answers kept for reuse. A request without a nonce gets the same answer from a
//! repeat of it for as long as that answer is true: RFC 6960 §2.4 and the RFC 5019 profile let
//! a responder hand out a pre-produced response, and the clients that check a TLS peer's status
//! (the JDK's `PKIXRevocationChecker`, which Canton's Ledger API uses, Go, browsers) send no
//! nonce. So a busy node's repeated handshakes cost one lookup each, not one signature each.
//!
//! An answer is reused only while (1) it is younger than `FRESH_FOR`, (2) the responder that
//! signed it is still the one loaded for its CA (the responder files and the CA cert are
//! unchanged: the same `Arc`), and (3) its CA's index has the version it had before the answer
//! was made (`StatusSource::version`): a revocation, or any other rewrite of the index, shows
//! on the next request. Answers with an `unknown` in them are not kept
//! (`Answer::reusable_from`), so requests for made-up serials cannot crowd out the real ones;
//! the table is emptied when it reaches `MAX_ENTRIES` (after dropping what is too old), which
//! bounds its memory whatever clients send.

use super::ocsp::{Answer, Responder};
use super::status::StatusSource;
use super::LEVELS;
use crate::model::CaLevel;
use hyper::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long one signature serves: an answer's `thisUpdate` is at most this old when it goes
/// out (its `nextUpdate` is still `ocsp::NEXT_UPDATE` minus this away).
pub const FRESH_FOR: Duration = Duration::from_secs(60);

/// Answers kept at most. With requests of at most `MAX_REQUEST` bytes an answer is a few KiB
/// (a handful of single responses and the responder cert), so the table stays within some
/// tens of MiB whatever clients send.
pub const MAX_ENTRIES: usize = 8_192;

/// The largest request whose answer is kept: one about a single cert is some 100 bytes.
pub const MAX_REQUEST: usize = 1024;

struct Entry {
    der: Bytes,
    summary: &'static str,
    signer: Arc<Responder>,
    /// The index version read before the answer was made.
    version: u64,
    /// Unix seconds at which it was signed (its `producedAt`).
    made: u64,
}

impl Entry {
    /// Signed at most `FRESH_FOR` ago, and not after `now`: a clock set back does not make an
    /// answer from its future last longer.
    fn fresh(&self, now: u64) -> bool {
        self.made <= now && now - self.made < FRESH_FOR.as_secs()
    }
}

/// The index versions of the org's CAs, read once per request before anything is answered.
pub struct Versions([Option<u64>; 3]);

impl Versions {
    pub fn read(status: &dyn StatusSource) -> Self {
        Versions(LEVELS.map(|l| status.version(l)))
    }

    fn of(&self, level: CaLevel) -> Option<u64> {
        let i = LEVELS.iter().position(|&l| l == level)?;
        self.0[i]
    }
}

#[derive(Default)]
pub struct Cache {
    map: RwLock<HashMap<Box<[u8]>, Entry>>,
}

impl Cache {
    /// The answer to `request` at `now` (Unix seconds) and its word for the log: the kept one
    /// while it is still true, else a new one from `ocsp::answer`, kept if it may be reused.
    /// `versions` must have been read before `responders` were loaded.
    pub fn answer(
        &self,
        request: &[u8],
        responders: &[Arc<Responder>],
        status: &dyn StatusSource,
        versions: &Versions,
        now: u64,
    ) -> (Bytes, &'static str) {
        if let Some(kept) = self.get(request, responders, versions, now) {
            return kept;
        }
        let a = super::ocsp::answer(request, responders, status, now);
        let summary = a.summary;
        (self.keep(request, a, versions, now), summary)
    }

    /// The kept answer to exactly this request, if it is still true at `now`.
    fn get(
        &self,
        request: &[u8],
        responders: &[Arc<Responder>],
        versions: &Versions,
        now: u64,
    ) -> Option<(Bytes, &'static str)> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let e = map.get(request)?;
        let current = e.fresh(now)
            && responders.iter().any(|r| Arc::ptr_eq(r, &e.signer))
            && versions.of(e.signer.level()) == Some(e.version);
        current.then(|| (e.der.clone(), e.summary))
    }

    /// Keeps `answer` for `request` if it may be reused, and gives back its body either way.
    fn keep(&self, request: &[u8], answer: Answer, versions: &Versions, now: u64) -> Bytes {
        let der = Bytes::from(answer.der);
        let Some(signer) = answer.reusable_from else {
            return der;
        };
        let Some(version) = versions.of(signer.level()) else {
            return der;
        };
        if request.len() > MAX_REQUEST {
            return der;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| e.fresh(now));
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            request.into(),
            Entry {
                der: der.clone(),
                summary: answer.summary,
                signer,
                version,
                made: now,
            },
        );
        der
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.read().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::status::CertStatus;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Mutex;
    use x509_cert::der::asn1::OctetString;
    use x509_cert::der::oid::ObjectIdentifier;
    use x509_cert::der::{Decode, Encode};
    use x509_cert::ext::Extension;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::AlgorithmIdentifierOwned;
    use x509_ocsp::{CertId, OcspRequest, OcspResponse, Request, TbsRequest, Version};

    /// An intermediate CA and its delegated responder, as `Responder::parse` reads them.
    fn responder() -> (Arc<Responder>, rcgen::Certificate) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "cache test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut r = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        r.distinguished_name
            .push(rcgen::DnType::CommonName, "cache test responder");
        let cert = r.signed_by(&key, &issuer).unwrap();
        let files = [
            ca_cert.pem().into_bytes(),
            cert.pem().into_bytes(),
            key.serialize_pem().into_bytes(),
        ];
        let r = Responder::parse(CaLevel::Intermediate, &files).unwrap();
        (Arc::new(r), ca_cert)
    }

    /// A one-cert request about `serial`, with a nonce when one is given.
    fn request(ca: &rcgen::Certificate, serial: u8, nonce: Option<&[u8]>) -> Vec<u8> {
        request_of(ca, &[serial], nonce)
    }

    /// A request about each of `serials`.
    fn request_of(ca: &rcgen::Certificate, serials: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
        let ca = x509_cert::Certificate::from_der(ca.der()).unwrap();
        let sha1 = |b: &[u8]| {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, b);
            OctetString::new(d.as_ref().to_vec()).unwrap()
        };
        let tbs = &ca.tbs_certificate;
        let id = |serial: u8| CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                parameters: None,
            },
            issuer_name_hash: sha1(&tbs.subject.to_der().unwrap()),
            issuer_key_hash: sha1(tbs.subject_public_key_info.subject_public_key.raw_bytes()),
            serial_number: SerialNumber::new(&[serial]).unwrap(),
        };
        let ext = nonce.map(|n| {
            vec![Extension {
                extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2"),
                critical: false,
                extn_value: OctetString::new(OctetString::new(n).unwrap().to_der().unwrap())
                    .unwrap(),
            }]
        });
        OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: (serials.iter())
                    .map(|&s| Request {
                        req_cert: id(s),
                        single_request_extensions: None,
                    })
                    .collect(),
                request_extensions: ext,
            },
            optional_signature: None,
        }
        .to_der()
        .unwrap()
    }

    /// A serial no index lists.
    const MADE_UP: u8 = 0x66;

    /// An index whose answer (for every serial but `MADE_UP`) and version the test sets,
    /// counting the lookups.
    struct Index {
        status: Mutex<CertStatus>,
        version: AtomicU64,
        asked: AtomicUsize,
    }

    impl StatusSource for Index {
        fn status(&self, _: CaLevel, serial: &[u8]) -> CertStatus {
            self.asked.fetch_add(1, Ordering::SeqCst);
            match serial {
                [MADE_UP] => CertStatus::Unknown,
                _ => *self.status.lock().unwrap(),
            }
        }
        fn version(&self, _: CaLevel) -> Option<u64> {
            Some(self.version.load(Ordering::SeqCst))
        }
    }

    fn index(status: CertStatus) -> Index {
        Index {
            status: Mutex::new(status),
            version: AtomicU64::new(1),
            asked: AtomicUsize::new(0),
        }
    }

    /// One CA and its responder, an index that says `good`, an empty table.
    struct Setup {
        ca: rcgen::Certificate,
        rs: [Arc<Responder>; 1],
        idx: Index,
        cache: Cache,
    }

    fn setup() -> Setup {
        let (r, ca) = responder();
        Setup {
            ca,
            rs: [r],
            idx: index(CertStatus::Good),
            cache: Cache::default(),
        }
    }

    impl Setup {
        /// The answer to `req` at `now`, as `routes` asks for it.
        fn ask(&self, req: &[u8], now: u64) -> Bytes {
            let versions = Versions::read(&self.idx);
            (self.cache.answer(req, &self.rs, &self.idx, &versions, now)).0
        }

        /// A new answer to `req` from `ocsp::answer`, past the table.
        fn sign(&self, req: &[u8], status: &dyn StatusSource) -> Answer {
            super::super::ocsp::answer(req, &self.rs, status, T)
        }

        fn set(&self, status: CertStatus) {
            *self.idx.status.lock().unwrap() = status;
        }

        fn asked(&self) -> usize {
            self.idx.asked.load(Ordering::SeqCst)
        }
    }

    fn status_of(der: &[u8]) -> x509_ocsp::CertStatus {
        let r = OcspResponse::from_der(der).unwrap();
        let basic =
            x509_ocsp::BasicOcspResponse::from_der(r.response_bytes.unwrap().response.as_bytes())
                .unwrap();
        basic.tbs_response_data.responses[0].cert_status
    }

    const T: u64 = 1_796_119_200;

    #[test]
    fn a_repeated_request_without_a_nonce_gets_the_same_signed_answer_while_it_is_true() {
        let s = setup();
        let req = request(&s.ca, 7, None);
        let first = s.ask(&req, T);
        assert_eq!(status_of(&first), x509_ocsp::CertStatus::good());
        // Seconds later: the same bytes (the same producedAt and signature), no new lookup.
        assert_eq!(s.ask(&req, T + 5), first);
        assert_eq!(s.asked(), 1);

        // The index changed (a revocation): the next request is answered from it.
        s.set(CertStatus::Revoked {
            at: T as i64,
            reason: None,
        });
        s.idx.version.fetch_add(1, Ordering::SeqCst);
        let revoked = s.ask(&req, T + 6);
        assert!(matches!(
            status_of(&revoked),
            x509_ocsp::CertStatus::Revoked(_)
        ));
        assert_eq!(s.ask(&req, T + 7), revoked);

        // Older than FRESH_FOR: signed anew.
        let later = s.ask(&req, T + 6 + FRESH_FOR.as_secs());
        assert_ne!(later, revoked);
        assert_eq!(s.asked(), 3);
        // The clock set back before that signing: not the answer from its future.
        let back = s.ask(&req, T + 6);
        assert_ne!(back, later);
        assert_eq!(s.asked(), 4);
    }

    #[test]
    fn nonces_unknown_serials_and_a_new_responder_are_answered_afresh() {
        let s = setup();
        // With a nonce: a signature each time (its producedAt moves with the clock).
        let req = request(&s.ca, 7, Some(b"0123456789abcdef"));
        assert_ne!(s.ask(&req, T), s.ask(&req, T + 1));
        assert_eq!(s.cache.len(), 0);

        // `unknown` is not kept, alone or beside a revoked cert in one request.
        s.set(CertStatus::Unknown);
        let req = request(&s.ca, 8, None);
        s.ask(&req, T);
        assert_eq!(s.cache.len(), 0);
        s.set(CertStatus::Revoked {
            at: T as i64,
            reason: None,
        });
        s.ask(&request_of(&s.ca, &[9, MADE_UP], None), T);
        assert_eq!(s.cache.len(), 0);

        // A good answer is kept, but not once the responder was loaded again (its files or
        // the CA cert changed): the new one signs.
        s.set(CertStatus::Good);
        let first = s.ask(&req, T);
        assert_eq!(s.cache.len(), 1);
        let (again, _) = responder();
        assert!(s
            .cache
            .get(&req, &[again], &Versions::read(&s.idx), T)
            .is_none());
        assert_eq!(s.ask(&req, T + 1), first);

        // A source without versions (`StatusSource::version` is None) is never reused from.
        struct Plain;
        impl StatusSource for Plain {
            fn status(&self, _: CaLevel, _: &[u8]) -> CertStatus {
                CertStatus::Good
            }
        }
        let fresh = Cache::default();
        fresh.keep(&req, s.sign(&req, &Plain), &Versions::read(&Plain), T);
        assert_eq!(fresh.len(), 0);
    }

    #[test]
    fn the_table_stays_bounded() {
        let s = setup();
        let req = request(&s.ca, 7, None);
        let versions = Versions::read(&s.idx);
        for i in 0..=MAX_ENTRIES {
            let mut key = req.clone();
            key.extend_from_slice(&(i as u32).to_be_bytes());
            s.cache.keep(&key, s.sign(&req, &s.idx), &versions, T);
            assert!(s.cache.len() <= MAX_ENTRIES);
        }
        let big = vec![0u8; MAX_REQUEST + 1];
        let before = s.cache.len();
        s.cache.keep(&big, s.sign(&req, &s.idx), &versions, T);
        assert_eq!(s.cache.len(), before);
    }
}
