//! Certificate revocation lists: signing a CA's full CRL from its index (rcgen's CRL builder),
//! reading one back, and the plan that publishes an org's CRLs and the chain bundle
//! (`NS/intermediate/crl/ca-chain.crl.pem`: the issuing CA's CRL, then every CA's above it,
//! what NGINX `ssl_crl`, HAProxy `crl-file` and PostgreSQL `ssl_crl_file` take).

use crate::cadb::{self, serial_bytes, Index, Status};
use crate::error::{Error, Result};
use crate::model::CaLevel;
use crate::pki::{Ca, OrgCa, BACKDATE};
use crate::profile::OrgSpec;
use crate::store::{Mode, OrgLayout, Plan};
use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, RevokedCertParams, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateRevocationListDer;
use std::path::Path;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;

/// What hapki needs of a CRL on disk.
#[derive(Clone, Debug)]
pub struct CrlInfo {
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub number: Option<u64>,
    pub issuer_raw: Vec<u8>,
    pub aki: Option<Vec<u8>>,
    /// Serials listed, uppercase hex.
    pub revoked: Vec<String>,
}

/// The most of a CRL file hapki reads: a CRL lists every revoked cert of its CA, about 50
/// bytes each in DER (70 in PEM), so 100,000 revocations are some 7 MB, over the cap of a cert
/// or key file.
pub const CRL_CAP: u64 = 256 << 20;

/// Reads a CRL file, PEM or DER.
pub fn read(path: &Path) -> Result<CrlInfo> {
    let bytes = crate::store::read_capped(path, CRL_CAP)?;
    let der = match CertificateRevocationListDer::from_pem_slice(&bytes) {
        Ok(d) => d.to_vec(),
        Err(_) => bytes,
    };
    parse(&der).ok_or_else(|| {
        Error::input(format!(
            "{} is not a readable CRL; sign it again with `hapki crl`",
            path.display()
        ))
    })
}

/// `read` without the list of revoked serials (`revoked` is left empty): what a run needs to
/// tell whether a CRL is current (its issuer, key identifier, dates and number), and every
/// `issue` asks it of each CA. Only the ends of the file are read (`HEAD`, `TAIL`), PEM or DER:
/// its cost does not grow with the CA's revocations.
pub fn read_head(path: &Path) -> Result<CrlInfo> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::InvalidInput => Error::input(format!(
            "cannot read {}: {e}; replace it with a regular file",
            path.display()
        )),
        _ => Error::io("read", path, e),
    };
    let unreadable = || {
        Error::input(format!(
            "{} is not a readable CRL; sign it again with `hapki crl`",
            path.display()
        ))
    };
    let (head, size) = crate::store::read_at(path, 0, HEAD).map_err(io)?;
    if size > CRL_CAP {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "it is larger than {} MiB, more than hapki reads",
                CRL_CAP >> 20
            ),
        )));
    }
    const BEGIN: &[u8] = b"-----BEGIN X509 CRL-----";
    const END: &[u8] = b"-----END X509 CRL-----";
    let found = if head.len() as u64 >= size {
        // The whole file is in `head`.
        let der = match CertificateRevocationListDer::from_pem_slice(&head) {
            Ok(d) => d.to_vec(),
            Err(_) => head,
        };
        without_revoked(&der)
    } else if let Some(at) = find(&head, BEGIN) {
        // PEM: base64 groups of 4 characters are 3 bytes from the start, and the last groups
        // are the last bytes, so both ends of the DER decode on their own.
        let front = b64_chars(&head[at + BEGIN.len()..]);
        let front = decode_b64(&front[..front.len() / 4 * 4]);
        let len = TAIL / 3 * 4 + (TAIL >> 4);
        let from = size.saturating_sub(len);
        let (tail, _) = crate::store::read_at(path, from, len).map_err(io)?;
        let back = find_last(&tail, END).and_then(|end| {
            let body = &tail[..end];
            let body = find(body, BEGIN).map_or(body, |b| &body[b + BEGIN.len()..]);
            let chars = b64_chars(body);
            decode_b64(&chars[chars.len() % 4..])
        });
        front.zip(back).and_then(|(f, b)| head_of(&f, &b))
    } else {
        // DER: its length is in its first header.
        let total = der_len(&head).ok_or_else(unreadable)? as u64;
        let from = total.saturating_sub(TAIL);
        let (tail, _) = crate::store::read_at(path, from, total - from).map_err(io)?;
        (tail.len() as u64 == total - from)
            .then(|| head_of(&head, &tail))
            .flatten()
    };
    found.and_then(|d| parse(&d)).ok_or_else(unreadable)
}

/// How much of a CRL file's start `read_head` reads: its issuer and dates are in its first
/// few hundred bytes.
const HEAD: u64 = 8 << 10;

/// How much of what follows a CRL's revoked list `read_head` takes from the file's end: the
/// extensions and the signature (a few hundred bytes; an RSA 4096 signature is 512).
const TAIL: u64 = 16 << 10;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The base64 characters of a PEM body up to its END line, whitespace left out.
fn b64_chars(body: &[u8]) -> Vec<u8> {
    body.iter()
        .copied()
        .take_while(|&c| c != b'-')
        .filter(|c| !c.is_ascii_whitespace())
        .collect()
}

fn decode_b64(chars: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(chars).ok()
}

/// The length of the DER element `der` starts with, header included.
fn der_len(der: &[u8]) -> Option<usize> {
    use x509_cert::der::{Decode, Header, Reader, SliceReader};
    let mut r = SliceReader::new(der).ok()?;
    let h = Header::decode(&mut r).ok()?;
    usize::try_from(r.position())
        .ok()?
        .checked_add(usize::try_from(h.length).ok()?)
}

/// The CRL `der` re-encoded with its `revokedCertificates` left out (see `head_of`).
fn without_revoked(der: &[u8]) -> Option<Vec<u8>> {
    head_of(der, der)
}

/// A CRL re-encoded with its `revokedCertificates` left out, from its first bytes (`head`, up
/// to the list's own header at least) and its last ones (`tail`, from the list's end at least
/// to the CRL's end): the signature no longer matches, only the fields around the list are
/// read from it. The elements are walked by their headers, the list skipped by its length:
/// x509-parser parses every revoked entry, with no way to stop before the list. In
/// `tbsCertList` the list is the third SEQUENCE, after the signature algorithm and the issuer
/// (the version is an INTEGER, the times are times, the extensions are `[0]`).
fn head_of(head: &[u8], tail: &[u8]) -> Option<Vec<u8>> {
    use x509_cert::der::{Decode, Encode, Header, Reader, SliceReader, Tag};
    let header_at = |pos: usize| -> Option<(Header, usize)> {
        let mut r = SliceReader::new(head.get(pos..)?).ok()?;
        let h = Header::decode(&mut r).ok()?;
        Some((h, usize::try_from(r.position()).ok()?))
    };
    let (outer, outer_hl) = header_at(0)?;
    let total = outer_hl.checked_add(usize::try_from(outer.length).ok()?)?;
    let (tbs, tbs_hl) = header_at(outer_hl)?;
    if outer.tag != Tag::Sequence || tbs.tag != Tag::Sequence {
        return None;
    }
    let tbs_start = outer_hl + tbs_hl;
    let tbs_end = tbs_start.checked_add(usize::try_from(tbs.length).ok()?)?;
    let mut pos = tbs_start;
    let mut sequences = 0;
    let (list_start, after) = loop {
        if pos >= tbs_end {
            break (tbs_end, tbs_end);
        }
        let (h, hl) = header_at(pos)?;
        let end = pos
            .checked_add(hl)?
            .checked_add(usize::try_from(h.length).ok()?)?;
        if h.tag == Tag::Sequence {
            sequences += 1;
            if sequences == 3 {
                break (pos, end);
            }
        }
        pos = end;
    };
    let tail_start = total.checked_sub(tail.len())?;
    let front = head.get(tbs_start..list_start)?;
    let back = tail.get(after.checked_sub(tail_start)?..)?;
    let split = tbs_end.checked_sub(after)?;
    if back.len() < split || tbs_end > total {
        return None;
    }
    let (rest, signature) = back.split_at(split);
    let kept = front.len() + rest.len();
    let tbs_head = Header::new(Tag::Sequence, kept).ok()?.to_der().ok()?;
    let len = tbs_head.len() + kept + signature.len();
    let mut out = Header::new(Tag::Sequence, len).ok()?.to_der().ok()?;
    out.extend(tbs_head);
    out.extend_from_slice(front);
    out.extend_from_slice(rest);
    out.extend_from_slice(signature);
    Some(out)
}

/// Parses a DER CRL.
pub fn parse(der: &[u8]) -> Option<CrlInfo> {
    let (_, crl) = x509_parser::parse_x509_crl(der).ok()?;
    let aki = crl
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    let number = crl.crl_number().and_then(|n| {
        let b = n.to_bytes_be();
        (b.len() <= 8).then(|| b.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64))
    });
    Some(CrlInfo {
        this_update: crl.last_update().to_datetime(),
        next_update: crl.next_update().map(|t| t.to_datetime()),
        number,
        issuer_raw: crl.issuer().as_raw().to_vec(),
        aki,
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| cadb::serial_hex(r.raw_serial()))
            .collect(),
    })
}

/// Whether `info` is a CRL of the CA `ca` (same issuer name and key identifier).
pub fn is_of(info: &CrlInfo, ca: &Ca) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&ca.der) else {
        return false;
    };
    info.issuer_raw == cert.subject().as_raw()
        && match (&info.aki, cadb::scan_ski(&ca.der)) {
            (Some(a), Some(s)) => *a == s,
            _ => true,
        }
}

/// How long a CRL of `level` stays valid, in days: the profile's `root_crl_days` for the root
/// (it signs only CA certs, rarely), `crl_days` for the others.
pub fn days_for(org: &OrgSpec, level: CaLevel) -> u32 {
    match level {
        CaLevel::Root => org.root_crl_days,
        _ => org.crl_days,
    }
}

/// A signed CRL in both encodings.
pub struct Signed {
    pub pem: String,
    pub der: Vec<u8>,
}

/// Signs the full CRL of `ca` from its index: every revoked serial with its date and reason;
/// thisUpdate a few minutes back (peers with a slow clock accept it), nextUpdate `days` on.
pub fn sign(ca: &Ca, index: &Index, number: u64, now: OffsetDateTime, days: u32) -> Result<Signed> {
    let ski = cadb::scan_ski(&ca.der);
    let revoked_certs = index
        .records
        .iter()
        .filter(|r| r.status == Status::Revoked)
        .filter_map(|r| {
            let (when, reason) = r.revoked?;
            Some(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial_bytes(&r.serial)),
                revocation_time: when,
                // RFC 5280 5.3.1: the reason `unspecified` SHOULD be left out.
                reason_code: reason
                    .filter(|r| *r != cadb::Reason::Unspecified)
                    .map(cadb::Reason::to_rcgen),
                invalidity_date: None,
            })
        })
        .collect();
    let params = CertificateRevocationListParams {
        this_update: now - BACKDATE,
        next_update: now + Duration::days(days as i64),
        crl_number: SerialNumber::from_slice(
            &number.to_be_bytes()[number.leading_zeros() as usize / 8..],
        ),
        issuing_distribution_point: None,
        revoked_certs,
        // The AKI must equal the CA cert's own SKI, however that was computed.
        key_identifier_method: match ski {
            Some(s) => KeyIdMethod::PreSpecified(s),
            None => KeyIdMethod::Sha256,
        },
    };
    let issuer = Issuer::from_ca_cert_der(&ca.der, ca.key()?)
        .map_err(|e| Error::bug(format!("the {} CA as CRL issuer: {e}", ca.level.name())))?;
    let crl = params
        .signed_by(&issuer)
        .map_err(|e| Error::bug(format!("signing the {} CA's CRL: {e}", ca.level.name())))?;
    let pem = crl
        .pem()
        .map_err(|e| Error::bug(format!("encoding a CRL: {e}")))?;
    Ok(Signed {
        pem,
        der: crl.der().to_vec(),
    })
}

/// Plans a new CRL for each CA level in `sign` (with the index it is signed from), each
/// `crlnumber` before its CRL (the number is persisted before the CRL is published), and then
/// the chain bundle from the new CRLs and the ones on disk.
pub fn publish(
    plan: &mut Plan,
    layout: &OrgLayout,
    org: &OrgSpec,
    ca: &OrgCa,
    sign_levels: &[(CaLevel, &Index)],
    now: OffsetDateTime,
    days: Option<u32>,
) -> Result<Vec<(CaLevel, Signed)>> {
    publish_with(plan, layout, org, ca, sign_levels, now, days, &[])
}

/// `publish`, with the PEM of CRLs this run brings for levels it does not sign (the CRL of an
/// offline root, which `hapki ca import` installs): the bundle takes them instead of the files
/// on disk.
#[allow(clippy::too_many_arguments)]
pub fn publish_with(
    plan: &mut Plan,
    layout: &OrgLayout,
    org: &OrgSpec,
    ca: &OrgCa,
    sign_levels: &[(CaLevel, &Index)],
    now: OffsetDateTime,
    days: Option<u32>,
    given: &[(CaLevel, &str)],
) -> Result<Vec<(CaLevel, Signed)>> {
    let mut signed = Vec::new();
    for (level, index) in sign_levels {
        let Some(c) = ca.levels.iter().find(|c| c.level == *level) else {
            continue;
        };
        ca.signing_key(layout, *level, org.name.as_str(), "signing its CRL")?;
        let number = cadb::next_crl_number(layout, *level);
        plan.add(
            layout.crlnumber(*level),
            cadb::crlnumber_text(number + 1),
            Mode::Public,
        );
        let s = sign(c, index, number, now, days.unwrap_or(days_for(org, *level)))?;
        plan.add(layout.crl_pem(*level), s.pem.as_bytes(), Mode::Public);
        plan.add(layout.crl_der(*level), s.der.clone(), Mode::Public);
        signed.push((*level, s));
    }
    if ca.levels.len() > 1 {
        let mut bundle = String::new();
        for c in ca.levels.iter().rev() {
            match signed.iter().find(|(l, _)| *l == c.level) {
                Some((_, s)) => bundle.push_str(&s.pem),
                None if given.iter().any(|(l, _)| *l == c.level) => {
                    let (_, pem) = given.iter().find(|(l, _)| *l == c.level).expect("found");
                    bundle.push_str(pem);
                }
                None if c.key.is_none() && !layout.crl_pem(c.level).exists() => {
                    return Err(Error::input(format!(
                        "{} is missing and the {} CA of org `{}` is offline, so the CRL bundle cannot be made; bring the CRL from the root's machine with `hapki ca import FILE --org {}`",
                        layout.crl_pem(c.level).display(),
                        c.level.name(),
                        org.name,
                        org.name
                    )));
                }
                None => {
                    let p = layout.crl_pem(c.level);
                    let bytes = crate::store::read_io(&p, CRL_CAP).map_err(|_| {
                        Error::input(format!(
                            "{} is missing, so the CRL bundle cannot be made; sign it with `hapki crl --org {}`",
                            p.display(),
                            org.name
                        ))
                    })?;
                    bundle.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        plan.add(layout.crl_bundle(), bundle.into_bytes(), Mode::Public);
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CRL of `n` revocations signed by a fresh CA, in DER.
    fn crl_of(n: u32) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "head test CA");
        let issuer = Issuer::new(ca, key);
        let now = OffsetDateTime::from_unix_timestamp(1_796_119_200).unwrap();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + Duration::days(7),
            crl_number: SerialNumber::from_slice(&[0x10, 0x07]),
            issuing_distribution_point: None,
            revoked_certs: (0..n)
                .map(|i| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&(0x7e00_0000 + i).to_be_bytes()),
                    revocation_time: now,
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&issuer).unwrap().der().to_vec()
    }

    #[test]
    fn the_head_of_a_crl_is_its_parse_without_the_revoked_list() {
        for n in [0, 1, 3, 2000] {
            let der = crl_of(n);
            let full = parse(&der).unwrap();
            assert_eq!(full.revoked.len(), n as usize);
            let head = without_revoked(&der).unwrap();
            assert!(head.len() < 1024, "n={n}: {} bytes", head.len());
            let head = parse(&head).unwrap();
            assert!(head.revoked.is_empty(), "n={n}");
            assert_eq!(head.this_update, full.this_update, "n={n}");
            assert_eq!(head.next_update, full.next_update, "n={n}");
            assert_eq!(head.number, Some(0x1007), "n={n}");
            assert_eq!(head.number, full.number, "n={n}");
            assert_eq!(head.issuer_raw, full.issuer_raw, "n={n}");
            assert!(head.aki.is_some() && head.aki == full.aki, "n={n}");
        }
        assert!(without_revoked(b"\x30\x03\x02\x01\x00").is_none());
        assert!(without_revoked(b"not DER").is_none());
    }

    #[test]
    fn read_head_reads_the_ends_of_a_pem_or_der_file_and_names_one_that_is_no_crl() {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        // 5 entries: the whole file is in HEAD; 3000 (some 100 KB): only its ends are read.
        for n in [5, 3000] {
            let der = crl_of(n);
            let full = parse(&der).unwrap();
            let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
            let lines: Vec<&str> = (0..b64.len())
                .step_by(64)
                .map(|i| &b64[i..(i + 64).min(b64.len())])
                .collect();
            let files = [
                ("c.der", der.clone()),
                (
                    "c.pem",
                    format!(
                        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
                        lines.join("\n")
                    )
                    .into_bytes(),
                ),
                (
                    "one-line.pem",
                    format!("-----BEGIN X509 CRL-----\r\n{b64}\r\n-----END X509 CRL-----\r\n")
                        .into_bytes(),
                ),
            ];
            for (f, bytes) in files {
                let p = dir.path().join(f);
                std::fs::write(&p, &bytes).unwrap();
                let h = read_head(&p).unwrap();
                assert_eq!(h.number, Some(0x1007), "{n} {f}");
                assert!(h.revoked.is_empty(), "{n} {f}");
                assert_eq!(h.next_update, full.next_update, "{n} {f}");
                assert_eq!(h.issuer_raw, full.issuer_raw, "{n} {f}");
                assert_eq!(h.aki, full.aki, "{n} {f}");
                // Cut short (a torn copy): not a CRL.
                std::fs::write(&p, &bytes[..bytes.len() - 40]).unwrap();
                assert!(read_head(&p).is_err(), "{n} {f} cut short");
            }
        }
        std::fs::write(dir.path().join("junk"), "junk".repeat(5000)).unwrap();
        let e = read_head(&dir.path().join("junk")).unwrap_err().to_string();
        assert!(e.contains("is not a readable CRL; sign it again"), "{e}");
    }
}
