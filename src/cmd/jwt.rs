//! `hapki jwt keygen | mint | verify`: JWT signing keys and certs under each participant's CA
//! with their JWKS, one-day Canton tokens, and token verification.

use super::{preflight, EXIT_OK, EXIT_PROBLEM};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::issue::{execute, OrgWork};
use crate::model::{At, KeyAlg, Span};
use crate::pki::{self, OrgCa};
use crate::profile::{user_name, OrgSpec, TokenFormat, Topology, UserSpec};
use crate::store::OrgLayout;
use crate::store::{Mode, Plan};
use crate::token::stage::{jwt_spec, load_signer, signing_spec};
use crate::token::{self, Signer, TokenSpec};
use clap::Args;
use rayon::prelude::*;
use rustls_pki_types::CertificateDer;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub const JWT_KEYGEN_HELP: &str = "EXAMPLES:\n  hapki jwt keygen                         # every org that has JWT users\n  hapki jwt keygen --org participant1 --key ecdsa-p256\n\nEXIT CODES:\n  0  success\n  2  bad input, no CA yet, an existing key without --force, or a file could not be written";

#[derive(Args, Debug)]
pub struct JwtKeygenArgs {
    /// Only this org (default: every org with a [org.jwt] section).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// rsa2048 (RS256, default), rsa3072, rsa4096, ecdsa-p256 (ES256) or ecdsa-p384 (ES384).
    #[arg(long, value_name = "ALG")]
    pub key: Option<String>,
    /// Replace an existing signing key (tokens signed by the old key stop verifying).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

pub const JWT_MINT_HELP: &str = "EXAMPLES:\n  hapki jwt mint --user alice                    # alice's token, shape from the profile\n  hapki jwt mint --org participant1              # every user of the org\n  hapki jwt mint --user ops --org participant1 --admin --ttl 12h\n  hapki jwt mint --user bob --org participant2 --format audience --at 2026-11-26T12:00:00Z\n  hapki jwt mint --user alice --count 10000 > /dev/null   # load-test tokens, each with its own jti\n\nThe token is printed on stdout and written to NS/jwt/USER.token (with --count: NS/jwt/USER.tokens, one per line). Keys, certs and the JWKS are not touched.\n\nEXIT CODES:\n  0  success\n  2  bad input, no signing key yet, or a file could not be written";

#[derive(Args, Debug)]
pub struct JwtMintArgs {
    /// The user (sub); every user of the org when left out.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The org whose key signs (default: the one org that lists the user).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Audience (overrides the one the format implies).
    #[arg(long, value_name = "AUD")]
    pub aud: Option<String>,
    /// Lifetime: 30s, 15m, 12h, 1d (default 1d).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub ttl: Option<String>,
    /// Scope claim of a scope token (default daml_ledger_api).
    #[arg(long)]
    pub scope: Option<String>,
    /// Custom claims with admin: true.
    #[arg(long)]
    pub admin: bool,
    /// Party to act as (custom claims; repeatable).
    #[arg(long = "act-as", value_name = "PARTY")]
    pub act_as: Vec<String>,
    /// Party to read as (custom claims; repeatable).
    #[arg(long = "read-as", value_name = "PARTY")]
    pub read_as: Vec<String>,
    /// Participant id (default from the profile).
    #[arg(long = "participant-id", value_name = "ID")]
    pub participant_id: Option<String>,
    /// scope, audience or custom.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Mint N tokens for the one --user, each with its own `jti`, written one per line to
    /// NS/jwt/USER.tokens and printed one per line (1 to 1000000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: Option<u32>,
    #[command(flatten)]
    pub common: Common,
}

pub const JWT_VERIFY_HELP: &str = "EXAMPLES:\n  hapki jwt verify certs/participant1/jwt/alice.token --jwks certs/participant1/jwt/jwks.json\n  hapki jwt verify \"$TOKEN\" --jwks jwks.json --aud participant1 --at 2026-11-27T12:00:00Z\n  hapki jwt verify certs/participant1/jwt/alice.token --jwks certs/participant1/jwt/jwks.json --profile my.toml\n\nThe signature is checked with the JWKS key the token's kid names (its `use` must be `sig` when\ngiven), exp/nbf/iat with 60 s of leeway, the key's x5c chain to the org root, and `iss` when --iss\nor --profile says which issuer to expect.\n\nEXIT CODES:\n  0  the token is valid\n  1  the token is invalid (the reason is printed)\n  2  could not run (unreadable file, malformed JWKS)";

#[derive(Args, Debug)]
pub struct JwtVerifyArgs {
    /// The token, or a file holding it.
    pub token: String,
    /// The JWKS to check against.
    #[arg(long, value_name = "FILE")]
    pub jwks: PathBuf,
    /// The org root the JWKS key's x5c must chain to (default: NS/root/certs/ca.cert.pem when
    /// the JWKS is hapki's NS/jwt/jwks.json).
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
    /// Audience the token must carry.
    #[arg(long, value_name = "AUD")]
    pub aud: Option<String>,
    /// Issuer (`iss`) the token must carry.
    #[arg(long, value_name = "ISSUER")]
    pub iss: Option<String>,
    /// Profile the tree was built from: the token must carry the `iss` it sets for the org whose
    /// NS/jwt/jwks.json is given (unless --iss names one).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Check at this time (RFC 3339 or Unix seconds) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn keygen(args: &JwtKeygenArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let key: Option<KeyAlg> = args.key.as_deref().map(str::parse).transpose()?;
    let orgs = jwt_orgs(&topo, args.org.as_deref())?;
    let out = &args.common.out;
    let now = args.common.now()?;
    args.common.use_passphrase();
    let lock = args.common.lock()?;
    let mut work = Vec::new();
    for org in orgs {
        let mut w = OrgWork::new(org, out);
        let ca = OrgCa::load_complete(&w.layout, org)?;
        let files = w.layout.jwt_signing();
        if !args.force {
            if let Some(p) = [&files.cert, &files.key].into_iter().find(|p| p.exists()) {
                return Err(Error::input(format!(
                    "the JWT signing key of org `{}` already exists at {}; pass --force to replace it (tokens it signed stop verifying)",
                    org.name,
                    p.display()
                )));
            }
        }
        w.tier = ca.levels.len() as u8;
        w.existing = Some(ca);
        let spec = signing_spec(org, key.or(org.jwt.as_ref().map(|j| j.key)));
        if let Some(why) = token::stage::jwt_key_refusal(spec.key) {
            let whence = match key {
                Some(_) => "--key".to_string(),
                None => format!("the leaf key of org `{}` (give --key)", org.name),
            };
            return Err(Error::input(format!(
                "a {} key ({whence}) cannot sign Canton tokens: {why}",
                spec.key
            )));
        }
        w.leaves.push(spec);
        work.push(w);
    }
    preflight(out)?;
    let layouts: Vec<OrgLayout> = work.iter().map(|w| w.layout.clone()).collect();
    let (done, mut plan) = execute(work, now)?;
    for (d, layout) in done.iter().zip(&layouts) {
        // A rotation in progress keeps its staged and retired keys published.
        plan.add(
            layout.jwks(),
            token::rotate::published_jwks(layout, &d.leaves[0].der, &d.ca)?,
            Mode::Public,
        );
    }
    plan.commit(&lock)?;
    for (d, layout) in done.iter().zip(&layouts) {
        crate::outln!(
            "created the JWT signing key ({}) {} and the JWKS {}",
            d.leaves[0].spec.key,
            layout.jwt_signing().cert.display(),
            layout.jwks().display()
        );
    }
    Ok(EXIT_OK)
}

/// The orgs `--org` names, or every org with a JWT section.
fn jwt_orgs<'t>(topo: &'t Topology, org: Option<&str>) -> Result<Vec<&'t OrgSpec>> {
    match org {
        Some(o) => Ok(vec![topo.org(o)?]),
        None => {
            let v: Vec<&OrgSpec> = topo.orgs.iter().filter(|o| o.jwt.is_some()).collect();
            if v.is_empty() {
                return Err(Error::input(format!(
                    "no org of the profile {} has a [org.jwt] section; name one with --org",
                    topo.source
                )));
            }
            Ok(v)
        }
    }
}

/// The tokens `mint` makes, resolved from the flags and the profile.
fn mint_specs<'t>(
    topo: &'t Topology,
    a: &JwtMintArgs,
    iat: i64,
) -> Result<Vec<(&'t OrgSpec, TokenSpec)>> {
    let ttl: Option<Span> = a.ttl.as_deref().map(str::parse).transpose()?;
    let format = a.format.as_deref().map(TokenFormat::parse).transpose()?;
    for p in a.act_as.iter().chain(&a.read_as) {
        if p.is_empty() || p.chars().any(char::is_control) {
            return Err(Error::input(format!(
                "the party `{}` is not valid; give a party id such as `alice::1220...`",
                p.escape_debug()
            )));
        }
    }
    // The name is checked before it is looked up, so a bad name is told as such and not as a
    // user missing from the profile.
    let user = a.user.as_deref().map(user_name).transpose()?;
    let orgs: Vec<&OrgSpec> = match (&a.org, &user) {
        (Some(o), _) => vec![topo.org(o)?],
        (None, Some(u)) => {
            let owners: Vec<&OrgSpec> = topo
                .orgs
                .iter()
                .filter(|o| {
                    o.jwt
                        .as_ref()
                        .is_some_and(|j| j.users.iter().any(|x| &x.name == u))
                })
                .collect();
            match owners.len() {
                1 => owners,
                0 => {
                    return Err(Error::input(format!(
                        "the user `{u}` is not in the profile {}; name the org that signs the token with --org",
                        topo.source
                    )))
                }
                _ => {
                    let names: Vec<&str> = owners.iter().map(|o| o.name.as_str()).collect();
                    return Err(Error::input(format!(
                        "the user `{u}` is in several orgs ({}); choose one with --org",
                        names.join(", ")
                    )));
                }
            }
        }
        (None, None) => jwt_orgs(topo, None)?,
    };
    let mut out = Vec::new();
    for org in orgs {
        let mut jwt = jwt_spec(org);
        if let Some(p) = &a.participant_id {
            jwt.participant_id = p.clone();
            jwt.ledger_id = p.clone();
        }
        if let Some(t) = ttl {
            jwt.ttl = t;
        }
        let users: Vec<UserSpec> = match &user {
            Some(name) => {
                let name = name.clone();
                let base = jwt.users.iter().find(|x| x.name == name).cloned();
                let mut user = base.unwrap_or(UserSpec {
                    name,
                    format: jwt.format,
                    audience: true,
                    admin: false,
                    act_as: vec![],
                    read_as: vec![],
                    application_id: None,
                    scope: None,
                    client_cert: None,
                });
                let custom = a.admin || !a.act_as.is_empty() || !a.read_as.is_empty();
                if custom {
                    user.format = TokenFormat::Custom;
                    user.admin |= a.admin;
                    user.act_as.extend(a.act_as.iter().cloned());
                    user.read_as.extend(a.read_as.iter().cloned());
                }
                if let Some(f) = format {
                    user.format = f;
                }
                if a.scope.is_some() {
                    user.scope = a.scope.clone();
                }
                vec![user]
            }
            None => {
                if jwt.users.is_empty() {
                    return Err(Error::input(format!(
                        "org `{}` lists no JWT users in the profile; name one with --user",
                        org.name
                    )));
                }
                jwt.users.clone()
            }
        };
        for u in &users {
            let mut spec = TokenSpec::for_user(&jwt, u, iat);
            if let Some(aud) = &a.aud {
                spec.aud = Some(aud.clone());
            }
            out.push((org, spec));
        }
    }
    Ok(out)
}

pub fn mint(args: &JwtMintArgs) -> Result<i32> {
    let topo = Topology::load(args.common.profile.as_deref())?;
    let iat = args.common.now()?.unix_timestamp();
    let count = args.count.unwrap_or(1);
    if count > 1 && args.user.is_none() {
        return Err(Error::input(format!(
            "--count {count} mints many tokens for one user; name the user with --user"
        )));
    }
    let specs = mint_specs(&topo, args, iat)?;
    let out = &args.common.out;
    let lock = args.common.lock()?;
    let mut signers: Vec<(&str, Signer, OrgLayout)> = Vec::new();
    for (org, _) in &specs {
        if !signers.iter().any(|(n, _, _)| *n == org.name.as_str()) {
            let layout = OrgLayout::new(out, org.name.as_str(), &org.dns);
            signers.push((org.name.as_str(), load_signer(&layout, org)?, layout));
        }
    }
    preflight(out)?;
    for (org, spec) in &specs {
        let Some((_, _, layout)) = signers.iter().find(|(n, _, _)| *n == org.name.as_str()) else {
            continue;
        };
        let path = if args.count.is_some() {
            layout.tokens(&spec.user)
        } else {
            layout.token(&spec.user)
        };
        refuse_expired_over_live(spec, &path)?;
    }
    if args.count.is_some() {
        let ((org, spec), (_, signer, layout)) = (&specs[0], &signers[0]);
        return mint_many(signer, spec, layout, count, org, &lock);
    }
    let tokens: Vec<(PathBuf, String)> = specs
        .par_iter()
        .map(|(org, spec)| {
            let (_, signer, layout) = signers
                .iter()
                .find(|(n, _, _)| *n == org.name.as_str())
                .expect("a signer was loaded for every org");
            let t = signer.sign(&spec.claims()).map_err(Error::bug)?;
            Ok((layout.token(&spec.user), t))
        })
        .collect::<Result<_>>()?;
    let mut plan = Plan::new();
    for (p, t) in &tokens {
        plan.add(p, format!("{t}\n"), Mode::Secret);
    }
    // What each key signed, so a rotation knows when the key may be retired.
    for (name, signer, layout) in &signers {
        let exps = specs
            .iter()
            .filter(|(o, _)| o.name.as_str() == *name)
            .map(|(_, s)| s.iat.saturating_add(s.ttl));
        token::rotate::record_minted(&mut plan, layout, signer.kid(), exps)?;
    }
    plan.commit(&lock)?;
    if let [(path, t)] = tokens.as_slice() {
        crate::outln!("{t}");
        eprintln!("wrote {}", path.display());
    } else {
        for (p, _) in &tokens {
            crate::outln!("wrote {}", p.display());
        }
    }
    Ok(EXIT_OK)
}

/// Refuses to replace a live token with one that has expired already (`--at` far back, a short
/// `--ttl`): that would silently log its user out. An expired token may still be minted where
/// none is live (to test a verifier's refusal).
fn refuse_expired_over_live(spec: &TokenSpec, path: &Path) -> Result<()> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = spec.iat.saturating_add(spec.ttl);
    if exp.saturating_add(token::LEEWAY) > now {
        return Ok(());
    }
    let live = crate::store::read_text(path).ok().and_then(|t| {
        let first = t.lines().next()?.to_string();
        token::unverified_exp(&first)
    });
    if live.is_some_and(|e| e.saturating_add(token::LEEWAY) > now) {
        return Err(Error::input(format!(
            "the token of `{}` would have expired already (at {}), and {} holds a live one it would replace; give a later --at or a longer --ttl",
            spec.user,
            OffsetDateTime::from_unix_timestamp(exp)
                .map(crate::model::fmt_time)
                .unwrap_or_else(|_| exp.to_string()),
            path.display()
        )));
    }
    Ok(())
}

/// `--count N`: N tokens for one user, each with its own `jti`, signed in parallel with the one
/// parsed key, written one per line to `NS/jwt/USER.tokens` and printed the same way.
fn mint_many(
    signer: &Signer,
    spec: &TokenSpec,
    layout: &OrgLayout,
    count: u32,
    org: &OrgSpec,
    lock: &crate::store::Lock,
) -> Result<i32> {
    let path = &layout.tokens(&spec.user);
    let base = spec.claims();
    // jti = a random batch id and the token's number: distinct within the batch by
    // construction, and across batches with 96 random bits.
    let mut batch = [0u8; 12];
    aws_lc_rs::rand::fill(&mut batch).map_err(|_| Error::bug("the system random source failed"))?;
    let batch = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, batch);
    let tokens: Vec<String> = (0..count)
        .into_par_iter()
        .map(|i| {
            let mut claims = base.clone();
            if let Some(m) = claims.as_object_mut() {
                m.insert("jti".into(), format!("{batch}-{i}").into());
            }
            signer.sign(&claims).map_err(Error::bug)
        })
        .collect::<Result<_>>()?;
    let mut text = String::with_capacity(tokens.iter().map(|t| t.len() + 1).sum());
    for t in &tokens {
        text.push_str(t);
        text.push('\n');
    }
    let mut plan = Plan::new();
    plan.add(path, text.as_bytes(), Mode::Secret);
    let exp = spec.iat.saturating_add(spec.ttl);
    token::rotate::record_minted(&mut plan, layout, signer.kid(), [exp])?;
    plan.commit(lock)?;
    // One write, not one per line: stdout is line-buffered and 10,000 tokens are 10,000 writes.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Error::io("write the tokens to", Path::new("stdout"), e));
        }
    }
    eprintln!(
        "wrote {count} tokens for `{}` signed by org `{}` to {}",
        spec.user,
        org.name,
        path.display()
    );
    Ok(EXIT_OK)
}

/// The token text: the argument itself, or the content of the file it names.
fn read_token(arg: &str) -> Result<String> {
    let p = Path::new(arg);
    if p.is_file() {
        let bytes = crate::store::read(p)?;
        return String::from_utf8(bytes)
            .map(|s| s.trim().to_string())
            .map_err(|_| Error::input(format!("{} is not a token file (not text)", p.display())));
    }
    if arg.matches('.').count() == 2 && !arg.contains('/') {
        return Ok(arg.trim().to_string());
    }
    Err(Error::input(format!(
        "`{arg}` is neither a token file nor a token; give the path of a .token file or the token itself"
    )))
}

/// The org root of a JWKS that sits in hapki's layout (`NS/jwt/jwks.json`).
fn layout_root(jwks: &Path) -> Option<CertificateDer<'static>> {
    let org_dir = jwks.parent()?.parent()?;
    pki::read_cert(&crate::store::root_cert_in(org_dir))
        .ok()
        .map(|(d, _)| d)
}

/// The issuer the token must carry: `--iss`, else with `--profile` the `iss` the profile sets
/// for the org whose `NS/jwt/jwks.json` is checked; none without either, since a JWKS alone does
/// not say who issues tokens.
fn expected_issuer(args: &JwtVerifyArgs) -> Result<Option<String>> {
    if let Some(iss) = &args.iss {
        return Ok(Some(iss.clone()));
    }
    let Some(profile) = &args.profile else {
        return Ok(None);
    };
    let topo = Topology::load(Some(profile.as_path()))?;
    let org_name = args
        .jwks
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "jwt"))
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    let org = org_name.and_then(|n| topo.orgs.iter().find(|o| o.name.as_str() == n));
    match org {
        Some(org) => Ok(Some(jwt_spec(org).issuer)),
        None => Err(Error::input(format!(
            "{} is not the NS/jwt/jwks.json of an org of the profile {}, so the profile does not say which issuer to expect; give it with --iss",
            args.jwks.display(),
            topo.source
        ))),
    }
}

pub fn verify(args: &JwtVerifyArgs) -> Result<i32> {
    let at: Option<At> = args.at.as_deref().map(str::parse).transpose()?;
    let now = at.map_or_else(OffsetDateTime::now_utc, |a| a.0);
    let token = read_token(&args.token)?;
    let jwks_bytes = crate::store::read(&args.jwks)?;
    let jwks = token::parse_jwks(&jwks_bytes).map_err(|m| {
        Error::input(format!(
            "{} {m}; give the jwks.json hapki wrote",
            args.jwks.display()
        ))
    })?;
    let root = match &args.root {
        Some(p) => Some(pki::read_cert(p)?.0),
        None => layout_root(&args.jwks),
    };
    // Outside the layout nothing says which root the x5c must chain to, and a chain to its
    // own last cert proves only that the JWKS agrees with itself: any PKI's token would pass.
    let Some(root) = root else {
        return Err(Error::input(format!(
            "{} is not in hapki's layout (NS/jwt/jwks.json beside NS/root/certs/ca.cert.pem), so nothing pins the root its keys must chain to; pass the org root with --root",
            args.jwks.display()
        )));
    };
    let root = Some(root);
    let issuer = expected_issuer(args)?;
    let result = token::verify_token(&token, &jwks, args.aud.as_deref(), now.unix_timestamp())
        .and_then(|v| {
            let jwk = jwks.find(&v.kid).expect("verify_token found the kid");
            token::check_jwk(jwk, root.as_ref(), now)
                .map_err(|m| format!("cannot be trusted: its JWKS {m}"))?;
            if let Some(want) = &issuer {
                token::check_issuer(&v.claims, want)?;
            }
            Ok(v)
        });
    match result {
        Ok(v) => {
            if args.json {
                crate::outln!(
                    "{}",
                    serde_json::json!({"valid": true, "kid": v.kid, "alg": v.alg, "claims": v.claims})
                );
            } else {
                let sub = v.claims.get("sub").and_then(|s| s.as_str()).unwrap_or("-");
                let exp = v.claims.get("exp").and_then(|s| s.as_i64()).unwrap_or(0);
                crate::outln!(
                    "valid: {} token for `{sub}`, key {} ({}), expires {}",
                    "org-rooted",
                    v.kid,
                    v.alg,
                    token::fmt_unix(exp)
                );
            }
            Ok(EXIT_OK)
        }
        Err(m) => {
            let what = if Path::new(&args.token).is_file() {
                args.token.clone()
            } else {
                "the token".to_string()
            };
            if args.json {
                crate::outln!(
                    "{}",
                    serde_json::json!({"valid": false, "problem": format!("{what} {m}")})
                );
            } else {
                crate::outln!("invalid: {what} {m}");
            }
            Ok(EXIT_PROBLEM)
        }
    }
}
