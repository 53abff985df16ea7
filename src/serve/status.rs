//! Where OCSP answers come from: a `StatusSource` says, for a serial a CA issued, whether it is
//! good, revoked (when, why) or unknown. `IndexStatus` reads each CA's `index.txt` in the format
//! `openssl ca` writes and `openssl ocsp -index` reads, re-reading it when it changes.

use super::watch::{Load, Watched};
pub use crate::cadb::Reason;
use crate::cadb::{Record, Status};
use crate::model::CaLevel;
use std::collections::HashMap;
use std::path::Path;

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

    /// A number that changes whenever any answer about `issuer`'s certs may change, read
    /// before the answers it vouches for (`Watched::version`); `None` when the source cannot
    /// say, and nothing derived from it may then be reused.
    fn version(&self, _issuer: CaLevel) -> Option<u64> {
        None
    }
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
                let w = Watched::new(vec![path], |c| Ok(parse_index(&c[0])));
                (l, w.capped(crate::cadb::INDEX_CAP))
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

    fn version(&self, issuer: CaLevel) -> Option<u64> {
        let (_, w) = self.files.iter().find(|(l, _)| *l == issuer)?;
        Some(w.version())
    }
}

/// Upper-case hex without leading zeros, as `normalize_hex` makes the index's serials: written
/// out nibble by nibble because it runs once per OCSP request.
fn serial_key(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for n in [b >> 4, b & 15] {
            if !(hex.is_empty() && n == 0) {
                hex.push(char::from(HEX[usize::from(n)]));
            }
        }
    }
    if hex.is_empty() {
        hex.push('0');
    }
    hex
}

fn normalize_hex(hex: &str) -> String {
    let t = hex.trim_start_matches('0').to_ascii_uppercase();
    if t.is_empty() {
        "0".into()
    } else {
        t
    }
}

/// Reads `openssl ca`'s index with the index module's line reader (`cadb::Record`). Lines that
/// do not parse are skipped, as `openssl ocsp` does with what it cannot use, so a hand-edited
/// line does not silence every answer. An expired cert is `good`: RFC 6960 `good` says only
/// that it is not revoked.
fn parse_index(text: &[u8]) -> Index {
    let mut index = Index::new();
    for r in String::from_utf8_lossy(text)
        .lines()
        .filter_map(Record::parse)
    {
        let status = match (r.status, r.revoked) {
            (Status::Revoked, Some((at, reason))) => CertStatus::Revoked {
                at: at.unix_timestamp(),
                reason,
            },
            (Status::Revoked, None) => continue,
            _ => CertStatus::Good,
        };
        index.insert(normalize_hex(&r.serial), status);
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index of 100,000 lines is some 12 MB, over the cap of a cert file: OCSP still
    /// answers from it.
    #[test]
    fn an_index_over_the_cert_cap_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("intermediate");
        std::fs::create_dir_all(&ca).unwrap();
        let mut idx = String::new();
        let mut n = 0u32;
        while idx.len() as u64 <= crate::store::CAP {
            n += 1;
            idx.push_str(&format!(
                "R\t271126120000Z\t261201100000Z,keyCompromise\t7E{n:08X}\tunknown\t/CN=gone-{n}.customer1.com\n"
            ));
        }
        idx.push_str("V\t271126120000Z\t\t7F01\tunknown\t/CN=a\n");
        std::fs::write(ca.join("index.txt"), idx).unwrap();
        let st = IndexStatus::new(dir.path());
        assert_eq!(
            st.status(CaLevel::Intermediate, &[0x7f, 0x01]),
            CertStatus::Good
        );
        assert!(matches!(
            st.status(CaLevel::Intermediate, &[0x7e, 0, 0, 0, 1]),
            CertStatus::Revoked { .. }
        ));
    }

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
        assert_eq!(serial_key(&[0x0a, 0x1b]), "A1B");
        assert_eq!(serial_key(&[0x00]), "0");
        assert_eq!(serial_key(&[0x10, 0x00]), "1000");
    }

    #[test]
    fn a_missing_index_says_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let s = IndexStatus::new(dir.path());
        assert_eq!(s.status(CaLevel::Intermediate, &[1]), CertStatus::Unknown);
    }
}
