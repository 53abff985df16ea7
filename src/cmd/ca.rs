//! `hapki ca init`: the root (and intermediate, or policy and issuing) CA of every org of the
//! profile, or of one.

use super::{preflight, EXIT_OK};
use crate::cli::Common;
use crate::error::Result;
use crate::issue::{execute, OrgWork};
use crate::model::CaLevel;
use crate::pki::{detect_tier, Ca, OrgCa};
use crate::profile::Topology;
use clap::Args;

pub const CA_INIT_HELP: &str = "EXAMPLES:\n  hapki ca init                          # root + intermediate for every org\n  hapki ca init --org participant1 --tier 3\n  hapki ca init --profile my.toml --out pki --force\n\nEXIT CODES:\n  0  success\n  2  bad input, an existing CA without --force, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct CaInitArgs {
    /// CA tiers: 1 root only, 2 root > intermediate, 3 root > policy > issuing.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub tier: Option<u8>,
    /// Only this org of the profile.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Replace an existing CA (every cert it issued must then be re-issued).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &CaInitArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let orgs = topo.select(args.org.as_deref())?;
    let out = &args.common.out;
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    let mut work = Vec::new();
    for org in orgs {
        let mut w = OrgWork::new(org, out);
        w.tier = args.tier.unwrap_or(org.tier);
        let root = w.layout.ca(CaLevel::Root);
        if !args.force {
            if let Some(p) = [&root.cert, &root.key].into_iter().find(|p| p.exists()) {
                // A hierarchy cut short below its root (a killed run, a lost intermediate) is
                // completed and its root kept, as `hapki issue` suggests; a complete one, or a
                // change of tier, needs --force.
                let on_disk = detect_tier(&w.layout).unwrap_or(w.tier);
                let tier = args.tier.unwrap_or(on_disk);
                match OrgCa::load(&w.layout, org, tier)? {
                    Some(e)
                        if tier == on_disk && e.levels.len() < CaLevel::for_tier(tier).len() =>
                    {
                        w.tier = tier;
                        w.existing = Some(e);
                    }
                    _ => return Err(super::ca_exists(org, p)),
                }
            }
        }
        w.drop_other_tiers();
        work.push(w);
    }
    preflight(out)?;
    let (done, mut plan) = execute(work, args.common.now()?)?;
    for (d, org) in done.iter().zip(topo.select(args.org.as_deref())?) {
        let layout = crate::store::OrgLayout::new(out, org.name.as_str(), &org.dns);
        if let Some(bytes) = crate::export::p12::truststore_update(&layout, &d.ca)? {
            plan.add(layout.truststore(), bytes, crate::store::Mode::Public);
        }
    }
    plan.commit(&lock)?;
    for (d, org) in done.iter().zip(topo.select(args.org.as_deref())?) {
        let names =
            |levels: &[Ca]| -> Vec<&str> { levels.iter().map(|c| c.level.name()).collect() };
        let line = format!(
            "the {}-tier CA of {} ({}) in {}",
            d.ca.levels.len(),
            org.name,
            names(&d.ca.levels).join(" > "),
            out.join(org.name.as_str()).display()
        );
        if d.new_from == 0 {
            crate::outln!("created {line}");
        } else {
            crate::outln!(
                "completed {line}: kept {}, created {}",
                names(&d.ca.levels[..d.new_from]).join(", "),
                names(&d.ca.levels[d.new_from..]).join(", ")
            );
        }
    }
    Ok(EXIT_OK)
}
