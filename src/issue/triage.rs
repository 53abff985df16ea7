//! What an existing leaf needs: nothing, its derived files written again, or a new cert, and
//! when a new cert, why (`Reason`), so a caller such as renewal can tell an expired cert from a
//! lost key.

use crate::error::Error;
use crate::keys;
use crate::pki::check::CheckError;
use crate::pki::{self, check, OrgCa};
use crate::profile::{LeafSpec, OrgSpec};
use crate::store::{LeafFiles, Plan};
use std::fmt;
use std::path::PathBuf;
use time::OffsetDateTime;

/// What an existing leaf needs.
pub enum LeafState {
    /// Complete and valid under the org's current CA.
    Current,
    /// Cert and key are valid, but files derived from them are missing or say something else:
    /// this plan writes them again from the existing cert and key (no new key).
    Repair(Plan),
    /// Missing, broken, or no longer what is asked for: issue it anew (the reason says why).
    Reissue(Reason),
}

/// Why a leaf must be issued anew. Display is the sentence `issue` prints after
/// "re-issuing KIND NAME: ".
#[derive(Debug)]
pub enum Reason {
    /// The cert or the key file is not there.
    Missing(PathBuf),
    /// The cert file holds no readable PEM certificate.
    UnreadableCert(Error),
    /// The key file cannot be read or loaded.
    UnreadableKey(Error),
    /// The cert fails a check against the current CA, the names asked for or its key.
    Check { cert: PathBuf, error: CheckError },
    /// Cert and key are good, but what the leaf is built from on disk cannot be read back.
    Unusable(Error),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Missing(p) => write!(f, "{} is missing", p.display()),
            Reason::UnreadableCert(e) | Reason::UnreadableKey(e) | Reason::Unusable(e) => {
                write!(f, "{e}")
            }
            Reason::Check { cert, error } => write!(f, "{} {error}", cert.display()),
        }
    }
}

/// Works out what the leaf `spec` needs, from its files under the org's current CA.
pub fn leaf_state(
    org: &OrgSpec,
    files: &LeafFiles,
    spec: &LeafSpec,
    ca: &OrgCa,
    now: OffsetDateTime,
) -> LeafState {
    if let Some(missing) = [&files.cert, &files.key].into_iter().find(|p| !p.exists()) {
        return LeafState::Reissue(Reason::Missing(missing.clone()));
    }
    let (der, pem) = match pki::read_cert(&files.cert) {
        Ok(c) => c,
        Err(e) => return LeafState::Reissue(Reason::UnreadableCert(e)),
    };
    let key = match keys::load(&files.key) {
        Ok(k) => k,
        Err(e) => return LeafState::Reissue(Reason::UnreadableKey(e)),
    };
    // A server cert must also carry every name asked for now (extra --san, a replica or proxy
    // added to the profile); one that lacks a name is no longer what the user wants.
    if let Err(error) = check::leaf(&der, spec.kind, &spec.sans, &key, ca, now) {
        return LeafState::Reissue(Reason::Check {
            cert: files.cert.clone(),
            error,
        });
    }
    let leaf = match pki::leaf_from_disk(org, spec, files, key, der, pem) {
        Ok(leaf) => leaf,
        Err(e) => return LeafState::Reissue(Reason::Unusable(e)),
    };
    // The cert and key stay as they are; every file derived from them (chain, DER forms, public
    // key, HAProxy PEM, a lost CSR) must say what they say under today's CA.
    let plan = pki::leaf_plan(files, &leaf, ca).only_stale(&[&files.cert, &files.key]);
    if plan.is_empty() {
        LeafState::Current
    } else {
        LeafState::Repair(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyAlg, Kind, Label};
    use crate::pki::{adhoc_spec, build_ca, issue_leaf};
    use crate::profile::Topology;
    use crate::store::OrgLayout;
    use std::fs;
    use time::Duration;

    const PROFILE: &str = "[defaults]\nca_key = \"ecdsa-p256\"\nleaf_key = \"ecdsa-p256\"\ntier = 2\n[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n";

    /// A server leaf written to disk under a fresh two-tier CA, at a pinned time.
    struct Fixture {
        _dir: tempfile::TempDir,
        org: OrgSpec,
        ca: OrgCa,
        spec: LeafSpec,
        files: LeafFiles,
        t0: OffsetDateTime,
    }

    impl Fixture {
        fn new() -> Fixture {
            let t0 = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
            let org = Topology::parse(PROFILE, "p.toml").unwrap().orgs.remove(0);
            let ca_keys = (0..2)
                .map(|_| crate::keys::CaKey::plain(keys::generate(KeyAlg::EcdsaP256).unwrap()))
                .collect();
            let ca = build_ca(&org, 2, None, ca_keys, t0).unwrap();
            let name = Label::parse("node1", "name").unwrap();
            let spec = adhoc_spec(&org, &name, Kind::Server, &[], None, None);
            let leaf = issue_leaf(&org, &ca, &spec, keys::generate(spec.key).unwrap(), t0).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let layout = OrgLayout::new(dir.path(), "p", "p.com");
            let files = layout.leaf(Kind::Server, "node1");
            let lock = crate::store::Lock::take(dir.path(), std::time::Duration::ZERO).unwrap();
            pki::leaf_plan(&files, &leaf, &ca).commit(&lock).unwrap();
            drop(lock);
            Fixture {
                _dir: dir,
                org,
                ca,
                spec,
                files,
                t0,
            }
        }

        fn state_at(&self, at: OffsetDateTime) -> LeafState {
            leaf_state(&self.org, &self.files, &self.spec, &self.ca, at)
        }

        fn reason_at(&self, at: OffsetDateTime) -> Reason {
            match self.state_at(at) {
                LeafState::Reissue(r) => r,
                LeafState::Current => panic!("current, not reissue"),
                LeafState::Repair(_) => panic!("repair, not reissue"),
            }
        }
    }

    #[test]
    fn a_complete_leaf_is_current_and_a_lost_chain_is_repaired() {
        let f = Fixture::new();
        assert!(matches!(f.state_at(f.t0), LeafState::Current));
        let chain = f.files.chain.clone().unwrap();
        fs::remove_file(&chain).unwrap();
        let LeafState::Repair(plan) = f.state_at(f.t0) else {
            panic!("a lost chain file is repaired from the cert and key")
        };
        assert_eq!(plan.paths().collect::<Vec<_>>(), vec![chain.as_path()]);
    }

    #[test]
    fn a_missing_key_is_missing_and_says_which_file() {
        let f = Fixture::new();
        fs::remove_file(&f.files.key).unwrap();
        let r = f.reason_at(f.t0);
        assert!(
            matches!(&r, Reason::Missing(p) if *p == f.files.key),
            "{r:?}"
        );
        assert_eq!(
            r.to_string(),
            format!("{} is missing", f.files.key.display())
        );
    }

    #[test]
    fn an_expired_cert_and_another_key_are_check_failures() {
        let f = Fixture::new();
        let later = f.t0 + Duration::days(3650);
        let r = f.reason_at(later);
        let Reason::Check {
            error: CheckError::Expired { not_after },
            ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(
            r.to_string(),
            format!(
                "{} expired at {}",
                f.files.cert.display(),
                crate::model::fmt_time(*not_after)
            )
        );

        let other = keys::generate(KeyAlg::EcdsaP256).unwrap();
        fs::write(&f.files.key, other.serialize_pem()).unwrap();
        assert!(matches!(
            f.reason_at(f.t0),
            Reason::Check {
                error: CheckError::KeyMismatch,
                ..
            }
        ));
    }

    #[test]
    fn a_name_the_profile_now_asks_for_forces_a_reissue() {
        let mut f = Fixture::new();
        f.spec
            .sans
            .push(crate::model::San::Dns("extra.p.com".into()));
        assert!(matches!(
            f.reason_at(f.t0),
            Reason::Check {
                error: CheckError::NameMismatch(_),
                ..
            }
        ));
    }

    #[test]
    fn a_garbled_cert_is_unreadable() {
        let f = Fixture::new();
        fs::write(&f.files.cert, "not a certificate\n").unwrap();
        let r = f.reason_at(f.t0);
        assert!(matches!(r, Reason::UnreadableCert(_)), "{r:?}");
        assert!(r.to_string().contains("holds no readable PEM certificate"));
    }
}
