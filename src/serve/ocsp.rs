//! OCSP (RFC 6960): decode a request with RustCrypto's `x509-ocsp`, answer each single request
//! from the `StatusSource`, and sign the basic response with the delegated responder of the CA
//! that issued the certs asked about. `x509-ocsp`'s own builder signs through RustCrypto
//! `signature` keys; hapki's keys are rcgen/aws-lc-rs ones, so the response is assembled from
//! the crate's types here and its DER signed with the responder key.

use super::status::{CertStatus, Reason, StatusSource};
use crate::model::CaLevel;
use rcgen::{KeyPair, PublicKeyData, SigningKey};
use std::sync::Arc;
use std::time::Duration;
use x509_cert::der::asn1::{BitString, GeneralizedTime, Null, OctetString};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::CrlReason;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId,
    ResponseData, RevokedInfo, SingleResponse, Version,
};

/// How long an answer may be cached: `nextUpdate` = now + this. One hour keeps a revocation
/// visible to caching clients within the hour while sparing the server most repeat requests.
pub const NEXT_UPDATE: Duration = Duration::from_secs(3600);

const NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// One CA of the org as OCSP sees it: its name and key hashes identify it in a CertID; its
/// delegated responder (cert and key) signs the answers about what it issued.
pub struct Responder {
    level: CaLevel,
    ca_name_der: Vec<u8>,
    ca_key_bits: Vec<u8>,
    cert: Certificate,
    key: KeyPair,
    key_hash: Vec<u8>,
    sig_alg: AlgorithmIdentifierOwned,
    /// The CA's name and key hashes under the algorithms clients use (openssl and Java send
    /// SHA-1, some SHA-256), computed once rather than twice per request and responder.
    issuer_hashes: Vec<(ObjectIdentifier, Vec<u8>, Vec<u8>)>,
}

impl Responder {
    /// From the PEM of the CA cert, the responder cert and the responder key, in that order.
    pub fn parse(level: CaLevel, files: &[Vec<u8>]) -> Result<Responder, String> {
        let ca = cert_from_pem(&files[0]).ok_or("the CA certificate is not a readable PEM")?;
        let cert =
            cert_from_pem(&files[1]).ok_or("the responder certificate is not a readable PEM")?;
        let key_pem = std::str::from_utf8(&files[2]).map_err(|_| "the responder key is not PEM")?;
        let key = KeyPair::from_pem(key_pem).map_err(|_| "the responder key is not readable")?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        if spki.to_der().ok().as_deref() != Some(&key.subject_public_key_info()[..]) {
            return Err("the responder key does not match the responder certificate".into());
        }
        let key_hash = digest(SHA1, spki.subject_public_key.raw_bytes()).ok_or("no SHA-1")?;
        let ca_name_der = ca
            .tbs_certificate
            .subject
            .to_der()
            .map_err(|e| e.to_string())?;
        let ca_key_bits = ca
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            .to_vec();
        let sig_alg = signature_algorithm(&key)?;
        let issuer_hashes = [SHA1, SHA256]
            .into_iter()
            .filter_map(|oid| Some((oid, digest(oid, &ca_name_der)?, digest(oid, &ca_key_bits)?)))
            .collect();
        Ok(Responder {
            level,
            ca_name_der,
            ca_key_bits,
            cert,
            key,
            key_hash,
            sig_alg,
            issuer_hashes,
        })
    }

    /// Which CA this responder speaks for.
    pub fn level(&self) -> CaLevel {
        self.level
    }

    /// Whether `id` names this CA as the issuer.
    fn issued(&self, id: &CertId) -> bool {
        let oid = id.hash_algorithm.oid;
        if let Some((_, name, key)) = self.issuer_hashes.iter().find(|(o, _, _)| *o == oid) {
            return name == id.issuer_name_hash.as_bytes() && key == id.issuer_key_hash.as_bytes();
        }
        digest(oid, &self.ca_name_der).is_some_and(|h| h == id.issuer_name_hash.as_bytes())
            && digest(oid, &self.ca_key_bits).is_some_and(|h| h == id.issuer_key_hash.as_bytes())
    }
}

fn cert_from_pem(pem: &[u8]) -> Option<Certificate> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem).ok()?;
    Certificate::from_der(&der).ok()
}

fn digest(oid: ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::digest as d;
    let alg = match oid {
        SHA1 => &d::SHA1_FOR_LEGACY_USE_ONLY,
        SHA256 => &d::SHA256,
        SHA384 => &d::SHA384,
        SHA512 => &d::SHA512,
        _ => return None,
    };
    Some(d::digest(alg, data).as_ref().to_vec())
}

/// The AlgorithmIdentifier of what `key` signs with (RFC 5758 ECDSA, RFC 4055 RSA, RFC 8410).
fn signature_algorithm(key: &KeyPair) -> Result<AlgorithmIdentifierOwned, String> {
    use crate::model::KeyAlg;
    let (oid, null) = match crate::keys::alg_of(key) {
        KeyAlg::EcdsaP256 => ("1.2.840.10045.4.3.2", false),
        KeyAlg::EcdsaP384 => ("1.2.840.10045.4.3.3", false),
        KeyAlg::Ed25519 => ("1.3.101.112", false),
        KeyAlg::Rsa2048 | KeyAlg::Rsa3072 | KeyAlg::Rsa4096 => ("1.2.840.113549.1.1.11", true),
    };
    Ok(AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new(oid).map_err(|e| e.to_string())?,
        parameters: null.then(|| Null.into()),
    })
}

/// What a request came to: an encoded OCSP response (always sent with HTTP 200, as RFC 6960
/// A.1 wants, whatever its status) and a short word for the log.
pub struct Answer {
    pub der: Vec<u8>,
    pub summary: &'static str,
    /// The responder that signed it, for a signed answer to a request without a nonce about
    /// certs the index knows (no `unknown` in it, so made-up serials are never kept): the same
    /// request may then be answered with the same bytes (`ocsp_cache`).
    pub reusable_from: Option<Arc<Responder>>,
}

fn error_answer(resp: OcspResponse, summary: &'static str) -> Answer {
    Answer {
        // An OcspResponse with only a status always encodes; an empty body is the fallback
        // that keeps this path free of panics.
        der: resp.to_der().unwrap_or_default(),
        summary,
        reusable_from: None,
    }
}

/// Answers one DER-encoded OCSP request at `now` (Unix seconds).
pub fn answer(
    request: &[u8],
    responders: &[Arc<Responder>],
    status: &dyn StatusSource,
    now: u64,
) -> Answer {
    let Ok(req) = OcspRequest::from_der(request) else {
        return error_answer(OcspResponse::malformed_request(), "malformed");
    };
    let singles = &req.tbs_request.request_list;
    if singles.is_empty() {
        return error_answer(OcspResponse::malformed_request(), "malformed");
    }
    // One response carries one signature: the responder of the CA the first request names.
    // A request in the same batch about another CA's cert is answered `unknown` by it.
    let Some(responder) = singles
        .iter()
        .find_map(|s| responders.iter().find(|r| r.issued(&s.req_cert)))
    else {
        return error_answer(OcspResponse::unauthorized(), "unauthorized");
    };
    let Ok(this_update) = gtime(now) else {
        return error_answer(OcspResponse::internal_error(), "internal");
    };
    let Ok(next_update) = gtime(now + NEXT_UPDATE.as_secs()) else {
        return error_answer(OcspResponse::internal_error(), "internal");
    };
    let mut summary = "good";
    let mut any_unknown = false;
    let mut responses = Vec::with_capacity(singles.len());
    for s in singles {
        let id = &s.req_cert;
        let st = if responder.issued(id) {
            status.status(responder.level, id.serial_number.as_bytes())
        } else {
            CertStatus::Unknown
        };
        let cert_status = match st {
            CertStatus::Good => x509_ocsp::CertStatus::good(),
            CertStatus::Unknown => {
                any_unknown = true;
                summary = if summary == "revoked" {
                    summary
                } else {
                    "unknown"
                };
                x509_ocsp::CertStatus::unknown()
            }
            CertStatus::Revoked { at, reason } => {
                summary = "revoked";
                let Ok(t) = gtime(at.max(0) as u64) else {
                    return error_answer(OcspResponse::internal_error(), "internal");
                };
                x509_ocsp::CertStatus::revoked(RevokedInfo {
                    revocation_time: t,
                    revocation_reason: reason.map(crl_reason),
                })
            }
        };
        responses.push(SingleResponse {
            cert_id: id.clone(),
            cert_status,
            this_update,
            next_update: Some(next_update),
            single_extensions: None,
        });
    }
    // The nonce extension goes back exactly as it came (RFC 8954), so a client that checks it
    // byte for byte finds its own.
    let nonce: Vec<_> = req
        .tbs_request
        .request_extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == NONCE)
        .cloned()
        .collect();
    let reusable = nonce.is_empty() && !any_unknown;
    let Ok(key_hash) = OctetString::new(responder.key_hash.clone()) else {
        return error_answer(OcspResponse::internal_error(), "internal");
    };
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(key_hash),
        produced_at: this_update,
        responses,
        response_extensions: (!nonce.is_empty()).then_some(nonce),
    };
    match sign(tbs, responder) {
        Some(der) => Answer {
            der,
            summary,
            reusable_from: reusable.then(|| responder.clone()),
        },
        None => error_answer(OcspResponse::internal_error(), "internal"),
    }
}

fn sign(tbs: ResponseData, responder: &Responder) -> Option<Vec<u8>> {
    let tbs_der = tbs.to_der().ok()?;
    let sig = responder.key.sign(&tbs_der).ok()?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: responder.sig_alg.clone(),
        signature: BitString::from_bytes(&sig).ok()?,
        certs: Some(vec![responder.cert.clone()]),
    };
    OcspResponse::successful(basic).ok()?.to_der().ok()
}

fn gtime(unix: u64) -> Result<OcspGeneralizedTime, x509_cert::der::Error> {
    Ok(OcspGeneralizedTime(GeneralizedTime::from_unix_duration(
        Duration::from_secs(unix),
    )?))
}

fn crl_reason(r: Reason) -> CrlReason {
    match r {
        Reason::Unspecified => CrlReason::Unspecified,
        Reason::KeyCompromise => CrlReason::KeyCompromise,
        Reason::CaCompromise => CrlReason::CaCompromise,
        Reason::AffiliationChanged => CrlReason::AffiliationChanged,
        Reason::Superseded => CrlReason::Superseded,
        Reason::CessationOfOperation => CrlReason::CessationOfOperation,
        Reason::CertificateHold => CrlReason::CertificateHold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl StatusSource for Nothing {
        fn status(&self, _: CaLevel, _: &[u8]) -> CertStatus {
            CertStatus::Unknown
        }
    }

    #[test]
    fn garbage_is_a_malformed_request() {
        let a = answer(b"not der", &[], &Nothing, 0);
        assert_eq!(a.summary, "malformed");
        let r = OcspResponse::from_der(&a.der).unwrap();
        assert_eq!(
            r.response_status,
            x509_ocsp::OcspResponseStatus::MalformedRequest
        );
    }
}
