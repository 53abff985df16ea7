//! Where OCSP answers come from: a `StatusSource` says, for a serial a CA issued, whether it is
//! good, revoked (when, why) or unknown. `IndexStatus` reads each CA's `index.txt` in the format
//! `openssl ca` writes and `openssl ocsp -index` reads, re-reading it when it changes.

use super::watch::{Load, Watched};
use crate::model::CaLevel;
use std::collections::HashMap;
use std::path::Path;

/// Why a certificate was revoked (RFC 5280 5.3.1 CRLReason codes, in openssl's spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Unspecified = 0,
    KeyCompromise = 1,
    CaCompromise = 2,
    AffiliationChanged = 3,
    Superseded = 4,
    CessationOfOperation = 5,
    CertificateHold = 6,
    RemoveFromCrl = 8,
}

impl Reason {
    fn parse(s: &str) -> Option<Reason> {
        Some(match s {
            "unspecified" => Reason::Unspecified,
            "keyCompromise" => Reason::KeyCompromise,
            "CACompromise" => Reason::CaCompromise,
            "affiliationChanged" => Reason::AffiliationChanged,
            "superseded" => Reason::Superseded,
            "cessationOfOperation" => Reason::CessationOfOperation,
            "certificateHold" => Reason::CertificateHold,
            "removeFromCRL" => Reason::RemoveFromCrl,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    /// Revoked at `at` (Unix seconds), with the reason when the index gives one.
    Revoked {
        at: i64,
        reason: Option<Reason>,
    },
    Unknown,
}

/// The revocation status of the certs each CA of an org issued.
pub trait StatusSource: Send + Sync {
    /// `serial` is the serial number's big-endian bytes (a leading zero octet is ignored).
    fn status(&self, issuer: CaLevel, serial: &[u8]) -> CertStatus;
}

/// Serial (upper-case hex, no leading zeros) to status, from one `index.txt`.
type Index = HashMap<String, CertStatus>;

/// Each CA folder's `index.txt` (`NS/root`, `NS/policy`, `NS/intermediate`). A missing index
/// answers `unknown` for every serial of that CA.
pub struct IndexStatus {
    files: Vec<(CaLevel, Watched<Index>)>,
}

impl IndexStatus {
    pub fn new(org_dir: &Path) -> Self {
        let files = [CaLevel::Root, CaLevel::Policy, CaLevel::Intermediate]
            .into_iter()
            .map(|l| {
                let path = org_dir.join(l.name()).join("index.txt");
                (l, Watched::new(vec![path], |c| Ok(parse_index(&c[0]))))
            })
            .collect();
        IndexStatus { files }
    }
}

impl StatusSource for IndexStatus {
    fn status(&self, issuer: CaLevel, serial: &[u8]) -> CertStatus {
        let Some((_, w)) = self.files.iter().find(|(l, _)| *l == issuer) else {
            return CertStatus::Unknown;
        };
        match w.get() {
            Load::Ready(index) => index
                .get(&serial_key(serial))
                .copied()
                .unwrap_or(CertStatus::Unknown),
            Load::Missing(_) | Load::Bad(_) => CertStatus::Unknown,
        }
    }
}

fn serial_key(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    normalize_hex(&hex)
}

fn normalize_hex(hex: &str) -> String {
    let t = hex.trim_start_matches('0').to_ascii_uppercase();
    if t.is_empty() {
        "0".into()
    } else {
        t
    }
}

/// Parses `openssl ca`'s index: one cert a line, tab-separated status (V valid, R revoked, E
/// expired), expiry, revocation time[,reason], serial (hex), file name (`unknown`), subject.
/// Lines that do not parse are skipped, as `openssl ocsp` does with what it cannot use. An
/// expired cert is `good`: RFC 6960 `good` says only that it is not revoked.
fn parse_index(text: &[u8]) -> Index {
    let mut index = Index::new();
    for line in String::from_utf8_lossy(text).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            continue;
        }
        let serial = f[3].trim();
        if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let status = match f[0] {
            "V" | "E" => CertStatus::Good,
            "R" => {
                let mut parts = f[2].split(',');
                let Some(at) = parts.next().and_then(parse_asn1_time) else {
                    continue;
                };
                let reason = parts.next().and_then(Reason::parse);
                CertStatus::Revoked { at, reason }
            }
            _ => continue,
        };
        index.insert(normalize_hex(serial), status);
    }
    index
}

/// `YYMMDDHHMMSSZ` (UTCTime, years 1950-2049) or `YYYYMMDDHHMMSSZ` (GeneralizedTime), as Unix
/// seconds.
fn parse_asn1_time(s: &str) -> Option<i64> {
    let d = s.strip_suffix('Z')?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match d.len() {
        12 => {
            let yy: i32 = d[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &d[2..])
        }
        14 => (d[..4].parse().ok()?, &d[4..]),
        _ => return None,
    };
    let n = |i: usize| rest[i..i + 2].parse::<u8>().ok();
    let month = time::Month::try_from(n(0)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, n(2)?).ok()?;
    let t = time::Time::from_hms(n(4)?, n(6)?, n(8)?).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_valid_revoked_and_expired_lines() {
        let idx = parse_index(
            b"V\t271126120000Z\t\t0A1B\tunknown\t/CN=a\n\
              R\t271126120000Z\t261201100000Z,keyCompromise\t00FF\tunknown\t/CN=b\n\
              R\t271126120000Z\t20261201100000Z\tC0\tunknown\t/CN=c\n\
              E\t201126120000Z\t\t01\tunknown\t/CN=d\n\
              garbage line\n",
        );
        assert_eq!(idx.get("A1B"), Some(&CertStatus::Good));
        assert_eq!(
            idx.get("FF"),
            Some(&CertStatus::Revoked {
                at: 1_796_119_200,
                reason: Some(Reason::KeyCompromise)
            })
        );
        assert_eq!(
            idx.get("C0"),
            Some(&CertStatus::Revoked {
                at: 1_796_119_200,
                reason: None
            })
        );
        assert_eq!(idx.get("1"), Some(&CertStatus::Good));
        assert_eq!(idx.len(), 4);
        assert_eq!(serial_key(&[0x00, 0xff]), "FF");
    }

    #[test]
    fn a_missing_index_says_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let s = IndexStatus::new(dir.path());
        assert_eq!(s.status(CaLevel::Intermediate, &[1]), CertStatus::Unknown);
    }
}
