//! Exports: the tree's files in the forms other tools take. `p12` builds PKCS#12 keystores
//! (a leaf's key with its chain) and truststores (an org's CA certs) for Java; `bundle` picks
//! exactly the files one node's configs name, as a tar or as Kubernetes manifests.

pub mod bundle;
pub mod p12;

/// The password of every truststore hapki writes: the JDK's own for its `cacerts`. A
/// truststore holds only public certs, so the password guards nothing secret; it is a known
/// value so that `-Djavax.net.ssl.trustStorePassword` needs no secret handling.
pub const TRUSTSTORE_PASSWORD: &str = "changeit";

use crate::error::{Error, Result};
use crate::keys;
use crate::model::Kind;
use crate::pki::check;
use crate::profile::{OrgSpec, Topology};
use crate::store::{LeafFiles, OrgLayout};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The org and kind of the leaf `name` of the profile (`org` and `kind` narrow it down).
pub fn find_leaf<'t>(
    topo: &'t Topology,
    name: &str,
    org: Option<&str>,
    kind: Option<Kind>,
) -> Result<(&'t OrgSpec, Kind)> {
    let exportable = |k: Kind| k != Kind::JwtSigning && kind.is_none_or(|want| want == k);
    let mut hits: Vec<(&OrgSpec, Kind)> = Vec::new();
    for o in &topo.orgs {
        if org.is_some_and(|want| want != o.name.as_str()) {
            continue;
        }
        for l in o.leaves_named(name) {
            if exportable(l.kind) {
                hits.push((o, l.kind));
            }
        }
    }
    if let Some(o) = org {
        topo.org(o)?;
    }
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::input(format!(
            "`{name}` is no server, replica, proxy or client{} of the profile {}; name one of its leaves",
            org.map_or(String::new(), |o| format!(" of org `{o}`")),
            topo.source
        ))),
        many => {
            let which: Vec<String> = many
                .iter()
                .map(|(o, k)| format!("--org {} --kind {}", o.name, k.name()))
                .collect();
            Err(Error::input(format!(
                "`{name}` names several leaves; choose one with {}",
                which.join(" or ")
            )))
        }
    }
}

/// The org's CA certs from the issuing CA up to the root, as the tree has them (the trust
/// bundle, or the root alone for a one-tier CA). CA keys are not needed: an offline root works.
pub fn ca_certs(layout: &OrgLayout) -> Result<Vec<CertificateDer<'static>>> {
    let bundle = layout.trust_bundle();
    let path = if bundle.exists() {
        bundle
    } else {
        crate::store::root_cert_in(&layout.dir)
    };
    let bytes = crate::store::read(&path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::input(format!(
                "{} holds no readable PEM certificates; run `hapki init` to write it again",
                path.display()
            ))
        })?;
    Ok(certs)
}

/// A leaf read from the tree and checked: its key matches its cert, and the cert chains to
/// the org's root for its usage.
pub struct LeafOnDisk {
    pub kind: Kind,
    pub files: LeafFiles,
    pub key_pkcs8: Vec<u8>,
    /// Leaf first, then the CAs up to the root.
    pub chain: Vec<CertificateDer<'static>>,
}

pub fn load_leaf(layout: &OrgLayout, kind: Kind, name: &str) -> Result<LeafOnDisk> {
    let files = layout.leaf(kind, name);
    for p in [&files.cert, &files.key] {
        if !p.exists() {
            return Err(Error::input(format!(
                "{} is missing; run `hapki init` (or `hapki issue {name}`) first",
                p.display()
            )));
        }
    }
    let (der, _) = crate::pki::read_cert(&files.cert)?;
    let key = keys::load(&files.key)?;
    check::key_matches(&der, &key).map_err(|m| {
        Error::input(format!(
            "{} {m}; re-issue it with `hapki issue {name} --force`",
            files.key.display()
        ))
    })?;
    let cas = ca_certs(layout)?;
    let (root, below) = cas.split_last().expect("ca_certs is never empty");
    check::chain(&der, kind, below, root, time::OffsetDateTime::now_utc()).map_err(|m| {
        Error::input(format!(
            "{} {m}; run `hapki verify` to see why, and `hapki issue {name} --force` to re-issue it",
            files.cert.display()
        ))
    })?;
    let mut chain = vec![der];
    chain.extend(cas);
    Ok(LeafOnDisk {
        kind,
        key_pkcs8: keys::pkcs8_der(&key),
        files,
        chain,
    })
}

/// Writes `bytes` to the user's `--to` file atomically (a temp file beside it, created
/// exclusively with the final mode, flushed, then renamed). Not a `store::Plan`: a plan closes
/// the folder of a secret file to others, which is right inside the tree but not for whatever
/// folder the user exports into.
pub fn write_to(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "the folder of {} does not exist; create it first or give another --to",
            path.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::input(format!(
            "{} is a folder; give --to a file name",
            path.display()
        )));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.hapki-tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("write", path, e)
    })
}

/// The store password: the first line of `file`, which must not be empty.
pub fn read_password(file: &Path) -> Result<String> {
    let bytes = crate::store::read(file)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::input(format!(
            "{} is not UTF-8 text; put the password on its first line",
            file.display()
        ))
    })?;
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        return Err(Error::input(format!(
            "{} holds no password (its first line is empty); write the password on its first line",
            file.display()
        )));
    }
    Ok(pw)
}
