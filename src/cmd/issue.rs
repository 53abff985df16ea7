//! `hapki issue`: every leaf the profile declares for an org (filling in only what is missing),
//! one declared leaf by name, or an ad-hoc leaf of a given kind with extra SANs.

use super::{preflight, EXIT_OK};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::issue::{execute, leaf_state, LeafState, OrgWork};
use crate::model::Kind;
use crate::model::{parse_days, KeyAlg, Label, San};
use crate::pki::{adhoc_spec, OrgCa};
use crate::profile::{LeafSpec, OrgSpec, Topology};
use crate::store::{Mode, Plan, JWT_SIGNING_NAME};
use clap::Args;

pub const ISSUE_HELP: &str = "EXAMPLES:\n  hapki issue participant1                       # every leaf the profile declares for the org\n  hapki issue participant1b                      # one declared leaf\n  hapki issue reporting --org participant1 --kind client --days 30\n  hapki issue db --org participant1 --kind server --san DNS:pg.customer1.com --san IP:10.0.0.5\n\nEXIT CODES:\n  0  success (existing valid leaves are skipped; --force re-issues them)\n  2  bad input, no CA yet, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct IssueArgs {
    /// An org (every leaf it declares) or a leaf name.
    pub name: String,
    /// The org of the leaf.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// server, client, proxy-backend or jwt-signing (issues an ad-hoc leaf).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Extra subject alternative name: DNS:name or IP:address (repeatable, or comma-separated).
    #[arg(long, value_name = "DNS/IP")]
    pub san: Vec<String>,
    /// Validity in days (default from the profile).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub days: Option<String>,
    /// Key algorithm: rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384 or ed25519.
    #[arg(long, value_name = "ALG")]
    pub key: Option<String>,
    /// Re-issue leaves that exist and are valid.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &IssueArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    // Every user string becomes a checked value before any file is read or key generated.
    let kind = args.kind.as_deref().map(Kind::parse).transpose()?;
    let sans = args
        .san
        .iter()
        .flat_map(|s| s.split(','))
        .map(San::parse)
        .collect::<Result<Vec<_>>>()?;
    let days = args.days.as_deref().map(parse_days).transpose()?;
    let key: Option<KeyAlg> = args.key.as_deref().map(str::parse).transpose()?;
    if kind == Some(Kind::JwtSigning) && !sans.is_empty() {
        return Err(Error::input(
            "a jwt-signing cert carries no SANs (tokens name their key by kid); leave out --san",
        ));
    }
    let (org, specs) = resolve(&topo, args, kind, &sans, days, key)?;
    for s in specs.iter().filter(|s| s.kind == Kind::JwtSigning) {
        if let Some(why) = crate::token::stage::jwt_key_refusal(s.key) {
            return Err(Error::input(format!(
                "the jwt-signing cert {} would have a {} key, which cannot sign Canton tokens: {why}",
                s.name, s.key
            )));
        }
    }
    // An org without [org.jwt] has no JWKS; the one signing key verify knows there is
    // `jwt-sign`, and issuing it writes its JWKS too (below), so the tree stays one `verify`
    // accepts. Another name would be a key nothing publishes.
    let adhoc_signer = org.jwt.is_none() && specs.iter().any(|s| s.kind == Kind::JwtSigning);
    if adhoc_signer && name_is_not_signer(&specs) {
        return Err(Error::input(format!(
            "org `{}` has no [org.jwt] section in the profile {}, so a jwt-signing cert named `{}` would be published by no JWKS and verify would fail the tree; name it `{JWT_SIGNING_NAME}` (its JWKS is written with it), or add [org.jwt] to the profile",
            org.name, topo.source, args.name
        )));
    }
    for s in specs.iter().filter(|s| s.kind == Kind::Client) {
        if let Some(m) = crate::store::layout::client_name_error(s.name.as_str()) {
            return Err(Error::input(m));
        }
    }

    let out = &args.common.out;
    let now = args.common.now()?;
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    let mut w = OrgWork::new(org, out);
    let ca = OrgCa::load_complete(&w.layout, org)?;
    w.tier = ca.levels.len() as u8;
    // A name outside the issuing CA's name constraints is refused before any key is made.
    for s in &specs {
        crate::pki::check_permitted(
            &ca.issuing().der,
            &s.sans,
            &format!("the {} `{}` of org `{}`", s.kind.name(), s.name, org.name),
        )?;
    }
    let mut skipped = Vec::new();
    let mut repairs = Plan::new();
    for spec in specs {
        let files = w.layout.leaf(spec.kind, spec.name.as_str());
        match leaf_state(org, &files, &spec, &ca, now) {
            _ if args.force => w.leaves.push(spec),
            LeafState::Current => skipped.push(spec),
            LeafState::Repair(plan) => {
                let names: Vec<String> = plan.paths().map(|p| p.display().to_string()).collect();
                crate::outln!(
                    "restored {} {} from its existing cert and key: {}",
                    spec.kind.name(),
                    spec.name,
                    names.join(", ")
                );
                repairs.extend(plan);
            }
            LeafState::Reissue(r) => {
                if files.cert.exists() {
                    eprintln!("re-issuing {} {}: {r}", spec.kind.name(), spec.name);
                }
                w.leaves.push(spec)
            }
        }
    }
    w.existing = Some(ca);
    for s in &skipped {
        eprintln!(
            "skipped {} {}: it exists and is valid (pass --force to re-issue)",
            s.kind.name(),
            s.name
        );
    }
    if w.leaves.is_empty() && repairs.is_empty() {
        crate::outln!("nothing to issue for {}: every leaf exists", org.name);
        return Ok(EXIT_OK);
    }
    preflight(out)?;
    let layout = w.layout.clone();
    let (done, mut plan) = execute(vec![w], now)?;
    plan.extend(repairs);
    if adhoc_signer {
        for leaf in done[0]
            .leaves
            .iter()
            .filter(|l| l.spec.kind == Kind::JwtSigning)
        {
            plan.add(
                layout.jwks(),
                crate::token::rotate::published_jwks(&layout, &leaf.der, &done[0].ca)?,
                Mode::Public,
            );
        }
    }
    plan.commit(&lock)?;
    for leaf in &done[0].leaves {
        let f = layout.leaf(leaf.spec.kind, leaf.spec.name.as_str());
        let sans: Vec<String> = leaf.spec.sans.iter().map(|s| s.to_string()).collect();
        crate::outln!(
            "issued {} {} [{}] -> {}",
            leaf.spec.kind.name(),
            leaf.spec.name,
            sans.join(", "),
            f.cert.display()
        );
        if leaf.clamped {
            eprintln!(
                "note: {} {} expires with its issuing CA, before the {} days asked",
                leaf.spec.kind.name(),
                leaf.spec.name,
                leaf.spec.days
            );
        }
    }
    Ok(EXIT_OK)
}

/// Works out which org and which leaves `hapki issue NAME ...` means.
fn resolve<'t>(
    topo: &'t Topology,
    args: &IssueArgs,
    kind: Option<Kind>,
    sans: &[San],
    days: Option<u32>,
    key: Option<KeyAlg>,
) -> Result<(&'t OrgSpec, Vec<LeafSpec>)> {
    let name = &args.name;
    // An org name without --kind: every leaf the profile declares for it.
    if kind.is_none() && args.org.as_deref().is_none_or(|o| o == name) {
        if let Ok(org) = topo.org(name) {
            if !sans.is_empty() {
                return Err(Error::input(format!(
                    "--san adds names to one leaf, but `{name}` is an org; name a leaf and its kind, e.g. `hapki issue {} --org {name} --kind {} --san ...`",
                    org.leaves.first().map_or("NAME", |l| l.name.as_str()),
                    org.leaves.first().map_or("server", |l| l.kind.name())
                )));
            }
            let specs = org
                .leaves
                .iter()
                .map(|l| with_overrides(l.clone(), days, key))
                .collect();
            return Ok((org, specs));
        }
    }
    let label = Label::parse(name, "leaf name")?;
    let org = match &args.org {
        Some(o) => topo.org(o)?,
        None => {
            let owners: Vec<&'t OrgSpec> = topo
                .orgs
                .iter()
                .filter(|o| !o.leaves_named(name).is_empty())
                .collect();
            match owners.as_slice() {
                [one] => *one,
                [] if kind.is_some() => {
                    return Err(Error::input(format!(
                        "`{name}` is not a leaf of the profile, so hapki cannot tell its org; add --org ORG (one of {})",
                        topo.org_names()
                    )))
                }
                [] => {
                    return Err(Error::input(format!(
                        "`{name}` is neither an org nor a leaf of the profile {}; issue it ad hoc with --org ORG --kind server|client|proxy-backend|jwt-signing",
                        topo.source
                    )))
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|o| o.name.as_str()).collect();
                    return Err(Error::input(format!(
                        "`{name}` is a leaf of several orgs ({}); choose one with --org",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let kinds: Vec<Kind> = match kind {
        Some(k) => vec![k],
        None => {
            let ks: Vec<Kind> = org.leaves_named(name).iter().map(|l| l.kind).collect();
            if ks.is_empty() {
                return Err(Error::input(format!(
                    "`{name}` is not a leaf of org `{}` in the profile; give --kind server|client|proxy-backend|jwt-signing to issue it ad hoc",
                    org.name
                )));
            }
            if ks.len() > 1 && !sans.is_empty() {
                return Err(Error::input(format!(
                    "`{name}` is both a server and a client of org `{}`; say which one gets the extra SANs with --kind",
                    org.name
                )));
            }
            ks
        }
    };
    let specs: Vec<LeafSpec> = kinds
        .into_iter()
        .map(|k| adhoc_spec(org, &label, k, sans, days, key))
        .collect();
    for s in &specs {
        org.check_leaf(s)?;
    }
    Ok((org, specs))
}

fn name_is_not_signer(specs: &[LeafSpec]) -> bool {
    specs
        .iter()
        .any(|s| s.kind == Kind::JwtSigning && s.name.as_str() != JWT_SIGNING_NAME)
}

fn with_overrides(mut spec: LeafSpec, days: Option<u32>, key: Option<KeyAlg>) -> LeafSpec {
    if let Some(d) = days {
        spec.days = d;
    }
    if let Some(k) = key {
        spec.key = k;
    }
    spec
}
