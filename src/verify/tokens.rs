//! The JWT side of an org: the JWKS against the signing cert and the org root (and the staged
//! and retired keys of a rotation in progress), the rotation's files, and each token against
//! the JWKS.

use super::ca::*;
use super::files::*;
use super::fix::*;
use super::leaf::Unit;
use super::report::*;
use super::OrgCheck;
use crate::model::Kind;
use crate::profile::OrgSpec;
use crate::store::{OrgLayout, JWT_SIGNING_NAME};
use crate::token as jwt;
use crate::token::rotate;
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
        let (staged, retired) = self.check_rotation(layout, ca, &org);
        // The JWKS the signing cert, the rotation's keys and the CA give: what `hapki jwt
        // keygen`, `jwt rotate` and `init` write.
        let expected: Option<(JwkSet, Value)> = match (signing, ca.filter(|c| c.complete)) {
            (Some(s), Some(ca)) => rotate::jwks_of(s, staged.as_ref(), &retired, &ca.upward())
                .ok()
                .and_then(|text| {
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
        let wanted = want["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let keys = value["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let rotation = layout.jwt_signing_next().cert;
        for (n, want_key) in wanted.iter().enumerate() {
            let want_kid = want_key["kid"].as_str().unwrap_or("");
            // Which key of the tree it is: the signing cert's first, then the rotation's.
            let whose = if n == 0 {
                format!("the signing cert {}", layout.jwt_signing().cert.display())
            } else {
                let staged = layout.jwt_signing_next();
                let is_staged = crate::pki::read_cert(&staged.cert)
                    .ok()
                    .and_then(|(d, _)| rotate::kid_of(&d).ok())
                    .is_some_and(|k| k == want_kid);
                if is_staged {
                    format!("the staged signing cert {}", rotation.display())
                } else {
                    format!(
                        "the retired signing cert {}",
                        layout.jwt_signing_retired(want_kid).display()
                    )
                }
            };
            match keys.iter().find(|k| k["kid"].as_str() == Some(want_kid)) {
                None => e.problem(Code::JwksMissingKey,
                    format!(
                        "has no key of {whose} (its kid would be {want_kid}), so the tokens it signs do not verify"
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
                            "has key `{want_kid}` with {} other than {whose} and its chain give",
                            fields.join(", ")
                        ),
                        rewrite,
                    );
                }
                Some(_) => {}
            }
        }
        let current = wanted.first().and_then(|k| k["kid"].as_str()).unwrap_or("");
        let first = keys.first().and_then(|k| k["kid"].as_str()).unwrap_or("");
        if first != current && keys.iter().any(|k| k["kid"].as_str() == Some(current)) {
            e.problem(
                Code::JwksOrder,
                format!(
                    "has key `{first}` first, but the current signing key `{current}` must be the first entry"
                ),
                rewrite,
            );
        }
        for k in keys {
            let kid = k["kid"].as_str().unwrap_or("");
            let known = wanted.iter().any(|w| w["kid"].as_str() == Some(kid));
            if !known && !broken.contains(kid) {
                e.warn(Code::JwksExtraKey,
                    format!("also holds key `{kid}`, which is neither the signing cert's nor one of a rotation in progress"),
                    "remove it once no token signed by it is in use",
                );
            }
        }
    }
}

impl<'a, 't> OrgCheck<'a, 't> {
    /// The files of a rotation in progress: the staged key (checked as the signing leaf is),
    /// each retired cert (it parses, and its kid is its folder's name) and the rotation record.
    /// Returns the staged cert and the retired certs, for the JWKS the tree must publish.
    fn check_rotation(
        &mut self,
        layout: &OrgLayout,
        ca: Option<&CaChain>,
        org: &str,
    ) -> (
        Option<CertificateDer<'static>>,
        Vec<CertificateDer<'static>>,
    ) {
        let record = layout.jwt_rotation_state();
        let mut state = rotate::State::default();
        if self.exists(&record) {
            self.claimed.insert(record.clone());
            let mut e = Entry::new(&record, "JWT rotation record");
            match crate::store::read_io(&record, crate::store::CAP) {
                Err(err) => e.fault(unreadable(&err), READ_FIX),
                Ok(bytes) => match rotate::State::parse(&bytes) {
                    Ok(s) => state = s,
                    Err(m) => e.problem(
                        Code::RotationRecordInvalid,
                        m,
                        "restore it from a backup, or delete it (then retire old keys with --force once their tokens have expired)",
                    ),
                },
            }
            self.entries.push(e);
        }
        let files = layout.jwt_signing_next();
        let staged = if files.all().any(|p| self.exists(p)) {
            self.claimed.extend(files.all().cloned());
            let unit = Unit {
                name: JWT_SIGNING_NAME.into(),
                kind: Some(Kind::JwtSigning),
                files,
                spec: None,
            };
            let done = self.check_unit(&unit, ca, &layout.dns);
            let restage = format!(
                "stage it again with {}",
                self.fix.hapki(&format!("jwt rotate --org {org} --force"))
            );
            for mut e in done.entries {
                e.kind = format!("staged {}", e.kind);
                for f in e.problems.iter_mut().filter(|f| !f.fix.is_empty()) {
                    f.fix = restage.clone();
                }
                self.entries.push(e);
            }
            done.signing
        } else {
            None
        };
        let (kids, _) = rotate::retired_on_disk(layout, &state);
        let mut retired = Vec::new();
        let drop = format!(
            "drop it with {}, or restore the file",
            self.fix
                .hapki(&format!("jwt rotate --org {org} --retire --force"))
        );
        for kid in kids {
            let p = layout.jwt_signing_retired(&kid);
            if !self.exists(&p) {
                continue;
            }
            self.claimed.insert(p.clone());
            let mut e = Entry::new(&p, "retired jwt-signing cert");
            match read_cert(&p) {
                Err(f) => e.problem(Code::RetiredKeyInvalid, f.what, &drop),
                Ok(der) => match rotate::kid_of(&der) {
                    Ok(k) if k == kid => retired.push(der),
                    Ok(k) => e.problem(
                        Code::RetiredKeyInvalid,
                        format!(
                            "holds the cert of key `{k}`, not of `{kid}` whose folder it is in"
                        ),
                        &drop,
                    ),
                    Err(m) => e.problem(Code::RetiredKeyInvalid, m.to_string(), &drop),
                },
            }
            self.entries.push(e);
        }
        (staged, retired)
    }
}
