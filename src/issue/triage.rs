//! What an existing leaf needs: nothing, its derived files written again, or a new cert.

use crate::keys;
use crate::pki::{self, check, OrgCa};
use crate::profile::{LeafSpec, OrgSpec};
use crate::store::{LeafFiles, Plan};
use time::OffsetDateTime;

/// What an existing leaf needs.
pub enum LeafState {
    /// Complete and valid under the org's current CA.
    Current,
    /// Cert and key are valid, but files derived from them are missing or say something else:
    /// this plan writes them again from the existing cert and key (no new key).
    Repair(Plan),
    /// Missing, broken, or no longer what is asked for: issue it anew (the reason says why).
    Reissue(String),
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
        return LeafState::Reissue(format!("{} is missing", missing.display()));
    }
    let (der, pem) = match pki::read_cert(&files.cert) {
        Ok(c) => c,
        Err(e) => return LeafState::Reissue(e.to_string()),
    };
    let key = match keys::load(&files.key) {
        Ok(k) => k,
        Err(e) => return LeafState::Reissue(e.to_string()),
    };
    // A server cert must also carry every name asked for now (extra --san, a replica or proxy
    // added to the profile); one that lacks a name is no longer what the user wants.
    if let Err(m) = check::leaf(&der, spec.kind, &spec.sans, &key, ca, now) {
        return LeafState::Reissue(format!("{} {m}", files.cert.display()));
    }
    let leaf = match pki::leaf_from_disk(org, spec, files, key, der, pem) {
        Ok(leaf) => leaf,
        Err(e) => return LeafState::Reissue(e.to_string()),
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
