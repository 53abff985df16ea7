//! Per-node bundles: exactly the files one node's Canton, NGINX, HAProxy or Postgres config
//! names, and no other node's key, as a tar (the tree's own relative paths and modes) or as
//! Kubernetes manifests (a `kubernetes.io/tls` Secret per key pair, a ConfigMap of the trust
//! collection).
//!
//! What a node gets (docs/bundles.md says the same for users):
//! - a server or replica: its own cert, chain and key; the org's trust bundle; the certs and
//!   keys of the clients named after its service (participant1's Ledger API `admin-client` and
//!   its Postgres connection use the `participant1` client cert, on participant1b too) and,
//!   when there is one, the `admin-api` client; for the service a JWT section names
//!   (`participant_id`), the JWKS and the JWT signing cert (not its key);
//! - a proxy with a backend cert: its own cert, chain, key and HAProxy PEM, the chain, key and
//!   HAProxy PEM of the primary of the service it fronts (what it shows clients), the trust
//!   bundle.
//!
//! A service is a primary server with its replicas: servers whose certs name each other. The
//! profile lists a service's primary before its replicas.

use crate::error::{Error, Result};
use crate::model::{Kind, San};
use crate::profile::{LeafSpec, OrgSpec};
use crate::store::OrgLayout;
use std::path::{Path, PathBuf};

/// One file of a bundle: where it is in the tree, its path relative to the output folder (the
/// path inside the tar), and whether it is secret.
#[derive(Clone, Debug)]
pub struct Item {
    pub src: PathBuf,
    pub rel: PathBuf,
    pub secret: bool,
}

/// A key pair of the bundle: a Kubernetes TLS Secret.
#[derive(Clone, Debug)]
pub struct Pair {
    /// `server`, `client` or `proxy-backend`.
    pub kind: Kind,
    pub name: String,
    /// The chain the holder presents (leaf first).
    pub chain: PathBuf,
    pub key: PathBuf,
}

pub struct Bundle {
    pub org: String,
    pub node: String,
    pub items: Vec<Item>,
    pub pairs: Vec<Pair>,
    /// The trust collection and public token material (the ConfigMap).
    pub public: Vec<Item>,
}

fn names(spec: &LeafSpec, dns: &str) -> Vec<String> {
    spec.sans
        .iter()
        .filter_map(|s| match s {
            San::Dns(d) => d.strip_suffix(&format!(".{dns}")).map(str::to_string),
            San::Ip(_) => None,
        })
        .collect()
}

/// The servers of `org` in the service of server `node`, primary first.
fn service<'o>(org: &'o OrgSpec, node: &LeafSpec) -> Vec<&'o LeafSpec> {
    let mine = names(node, &org.dns);
    (org.leaves.iter())
        .filter(|l| l.kind == Kind::Server)
        .filter(|l| {
            l.name == node.name
                || (mine.contains(&l.name.as_str().to_string())
                    && names(l, &org.dns).contains(&node.name.as_str().to_string()))
        })
        .collect()
}

/// What the node `name` of `org` needs from the tree at `out`.
pub fn plan(out: &Path, org: &OrgSpec, name: &str) -> Result<Bundle> {
    let layout = OrgLayout::new(out, org.name.as_str(), &org.dns);
    let leaf = |kind: Kind| org.leaves_named(name).into_iter().find(|l| l.kind == kind);
    let mut b = Bundle {
        org: org.name.as_str().to_string(),
        node: name.to_string(),
        items: Vec::new(),
        pairs: Vec::new(),
        public: Vec::new(),
    };
    let rel = |p: &Path| p.strip_prefix(out).unwrap_or(p).to_path_buf();
    let add = |b: &mut Bundle, p: PathBuf, secret: bool| {
        if !b.items.iter().any(|i| i.src == p) {
            b.items.push(Item {
                rel: rel(&p),
                src: p,
                secret,
            });
        }
    };
    let pair = |b: &mut Bundle, kind: Kind, n: &str, with_haproxy: bool| {
        let f = layout.leaf(kind, n);
        let chain = f.chain.clone().unwrap_or(f.cert.clone());
        add(b, f.cert.clone(), false);
        add(b, chain.clone(), false);
        add(b, f.key.clone(), true);
        if kind == Kind::Client {
            // The Postgres JDBC driver reads the client key as PKCS#8 DER.
            add(b, f.key_der.clone().expect("clients have a DER key"), true);
        }
        if with_haproxy {
            if let Some(h) = &f.haproxy_pem {
                add(b, h.clone(), true);
            }
        }
        b.pairs.push(Pair {
            kind,
            name: n.to_string(),
            chain,
            key: f.key,
        });
    };
    if let Some(server) = leaf(Kind::Server) {
        pair(&mut b, Kind::Server, name, false);
        let svc = service(org, server);
        let clients: Vec<&str> = (org.leaves.iter())
            .filter(|l| l.kind == Kind::Client)
            .filter(|l| svc.iter().any(|s| s.name == l.name))
            .map(|l| l.name.as_str())
            .collect();
        let admin =
            (org.leaves.iter()).any(|l| l.kind == Kind::Client && l.name.as_str() == "admin-api");
        if !clients.is_empty() && admin {
            pair(&mut b, Kind::Client, "admin-api", false);
        }
        for c in clients {
            pair(&mut b, Kind::Client, c, false);
        }
        if let Some(jwt) = &org.jwt {
            if svc.iter().any(|s| s.name.as_str() == jwt.participant_id) {
                let jwks = layout.jwks();
                let signing = layout.jwt_signing().cert;
                add(&mut b, jwks.clone(), false);
                add(&mut b, signing.clone(), false);
                b.public.push(Item {
                    rel: rel(&jwks),
                    src: jwks,
                    secret: false,
                });
                b.public.push(Item {
                    rel: rel(&signing),
                    src: signing,
                    secret: false,
                });
            }
        }
    } else if leaf(Kind::ProxyBackend).is_some() {
        pair(&mut b, Kind::ProxyBackend, name, true);
        // The service it fronts: the servers whose certs name the proxy; it shows clients the
        // primary's chain.
        let fronted = (org.leaves.iter())
            .filter(|l| l.kind == Kind::Server)
            .find(|l| names(l, &org.dns).iter().any(|n| n == name));
        if let Some(primary) = fronted {
            pair(&mut b, Kind::Server, primary.name.as_str(), true);
        }
    } else {
        return Err(Error::input(format!(
            "`{name}` is no server, replica or proxy with a backend cert of org `{}`; a bundle is made for a node (a proxy without backend_cert passes TLS through and needs no files)",
            org.name
        )));
    }
    let trust = layout.trust_bundle();
    let trust = if trust.exists() {
        trust
    } else {
        crate::store::root_cert_in(&layout.dir)
    };
    add(&mut b, trust.clone(), false);
    b.public.insert(
        0,
        Item {
            rel: rel(&trust),
            src: trust,
            secret: false,
        },
    );
    for i in &b.items {
        if !i.src.exists() {
            return Err(Error::input(format!(
                "{} is missing; run `hapki init` first",
                i.src.display()
            )));
        }
    }
    Ok(b)
}

/// The bundle as a tar: the tree's relative paths, keys 0600 in 0700 folders, the rest 0644,
/// owner root, each file's mtime from the tree.
pub fn tar(b: &Bundle) -> Result<Vec<u8>> {
    let mut t = tar::Builder::new(Vec::new());
    let mut dirs: Vec<PathBuf> = Vec::new();
    for i in &b.items {
        let bytes = crate::store::read(&i.src)?;
        let mtime = std::fs::metadata(&i.src)
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut parts = PathBuf::new();
        for c in i.rel.parent().into_iter().flat_map(|p| p.components()) {
            parts.push(c);
            if !dirs.contains(&parts) {
                dirs.push(parts.clone());
                let secret = b
                    .items
                    .iter()
                    .any(|j| j.secret && j.rel.parent() == Some(&parts));
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(if secret { 0o700 } else { 0o755 });
                h.set_size(0);
                h.set_mtime(mtime);
                h.set_cksum();
                t.append_data(&mut h, &parts, std::io::empty())
                    .map_err(|e| Error::bug(format!("tar: {e}")))?;
            }
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(if i.secret { 0o600 } else { 0o644 });
        h.set_size(bytes.len() as u64);
        h.set_mtime(mtime);
        h.set_cksum();
        t.append_data(&mut h, &i.rel, bytes.as_slice())
            .map_err(|e| Error::bug(format!("tar: {e}")))?;
    }
    t.into_inner().map_err(|e| Error::bug(format!("tar: {e}")))
}

/// A name Kubernetes accepts for an object (RFC 1123 subdomain, kept to a label): lower case,
/// `[a-z0-9-]`, at most 63 characters, alphanumeric at both ends.
fn k8s_name(parts: &[&str]) -> String {
    let s: String = parts
        .join("-")
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s: String = s.chars().take(63).collect();
    s.trim_matches('-').to_string()
}

/// The bundle as Kubernetes manifests: one `kubernetes.io/tls` Secret per key pair (`tls.crt`
/// the chain, `tls.key` the key, `ca.crt` the trust bundle) and a ConfigMap of the trust
/// collection (and JWKS). YAML 1.2 is a superset of JSON, so each document is written as JSON:
/// no YAML serializer to trust with quoting.
pub fn k8s(b: &Bundle) -> Result<String> {
    use base64::Engine;
    let b64 = |p: &Path| -> Result<String> {
        Ok(base64::engine::general_purpose::STANDARD.encode(crate::store::read(p)?))
    };
    let labels = serde_json::json!({
        "app.kubernetes.io/managed-by": "hapki",
        "app.kubernetes.io/instance": k8s_name(&[&b.org, &b.node]),
    });
    let trust = &b.public[0].src;
    let mut docs = Vec::new();
    for p in &b.pairs {
        docs.push(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": k8s_name(&[&b.org, &p.name, p.kind.name()]),
                "labels": labels,
            },
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": b64(&p.chain)?,
                "tls.key": b64(&p.key)?,
                "ca.crt": b64(trust)?,
            },
        }));
    }
    let mut data = serde_json::Map::new();
    for i in &b.public {
        let key = i
            .src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = String::from_utf8(crate::store::read(&i.src)?).map_err(|_| {
            Error::input(format!(
                "{} is not text; run `hapki init` to write it again",
                i.src.display()
            ))
        })?;
        data.insert(key, serde_json::Value::String(text));
    }
    docs.push(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": k8s_name(&[&b.org, &b.node, "trust"]), "labels": labels},
        "data": data,
    }));
    let mut s = String::from("# hapki export bundle: Kubernetes manifests (JSON is valid YAML)\n");
    for d in docs {
        s += "---\n";
        s += &serde_json::to_string_pretty(&d).map_err(|e| Error::bug(e.to_string()))?;
        s += "\n";
    }
    Ok(s)
}
