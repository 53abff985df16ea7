//! `hapki jwt rotate`: signing-key rollover in three steps (stage, promote, retire), each one
//! atomic run under the tree lock; the engine is `token::rotate`.

use super::{preflight, EXIT_OK};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::pki::{self, OrgCa};
use crate::profile::Topology;
use crate::store::OrgLayout;
use crate::token::rotate::{self, fmt_unix};
use clap::Args;

pub const JWT_ROTATE_HELP: &str = "\
The current key is always the first JWKS entry. Run the steps in order:
  1. stage:   a new key is published second in the JWKS; nothing signs with it yet.
  2. wait until every verifier has fetched the new JWKS (Canton 2.x caches JWKS keys for 10 h;
     3.x for its jwks-cache-config time; `hapki serve` re-reads the file at once).
  3. promote: the new key signs from now on (jwt mint, init, the token endpoint); the old key
     stays published, and the profile's tokens are re-minted.
  4. wait the token lifetime (plus 60 s of leeway): hapki records when the last token of the
     old key expires, and refuses to retire it before.
  5. retire:  the old key leaves the JWKS and the tree.

EXAMPLES:
  hapki jwt rotate --org participant1              # stage a next key
  hapki jwt rotate --org participant1 --promote    # make it current
  hapki jwt rotate --org participant1 --retire     # drop old keys whose tokens have expired

EXIT CODES:
  0  success
  2  bad input, a step out of order, --retire before the old key's tokens expired, or a file
     could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct JwtRotateArgs {
    /// The org whose signing key rotates.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    /// Make the staged key the current one; the old key stays published.
    #[arg(long, conflicts_with = "retire")]
    pub promote: bool,
    /// Remove old keys once every token they signed has expired (plus leeway).
    #[arg(long)]
    pub retire: bool,
    /// Stage: replace a key already staged. Retire: remove every old key now (tokens they
    /// signed stop verifying).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &JwtRotateArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let org = topo.org(&args.org)?;
    let out = &args.common.out;
    args.common.use_passphrase();
    let now = args.common.now()?;
    let lock = args.common.lock()?;
    let layout = OrgLayout::new(out, org.name.as_str(), &org.dns);
    let ca = OrgCa::load_complete(&layout, org)?;
    let cur = layout.jwt_signing();
    if !cur.cert.exists() {
        return Err(Error::input(format!(
            "org `{}` has no JWT signing key to rotate ({} is missing); create it with `hapki jwt keygen --org {}`",
            org.name,
            cur.cert.display(),
            org.name
        )));
    }
    let staged = layout.jwt_signing_next();
    let name = org.name.as_str();
    if args.promote {
        if args.force {
            return Err(Error::input(
                "--force goes with staging or --retire, not with --promote; promote without it",
            ));
        }
        if !staged.cert.exists() || !staged.key.exists() {
            return Err(Error::input(format!(
                "org `{name}` has no staged key to promote ({} is missing); stage one first with `hapki jwt rotate --org {name}`",
                if staged.cert.exists() { &staged.key } else { &staged.cert }.display()
            )));
        }
        let (der, pem) = pki::read_cert(&staged.cert)?;
        let key = crate::store::read(&staged.key)?;
        let public = match &staged.public_key {
            Some(p) if p.exists() => crate::store::read(p)?,
            _ => crate::keys::parse_pem(&key, &staged.key)?
                .public_key_pem()
                .into_bytes(),
        };
        let p = rotate::promote(&layout, org, &ca, (&der, &pem, &key, &public), now)?;
        preflight(out)?;
        p.plan.commit(&lock)?;
        crate::outln!(
            "promoted key {} of org `{name}`: it signs from now on, first in {}",
            p.new_kid,
            layout.jwks().display()
        );
        if let (Some(old), Some(after)) = (&p.old_kid, p.retire_after) {
            crate::outln!(
                "the old key {old} stays published at {} until its tokens have expired; retire it with `hapki jwt rotate --org {name} --retire` from {}",
                layout.jwt_signing_retired(old).display(),
                fmt_unix(after)
            );
        }
        if !p.tokens.is_empty() {
            crate::outln!("re-minted {} tokens with the new key", p.tokens.len());
        }
        return Ok(EXIT_OK);
    }
    if args.retire {
        let current = pki::read_cert(&cur.cert)?.0;
        let r = rotate::retire(&layout, &current, &ca, now, args.force)?;
        if r.dropped.is_empty() {
            let Some(first) = r.kept.first() else {
                return Err(Error::input(format!(
                    "org `{name}` has no retired key; promote a staged key with `hapki jwt rotate --org {name} --promote` first"
                )));
            };
            let when = r.kept.iter().filter_map(|(_, a)| *a).min();
            return Err(Error::input(match when {
                Some(t) => format!(
                    "the retired key {} of org `{name}` cannot go before {}: tokens it signed are valid until then (their exp plus {} s of leeway); run --retire again then, or pass --force to drop it now (its tokens stop verifying)",
                    first.0,
                    fmt_unix(t),
                    crate::token::LEEWAY
                ),
                None => format!(
                    "hapki has no record of when the tokens of retired key {} of org `{name}` expire ({} has none); pass --force once they have",
                    first.0,
                    layout.jwt_rotation_state().display()
                ),
            }));
        }
        preflight(out)?;
        r.plan.commit(&lock)?;
        for kid in &r.dropped {
            crate::outln!(
                "retired key {kid} of org `{name}`: removed from {} and {}",
                layout.jwks().display(),
                layout.jwt_retired_dir().join(kid).display()
            );
        }
        for (kid, after) in &r.kept {
            match after {
                Some(t) => crate::outln!(
                    "kept retired key {kid}: its tokens are valid until {}",
                    fmt_unix(*t)
                ),
                None => crate::outln!(
                    "kept retired key {kid}: no record of its tokens' expiry (pass --force to drop it)"
                ),
            }
        }
        return Ok(EXIT_OK);
    }
    if !args.force {
        if let Some(p) = staged.all().find(|p| p.exists()) {
            return Err(Error::input(format!(
                "org `{name}` has a staged key already ({}); promote it with `hapki jwt rotate --org {name} --promote`, or pass --force to replace it",
                p.display()
            )));
        }
    }
    preflight(out)?;
    let s = rotate::stage(&layout, org, &ca, now)?;
    s.plan.commit(&lock)?;
    crate::outln!(
        "staged key {} ({}) of org `{name}` at {}, published second in {}",
        s.kid,
        s.leaf.spec.key,
        staged.cert.display(),
        layout.jwks().display()
    );
    crate::outln!(
        "Next: once every verifier has fetched the new JWKS (Canton 2.x caches keys for 10 h), promote it with `hapki jwt rotate --org {name} --promote`"
    );
    Ok(EXIT_OK)
}
