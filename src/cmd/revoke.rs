//! `hapki revoke`: mark a cert revoked in its issuer's index and sign that CA's CRL and the
//! chain bundle again, in one plan. The cert's files stay (a revoked cert is evidence).

use super::EXIT_OK;
use crate::cadb::{self, Holder, Index, Reason, Record, Status};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::model::fmt_time;
use crate::pki::OrgCa;
use crate::profile::{OrgSpec, Topology};
use crate::store::{Mode, OrgLayout, Plan};
use clap::Args;
use std::path::Path;

pub const REVOKE_HELP: &str = "EXAMPLES:\n  hapki revoke reporting --org participant1 --reason key-compromise\n  hapki revoke certs/participant1/client/reporting.customer1.com.cert.pem\n  hapki revoke --serial 4F3A...C1 --org participant1 --reason superseded\n  hapki revoke intermediate --org participant1 --reason ca-compromise   # lands in the root's CRL\n\nThe cert is marked R in its issuer's index.txt and that CA's CRL and the bundle\nNS/intermediate/crl/ca-chain.crl.pem are signed again, in one atomic run; the cert files stay.\nReload the servers that read the CRL (nginx -s reload, HAProxy reload, pg_ctl reload).\nRevoking a cert twice says so and changes nothing.\n\nEXIT CODES:\n  0  revoked (or already revoked)\n  2  bad input (no such cert, an ambiguous name), or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// A leaf name (`reporting`), `intermediate` or `policy`, or a certificate file.
    #[arg(required_unless_present = "serial")]
    pub target: Option<String>,
    /// The org of the cert (needed when a name is in several orgs).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Revoke by serial (hex, as `hapki list` or `openssl x509 -serial` prints it).
    #[arg(long, value_name = "HEX", conflicts_with = "target")]
    pub serial: Option<String>,
    /// key-compromise, superseded, affiliation-changed, cessation-of-operation or unspecified
    /// (default: no reason code).
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// The cert to revoke, once found: its org, its issuer's place in the hierarchy, its serial,
/// and (when read from a file) its record, for a cert the index does not hold yet.
struct Target<'t> {
    org: &'t OrgSpec,
    layout: OrgLayout,
    ca: OrgCa,
    issuer: usize,
    serial: String,
    what: String,
    record: Option<(Record, String)>,
}

/// A cert found under one org: issuer level, serial, what it is, its record and PEM.
type Hit = (usize, String, String, Option<(Record, String)>);

pub fn run(args: &RevokeArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let reason = args.reason.as_deref().map(Reason::parse_flag).transpose()?;
    let serial = args.serial.as_deref().map(cadb::parse_serial).transpose()?;
    let now = args.common.now()?;
    let out = &args.common.out;
    // Under the tree lock from the first read of an index to the last write.
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    let orgs = topo.select(args.org.as_deref())?;

    let mut found: Vec<Target> = Vec::new();
    for org in orgs {
        let Some((layout, ca)) = cadb::org_on_disk(org, out)? else {
            continue;
        };
        let mut here: Vec<Hit> = Vec::new();
        if let Some(s) = &serial {
            for (i, c) in ca.levels.iter().enumerate() {
                if Index::load(&layout.index(c.level))?.find(s).is_some() {
                    here.push((i, s.clone(), format!("serial {s}"), None));
                }
            }
        } else if let Some(t) = &args.target {
            let file = Path::new(t);
            if file.is_file() {
                let bytes = crate::store::read(file)?;
                let der = cadb::cert_of_pem(&bytes)
                    .or_else(|| {
                        x509_parser::parse_x509_certificate(&bytes)
                            .ok()
                            .map(|_| bytes.clone())
                    })
                    .ok_or_else(|| {
                        Error::input(format!(
                            "{} holds no certificate; give a cert file, a leaf name or --serial",
                            file.display()
                        ))
                    })?;
                for (i, c) in ca.levels.iter().enumerate() {
                    if cadb::issued_by(&der, &c.der) {
                        let rec = Record::of_cert(&der)?;
                        let pem = String::from_utf8_lossy(&bytes).into_owned();
                        here.push((
                            i,
                            rec.serial.clone(),
                            file.display().to_string(),
                            Some((rec, pem)),
                        ));
                    }
                }
            } else {
                for u in cadb::scan_certs(&layout)
                    .into_iter()
                    .filter(|u| u.name == *t)
                {
                    let issuer = match u.holder {
                        Holder::Ca(level) => ca
                            .levels
                            .iter()
                            .position(|c| c.level == level)
                            .map(|i| i.saturating_sub(1)),
                        Holder::Leaf(_) => Some(ca.levels.len() - 1),
                    };
                    let Some(i) = issuer.filter(|&i| cadb::issued_by(&u.der, &ca.levels[i].der))
                    else {
                        continue;
                    };
                    let kind = match u.holder {
                        Holder::Ca(l) => format!("{} CA", l.name()),
                        Holder::Leaf(k) => k.name().to_string(),
                    };
                    let rec = Record::of_cert(&u.der)?;
                    here.push((
                        i,
                        u.serial.clone(),
                        format!("{kind} {} ({})", u.name, u.path.display()),
                        Some((rec, u.pem.clone())),
                    ));
                }
            }
        }
        if here.is_empty() {
            continue;
        }
        let mut first = Some(ca);
        for (i, s, what, record) in here {
            let ca = match first.take() {
                Some(ca) => ca,
                None => OrgCa::load_complete(&layout, org)?,
            };
            found.push(Target {
                org,
                layout: layout.clone(),
                ca,
                issuer: i,
                serial: s,
                what,
                record,
            });
        }
    }
    let asked = serial
        .clone()
        .map(|s| format!("serial {s}"))
        .or_else(|| args.target.clone())
        .unwrap_or_default();
    let t =
        match found.len() {
            0 => {
                return Err(Error::input(format!(
                "no cert `{asked}` was issued by a CA under {}{}; check the name with `hapki list`",
                out.display(),
                args.org.as_deref().map(|o| format!(" for org `{o}`")).unwrap_or_default()
            )))
            }
            1 => found.pop().expect("one"),
            _ => {
                let names: Vec<String> = found
                    .iter()
                    .map(|t| format!("{} of {}", t.what, t.org.name))
                    .collect();
                // --org only helps when the certs are in different orgs; within one (a
                // server and a client cert of the same name) only the file or serial does.
                let orgs: std::collections::BTreeSet<&str> =
                    found.iter().map(|t| t.org.name.as_str()).collect();
                let fix = match orgs.len() {
                    1 => "give the cert file or --serial",
                    _ => "give the cert file, --serial or --org",
                };
                return Err(Error::input(format!(
                    "`{asked}` names several certs ({}); {fix}",
                    names.join("; ")
                )));
            }
        };

    let c = &t.ca.levels[t.issuer];
    let idx_path = t.layout.index(c.level);
    let mut index = Index::load(&idx_path)?;
    let mut plan = Plan::new();
    if index.find(&t.serial).is_none() {
        // A cert the index never recorded (issued before indexes existed, or by hand): it is
        // recorded now, so that it can be revoked.
        let Some((rec, pem)) = &t.record else {
            return Err(Error::bug(format!("{} is in no index", t.serial)));
        };
        plan.add(
            t.layout.newcert(c.level, &rec.serial),
            pem.as_bytes(),
            Mode::Public,
        );
        index.records.push(rec.clone());
    }
    let rec = index
        .records
        .iter_mut()
        .find(|r| r.serial == t.serial)
        .ok_or_else(|| Error::bug("the record just found is gone"))?;
    if rec.status == Status::Revoked {
        let since = rec.revoked.map(|(w, _)| fmt_time(w)).unwrap_or_default();
        crate::outln!(
            "{} (serial {}) is already revoked since {since} in {}: nothing changed",
            t.what,
            t.serial,
            idx_path.display()
        );
        return Ok(EXIT_OK);
    }
    rec.status = Status::Revoked;
    // The index keeps whole seconds, as openssl writes them.
    let when = now.replace_nanosecond(0).unwrap_or(now);
    rec.revoked = Some((when, reason));
    plan.add(&idx_path, index.render(), Mode::Public);
    crate::crl::publish(
        &mut plan,
        &t.layout,
        t.org,
        &t.ca,
        &[(c.level, &index)],
        now,
        None,
    )?;
    super::preflight(out)?;
    plan.commit(&lock)?;
    crate::outln!(
        "revoked {} (serial {}){} in {}",
        t.what,
        t.serial,
        reason
            .map(|r| format!(", reason {}", r.flag_name()))
            .unwrap_or_default(),
        idx_path.display()
    );
    crate::outln!("signed {}", t.layout.crl_pem(c.level).display());
    if t.ca.levels.len() > 1 {
        crate::outln!("wrote {}", t.layout.crl_bundle().display());
    }
    crate::outln!(
        "Next: reload the servers that check client certs (nginx -s reload, HAProxy reload, pg_ctl reload); the cert's files stay in place"
    );
    Ok(EXIT_OK)
}
