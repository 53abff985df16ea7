//! `hapki ca init`: the root (and intermediate, or policy and issuing) CA of every org of the
//! profile, or of one.

use super::{execute, preflight, OrgWork, EXIT_OK};
use crate::cli::CaInitArgs;
use crate::error::Result;
use crate::layout::CaLevel;
use crate::profile::Topology;
use time::OffsetDateTime;

pub fn run(args: &CaInitArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let orgs = topo.select(args.org.as_deref())?;
    let out = &args.common.out;
    let mut work = Vec::new();
    for org in orgs {
        let mut w = OrgWork::new(org, out);
        w.tier = args.tier.unwrap_or(org.tier);
        let root = w.layout.ca(CaLevel::Root);
        if !args.force {
            if let Some(p) = [&root.cert, &root.key].into_iter().find(|p| p.exists()) {
                return Err(super::ca_exists(org, p));
            }
        }
        // Levels of every tier that the new hierarchy does not have go away with the old one.
        for level in [CaLevel::Policy, CaLevel::Intermediate] {
            if !CaLevel::for_tier(w.tier).contains(&level) {
                let f = w.layout.ca(level);
                w.remove.extend([f.cert, f.key]);
                w.remove.extend(f.csr);
                if level == CaLevel::Intermediate {
                    w.remove.push(w.layout.trust_bundle());
                    w.remove.push(w.layout.root_copy());
                }
            }
        }
        work.push(w);
    }
    preflight(out)?;
    let (done, plan) = execute(work, OffsetDateTime::now_utc())?;
    plan.commit()?;
    for (d, org) in done.iter().zip(topo.select(args.org.as_deref())?) {
        let levels: Vec<&str> = d.ca.levels.iter().map(|c| c.level.name()).collect();
        println!(
            "created the {}-tier CA of {} ({}) in {}",
            d.ca.levels.len(),
            org.name,
            levels.join(" > "),
            out.join(org.name.as_str()).display()
        );
    }
    Ok(EXIT_OK)
}
