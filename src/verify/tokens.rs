//! The JWT side of an org: the JWKS against the signing cert and the org root, and each
//! token against the JWKS.

use super::ca::*;
use super::files::*;
use super::fix::*;
use super::report::*;
use super::OrgCheck;
use crate::profile::OrgSpec;
use crate::store::OrgLayout;
use crate::token as jwt;
use crate::token::stage::jwks_for_chain;
use jsonwebtoken::jwk::JwkSet;
use rayon::prelude::*;
use rustls_pki_types::CertificateDer;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

impl<'a, 't> OrgCheck<'a, 't> {
    /// The JWKS against the signing cert and the org root, and each token against the JWKS.
    pub(super) fn check_jwt(
        &mut self,
        layout: &OrgLayout,
        spec: Option<&OrgSpec>,
        ca: Option<&CaChain>,
        signing: Option<&CertificateDer<'static>>,
    ) {
        let declared = spec.and_then(|s| s.jwt.as_ref());
        let jwt_dir = self.site.dir.join("jwt");
        if declared.is_none() && !self.site.dir.join("signing").is_dir() && !jwt_dir.is_dir() {
            return;
        }
        let org = self.site.name.clone();
        let jwks_path = layout.jwks();
        self.claimed.insert(jwks_path.clone());
        let rewrite = if declared.is_some() {
            format!(
                "rewrite it from the signing cert with {}",
                self.fix.hapki("init")
            )
        } else {
            format!(
                "re-create it with {}",
                self.fix.hapki(&format!("jwt keygen --org {org} --force"))
            )
        };
        // The JWKS the signing cert and CA give: what `hapki jwt keygen` and `init` write.
        let expected: Option<(JwkSet, Value)> = match (signing, ca.filter(|c| c.complete)) {
            (Some(s), Some(ca)) => jwks_for_chain(s, &ca.upward()).ok().and_then(|text| {
                Some((
                    jwt::parse_jwks(text.as_bytes()).ok()?,
                    serde_json::from_str(&text).ok()?,
                ))
            }),
            _ => None,
        };
        let mut e = Entry::new(&jwks_path, "JWKS");
        let mut on_disk = None;
        if !self.exists(&jwks_path) {
            e.problem(
                Code::Missing,
                "is missing, so no token can be verified",
                &rewrite,
            );
        } else {
            match crate::store::read_io(&jwks_path, crate::store::CAP) {
                Err(err) => e.fault(unreadable(&err), READ_FIX),
                Ok(bytes) => match (
                    jwt::parse_jwks(&bytes),
                    serde_json::from_slice::<Value>(&bytes),
                ) {
                    (Ok(set), Ok(value)) => {
                        self.jwks(
                            &mut e,
                            layout,
                            &set,
                            &value,
                            expected.as_ref(),
                            ca,
                            &rewrite,
                        );
                        on_disk = Some(set);
                    }
                    (Err(m), _) => e.problem(Code::JwksInvalid, m, &rewrite),
                    (_, Err(err)) => {
                        e.problem(Code::NotJson, format!("is not JSON ({err})"), &rewrite)
                    }
                },
            }
        }
        self.entries.push(e);

        let mut tokens: BTreeSet<PathBuf> = self
            .files
            .iter()
            .filter(|p| {
                p.parent() == Some(jwt_dir.as_path()) && p.extension().is_some_and(|x| x == "token")
            })
            .cloned()
            .collect();
        for u in declared.map(|j| j.users.as_slice()).unwrap_or_default() {
            tokens.insert(layout.token(&u.name));
        }
        // Tokens are checked against the JWKS on disk, or, when that is unreadable, against the
        // signing cert's own key, so a token's own faults still show (the JWKS has its line).
        let set = on_disk.or(expected.map(|(s, _)| s));
        let entries: Vec<Entry> = tokens
            .par_iter()
            .map(|p| self.token(p, &org, set.as_ref()))
            .collect();
        self.claimed.extend(tokens);
        self.entries.extend(entries);
    }

    pub(super) fn token(&self, path: &Path, org: &str, set: Option<&JwkSet>) -> Entry {
        let user = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mint = self
            .fix
            .hapki(&format!("jwt mint --user {user} --org {org}"));
        let mut e = Entry::new(path, "token");
        if !self.exists(path) {
            e.problem(
                Code::Missing,
                format!(
                    "is missing (the profile {} lists user `{user}`)",
                    self.o.topo.source
                ),
                &format!("mint it with {mint}"),
            );
            return e;
        }
        if let Some(m) = mode(path).filter(|m| m & 0o077 != 0) {
            e.warn(Code::WrongMode,
                format!(
                    "is readable by group or others (mode {:04o}), and a token is a bearer credential",
                    m & 0o7777
                ),
                &format!("restrict it with `chmod 600 {}`", shell(path)),
            );
        }
        let text = match crate::store::read_io(path, crate::store::CAP) {
            Err(err) => {
                e.fault(unreadable(&err), READ_FIX);
                return e;
            }
            Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        };
        match set {
            None => e.problem(
                Code::NoJwks,
                format!(
                    "cannot be checked, since org `{org}` has no readable JWKS or signing cert"
                ),
                "",
            ),
            Some(set) => {
                let now = self.o.now.unix_timestamp();
                if let Err(m) = jwt::verify_token(&text, set, None, now) {
                    e.problem(Code::TokenInvalid, m, &format!("re-mint it with {mint}"));
                }
            }
        }
        e
    }

    /// Each JWKS key against its own x5c and the org root (`jwt::check_jwk`), and the set
    /// against the JWKS the signing cert gives.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn jwks(
        &self,
        e: &mut Entry,
        layout: &OrgLayout,
        set: &JwkSet,
        value: &Value,
        expected: Option<&(JwkSet, Value)>,
        ca: Option<&CaChain>,
        rewrite: &str,
    ) {
        if set.keys.is_empty() {
            return e.problem(Code::JwksEmpty, "holds no key", rewrite);
        }
        let root = ca.filter(|c| c.sound).map(|c| c.root());
        let mut broken = BTreeSet::new();
        for jwk in &set.keys {
            if let Err(m) = jwt::check_jwk(jwk, root, self.o.now) {
                e.problem(Code::JwkInvalid, m, rewrite);
                broken.insert(jwk.common.key_id.clone().unwrap_or_default());
            }
        }
        let Some((_, want)) = expected else {
            return;
        };
        let want_key = &want["keys"][0];
        let want_kid = want_key["kid"].as_str().unwrap_or("");
        let keys = value["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        match keys.iter().find(|k| k["kid"].as_str() == Some(want_kid)) {
            None => e.problem(Code::JwksMissingKey,
                format!(
                    "has no key of the signing cert {} (its kid would be {want_kid}), so the tokens it signs do not verify",
                    layout.jwt_signing().cert.display()
                ),
                rewrite,
            ),
            Some(k) if k != want_key && !broken.contains(want_kid) => {
                let mut fields: Vec<&str> = want_key
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(f, v)| k.get(f.as_str()) != Some(*v))
                    .map(|(f, _)| f.as_str())
                    .collect();
                if fields.is_empty() {
                    fields.push("members");
                }
                e.problem(Code::JwksStaleKey,
                    format!(
                        "has key `{want_kid}` with {} other than the signing cert and its chain give",
                        fields.join(", ")
                    ),
                    rewrite,
                );
            }
            Some(_) => {}
        }
        for k in keys {
            let kid = k["kid"].as_str().unwrap_or("");
            if kid != want_kid && !broken.contains(kid) {
                e.warn(Code::JwksExtraKey,
                    format!("also holds key `{kid}`, which is not the signing cert's (left from a key rotation?)"),
                    "remove it once no token signed by it is in use",
                );
            }
        }
    }
}
