//! The per-CA database, in the format `openssl ca` writes and `openssl ocsp -index` reads, so
//! the seed's OCSP responder and any `openssl ca` run keep working on a hapki tree:
//! `index.txt` (one tab-separated line per issued cert: status `V`/`R`/`E`, expiry, revocation
//! date[,reason], serial in uppercase hex, `unknown`, subject in openssl's `/K=V` one-line form),
//! `index.txt.attr` (`unique_subject = no`: a renewed cert keeps its subject), `crlnumber` (the
//! next CRL number in hex) and `newcerts/SERIAL.pem` (every cert ever issued, so a renewed one can
//! still be revoked).
//!
//! Issuing appends one line (the cost does not grow with the index); revoking rewrites the file
//! by rename. A last line without its newline (a run killed mid-append) is ignored on read and cut
//! off by the next append.
//!
//! openssl's index format is a few lines of text that no maintained crate reads or writes, so it
//! is written here by hand.

mod scan;

pub use scan::{in_use, issued_by, scan_certs, ski_of as scan_ski, Holder, InUse};

use crate::error::{Error, Result};
use crate::model::CaLevel;
use crate::store::{Mode, OrgLayout, Plan};
use std::fmt::Write as _;
use std::path::Path;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What `index.txt.attr` holds.
pub const ATTR: &str = "unique_subject = no\n";

/// The most of an `index.txt` hapki reads: two million certs of about 120 bytes a line.
pub const INDEX_CAP: u64 = 256 << 20;

/// The first CRL number, as the openssl CA recipes start `crlnumber`.
pub const FIRST_CRL_NUMBER: u64 = 0x1000;

/// The status column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Valid,
    Revoked,
    Expired,
}

/// A revocation reason, named as openssl writes it in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
}

impl Reason {
    const ALL: [(Reason, &'static str, &'static str); 7] = [
        (Reason::Unspecified, "unspecified", "unspecified"),
        (Reason::KeyCompromise, "keyCompromise", "key-compromise"),
        (Reason::CaCompromise, "CACompromise", "ca-compromise"),
        (
            Reason::AffiliationChanged,
            "affiliationChanged",
            "affiliation-changed",
        ),
        (Reason::Superseded, "superseded", "superseded"),
        (
            Reason::CessationOfOperation,
            "cessationOfOperation",
            "cessation-of-operation",
        ),
        (
            Reason::CertificateHold,
            "certificateHold",
            "certificate-hold",
        ),
    ];

    /// The spelling in `index.txt`.
    pub fn openssl_name(self) -> &'static str {
        Self::ALL.iter().find(|r| r.0 == self).map_or("", |r| r.1)
    }

    /// The spelling of `--reason`.
    pub fn flag_name(self) -> &'static str {
        Self::ALL.iter().find(|r| r.0 == self).map_or("", |r| r.2)
    }

    fn from_openssl(s: &str) -> Option<Reason> {
        Self::ALL.iter().find(|r| r.1 == s).map(|r| r.0)
    }

    /// Parses `--reason` (only the reasons an operator revokes a leaf or CA for).
    pub fn parse_flag(s: &str) -> Result<Reason> {
        match s {
            "key-compromise" => Ok(Reason::KeyCompromise),
            "superseded" => Ok(Reason::Superseded),
            "affiliation-changed" => Ok(Reason::AffiliationChanged),
            "cessation-of-operation" => Ok(Reason::CessationOfOperation),
            "unspecified" => Ok(Reason::Unspecified),
            _ => Err(Error::input(format!(
                "the revocation reason `{s}` is not one hapki knows; use key-compromise, superseded, affiliation-changed, cessation-of-operation or unspecified"
            ))),
        }
    }

    pub fn to_rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            Reason::Unspecified => R::Unspecified,
            Reason::KeyCompromise => R::KeyCompromise,
            Reason::CaCompromise => R::CaCompromise,
            Reason::AffiliationChanged => R::AffiliationChanged,
            Reason::Superseded => R::Superseded,
            Reason::CessationOfOperation => R::CessationOfOperation,
            Reason::CertificateHold => R::CertificateHold,
        }
    }
}

/// One line of `index.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub status: Status,
    pub expiry: OffsetDateTime,
    /// When and (optionally) why it was revoked.
    pub revoked: Option<(OffsetDateTime, Option<Reason>)>,
    /// Uppercase hex, an even number of digits (openssl's `BN_bn2hex`).
    pub serial: String,
    pub subject: String,
}

impl Record {
    /// The record of a cert just issued.
    pub fn of_cert(der: &[u8]) -> Result<Record> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| Error::bug(format!("a certificate to record does not parse: {e}")))?;
        Ok(Record {
            status: Status::Valid,
            expiry: cert.validity().not_after.to_datetime(),
            revoked: None,
            serial: serial_hex(cert.raw_serial()),
            subject: oneline(cert.subject()),
        })
    }

    /// The line as `openssl ca` writes it, with its newline.
    pub fn line(&self) -> String {
        let status = match self.status {
            Status::Valid => "V",
            Status::Revoked => "R",
            Status::Expired => "E",
        };
        let revoked = match &self.revoked {
            None => String::new(),
            Some((t, None)) => asn1_time(*t),
            Some((t, Some(r))) => format!("{},{}", asn1_time(*t), r.openssl_name()),
        };
        format!(
            "{status}\t{}\t{revoked}\t{}\tunknown\t{}\n",
            asn1_time(self.expiry),
            self.serial,
            self.subject
        )
    }

    /// One index line, or `None` when it is not one (`openssl ocsp -index` skips such lines;
    /// `Index::parse` refuses them).
    pub fn parse(line: &str) -> Option<Record> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 6 {
            return None;
        }
        let status = match f[0] {
            "V" => Status::Valid,
            "R" => Status::Revoked,
            "E" => Status::Expired,
            _ => return None,
        };
        let expiry = parse_asn1_time(f[1])?;
        let revoked = if f[2].is_empty() {
            None
        } else {
            let (t, r) = match f[2].split_once(',') {
                Some((t, r)) => (t, Reason::from_openssl(r)),
                None => (f[2], None),
            };
            Some((parse_asn1_time(t)?, r))
        };
        if status == Status::Revoked && revoked.is_none() {
            return None;
        }
        let serial = f[3].to_ascii_uppercase();
        if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Record {
            status,
            expiry,
            revoked,
            serial,
            subject: f[5].to_string(),
        })
    }
}

/// A CA's index as read from disk.
#[derive(Debug, Default)]
pub struct Index {
    pub records: Vec<Record>,
    /// The last line had no newline (a run killed mid-append) and was left out.
    pub torn: bool,
}

impl Index {
    /// Parses `index.txt`. A torn last line is left out; any other line that is not a record
    /// is an error naming the file and line.
    pub fn parse(text: &str, path: &Path) -> Result<Index> {
        let mut idx = Index::default();
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            if last && !complete {
                idx.torn = true;
                break;
            }
            if line.trim().is_empty() {
                continue;
            }
            match Record::parse(line) {
                Some(r) => idx.records.push(r),
                None => {
                    return Err(Error::input(format!(
                        "{} line {} is not an index record (status, expiry, revocation, serial, file, subject separated by tabs); fix or remove that line",
                        path.display(),
                        i + 1
                    )))
                }
            }
        }
        Ok(idx)
    }

    /// Reads `index.txt`; a missing file is an empty index.
    pub fn load(path: &Path) -> Result<Index> {
        // Through the store's reader (no FIFOs or devices); an index grows by a line a cert, so
        // its cap is far above the one for a cert or key file.
        match crate::store::read_io(path, INDEX_CAP) {
            Ok(b) => Index::parse(&String::from_utf8_lossy(&b), path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    pub fn find(&self, serial: &str) -> Option<&Record> {
        let s = serial.to_ascii_uppercase();
        self.records.iter().find(|r| r.serial == s)
    }

    pub fn render(&self) -> String {
        self.records.iter().map(Record::line).collect()
    }

    pub fn revoked(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.status == Status::Revoked)
    }
}

/// The serial as openssl prints it: uppercase hex of the value's bytes, leading zero octets
/// dropped, `00` for zero.
pub fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    let bytes = &raw[start..];
    if bytes.is_empty() {
        return "00".into();
    }
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

/// Parses a serial given by the user (hex, optional `0x` and `:` separators).
pub fn parse_serial(s: &str) -> Result<String> {
    let t: String = s
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::input(format!(
            "the serial `{s}` is not hex; give it as `hapki list` or `openssl x509 -serial` prints it"
        )));
    }
    let t = t.to_ascii_uppercase();
    let t = if t.len() % 2 == 1 { format!("0{t}") } else { t };
    let bytes: Vec<u8> = (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap_or(0))
        .collect();
    Ok(serial_hex(&bytes))
}

/// The bytes of an uppercase hex serial.
pub fn serial_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A subject in the form of openssl's `X509_NAME_oneline` (`/C=US/ST=New York/O=Org/CN=x`),
/// which is what `openssl ca` puts in the index: bytes outside printable ASCII as `\xHH`.
pub fn oneline(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut s = String::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type();
        let key = match oid.to_id_string().as_str() {
            "2.5.4.6" => "C".to_string(),
            "2.5.4.8" => "ST".to_string(),
            "2.5.4.7" => "L".to_string(),
            "2.5.4.10" => "O".to_string(),
            "2.5.4.11" => "OU".to_string(),
            "2.5.4.3" => "CN".to_string(),
            "1.2.840.113549.1.9.1" => "emailAddress".to_string(),
            "0.9.2342.19200300.100.1.25" => "DC".to_string(),
            id => x509_parser::objects::oid2abbrev(oid, registry)
                .map(str::to_string)
                .unwrap_or_else(|_| id.to_string()),
        };
        let value = attr
            .as_str()
            .map(str::as_bytes)
            .unwrap_or_else(|_| attr.attr_value().data);
        s.push('/');
        s.push_str(&key);
        s.push('=');
        for &b in value {
            if (b' '..=b'~').contains(&b) {
                s.push(b as char);
            } else {
                let _ = write!(s, "\\x{b:02X}");
            }
        }
    }
    s
}

/// A time as the index writes it: UTCTime `YYMMDDHHMMSSZ` up to 2049, GeneralizedTime after
/// (as the cert's own notAfter is encoded, which `openssl ca` copies).
pub fn asn1_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let y = t.year();
    let ymd = if (1950..2050).contains(&y) {
        format!("{:02}", y % 100)
    } else {
        format!("{y:04}")
    };
    format!(
        "{ymd}{:02}{:02}{:02}{:02}{:02}Z",
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn parse_asn1_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.strip_suffix('Z')?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match s.len() {
        12 => {
            let yy: i32 = s[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &s[2..])
        }
        14 => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    let n = |i: usize| rest[i..i + 2].parse::<u8>().ok();
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(n(0)?).ok()?, n(2)?).ok()?;
    let tm = time::Time::from_hms(n(4)?, n(6)?, n(8)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, tm).assume_utc())
}

/// Puts the record of a cert the CA at `level` just issued into `plan`: one appended index line
/// and its copy under `newcerts/`.
pub fn record_issued(
    plan: &mut Plan,
    layout: &OrgLayout,
    level: CaLevel,
    der: &[u8],
    pem: &str,
) -> Result<()> {
    let rec = Record::of_cert(der)?;
    plan.add(
        layout.newcert(level, &rec.serial),
        pem.as_bytes(),
        Mode::Public,
    );
    plan.append(layout.index(level), rec.line());
    Ok(())
}

/// The CRL number the CA at `level` signs with next: its `crlnumber`, or, when that is missing
/// or unreadable, one above the number of the CRL on disk (never going back).
pub fn next_crl_number(layout: &OrgLayout, level: CaLevel) -> u64 {
    let from_file = crate::store::read_text(&layout.crlnumber(level))
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
    let from_crl = crate::crl::read_head(&layout.crl_der(level))
        .ok()
        .and_then(|c| c.number)
        .map(|n| n + 1);
    from_file
        .into_iter()
        .chain(from_crl)
        .max()
        .unwrap_or(FIRST_CRL_NUMBER)
        .max(1)
}

/// The `crlnumber` file's content for `n`: hex, an even number of digits, as openssl writes it.
pub fn crlnumber_text(n: u64) -> String {
    let h = format!("{n:X}");
    if h.len() % 2 == 1 {
        format!("0{h}\n")
    } else {
        format!("{h}\n")
    }
}

/// `DER` of a cert, the first in a PEM file.
pub(crate) fn cert_of_pem(bytes: &[u8]) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(bytes)
        .ok()
        .map(|d| d.to_vec())
}

/// Puts into `plan` what the index and CRLs of an org's CAs need in this run: for a CA created
/// in this run a fresh index and an empty CRL; for a kept CA its index from the certs on disk
/// when it has none yet (a tree made before indexes existed), `index.txt.attr`, and a CRL
/// signed again when it is missing, expired or of another CA; and the chain bundle.
pub fn prepare(
    plan: &mut Plan,
    layout: &OrgLayout,
    org: &crate::profile::OrgSpec,
    ca: &crate::pki::OrgCa,
    new_from: usize,
    now: OffsetDateTime,
) -> Result<()> {
    let mut indexes: Vec<(CaLevel, Index)> = Vec::new();
    // Walked only for a CA that has no index yet (a tree made before indexes existed): the
    // walk lists newcerts/, which holds a file per cert the CA ever issued.
    let mut on_disk: Option<Vec<InUse>> = None;
    for (i, c) in ca.levels.iter().enumerate() {
        let level = c.level;
        // An offline root keeps its index and signs its CRL on its own machine; its CRL
        // comes here through `hapki ca import`.
        if c.key.is_none() {
            continue;
        }
        let attr = layout.index_attr(level);
        if i >= new_from || !attr.exists() {
            plan.add(&attr, ATTR, Mode::Public);
        }
        if i >= new_from {
            // A CA made in this run (the first init, `init --force`, a lost level made again):
            // the certs of a CA it replaces are not its own, so their copies go with that CA's
            // index (its serials mean nothing to the new CA, and `revoke --serial` must not
            // find them).
            if let Ok(rd) = std::fs::read_dir(layout.ca_dir(level).join("newcerts")) {
                for e in rd.flatten() {
                    plan.remove(e.path());
                }
            }
            plan.add(layout.index(level), "", Mode::Public);
            indexes.push((level, Index::default()));
            continue;
        }
        let path = layout.index(level);
        // An index on disk is read only when its CRL must be signed again: issuing into a CA
        // appends a line, and never parses the whole index (its cost must not grow with it).
        let backfill = if path.exists() {
            None
        } else {
            let mut idx = Index::default();
            let on_disk = on_disk.get_or_insert_with(|| scan_certs(layout));
            for u in on_disk.iter().filter(|u| issued_by(&u.der, &c.der)) {
                let rec = Record::of_cert(&u.der)?;
                if idx.find(&rec.serial).is_none() {
                    plan.add(
                        layout.newcert(level, &rec.serial),
                        u.pem.as_bytes(),
                        Mode::Public,
                    );
                    idx.records.push(rec);
                }
            }
            plan.add(&path, idx.render(), Mode::Public);
            Some(idx)
        };
        let current = [layout.crl_pem(level), layout.crl_der(level)]
            .iter()
            .all(|p| {
                crate::crl::read_head(p).is_ok_and(|info| {
                    crate::crl::is_of(&info, c) && info.next_update.is_some_and(|n| n > now)
                })
            });
        if !current {
            let index = match backfill {
                Some(idx) => idx,
                None => Index::load(&path)?,
            };
            indexes.push((level, index));
        }
    }
    let bundle_missing = ca.levels.len() > 1 && !layout.crl_bundle().exists();
    if !indexes.is_empty() || bundle_missing {
        let refs: Vec<(CaLevel, &Index)> = indexes.iter().map(|(l, i)| (*l, i)).collect();
        crate::crl::publish(plan, layout, org, ca, &refs, now, None)?;
    }
    Ok(())
}

/// Every file of a CA level's database and CRL that exists (what goes when the level does).
pub fn files_of(layout: &OrgLayout, level: CaLevel) -> Vec<std::path::PathBuf> {
    let mut v = vec![
        layout.index(level),
        layout.index_attr(level),
        layout.crlnumber(level),
        layout.crl_pem(level),
        layout.crl_der(level),
    ];
    if level == CaLevel::Intermediate {
        v.push(layout.crl_bundle());
    }
    if let Ok(rd) = std::fs::read_dir(layout.ca_dir(level).join("newcerts")) {
        v.extend(rd.flatten().map(|e| e.path()));
    }
    v.retain(|p| p.exists());
    v
}

/// The layout and complete CA of `org` under `out`; `None` when the org has no root on disk.
pub fn org_on_disk(
    org: &crate::profile::OrgSpec,
    out: &Path,
) -> Result<Option<(OrgLayout, crate::pki::OrgCa)>> {
    let layout = OrgLayout::new(out, org.name.as_str(), &org.dns);
    if !layout.ca(CaLevel::Root).cert.exists() {
        return Ok(None);
    }
    let ca = crate::pki::OrgCa::load_complete(&layout, org)?;
    Ok(Some((layout, ca)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_in_openssl_format() {
        let t = time::macros::datetime!(2027-12-01 10:00:00 UTC);
        let mut r = Record {
            status: Status::Valid,
            expiry: t,
            revoked: None,
            serial: "4A01".into(),
            subject: "/C=US/ST=New York/O=Customer One/CN=p1.customer1.com".into(),
        };
        assert_eq!(
            r.line(),
            "V\t271201100000Z\t\t4A01\tunknown\t/C=US/ST=New York/O=Customer One/CN=p1.customer1.com\n"
        );
        r.status = Status::Revoked;
        r.revoked = Some((t, Some(Reason::KeyCompromise)));
        assert!(r
            .line()
            .starts_with("R\t271201100000Z\t271201100000Z,keyCompromise\t4A01\t"));
        let idx = Index::parse(&r.line(), Path::new("index.txt")).unwrap();
        assert_eq!(idx.records, vec![r.clone()]);
        let far = time::macros::datetime!(2051-01-02 03:04:05 UTC);
        assert_eq!(asn1_time(far), "20510102030405Z");
        assert_eq!(parse_asn1_time("20510102030405Z"), Some(far));
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_a_bad_middle_line_named() {
        let good = "V\t271201100000Z\t\t4A01\tunknown\t/CN=a\n";
        let idx = Index::parse(&format!("{good}{good}V\t2712"), Path::new("i")).unwrap();
        assert_eq!(idx.records.len(), 2);
        assert!(idx.torn);
        let err = Index::parse(&format!("{good}junk\n{good}"), Path::new("i"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("i line 2"), "{err}");
    }

    #[test]
    fn serials_as_openssl_prints_them() {
        assert_eq!(serial_hex(&[0, 0x4a, 0x01]), "4A01");
        assert_eq!(serial_hex(&[0]), "00");
        assert_eq!(parse_serial("0x4a:01").unwrap(), "4A01");
        assert_eq!(parse_serial("a01").unwrap(), "0A01");
        assert!(parse_serial("xyz").is_err());
        assert_eq!(crlnumber_text(0x1000), "1000\n");
        assert_eq!(crlnumber_text(0x100), "0100\n");
    }
}
