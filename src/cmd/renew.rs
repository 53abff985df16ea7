//! `hapki renew`: re-issue the leaves near the end of their life (under a third of their
//! lifetime left, or within `--within`) at the same paths with every derived file, through the
//! issuance engine; the old cert stays in `newcerts/` and the index. Then what to reload.

use super::EXIT_OK;
use crate::cadb;
use crate::cli::RenewArgs;
use crate::error::{Error, Result};
use crate::issue::{execute, OrgWork};
use crate::keys;
use crate::model::{fmt_time, Kind, Span};
use crate::pki;
use crate::profile::Topology;
use time::Duration;
use x509_parser::prelude::{FromDer, X509Certificate};

pub fn run(args: &RenewArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let orgs = topo.select(args.org.as_deref())?;
    let within = args.within.as_deref().map(str::parse::<Span>).transpose()?;
    let now = args.common.now()?;
    let out = &args.common.out;
    // Under the tree lock from the first read of an index to the last write.
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    for n in &args.names {
        if !orgs.iter().any(|o| !o.leaves_named(n).is_empty()) {
            return Err(Error::input(format!(
                "`{n}` is not a leaf of {} in the profile {}; name a server, client or proxy of the profile",
                args.org.as_deref().map(|o| format!("org `{o}`")).unwrap_or("any org".into()),
                topo.source
            )));
        }
    }
    let mut work = Vec::new();
    let mut olds: Vec<Vec<String>> = Vec::new();
    let mut planned = 0;
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
        let mut w = OrgWork::new(org, out);
        w.tier = ca.levels.len() as u8;
        let mut old = Vec::new();
        for spec in &org.leaves {
            if !args.names.is_empty() && !args.names.iter().any(|n| n == spec.name.as_str()) {
                continue;
            }
            let what = format!("{} {} of {}", spec.kind.name(), spec.name, org.name);
            let files = layout.leaf(spec.kind, spec.name.as_str());
            if !files.cert.exists() {
                crate::outln!(
                    "skipped {what}: not issued yet (`hapki issue {} --org {}`)",
                    spec.name,
                    org.name
                );
                continue;
            }
            let (der, _) = pki::read_cert(&files.cert)?;
            let (_, cert) = X509Certificate::from_der(&der).map_err(|_| {
                Error::input(format!(
                    "{} does not parse; re-issue it with `hapki issue {} --org {} --force`",
                    files.cert.display(),
                    spec.name,
                    org.name
                ))
            })?;
            let nb = cert.validity().not_before.to_datetime();
            let na = cert.validity().not_after.to_datetime();
            let left = na - now;
            let due = match within {
                Some(Span(s)) => left <= Duration::seconds(s),
                None => left * 3 < na - nb,
            };
            if !due {
                crate::outln!(
                    "skipped {what}: fresh, expires {} ({} days of {} left; renewal starts under a third, or pass --within)",
                    fmt_time(na),
                    left.whole_days(),
                    (na - nb).whole_days()
                );
                continue;
            }
            let key = if args.keep_key {
                Some(keys::load(&files.key)?)
            } else {
                None
            };
            old.push(cadb::serial_hex(cert.raw_serial()));
            crate::outln!(
                "{} {what}: expires {}{}",
                if args.dry_run {
                    "would renew"
                } else {
                    "renewing"
                },
                fmt_time(na),
                if args.keep_key {
                    ", same key"
                } else {
                    ", new key"
                }
            );
            w.leaves.push(spec.clone());
            w.keys.push(key);
            planned += 1;
        }
        if !w.leaves.is_empty() {
            w.existing = Some(ca);
            work.push(w);
            olds.push(old);
        }
    }
    if planned == 0 {
        crate::outln!("nothing to renew");
        return Ok(EXIT_OK);
    }
    if args.dry_run {
        crate::outln!("dry run: nothing was changed");
        return Ok(EXIT_OK);
    }
    super::preflight(out)?;
    let layouts: Vec<_> = work.iter().map(|w| w.layout.clone()).collect();
    let (done, plan) = execute(work, now)?;
    plan.commit(&lock)?;
    let mut kinds = Vec::new();
    for ((d, layout), old) in done.iter().zip(&layouts).zip(&olds) {
        for (leaf, old) in d.leaves.iter().zip(old) {
            let f = layout.leaf(leaf.spec.kind, leaf.spec.name.as_str());
            let new = X509Certificate::from_der(&leaf.der)
                .map(|(_, c)| cadb::serial_hex(c.raw_serial()))
                .unwrap_or_default();
            crate::outln!(
                "renewed {} {}: serial {old} -> {new} at {}",
                leaf.spec.kind.name(),
                leaf.spec.name,
                f.cert.display()
            );
            kinds.push(leaf.spec.kind);
        }
    }
    crate::outln!("Next: reload what uses the renewed files:");
    if kinds
        .iter()
        .any(|k| matches!(k, Kind::Server | Kind::ProxyBackend))
    {
        crate::outln!("  NGINX: nginx -s reload; HAProxy: systemctl reload haproxy (or kill -USR2 the master); PostgreSQL: pg_ctl reload");
    }
    crate::outln!(
        "  Canton nodes have no certificate hot reload: restart each, the passive replica first, then the active one"
    );
    if kinds.contains(&Kind::Client) {
        crate::outln!("  clients: restart the apps that present the renewed client certs");
    }
    Ok(EXIT_OK)
}
