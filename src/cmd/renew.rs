//! `hapki renew`: re-issue the leaves near the end of their life (under a third of their
//! lifetime left, or within `--within`) at the same paths with every derived file, through the
//! issuance engine; the old cert stays in `newcerts/` and the index. Then what to reload.

use super::EXIT_OK;
use crate::cadb;
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::issue::{execute, OrgWork};
use crate::keys;
use crate::model::{fmt_time, Kind, Span};
use crate::pki;
use crate::profile::Topology;
use crate::store::JWT_SIGNING_NAME;
use crate::token::rotate;
use clap::Args;
use time::Duration;
use x509_parser::prelude::{FromDer, X509Certificate};

pub const RENEW_HELP: &str = "EXAMPLES:\n  hapki renew                                # every leaf with under a third of its life left\n  hapki renew participant1 --within 30d      # that leaf, if it expires within 30 days\n  hapki renew --org participant1 --keep-key --dry-run\n\nA renewed leaf gets a new serial (and a new key unless --keep-key) at the same paths, with every\nderived file (chain, CSR, DER, HAProxy PEM); the old cert stays in newcerts/ and the index.\nThen reload what uses it: nginx -s reload, HAProxy reload, pg_ctl reload; Canton has no\ncertificate hot reload: restart the node, the passive replica first.\n\nEXIT CODES:\n  0  success (nothing to renew is success too)\n  2  bad input, no CA yet, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct RenewArgs {
    /// Leaf names (default: every leaf of the profile).
    pub names: Vec<String>,
    /// Only this org.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Renew leaves that expire within this span, instead of those with under a third of their
    /// lifetime left: 30d, 12h.
    #[arg(long, value_name = "DURATION")]
    pub within: Option<String>,
    /// Certify the existing key again instead of generating a new one.
    #[arg(long = "keep-key")]
    pub keep_key: bool,
    /// Say what would be renewed, and change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &RenewArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let orgs = topo.select(args.org.as_deref())?;
    let within = args.within.as_deref().map(str::parse::<Span>).transpose()?;
    let now = args.common.now()?;
    let out = &args.common.out;
    // Under the tree lock from the first read of an index to the last write.
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    let signer_named = args.names.iter().any(|n| n == JWT_SIGNING_NAME);
    for n in args.names.iter().filter(|n| *n != JWT_SIGNING_NAME) {
        if !orgs.iter().any(|o| !o.leaves_named(n).is_empty()) {
            return Err(Error::input(format!(
                "`{n}` is not a leaf of {} in the profile {}; name a server, client or proxy of the profile",
                args.org.as_deref().map(|o| format!("org `{o}`")).unwrap_or("any org".into()),
                topo.source
            )));
        }
    }
    let mut work = Vec::new();
    let mut jwt_plan = crate::store::Plan::new();
    let mut jwt_notes: Vec<String> = Vec::new();
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
        // The JWT signing key: renewed through a rotation (see `token::rotate`).
        let signer = layout.jwt_signing();
        if org.jwt.is_some() && (args.names.is_empty() || signer_named) && signer.cert.exists() {
            let (der, _) = pki::read_cert(&signer.cert)?;
            let (_, cert) = X509Certificate::from_der(&der).map_err(|_| {
                Error::input(format!(
                    "{} does not parse; re-create it with `hapki jwt keygen --org {} --force`",
                    signer.cert.display(),
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
            let what = format!("jwt-signing {JWT_SIGNING_NAME} of {}", org.name);
            if !due {
                crate::outln!(
                    "skipped {what}: fresh, expires {} ({} days of {} left)",
                    fmt_time(na),
                    left.whole_days(),
                    (na - nb).whole_days()
                );
            } else if args.keep_key {
                crate::outln!(
                    "{} {what}: expires {}, same key (same kid: every token keeps verifying)",
                    if args.dry_run {
                        "would renew"
                    } else {
                        "renewing"
                    },
                    fmt_time(na)
                );
                if !args.dry_run {
                    jwt_plan.extend(rotate::renew_keep_key(&layout, org, &ca, now)?);
                }
                planned += 1;
            } else {
                crate::outln!(
                    "{} {what}: expires {}, new key through a rotation (the old key stays published until its tokens expire)",
                    if args.dry_run { "would renew" } else { "renewing" },
                    fmt_time(na)
                );
                if !args.dry_run {
                    let p = rotate::renew_with_new_key(&layout, org, &ca, now)?;
                    jwt_plan.extend(p.plan);
                    jwt_notes.push(match (p.old_kid, p.retire_after) {
                        (Some(old), Some(t)) => format!(
                            "renewed {what}: new key {}; the old key {old} stays published; retire it with `hapki jwt rotate --org {} --retire` from {}",
                            p.new_kid, org.name, rotate::fmt_unix(t)
                        ),
                        _ => format!("renewed {what}: new key {}", p.new_kid),
                    });
                }
                planned += 1;
            }
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
    let (done, mut plan) = if work.is_empty() {
        (Vec::new(), crate::store::Plan::new())
    } else {
        execute(work, now)?
    };
    plan.extend(jwt_plan);
    plan.commit(&lock)?;
    for n in &jwt_notes {
        crate::outln!("{n}");
    }
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
