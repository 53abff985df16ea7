//! `hapki init`: the main job. Every CA, leaf, OCSP responder, JWT signing key, JWKS and token of
//! the profile in one run, all keys generated in one parallel batch, and every file written and
//! flushed as soon as it exists (`issue::execute_staged`); only the renames wait for the end. A
//! re-run fills in only what is missing or no longer valid (a deleted file, a killed run) and
//! keeps the rest.

use super::{preflight, EXIT_OK};
use crate::cli::Common;
use crate::error::Result;
use crate::issue::{execute, execute_staged, leaf_state, planned_keys, LeafState, OrgWork};
use crate::model::{CaLevel, Kind};
use crate::pki::{self, detect_tier, OrgCa};
use crate::profile::{LeafSpec, OrgSpec, Topology};
use crate::store::{Mode, Plan, Stager};
use crate::token::stage::{load_signer, signing_spec};
use crate::token::{self, TokenSpec};
use clap::Args;
use std::path::Path;
use std::time::Instant;

pub const INIT_HELP: &str = "EXAMPLES:\n  hapki init                          # the built-in Canton HA topology into ./certs\n  hapki init --profile profiles/canton-ha-ecdsa.toml --out pki\n  hapki init --json                   # the summary as JSON\n\nA second run fills in only what is missing (a deleted file, a killed run) and keeps the rest.\n\nEXIT CODES:\n  0  success\n  2  bad input, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Re-create everything, CAs included.
    #[arg(long)]
    pub force: bool,
    /// Report what was written as JSON (per org: CA, leaves by kind, JWKS, tokens).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &InitArgs) -> Result<i32> {
    let started = Instant::now();
    let topo = Topology::load(args.common.profile.as_deref())?;
    let out = &args.common.out;
    let now = args.common.now()?;
    args.common.use_passphrase();
    let lock = args.common.lock()?;

    let mut work = Vec::new();
    let mut repairs = Plan::new();
    let mut repaired_of = vec![0usize; topo.orgs.len()];
    let mut ca_repaired = 0;
    let mut rewrapped = 0;
    for (o, org) in topo.orgs.iter().enumerate() {
        let mut w = org_work(org, out);
        let specs = leaf_specs(org);
        if args.force {
            w.drop_other_tiers();
        } else {
            // A hierarchy on disk with more levels than the profile asks for is kept; one with
            // fewer (a lost or never-written intermediate) is completed to the profile's tier.
            w.tier = detect_tier(&w.layout).map_or(org.tier, |t| t.max(org.tier));
            w.existing = OrgCa::load(&w.layout, org, w.tier)?;
            if let Some(note) = super::ca_offline::before_init(org, &mut w)? {
                eprintln!("{note}");
            }
            // A kept CA key whose file is not in the form the profile asks for (a profile
            // switched from `ca_key_encryption = "none"` to `"scrypt"`, or back) is rewritten
            // in place, encrypted with this run's passphrase (or decrypted).
            for c in w.existing.iter().flat_map(|e| &e.levels) {
                let path = w.layout.ca(c.level).key;
                let Some(key) = &c.key else { continue };
                if let Some(pem) = key.rewrapped(&org.ca_key_store, &path)? {
                    repairs.add(path, pem.as_bytes(), Mode::Secret);
                    rewrapped += 1;
                }
            }
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
                    repaired_of[o] += 1;
                }
                _ => needed.push(spec),
            }
        }
        // The CA's own derived files (trust bundle, root copy, CA CSRs) are written again
        // from the kept CA certs when they are missing or garbled.
        if let Some(ca) = complete_ca {
            let plan = pki::ca_repair_plan(org, &w.layout, ca)?;
            if !plan.is_empty() {
                ca_repaired += plan.len();
                repairs.extend(plan);
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
    // Before any key is generated (or any file staged); a run that only writes tokens or
    // repairs checks below.
    let checked = new_cas + new_leaves > 0 || !planned_keys(&work, now).is_empty();
    if checked {
        preflight(out)?;
    }
    // Every file goes to the stager as soon as its bytes exist, the repairs first; a run that
    // was not checked writable yet (no key to make) leaves its few files to the commit.
    let stager = Stager::new(&lock);
    let stage = |p: &Plan| {
        if checked {
            stager.stage(p);
        }
    };
    stage(&repairs);
    let layouts: Vec<_> = work.iter().map(|w| w.layout.clone()).collect();
    let (mut done, mut plan) = if checked {
        execute_staged(work, now, &stager)?
    } else {
        execute(work, now)?
    };
    plan.extend(repairs);
    let mut truststore_of = vec![false; topo.orgs.len()];
    for (o, (d, layout)) in done.iter().zip(&layouts).enumerate() {
        if let Some(bytes) = crate::export::p12::truststore_update(layout, &d.ca)? {
            let mut p = Plan::new();
            p.add(layout.truststore(), bytes, Mode::Public);
            stage(&p);
            plan.extend(p);
            truststore_of[o] = true;
        }
    }
    // Each CA's delegated OCSP responder (for `hapki serve`), when missing or not the CA's:
    // issued (and staged) by the engine, with keys of the batch.
    for d in &mut done {
        plan.extend(std::mem::take(&mut d.responders));
    }

    // JWKS and tokens need the signing cert on disk, so they follow the certs, org by org.
    let mut jwks_of = vec![false; topo.orgs.len()];
    let mut tokens_of = vec![0usize; topo.orgs.len()];
    let mut tokens = Plan::new();
    for (o, ((org, d), layout)) in topo.orgs.iter().zip(&done).zip(&layouts).enumerate() {
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
        // A rotation in progress keeps its staged and retired keys published.
        let jwks = token::rotate::published_jwks(layout, &cert_der, &d.ca)?;
        let jwks_ok = crate::store::read_text(&jwks_path).is_ok_and(|s| s == jwks);
        if !jwks_ok {
            let mut p = Plan::new();
            p.add(&jwks_path, jwks.clone(), Mode::Public);
            stage(&p);
            plan.extend(p);
            jwks_of[o] = true;
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
        let mut exps = Vec::new();
        for u in &jwt_spec.users {
            let path = layout.token(&u.name);
            let claims = TokenSpec::for_user(jwt_spec, u, now.unix_timestamp()).claims();
            // A token is kept while it verifies with today's key, has not expired, and says
            // what the profile says of its user (all but its times).
            // A token of a key the rotation retired still verifies, but is replaced.
            let keep = new_signer.is_none()
                && crate::store::read_text(&path).is_ok_and(|t| {
                    token::verify_token(t.trim(), &set, None, now.unix_timestamp())
                        .is_ok_and(|v| v.kid == signer.kid() && same_but_times(&v.claims, &claims))
                });
            if !keep {
                let t = signer.sign(&claims).map_err(crate::error::Error::bug)?;
                tokens.add(path, format!("{t}\n"), Mode::Secret);
                tokens_of[o] += 1;
                exps.push(claims["exp"].as_i64().unwrap_or(i64::MAX));
            }
        }
        token::rotate::record_minted(&mut tokens, layout, signer.kid(), exps)?;
    }
    let nothing = plan.is_empty() && tokens.is_empty();
    if !nothing {
        if !checked {
            preflight(out)?;
        }
        stage(&tokens);
        plan.extend(tokens);
        plan.adopt(stager.finish()?);
        plan.commit(&lock)?;
    }
    // Keys, tokens and their folders open to others are closed whether or not files changed:
    // init never calls a tree complete that verify rejects for a mode.
    let closed = close_secrets(&lock)?;
    let nothing = nothing && closed.is_empty();
    let summary = Summary {
        out,
        orgs: (topo.orgs.iter().zip(&done).enumerate())
            .map(|(o, (org, d))| OrgSummary {
                name: org.name.as_str(),
                tier: d.ca.levels.len(),
                ca_new: d.ca.levels.len() - d.new_from,
                ca: match d.new_from {
                    0 => "new",
                    n if n < d.ca.levels.len() => "completed",
                    _ => "kept",
                },
                leaves: &d.leaves,
                repaired: repaired_of[o],
                jwks: jwks_of[o],
                truststore: truststore_of[o],
                tokens: tokens_of[o],
            })
            .collect(),
        ca_repaired,
        rewrapped,
        closed: &closed,
        seconds: started.elapsed().as_secs_f64(),
    };
    // A leaf asked to outlive its issuing CA is cut to the CA's notAfter (`pki::leaf`); said
    // once per org, as `issue` says it per leaf, so the short lifetime is no surprise at renewal.
    for (org, d) in topo.orgs.iter().zip(&done) {
        let cut: Vec<&str> = (d.leaves.iter())
            .filter(|l| l.clamped)
            .map(|l| l.spec.name.as_str())
            .collect();
        if !cut.is_empty() {
            eprintln!(
                "note: {} of org `{}` expire{} with the issuing CA on {}, before the days the profile asks ({}); give the CA a longer intermediate_days, or renew these with it",
                match cut.len() {
                    1 => "1 leaf".to_string(),
                    n => format!("{n} leaves"),
                },
                org.name,
                if cut.len() == 1 { "s" } else { "" },
                crate::model::fmt_time(d.ca.issuing().not_after),
                cut.join(", ")
            );
        }
    }
    if args.json {
        crate::out::print(&summary.json());
    } else if nothing {
        crate::outln!(
            "{} is complete: nothing to do ({} orgs checked). Next: hapki verify {}",
            out.display(),
            topo.orgs.len(),
            out.display()
        );
    } else {
        crate::out::print(&summary.human());
    }
    Ok(EXIT_OK)
}

/// The work of `init` for `org` before it looks at the tree: every CA level and OCSP responder.
fn org_work<'a>(org: &'a OrgSpec, out: &Path) -> OrgWork<'a> {
    let mut w = OrgWork::new(org, out);
    w.responders = true;
    w
}

/// The leaves `init` issues for `org`: the profile's, and the JWT signing cert of an org with
/// tokens.
fn leaf_specs(org: &OrgSpec) -> Vec<LeafSpec> {
    let mut specs = org.leaves.clone();
    if org.jwt.is_some() {
        specs.push(signing_spec(org, None));
    }
    specs
}

/// The work of `init` on an empty output folder: every CA, leaf and responder of `topo`. What
/// `benches/keygen_floor.rs` takes the keys of (`issue::planned_keys`), so that the floor is
/// exactly the keys a fresh `init` generates.
pub fn fresh_work<'a>(topo: &'a Topology, out: &Path) -> Vec<OrgWork<'a>> {
    (topo.orgs.iter())
        .map(|org| {
            let mut w = org_work(org, out);
            w.leaves = leaf_specs(org);
            w
        })
        .collect()
}

/// What one run of `init` did, per org: the one source of both reports (text and `--json`).
struct Summary<'a> {
    out: &'a std::path::Path,
    orgs: Vec<OrgSummary<'a>>,
    /// CA files (trust bundle, root copy, CA CSRs) written again from the kept CA certs.
    ca_repaired: usize,
    /// CA key files rewritten in the form `ca_key_encryption` asks for.
    rewrapped: usize,
    /// Secret files and folders closed to group and others.
    closed: &'a [std::path::PathBuf],
    seconds: f64,
}

struct OrgSummary<'a> {
    name: &'a str,
    tier: usize,
    /// CA certs created in this run.
    ca_new: usize,
    /// `new`, `completed` (missing levels under a kept root) or `kept`.
    ca: &'static str,
    leaves: &'a [pki::Leaf],
    /// Leaves whose derived files were written again from their kept cert and key.
    repaired: usize,
    jwks: bool,
    truststore: bool,
    tokens: usize,
}

impl OrgSummary<'_> {
    fn changed(&self) -> bool {
        self.ca_new + self.leaves.len() + self.repaired + self.tokens > 0
            || self.jwks
            || self.truststore
    }
}

impl Summary<'_> {
    fn total(&self, f: impl Fn(&OrgSummary) -> usize) -> usize {
        self.orgs.iter().map(f).sum()
    }

    fn human(&self) -> String {
        let repaired = self.total(|o| o.repaired);
        let mut s = format!(
            "hapki init: {} orgs, {} CA certs, {} leaf certs{}{}{}, {} JWKS, {} tokens written to {} in {:.1}s\n",
            self.orgs.len(),
            self.total(|o| o.ca_new),
            self.total(|o| o.leaves.len()),
            if repaired > 0 {
                format!(" (and repaired the missing or broken files of {repaired} more, from their cert and key)")
            } else {
                String::new()
            },
            if self.ca_repaired > 0 {
                format!(
                    ", {} CA file{} repaired (trust bundle, root copy or CSR)",
                    self.ca_repaired,
                    if self.ca_repaired == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            },
            match self.rewrapped {
                0 => String::new(),
                n => format!(
                    ", {n} CA key{} rewritten as ca_key_encryption says",
                    if n == 1 { "" } else { "s" }
                ),
            },
            self.total(|o| usize::from(o.jwks)),
            self.total(|o| o.tokens),
            self.out.display(),
            self.seconds
        );
        for o in &self.orgs {
            if !o.leaves.is_empty() || o.ca_new > 0 {
                let kinds = super::kind_counts(o.leaves);
                s += &format!(
                    "  {:<14} {}-tier CA{}{}\n",
                    o.name,
                    o.tier,
                    match o.ca {
                        "new" => " (new)",
                        "completed" => " (completed under the kept root)",
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
        let stores: Vec<&str> = (self.orgs.iter().filter(|o| o.truststore))
            .map(|o| o.name)
            .collect();
        if !stores.is_empty() {
            s += &format!(
                "  Java truststores (intermediate/certs/truststore.p12, password {}): {}\n",
                crate::export::TRUSTSTORE_PASSWORD,
                stores.join(", ")
            );
        }
        if !self.closed.is_empty() {
            s += &format!("  repaired: {}\n", closed_sentence(self.closed));
        }
        s += &format!("Next: hapki verify {}\n", self.out.display());
        s
    }

    fn json(&self) -> String {
        let count =
            |leaves: &[pki::Leaf], k: Kind| leaves.iter().filter(|l| l.spec.kind == k).count();
        let orgs: Vec<serde_json::Value> = (self.orgs.iter())
            .map(|o| {
                serde_json::json!({
                    "name": o.name,
                    "changed": o.changed(),
                    "ca": {"tier": o.tier, "status": o.ca, "certs_written": o.ca_new},
                    "leaves_written": {
                        "server": count(o.leaves, Kind::Server),
                        "client": count(o.leaves, Kind::Client),
                        "proxy_backend": count(o.leaves, Kind::ProxyBackend),
                        "jwt_signing": count(o.leaves, Kind::JwtSigning),
                    },
                    "leaves_repaired": o.repaired,
                    "jwks_written": o.jwks,
                    "truststore_written": o.truststore,
                    "tokens_written": o.tokens,
                })
            })
            .collect();
        let v = serde_json::json!({
            "out": self.out.display().to_string(),
            "nothing_to_do": !self.orgs.iter().any(OrgSummary::changed)
                && self.ca_repaired == 0
                && self.rewrapped == 0
                && self.closed.is_empty(),
            "written": {
                "ca_certs": self.total(|o| o.ca_new),
                "leaf_certs": self.total(|o| o.leaves.len()),
                "leaves_repaired": self.total(|o| o.repaired),
                "jwks": self.total(|o| usize::from(o.jwks)),
                "truststores": self.total(|o| usize::from(o.truststore)),
                "tokens": self.total(|o| o.tokens),
                "ca_files_repaired": self.ca_repaired,
                "ca_keys_rewritten": self.rewrapped,
                "modes_closed": self.closed.len(),
            },
            "seconds": self.seconds,
            "orgs": orgs,
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
}

/// Secret files and their folders back to 0600 / 0700 (see `store::modes`).
fn close_secrets(lock: &crate::store::Lock) -> Result<Vec<std::path::PathBuf>> {
    crate::store::modes::close_secrets(lock.out())
}

fn closed_sentence(closed: &[std::path::PathBuf]) -> String {
    let names: Vec<String> = closed.iter().map(|p| p.display().to_string()).collect();
    format!(
        "closed {} to group and others (keys and tokens 0600, their folders 0700): {}",
        if closed.len() == 1 {
            "1 file or folder".to_string()
        } else {
            format!("{} files and folders", closed.len())
        },
        names.join(", ")
    )
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
