//! `hapki crl`: sign the CRLs of every CA (or of one org) again, or only those whose nextUpdate
//! is within `--within`, so a cron line keeps them from expiring.

use super::EXIT_OK;
use crate::cadb::{self, Index};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::model::{fmt_time, parse_days, CaLevel, Span};
use crate::profile::Topology;
use crate::store::Plan;
use clap::Args;
use time::Duration;

pub const CRL_HELP: &str = "EXAMPLES:\n  hapki crl                          # sign every CA's CRL and the bundles again\n  hapki crl --within 2d              # only CRLs whose nextUpdate is within 2 days (cron, e.g. hourly)\n  hapki crl --org participant1 --days 14\n\nA CRL's nextUpdate is crl_days (7) ahead for issuing and policy CAs and root_crl_days (180) for the\nroot. NGINX, HAProxy and PostgreSQL refuse EVERY client once a CRL of the chain has expired, so\nput `hapki crl --within 2d` in cron and reload them after it.\n\nEXIT CODES:\n  0  success (nothing to sign is success too)\n  2  bad input, no CA yet, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct CrlArgs {
    /// Only this org.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Only CRLs whose nextUpdate is within this span: 12h, 2d.
    #[arg(long, value_name = "DURATION")]
    pub within: Option<String>,
    /// nextUpdate this many days ahead (default: the profile's crl_days / root_crl_days).
    #[arg(long, value_name = "N")]
    pub days: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &CrlArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let orgs = topo.select(args.org.as_deref())?;
    let within = args.within.as_deref().map(str::parse::<Span>).transpose()?;
    let days = args.days.as_deref().map(parse_days).transpose()?;
    let now = args.common.now()?;
    let out = &args.common.out;
    // Under the tree lock from the first read of an index to the last write.
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    let mut plan = Plan::new();
    let mut lines = Vec::new();
    let mut found = 0;
    for org in orgs {
        let Some((layout, ca)) = cadb::org_on_disk(org, out)? else {
            if args.org.is_some() {
                return Err(Error::input(format!(
                    "org `{}` has no CA under {}; create it first with `hapki init`",
                    org.name,
                    out.display()
                )));
            }
            continue;
        };
        found += 1;
        let mut indexes: Vec<(CaLevel, Index)> = Vec::new();
        for c in &ca.levels {
            if c.key.is_none() {
                // An offline root signs its CRL on its own machine (`hapki ca import` brings
                // it here); the CAs below it are signed as usual.
                eprintln!(
                    "skipped {}: the {} CA of {} is offline ({} is not here); sign it on the root's machine and install it with `hapki ca import FILE --org {}`",
                    layout.crl_pem(c.level).display(),
                    c.level.name(),
                    org.name,
                    layout.ca(c.level).key.display(),
                    org.name
                );
                continue;
            }
            let due = match within {
                None => true,
                Some(Span(w)) => match crate::crl::read_head(&layout.crl_der(c.level)) {
                    Ok(info) => info
                        .next_update
                        .is_none_or(|n| n - now <= Duration::seconds(w)),
                    Err(_) => true,
                },
            };
            if due {
                indexes.push((c.level, Index::load(&layout.index(c.level))?));
            }
        }
        if indexes.is_empty() {
            continue;
        }
        let refs: Vec<(CaLevel, &Index)> = indexes.iter().map(|(l, i)| (*l, i)).collect();
        let signed = crate::crl::publish(&mut plan, &layout, org, &ca, &refs, now, days)?;
        for ((level, idx), _) in indexes.iter().zip(&signed) {
            let d = days.unwrap_or(crate::crl::days_for(org, *level));
            lines.push(format!(
                "signed {} ({} revoked, next update {})",
                layout.crl_pem(*level).display(),
                idx.revoked().count(),
                fmt_time(now + Duration::days(d as i64))
            ));
        }
        if ca.levels.len() > 1 {
            lines.push(format!("wrote {}", layout.crl_bundle().display()));
        }
    }
    if found == 0 {
        return Err(Error::input(format!(
            "no org of the profile has a CA under {}; create them with `hapki init`",
            out.display()
        )));
    }
    if plan.is_empty() {
        crate::outln!(
            "every CRL is valid for more than {}: nothing signed",
            args.within.as_deref().unwrap_or("")
        );
        return Ok(EXIT_OK);
    }
    super::preflight(out)?;
    plan.commit(&lock)?;
    for l in lines {
        crate::outln!("{l}");
    }
    crate::outln!("Next: reload the servers that read the CRLs (nginx -s reload, HAProxy reload, pg_ctl reload)");
    Ok(EXIT_OK)
}
