//! `hapki init`: the main job. Every CA, leaf, JWT signing key, JWKS and token of the profile in
//! one run, all keys generated in one parallel batch. A re-run fills in only what is missing or
//! no longer valid (a deleted file, a killed run) and keeps the rest.

use super::{preflight, EXIT_OK};
use crate::cli::InitArgs;
use crate::error::Result;
use crate::issue::{execute, leaf_state, LeafState, OrgWork};
use crate::model::CaLevel;
use crate::pki::{self, detect_tier, OrgCa};
use crate::profile::Topology;
use crate::store::{Mode, Plan};
use crate::token::stage::{jwks_for, load_signer, signing_spec};
use crate::token::{self, TokenSpec};
use std::time::Instant;

pub fn run(args: &InitArgs) -> Result<i32> {
    let started = Instant::now();
    let topo = Topology::load(args.common.profile.as_deref())?;
    let out = &args.common.out;
    let now = args.common.now()?;

    let mut work = Vec::new();
    let mut repairs = Plan::new();
    let mut repaired = 0;
    for org in &topo.orgs {
        let mut w = OrgWork::new(org, out);
        let mut specs = org.leaves.clone();
        if org.jwt.is_some() {
            specs.push(signing_spec(org, None));
        }
        if args.force {
            w.drop_other_tiers();
        } else {
            // A hierarchy on disk with more levels than the profile asks for is kept; one with
            // fewer (a lost or never-written intermediate) is completed to the profile's tier.
            w.tier = detect_tier(&w.layout).map_or(org.tier, |t| t.max(org.tier));
            w.existing = OrgCa::load(&w.layout, w.tier)?;
        }
        let complete_ca = w
            .existing
            .as_ref()
            .filter(|e| e.levels.len() == CaLevel::for_tier(w.tier).len());
        // Under a CA created in this run every leaf is new; under a kept CA only the missing,
        // broken or stale ones are, and a leaf that only lost derived files gets them back.
        let mut needed = Vec::new();
        for spec in specs {
            let files = w.layout.leaf(spec.kind, spec.name.as_str());
            match complete_ca.map(|ca| (ca, leaf_state(org, &files, &spec, ca, now))) {
                Some((_, LeafState::Current)) => {}
                Some((_, LeafState::Repair(plan))) => {
                    repairs.extend(plan);
                    repaired += 1;
                }
                _ => needed.push(spec),
            }
        }
        w.leaves = needed;
        work.push(w);
    }
    let new_cas: usize = work
        .iter()
        .map(|w| {
            CaLevel::for_tier(w.tier).len() - w.existing.as_ref().map_or(0, |e| e.levels.len())
        })
        .sum();
    let new_leaves: usize = work.iter().map(|w| w.leaves.len()).sum();
    // Before any key is generated; a run that only writes tokens or repairs checks below.
    let checked = new_cas + new_leaves > 0;
    if checked {
        preflight(out)?;
    }
    let layouts: Vec<_> = work.iter().map(|w| w.layout.clone()).collect();
    let (done, mut plan) = execute(work, now)?;
    plan.extend(repairs);
    // Each CA's delegated OCSP responder (for `hapki serve`), when missing or not the CA's.
    for ((org, d), layout) in topo.orgs.iter().zip(&done).zip(&layouts) {
        plan.extend(pki::responder::plan_for(org, layout, &d.ca, now)?);
    }

    // JWKS and tokens need the signing cert on disk, so they follow the certs, org by org.
    let mut jwks_written = 0;
    let mut tokens = Plan::new();
    for ((org, d), layout) in topo.orgs.iter().zip(&done).zip(&layouts) {
        let Some(jwt_spec) = &org.jwt else { continue };
        let new_signer = d
            .leaves
            .iter()
            .find(|l| l.spec.kind == crate::model::Kind::JwtSigning);
        let jwks_path = layout.jwks();
        let cert_der = match new_signer {
            Some(l) => l.der.clone(),
            None => pki::read_cert(&layout.jwt_signing().cert)?.0,
        };
        let jwks = jwks_for(&cert_der, &d.ca)?;
        let jwks_ok = std::fs::read_to_string(&jwks_path).is_ok_and(|s| s == jwks);
        if !jwks_ok {
            plan.add(&jwks_path, jwks.clone(), Mode::Public);
            jwks_written += 1;
        }
        let signer = match new_signer {
            Some(l) => token::Signer::from_der(
                &rustls_pki_types::PrivatePkcs8KeyDer::from(l.key.serialize_der()).into(),
                &l.der,
            )
            .map_err(crate::error::Error::bug)?,
            None => load_signer(layout, org)?,
        };
        let set = token::parse_jwks(jwks.as_bytes()).map_err(crate::error::Error::bug)?;
        for u in &jwt_spec.users {
            let path = layout.token(&u.name);
            let claims = TokenSpec::for_user(jwt_spec, u, now.unix_timestamp()).claims();
            // A token is kept while it verifies with today's key, has not expired, and says
            // what the profile says of its user (all but its times).
            let keep = new_signer.is_none()
                && std::fs::read_to_string(&path).is_ok_and(|t| {
                    token::verify_token(t.trim(), &set, None, now.unix_timestamp())
                        .is_ok_and(|v| same_but_times(&v.claims, &claims))
                });
            if !keep {
                let t = signer.sign(&claims).map_err(crate::error::Error::bug)?;
                tokens.add(path, format!("{t}\n"), Mode::Secret);
            }
        }
    }
    let n_tokens = tokens.len();
    if plan.is_empty() && tokens.is_empty() {
        crate::outln!(
            "{} is complete: nothing to do ({} orgs checked). Next: hapki verify {}",
            out.display(),
            topo.orgs.len(),
            out.display()
        );
        return Ok(EXIT_OK);
    }
    if !checked {
        preflight(out)?;
    }
    plan.extend(tokens);
    plan.commit()?;

    let certs: usize = done.iter().map(|d| d.leaves.len()).sum();
    crate::outln!(
        "hapki init: {} orgs, {} CA certs, {} leaf certs{}, {} JWKS, {} tokens written to {} in {:.1}s",
        topo.orgs.len(),
        new_cas,
        certs,
        if repaired > 0 {
            format!(" (and the missing files of {repaired} more, from their cert and key)")
        } else {
            String::new()
        },
        jwks_written,
        n_tokens,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    for (org, d) in topo.orgs.iter().zip(&done) {
        if !d.leaves.is_empty() || d.new_from < d.ca.levels.len() {
            let kinds = super::kind_counts(&d.leaves);
            crate::outln!(
                "  {:<14} {}-tier CA{}{}",
                org.name.as_str(),
                d.ca.levels.len(),
                match d.new_from {
                    0 => " (new)",
                    n if n < d.ca.levels.len() => " (completed under the kept root)",
                    _ => " (kept)",
                },
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(", {kinds}")
                }
            );
        }
    }
    crate::outln!("Next: hapki verify {}", out.display());
    Ok(EXIT_OK)
}

/// Two claim sets that differ at most in `iat` and `exp`.
fn same_but_times(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("iat");
            m.remove("exp");
        }
        v
    };
    strip(a) == strip(b)
}
