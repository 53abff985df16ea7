//! `hapki list`: every cert the CAs issued, read from their indexes (and each org's root),
//! with its status at `--at`: valid, expiring, expired or revoked. Reads only; takes no lock.

use super::EXIT_OK;
use crate::cadb::{self, Holder, Index, Status};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::model::{fmt_time, CaLevel, Kind, Span};
use crate::profile::Topology;
use clap::Args;
use serde::Serialize;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

pub const LIST_HELP: &str = "EXAMPLES:\n  hapki list\n  hapki list --org participant1 --expiring 30d\n  hapki list --json --at 2027-06-01T00:00:00Z\n\nOne row per cert in the CAs' indexes (and each org's root): org, kind, name, serial, not-after and\nstatus: valid, expiring (within --expiring, 30d by default), expired or revoked. With --expiring\nonly the certs that expire within it (or have expired) are listed.\n\nEXIT CODES:\n  0  success\n  2  bad input, or an index could not be read";

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this org.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Only certs that expire within this span (or have expired): 30d, 12h.
    #[arg(long, value_name = "DURATION")]
    pub expiring: Option<String>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Serialize)]
struct Row {
    org: String,
    kind: String,
    name: String,
    serial: String,
    not_after: String,
    status: &'static str,
    /// Deployed at its layout path (an old, renewed cert is not).
    in_use: bool,
}

pub fn run(args: &ListArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let orgs = topo.select(args.org.as_deref())?;
    let now = args.common.now()?;
    let window = match args.expiring.as_deref() {
        Some(s) => Duration::seconds(s.parse::<Span>()?.0),
        None => Duration::days(30),
    };
    let out = &args.common.out;
    let mut rows = Vec::new();
    let mut found = 0;
    for org in orgs {
        let Some((layout, ca)) = cadb::org_on_disk(org, out)? else {
            continue;
        };
        found += 1;
        let deployed: HashMap<String, cadb::InUse> = cadb::scan_certs(&layout)
            .into_iter()
            .map(|u| (u.serial.clone(), u))
            .collect();
        let status = |rec_status: Status, expiry: OffsetDateTime| {
            if rec_status == Status::Revoked {
                "revoked"
            } else if expiry <= now {
                "expired"
            } else if expiry - now <= window {
                "expiring"
            } else {
                "valid"
            }
        };
        let root = ca.root();
        rows.push(Row {
            org: org.name.to_string(),
            kind: "root CA".into(),
            name: "root".into(),
            serial: X509Certificate::from_der(&root.der)
                .map(|(_, c)| cadb::serial_hex(c.raw_serial()))
                .unwrap_or_default(),
            not_after: fmt_time(root.not_after),
            status: status(Status::Valid, root.not_after),
            in_use: true,
        });
        for c in &ca.levels {
            let index = Index::load(&layout.index(c.level))?;
            for r in &index.records {
                let (kind, name) = match deployed.get(&r.serial) {
                    Some(u) => (holder_name(u.holder), u.name.clone()),
                    None => classify(&layout, c.level, &r.serial, &r.subject, &org.dns),
                };
                rows.push(Row {
                    org: org.name.to_string(),
                    kind,
                    name,
                    serial: r.serial.clone(),
                    not_after: fmt_time(r.expiry),
                    status: status(r.status, r.expiry),
                    in_use: deployed.contains_key(&r.serial),
                });
            }
        }
    }
    if found == 0 {
        return Err(Error::input(format!(
            "no org of the profile has a CA under {}; create them with `hapki init` (or give --out)",
            out.display()
        )));
    }
    if args.expiring.is_some() {
        rows.retain(|r| matches!(r.status, "expiring" | "expired"));
    }
    if args.json {
        let s = serde_json::to_string_pretty(&rows).map_err(|e| Error::bug(e.to_string()))?;
        crate::outln!("{s}");
        return Ok(EXIT_OK);
    }
    let head = ["ORG", "KIND", "NAME", "SERIAL", "NOT AFTER", "STATUS"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.org.clone(),
                r.kind.clone(),
                r.name.clone(),
                r.serial.clone(),
                r.not_after.clone(),
                if r.in_use || r.status == "revoked" {
                    r.status.to_string()
                } else {
                    format!("{} (replaced)", r.status)
                },
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.len());
        }
    }
    let mut text = String::new();
    let line = |cols: [&str; 6], text: &mut String| {
        let parts: Vec<String> = cols
            .iter()
            .zip(width)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        text.push_str(parts.join("  ").trim_end());
        text.push('\n');
    };
    line(head, &mut text);
    for c in &cells {
        line(
            [&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]].map(String::as_str),
            &mut text,
        );
    }
    crate::out::print(&text);
    Ok(EXIT_OK)
}

fn holder_name(h: Holder) -> String {
    match h {
        Holder::Ca(CaLevel::Policy) => "policy CA".into(),
        Holder::Ca(_) => "intermediate CA".into(),
        Holder::Leaf(k) => k.name().into(),
    }
}

/// Kind and name of a cert no longer at its layout path, from its copy in `newcerts/`.
fn classify(
    layout: &crate::store::OrgLayout,
    issuer: CaLevel,
    serial: &str,
    subject: &str,
    dns: &str,
) -> (String, String) {
    let cn = subject.rsplit("/CN=").next().unwrap_or(subject);
    let name = cn
        .strip_suffix(&format!(".{dns}"))
        .unwrap_or(cn)
        .to_string();
    let bytes = crate::store::read_io(&layout.newcert(issuer, serial), crate::store::CAP)
        .unwrap_or_default();
    let der = cadb::cert_of_pem(&bytes).unwrap_or_default();
    let Ok((_, c)) = X509Certificate::from_der(&der) else {
        return ("unknown".into(), name);
    };
    if c.is_ca() {
        let kind = if name.starts_with("policy-ca") {
            "policy CA"
        } else {
            "intermediate CA"
        };
        return (kind.into(), name.trim_end_matches("-ca").to_string());
    }
    let eku = c
        .extended_key_usage()
        .ok()
        .flatten()
        .map(|e| e.value.clone());
    let kind = match eku {
        Some(e) if e.server_auth => Kind::Server,
        Some(e) if e.client_auth => {
            if layout.dir.join(&name).is_dir() {
                Kind::ProxyBackend
            } else {
                Kind::Client
            }
        }
        _ => Kind::JwtSigning,
    };
    (kind.name().into(), name)
}
