//! The CA databases and CRLs of one org: every index parses, every CRL is the CA's own and not
//! expired (an expired CRL makes NGINX, HAProxy and PostgreSQL refuse every client), a warning
//! when less than a quarter of a CRL's window is left, and a problem when a cert the index marks
//! revoked is still deployed at the layout's paths.

use super::fix::shell;
use super::report::{Code, Entry};
use crate::cadb::{self, Index, Status as RecStatus};
use crate::model::{fmt_time, CaLevel};
use crate::store::OrgLayout;
use std::collections::BTreeSet;
use std::path::PathBuf;
use time::OffsetDateTime;

/// Checks the databases and CRLs of the CA `levels` (root first, each with its cert DER) and
/// returns the entries and the files it looked at. `org` names the org in fix commands.
pub(super) fn check_crls(
    layout: &OrgLayout,
    levels: &[(CaLevel, &[u8])],
    org: &str,
    now: OffsetDateTime,
    files: &BTreeSet<PathBuf>,
) -> (Vec<Entry>, Vec<PathBuf>) {
    let mut entries = Vec::new();
    let mut claimed = Vec::new();
    let resign = format!("sign it again with `hapki crl --org {org}` (and run it from cron: `hapki crl --within 2d`)");
    let init = format!("create it with `hapki init` (or `hapki crl --org {org}`)");
    let mut indexes: Vec<(CaLevel, Index)> = Vec::new();
    for &(level, ca_der) in levels {
        let dir = layout.ca_dir(level);
        claimed.extend(
            files
                .iter()
                .filter(|f| f.starts_with(dir.join("newcerts")))
                .cloned(),
        );
        let idx_path = layout.index(level);
        let mut e = Entry::new(&idx_path, format!("{} index", level.name()));
        claimed.push(idx_path.clone());
        // A CA whose key is kept elsewhere (an offline root) keeps its index and CRL number
        // there too; its CRL comes here by `hapki ca import`, so only the CRL is checked.
        let offline = !files.contains(&layout.ca(level).key);
        if offline {
            claimed.extend([layout.index_attr(level), layout.crlnumber(level)]);
            if files.contains(&idx_path) {
                if let Ok(i) = Index::load(&idx_path) {
                    indexes.push((level, i));
                }
            }
            let resign = format!("sign it again on the root's machine (`hapki crl --org {org}` there) and install it here with `hapki ca import FILE --org {org}`");
            for p in [layout.crl_pem(level), layout.crl_der(level)] {
                claimed.push(p.clone());
                let mut e = Entry::new(&p, format!("{} CRL", level.name()));
                check_one(&mut e, &p, ca_der, now, files, &resign);
                entries.push(e);
            }
            continue;
        }
        if !files.contains(&idx_path) {
            e.problem(Code::Missing, "is missing", &init);
        } else {
            match Index::load(&idx_path) {
                Ok(i) => {
                    if i.torn {
                        e.warn(Code::TornLine, "ends in an incomplete line (a run was killed while writing it); the next issue or revoke cuts it off",
                            "",
                        );
                    }
                    indexes.push((level, i));
                }
                Err(err) => e.problem(Code::Malformed, err.to_string(), ""),
            }
        }
        entries.push(e);
        for (p, kind) in [
            (layout.index_attr(level), "index attributes"),
            (layout.crlnumber(level), "CRL number"),
        ] {
            claimed.push(p.clone());
            let mut e = Entry::new(&p, format!("{} {kind}", level.name()));
            if !files.contains(&p) {
                e.problem(Code::Missing, "is missing", &init);
            }
            entries.push(e);
        }
        for p in [layout.crl_pem(level), layout.crl_der(level)] {
            claimed.push(p.clone());
            let mut e = Entry::new(&p, format!("{} CRL", level.name()));
            check_one(&mut e, &p, ca_der, now, files, &resign);
            entries.push(e);
        }
    }
    if levels.len() > 1 {
        let p = layout.crl_bundle();
        claimed.push(p.clone());
        let mut e = Entry::new(&p, "CRL bundle");
        if !files.contains(&p) {
            e.problem(
                Code::Missing,
                "is missing (servers that check client certs against it refuse every client)",
                &resign,
            );
        } else {
            let bytes = crate::store::read_io(&p, crate::crl::CRL_CAP).unwrap_or_default();
            let found = rustls_pki_types::CertificateRevocationListDer::pem_slice_iter(&bytes)
                .filter_map(|c| c.ok())
                .count();
            use rustls_pki_types::pem::PemObject;
            if found != levels.len() {
                e.problem(Code::CrlBundleIncomplete, format!(
                        "holds {found} CRLs, but the chain has {} CAs (each needs its CRL, or servers refuse every client)",
                        levels.len()
                    ),
                    &resign,
                );
            }
        }
        entries.push(e);
    }
    // A cert marked revoked in its issuer's index that is still at its layout path.
    for u in cadb::scan_certs(layout) {
        for ((_, ca_der), (level, idx)) in levels.iter().zip(&indexes).filter(|(l, i)| l.0 == i.0) {
            if !cadb::issued_by(&u.der, ca_der) {
                continue;
            }
            if let Some(r) = idx
                .find(&u.serial)
                .filter(|r| r.status == RecStatus::Revoked)
            {
                let mut e = Entry::new(&u.path, "revoked cert in use");
                e.problem(Code::RevokedInUse, format!(
                        "is revoked in {} (serial {}, since {}) but still deployed here",
                        layout.index(*level).display(),
                        r.serial,
                        r.revoked.map(|(t, _)| fmt_time(t)).unwrap_or_default()
                    ),
                    &format!(
                        "issue a new one with `hapki issue {} --org {org} --force` (or `hapki renew {} --org {org} --within 36500d`)",
                        shell(std::path::Path::new(&u.name)),
                        shell(std::path::Path::new(&u.name))
                    ),
                );
                entries.push(e);
            }
        }
    }
    (entries, claimed)
}

fn check_one(
    e: &mut Entry,
    p: &std::path::Path,
    ca_der: &[u8],
    now: OffsetDateTime,
    files: &BTreeSet<PathBuf>,
    resign: &str,
) {
    if !files.contains(p) {
        e.problem(Code::Missing, "is missing", resign);
        return;
    }
    let info = match crate::crl::read(p) {
        Ok(i) => i,
        Err(err) => {
            e.problem(Code::Malformed, err.to_string(), "");
            return;
        }
    };
    let (subject_ok, ski) = match x509_parser::parse_x509_certificate(ca_der) {
        Ok((_, c)) => (
            info.issuer_raw == c.subject().as_raw(),
            cadb::scan_ski(ca_der),
        ),
        Err(_) => (false, None),
    };
    if !subject_ok || matches!((&info.aki, &ski), (Some(a), Some(s)) if a != s) {
        e.problem(
            Code::WrongIssuer,
            "is not signed by this CA (left from a replaced CA?)",
            resign,
        );
        return;
    }
    let Some(next) = info.next_update else {
        e.problem(Code::Malformed, "has no nextUpdate", resign);
        return;
    };
    if next <= now {
        e.problem(
            Code::CrlExpired,
            format!(
                "expired at {} (servers that check client certs against it refuse every client)",
                fmt_time(next)
            ),
            resign,
        );
    } else if (next - now) * 4 < (next - info.this_update) {
        e.warn(
            Code::CrlExpiring,
            format!(
                "expires at {}, with less than a quarter of its window left",
                fmt_time(next)
            ),
            resign,
        );
    }
}
