//! JWT signing-key rollover (SPEC.md "Day two for tokens"): the three steps of
//! `hapki jwt rotate` (stage a next key, promote it, retire the old ones), the JWKS a tree in
//! any state of a rotation publishes, and the record of what each key signed that tells when
//! an old key may go.
//!
//! On disk, beside the current key at the drop-in paths (`NS/signing/jwt-sign.D.*`):
//! - `NS/signing/next/jwt-sign.D.{cert,key,pub}.pem`: the staged key, published second;
//! - `NS/signing/retired/KID/jwt-sign.D.cert.pem`: each retired key's cert, published after;
//! - `NS/signing/rotation.json`: the latest `exp` each key put in a token, and per retired key
//!   the time every token it signed has expired by.
//!
//! A token minted outside hapki's own commands (the token endpoint of `hapki serve`) is bounded
//! by the profile's token lifetime from the moment its key stopped being current, so promote
//! records `max(latest exp recorded, promoted at + lifetime, exp of the token files on disk)`.

use super::{jwk_for, jwks_json, unverified_exp, Signer, TokenSpec, LEEWAY};
use crate::error::{Error, Result};
use crate::model::fmt_time;
use crate::pki::{self, OrgCa};
use crate::profile::OrgSpec;
use crate::store::{Mode, OrgLayout, Plan};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// When the tokens of one retired key have all expired.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retired {
    /// When it stopped being the current key (Unix seconds).
    pub retired_at: i64,
    /// The latest `exp` any token it signed can carry (Unix seconds); it may go once this plus
    /// the verifiers' leeway has passed.
    pub tokens_expire_by: i64,
}

/// `NS/signing/rotation.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The latest `exp` minted per kid (by `init`, `jwt mint`, `jwt rotate --promote`).
    #[serde(default)]
    pub last_exp: BTreeMap<String, i64>,
    /// Per retired kid.
    #[serde(default)]
    pub retired: BTreeMap<String, Retired>,
}

impl State {
    /// Parses the state file's bytes; the error is a clause about the file.
    pub fn parse(bytes: &[u8]) -> std::result::Result<State, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("is not hapki's rotation record ({e})"))
    }

    /// The state of an org's tree: empty when there is no file yet.
    pub fn load(layout: &OrgLayout) -> Result<State> {
        let p = layout.jwt_rotation_state();
        if !p.exists() {
            return Ok(State::default());
        }
        State::parse(&crate::store::read(&p)?).map_err(|m| {
            Error::input(format!(
                "{} {m}; restore it from a backup, or delete it and retire old keys with `hapki jwt rotate --retire --force` once their tokens have expired",
                p.display()
            ))
        })
    }

    fn json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Records that key `kid` signed a token expiring at `exp`; whether that changed anything.
    pub fn record(&mut self, kid: &str, exp: i64) -> bool {
        let e = self.last_exp.entry(kid.to_string()).or_insert(i64::MIN);
        if exp > *e {
            *e = exp;
            true
        } else {
            false
        }
    }
}

/// Adds to `plan` the record that `kid` signed tokens expiring at each of `exps` (the state
/// file is rewritten only when a later exp is recorded). Call under the lock that commits `plan`.
pub fn record_minted(
    plan: &mut Plan,
    layout: &OrgLayout,
    kid: &str,
    exps: impl IntoIterator<Item = i64>,
) -> Result<()> {
    let mut state = State::load(layout)?;
    let mut changed = false;
    for exp in exps {
        changed |= state.record(kid, exp);
    }
    if changed {
        plan.add(layout.jwt_rotation_state(), state.json(), Mode::Public);
    }
    Ok(())
}

/// Whether a folder name can be a kid hapki wrote: an RFC 7638 SHA-256 thumbprint in base64url.
pub fn is_kid(name: &str) -> bool {
    name.len() == 43
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The kids of the retired keys on disk, newest retirement first (by the state's record, then
/// by name), and the folders under `retired/` that are not a kid's.
pub fn retired_on_disk(layout: &OrgLayout, state: &State) -> (Vec<String>, Vec<PathBuf>) {
    let mut kids = Vec::new();
    let mut other = Vec::new();
    if let Ok(rd) = std::fs::read_dir(layout.jwt_retired_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) && is_kid(&name) {
                kids.push(name);
            } else {
                other.push(e.path());
            }
        }
    }
    kids.sort_by(|a, b| {
        let at = |k: &String| state.retired.get(k).map_or(i64::MIN, |r| r.retired_at);
        at(b).cmp(&at(a)).then(a.cmp(b))
    });
    (kids, other)
}

/// The keys a JWKS publishes, in order: the current key first, the staged one second, then the
/// retired ones, each with the CA chain (issuing CA first, root last). The error names the cert.
pub fn jwks_of(
    current: &CertificateDer<'_>,
    next: Option<&CertificateDer<'_>>,
    retired: &[CertificateDer<'_>],
    chain: &[CertificateDer<'_>],
) -> std::result::Result<String, String> {
    let mut keys = Vec::new();
    let mut seen = Vec::new();
    for (what, c) in std::iter::once(("current", current))
        .chain(next.map(|n| ("staged", n)))
        .chain(retired.iter().map(|r| ("retired", r)))
    {
        let jwk = jwk_for(c, chain).map_err(|m| format!("the {what} JWT signing cert {m}"))?;
        // The same key twice (a staged key promoted by hand) is published once.
        if !seen.contains(&jwk.common.key_id) {
            seen.push(jwk.common.key_id.clone());
            keys.push(jwk);
        }
    }
    Ok(jwks_json(keys))
}

/// The staged and retired certs of an org's tree, read for the JWKS; errors name the file.
pub fn rotation_certs(
    layout: &OrgLayout,
) -> Result<(
    Option<CertificateDer<'static>>,
    Vec<CertificateDer<'static>>,
)> {
    let state = State::load(layout)?;
    let next_path = layout.jwt_signing_next().cert;
    let next = if next_path.exists() {
        Some(pki::read_cert(&next_path)?.0)
    } else {
        None
    };
    let (kids, _) = retired_on_disk(layout, &state);
    let mut retired = Vec::new();
    for kid in kids {
        let p = layout.jwt_signing_retired(&kid);
        if p.exists() {
            retired.push(pki::read_cert(&p)?.0);
        }
    }
    Ok((next, retired))
}

/// The JWKS an org's tree publishes with `current` as its signing cert: current, staged, retired.
pub fn published_jwks(
    layout: &OrgLayout,
    current: &CertificateDer<'_>,
    ca: &OrgCa,
) -> Result<String> {
    let chain: Vec<CertificateDer<'static>> =
        ca.levels.iter().rev().map(|c| c.der.clone()).collect();
    let (next, retired) = rotation_certs(layout)?;
    jwks_of(current, next.as_ref(), &retired, &chain).map_err(Error::bug)
}

/// The kid of a signing cert.
pub fn kid_of(cert: &CertificateDer<'_>) -> Result<String> {
    jwk_for(cert, &[])
        .map(|j| j.common.key_id.unwrap_or_default())
        .map_err(|m| Error::bug(format!("the JWT signing cert {m}")))
}

/// The signer of the current key of an org's rotation: what every token hapki mints is signed
/// with (`jwt mint`, `init`, and the token endpoint of `hapki serve`). It lives at the drop-in
/// paths, so this is `stage::load_signer`; the name says which key of a rotation it is.
pub fn current_signer(layout: &OrgLayout, org: &OrgSpec) -> Result<Signer> {
    super::stage::load_signer(layout, org)
}

/// The files `current_signer` reads (cert, then key): a server watches them to sign with the
/// new key as soon as a rotation is promoted.
pub fn current_signer_files(layout: &OrgLayout) -> [PathBuf; 2] {
    let f = layout.jwt_signing();
    [f.cert, f.key]
}

/// The time `t` for people.
pub fn fmt_unix(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .map(fmt_time)
        .unwrap_or_else(|_| t.to_string())
}

/// The latest exp of the token files in `NS/jwt/` signed by `kid` (read without checking
/// signatures: an upper bound of what is in use is all that is needed).
pub fn token_files_exp(layout: &OrgLayout, kid: &str) -> Option<i64> {
    let dir = layout.jwks().parent()?.to_path_buf();
    let mut best: Option<i64> = None;
    for e in std::fs::read_dir(&dir).ok()?.flatten() {
        let p = e.path();
        let is_tokens = p.extension().is_some_and(|x| x == "token" || x == "tokens");
        if !is_tokens || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(text) = crate::store::read_text(&p) else {
            continue;
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if token_kid(line).as_deref() == Some(kid) {
                if let Some(exp) = unverified_exp(line) {
                    best = Some(best.map_or(exp, |b| b.max(exp)));
                }
            }
        }
    }
    best
}

/// The kid in a token's header, read without checking its signature.
fn token_kid(token: &str) -> Option<String> {
    let (jws, _) = super::jws::split_lenient(token).ok()?;
    jws.header.get("kid")?.as_str().map(str::to_string)
}

/// A staged key made in this run, and the files that stage it (its cert, key and public key
/// at `next/`, its index record, and the JWKS with it second).
pub struct Staging {
    pub leaf: pki::Leaf,
    pub plan: Plan,
    pub kid: String,
}

/// Makes a new signing key and cert under the org's issuing CA (the profile's JWT key type)
/// and stages it at `NS/signing/next/`, published second in the JWKS.
pub fn stage(
    layout: &OrgLayout,
    org: &OrgSpec,
    ca: &OrgCa,
    now: OffsetDateTime,
) -> Result<Staging> {
    let spec = super::stage::signing_spec(org, org.jwt.as_ref().map(|j| j.key));
    if let Some(why) = super::stage::jwt_key_refusal(spec.key) {
        return Err(Error::input(format!(
            "org `{}` signs tokens with {} keys: {why}",
            org.name, spec.key
        )));
    }
    let key = crate::keys::generate(spec.key)?;
    let leaf = pki::issue_leaf(org, ca, &spec, key, now)?;
    let files = layout.jwt_signing_next();
    let mut plan = pki::leaf_plan(&files, &leaf, ca);
    crate::cadb::record_issued(&mut plan, layout, ca.issuing().level, &leaf.der, &leaf.pem)?;
    let chain: Vec<CertificateDer<'static>> =
        ca.levels.iter().rev().map(|c| c.der.clone()).collect();
    let cur = layout.jwt_signing().cert;
    let current = if cur.exists() {
        Some(pki::read_cert(&cur)?.0)
    } else {
        None
    };
    let (_, retired) = rotation_certs(layout)?;
    let jwks = match current.as_ref() {
        Some(c) => jwks_of(c, Some(&leaf.der), &retired, &chain),
        None => jwks_of(&leaf.der, None, &retired, &chain),
    }
    .map_err(Error::bug)?;
    plan.add(layout.jwks(), jwks, Mode::Public);
    let kid = kid_of(&leaf.der)?;
    Ok(Staging { leaf, plan, kid })
}

/// What a promotion writes, for `jwt rotate --promote` and `renew`.
pub struct Promotion {
    pub plan: Plan,
    pub old_kid: Option<String>,
    pub new_kid: String,
    /// When the old key may be retired (its tokens' latest exp plus the leeway).
    pub retire_after: Option<i64>,
    pub tokens: Vec<PathBuf>,
}

/// The staged key becomes the current one at the drop-in paths; the old current key's cert
/// moves to `retired/KID/` and stays published; the profile's tokens are re-minted with the new
/// key. `next` is the staged key's files: cert DER, cert PEM, key PEM and public key PEM (read
/// from disk, or made in this run).
pub fn promote(
    layout: &OrgLayout,
    org: &OrgSpec,
    ca: &OrgCa,
    next: (&CertificateDer<'static>, &str, &[u8], &[u8]),
    now: OffsetDateTime,
) -> Result<Promotion> {
    let (next_der, next_pem, next_key, next_pub) = next;
    let cur = layout.jwt_signing();
    let staged = layout.jwt_signing_next();
    let signer = Signer::new(next_key, next_der).map_err(|m| {
        Error::input(format!(
            "{} {m}; stage a new key with `hapki jwt rotate --org {} --force`",
            staged.key.display(),
            org.name
        ))
    })?;
    let new_kid = signer.kid().to_string();
    let mut state = State::load(layout)?;
    let mut plan = Plan::new();
    let t = now.unix_timestamp();
    let jwt = super::stage::jwt_spec(org);

    let old = if cur.cert.exists() {
        Some(pki::read_cert(&cur.cert)?.0)
    } else {
        None
    };
    let mut old_kid = None;
    let mut retire_after = None;
    if let Some(old_der) = old.as_ref() {
        let kid = kid_of(old_der)?;
        if kid != new_kid {
            let by = [
                state.last_exp.get(&kid).copied(),
                token_files_exp(layout, &kid),
                Some(t.saturating_add(jwt.ttl.0)),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(t);
            let prior = state
                .retired
                .get(&kid)
                .map_or(i64::MIN, |r| r.tokens_expire_by);
            state.retired.insert(
                kid.clone(),
                Retired {
                    retired_at: t,
                    tokens_expire_by: by.max(prior),
                },
            );
            state.last_exp.remove(&kid);
            let pem = pem_of(&cur.cert)?;
            plan.add(layout.jwt_signing_retired(&kid), pem, Mode::Public);
            retire_after = Some(by.max(prior).saturating_add(LEEWAY));
            old_kid = Some(kid);
        }
    }
    plan.add(&cur.cert, next_pem.as_bytes(), Mode::Public);
    plan.add(&cur.key, next_key, Mode::Secret);
    if let Some(p) = &cur.public_key {
        plan.add(p, next_pub, Mode::Public);
    }
    for p in staged.all() {
        plan.remove(p);
    }
    // The JWKS: the new key first, then every retired key (the old one among them).
    let chain: Vec<CertificateDer<'static>> =
        ca.levels.iter().rev().map(|c| c.der.clone()).collect();
    let (kids, _) = retired_on_disk(layout, &state);
    let mut retired: Vec<CertificateDer<'static>> = Vec::new();
    if let (Some(d), Some(_)) = (old.as_ref(), old_kid.as_ref()) {
        retired.push(d.clone());
    }
    for kid in kids.iter().filter(|k| Some(*k) != old_kid.as_ref()) {
        let p = layout.jwt_signing_retired(kid);
        if p.exists() {
            retired.push(pki::read_cert(&p)?.0);
        }
    }
    plan.add(
        layout.jwks(),
        jwks_of(next_der, None, &retired, &chain).map_err(Error::bug)?,
        Mode::Public,
    );
    // The profile's tokens, re-minted with the new key.
    let mut tokens = Vec::new();
    for u in &jwt.users {
        let spec = TokenSpec::for_user(&jwt, u, t);
        let token = signer.sign(&spec.claims()).map_err(Error::bug)?;
        let path = layout.token(&u.name);
        plan.add(&path, format!("{token}\n"), Mode::Secret);
        state.record(&new_kid, t.saturating_add(spec.ttl));
        tokens.push(path);
    }
    plan.add(layout.jwt_rotation_state(), state.json(), Mode::Public);
    Ok(Promotion {
        plan,
        old_kid,
        new_kid,
        retire_after,
        tokens,
    })
}

/// `hapki renew` of the JWT signing key with a new key: a rotation in one run, so every token
/// in flight keeps verifying. A key staged already is promoted; otherwise a new key is made and
/// promoted at once (a new kid is fetched by verifiers at once, and the old key stays
/// published, retired, until its tokens have expired).
pub fn renew_with_new_key(
    layout: &OrgLayout,
    org: &OrgSpec,
    ca: &OrgCa,
    now: OffsetDateTime,
) -> Result<Promotion> {
    let staged = layout.jwt_signing_next();
    if staged.cert.exists() && staged.key.exists() {
        let (der, pem) = pki::read_cert(&staged.cert)?;
        let key = crate::store::read(&staged.key)?;
        let public = crate::keys::parse_pem(&key, &staged.key)?
            .public_key_pem()
            .into_bytes();
        return promote(layout, org, ca, (&der, &pem, &key, &public), now);
    }
    let spec = super::stage::signing_spec(org, org.jwt.as_ref().map(|j| j.key));
    if let Some(why) = super::stage::jwt_key_refusal(spec.key) {
        return Err(Error::input(format!(
            "org `{}` signs tokens with {} keys: {why}",
            org.name, spec.key
        )));
    }
    let leaf = pki::issue_leaf(org, ca, &spec, crate::keys::generate(spec.key)?, now)?;
    let key = leaf.key.serialize_pem().into_bytes();
    let public = leaf.key.public_key_pem().into_bytes();
    let mut p = promote(layout, org, ca, (&leaf.der, &leaf.pem, &key, &public), now)?;
    crate::cadb::record_issued(
        &mut p.plan,
        layout,
        ca.issuing().level,
        &leaf.der,
        &leaf.pem,
    )?;
    Ok(p)
}

/// `hapki renew --keep-key` of the JWT signing key: a new cert for the same key (so the same
/// kid: every token keeps verifying), and the JWKS with the new cert's x5c.
pub fn renew_keep_key(
    layout: &OrgLayout,
    org: &OrgSpec,
    ca: &OrgCa,
    now: OffsetDateTime,
) -> Result<Plan> {
    let files = layout.jwt_signing();
    let key = crate::keys::load(&files.key)?;
    let mut spec = super::stage::signing_spec(org, None);
    spec.key = crate::keys::alg_of(&key);
    let leaf = pki::issue_leaf(org, ca, &spec, key, now)?;
    let mut plan = pki::leaf_plan(&files, &leaf, ca);
    crate::cadb::record_issued(&mut plan, layout, ca.issuing().level, &leaf.der, &leaf.pem)?;
    plan.add(
        layout.jwks(),
        published_jwks(layout, &leaf.der, ca)?,
        Mode::Public,
    );
    Ok(plan)
}

/// What `--retire` removes and what it must leave, at `now`.
pub struct Retirement {
    pub plan: Plan,
    pub dropped: Vec<String>,
    /// Kept kids, with the time each may go (`None`: no record of its tokens).
    pub kept: Vec<(String, Option<i64>)>,
}

/// Drops every retired key whose tokens have all expired (plus leeway), or every one with
/// `force`, from the JWKS and the tree. `Ok` with nothing dropped when none is due: the caller
/// refuses with the times in `kept`.
pub fn retire(
    layout: &OrgLayout,
    current: &CertificateDer<'_>,
    ca: &OrgCa,
    now: OffsetDateTime,
    force: bool,
) -> Result<Retirement> {
    let mut state = State::load(layout)?;
    let (kids, _) = retired_on_disk(layout, &state);
    let t = now.unix_timestamp();
    let mut dropped = Vec::new();
    let mut kept = Vec::new();
    for kid in kids {
        let after = state
            .retired
            .get(&kid)
            .map(|r| r.tokens_expire_by.saturating_add(LEEWAY));
        if force || after.is_some_and(|a| t >= a) {
            dropped.push(kid);
        } else {
            kept.push((kid, after));
        }
    }
    let mut plan = Plan::new();
    if dropped.is_empty() {
        return Ok(Retirement {
            plan,
            dropped,
            kept,
        });
    }
    for kid in &dropped {
        plan.remove(layout.jwt_signing_retired(kid));
        state.retired.remove(kid);
        state.last_exp.remove(kid);
    }
    // Records of keys no longer on disk go too.
    let on_disk: Vec<&String> = kept.iter().map(|(k, _)| k).collect();
    state.retired.retain(|k, _| on_disk.contains(&k));
    let chain: Vec<CertificateDer<'static>> =
        ca.levels.iter().rev().map(|c| c.der.clone()).collect();
    let next_path = layout.jwt_signing_next().cert;
    let next = if next_path.exists() {
        Some(pki::read_cert(&next_path)?.0)
    } else {
        None
    };
    let mut retired = Vec::new();
    for (kid, _) in &kept {
        let p = layout.jwt_signing_retired(kid);
        if p.exists() {
            retired.push(pki::read_cert(&p)?.0);
        }
    }
    plan.add(
        layout.jwks(),
        jwks_of(current, next.as_ref(), &retired, &chain).map_err(Error::bug)?,
        Mode::Public,
    );
    plan.add(layout.jwt_rotation_state(), state.json(), Mode::Public);
    Ok(Retirement {
        plan,
        dropped,
        kept,
    })
}

/// A cert file's PEM as it is on disk (after checking it holds a cert).
fn pem_of(path: &Path) -> Result<Vec<u8>> {
    let (_, pem) = pki::read_cert(path)?;
    Ok(pem.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_records_only_later_exps_and_round_trips() {
        let mut s = State::default();
        assert!(s.record("k", 10));
        assert!(!s.record("k", 5));
        assert!(s.record("k", 11));
        s.retired.insert(
            "old".into(),
            Retired {
                retired_at: 1,
                tokens_expire_by: 2,
            },
        );
        assert_eq!(State::parse(s.json().as_bytes()).unwrap(), s);
        assert!(State::parse(br#"{"last_exp": 5}"#)
            .unwrap_err()
            .starts_with("is not hapki's"));
    }

    #[test]
    fn kids_are_thumbprints() {
        assert!(is_kid("qZk-NkcGgWq6PiVxeFDCbJzQ2J0qZk-NkcGgWq6PiVx"));
        assert!(!is_kid("../etc"));
        assert!(!is_kid("short"));
    }
}
