//! The certs a tree deploys at the layout's paths, found by walking the org's folders: what an
//! index is backfilled from, what `revoke NAME` resolves, and what `verify` checks against the
//! CRLs ("a revoked cert still in use").

use super::{cert_of_pem, serial_hex};
use crate::model::{CaLevel, Kind};
use crate::store::walk::walk;
use crate::store::{OrgLayout, ORG_FOLDERS};
use std::path::{Path, PathBuf};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What a deployed cert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Ca(CaLevel),
    Leaf(Kind),
}

/// A cert at one of the layout's paths.
#[derive(Clone, Debug)]
pub struct InUse {
    pub holder: Holder,
    /// The leaf name (`participant1`), or the CA level's name.
    pub name: String,
    pub path: PathBuf,
    pub der: Vec<u8>,
    pub pem: String,
    pub serial: String,
}

/// Every cert at the layout's paths of one org: the CAs below the root, then the leaves.
pub fn scan_certs(layout: &OrgLayout) -> Vec<InUse> {
    let mut out = Vec::new();
    for level in [CaLevel::Policy, CaLevel::Intermediate] {
        let p = layout.ca(level).cert;
        push(&mut out, &p, Holder::Ca(level), level.name());
    }
    let suffix = format!(".{}.cert.pem", layout.dns);
    // One walk of the org folder (ORG/NODE/certs/FILE is 3 deep), no link followed: a linked
    // folder or cert is not a cert the tree deploys.
    let tree = walk(&layout.dir, 3);
    let mut files = |dir: &Path, holder: &dyn Fn(&X509Certificate) -> Holder| {
        let mut names: Vec<(String, PathBuf)> = tree
            .iter()
            .filter(|e| e.is_file() && e.path.parent() == Some(dir))
            .filter_map(|e| {
                let name = e.name_str()?.strip_suffix(&suffix)?;
                (!name.contains("-chain")).then(|| (name.to_string(), e.path.clone()))
            })
            .collect();
        names.sort();
        for (name, path) in names {
            let Ok(bytes) = crate::store::read_io(&path, crate::store::CAP) else {
                continue;
            };
            let Some(der) = cert_of_pem(&bytes) else {
                continue;
            };
            let Ok((_, cert)) = X509Certificate::from_der(&der) else {
                continue;
            };
            let h = holder(&cert);
            out.push(InUse {
                holder: h,
                name,
                path,
                serial: serial_hex(cert.raw_serial()),
                pem: String::from_utf8_lossy(&bytes).into_owned(),
                der: der.clone(),
            });
        }
    };
    // The node folders: the org's own folders that are no fixed part of the layout, by name.
    let nodes = tree
        .iter()
        .filter(|e| e.depth == 1 && e.is_dir())
        .filter(|e| e.name_str().is_some_and(|n| !ORG_FOLDERS.contains(&n)));
    for node in nodes {
        files(&node.path.join("certs"), &|c| {
            if has_eku(c, true) {
                Holder::Leaf(Kind::Server)
            } else {
                Holder::Leaf(Kind::ProxyBackend)
            }
        });
    }
    files(&layout.dir.join("client"), &|_| Holder::Leaf(Kind::Client));
    files(&layout.dir.join("signing"), &|_| {
        Holder::Leaf(Kind::JwtSigning)
    });
    out
}

fn push(out: &mut Vec<InUse>, path: &Path, holder: Holder, name: &str) {
    let Ok(bytes) = crate::store::read_io(path, crate::store::CAP) else {
        return;
    };
    let Some(der) = cert_of_pem(&bytes) else {
        return;
    };
    let Ok((_, cert)) = X509Certificate::from_der(&der) else {
        return;
    };
    out.push(InUse {
        holder,
        name: name.to_string(),
        path: path.to_path_buf(),
        serial: serial_hex(cert.raw_serial()),
        pem: String::from_utf8_lossy(&bytes).into_owned(),
        der: der.clone(),
    });
}

fn has_eku(c: &X509Certificate, server: bool) -> bool {
    c.extended_key_usage().ok().flatten().is_some_and(|e| {
        if server {
            e.value.server_auth
        } else {
            e.value.client_auth
        }
    })
}

/// Same as `scan_certs`: the certs in use at the layout's paths.
pub fn in_use(layout: &OrgLayout) -> Vec<InUse> {
    scan_certs(layout)
}

fn key_ids<'a>(c: &'a X509Certificate<'a>) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
    let mut ski = None;
    let mut aki = None;
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0)
            }
            _ => {}
        }
    }
    (ski, aki)
}

/// The subject key identifier of a cert, if it carries one.
pub fn ski_of(der: &[u8]) -> Option<Vec<u8>> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    key_ids(&c).0.map(<[u8]>::to_vec)
}

/// Whether `cert` names the CA `ca` as its issuer (issuer name, and key identifier when both
/// carry one) and is not that CA itself.
pub fn issued_by(cert: &[u8], ca: &[u8]) -> bool {
    let (Ok((_, c)), Ok((_, a))) = (
        X509Certificate::from_der(cert),
        X509Certificate::from_der(ca),
    ) else {
        return false;
    };
    if cert == ca || c.issuer().as_raw() != a.subject().as_raw() {
        return false;
    }
    match (key_ids(&c).1, key_ids(&a).0) {
        (Some(aki), Some(ski)) => aki == ski,
        _ => true,
    }
}
