//! The leaves of an org: those the profile declares and those found on disk, each checked as a
//! TLS stack would (chain, usage, names, validity, key), with its derived files.

use super::ca::*;
use super::files::*;
use super::report::*;
use super::OrgCheck;
use crate::model::Kind;
use crate::model::San;
use crate::pki::check;
use crate::profile::{LeafSpec, OrgSpec};
use crate::store::{LeafFiles, OrgLayout, JWT_SIGNING_NAME, ORG_FOLDERS};
use rustls_pki_types::CertificateDer;
use std::collections::BTreeSet;
use x509_parser::certificate::X509Certificate;

/// One leaf: the files of a declared leaf, or of one found on disk.
pub(super) struct Unit<'t> {
    pub(super) name: String,
    /// `None`: a node folder the profile does not declare; its cert's EKU tells server from
    /// proxy-backend.
    pub(super) kind: Option<Kind>,
    pub(super) files: LeafFiles,
    pub(super) spec: Option<&'t LeafSpec>,
}

/// A leaf's cert as read: the DER when it parses, else why not.
pub(super) struct LeafCert {
    pub(super) der: Option<CertificateDer<'static>>,
    pub(super) error: Option<Fault>,
}

/// What checking a leaf hands on: the signing cert feeds the JWKS check.
pub(super) struct UnitDone {
    pub(super) entries: Vec<Entry>,
    pub(super) signing: Option<CertificateDer<'static>>,
}

/// The kind of a node folder's cert that the profile does not declare: a server unless its EKU
/// allows client authentication only.
pub(super) fn kind_by_eku(cert: Option<&X509Certificate<'_>>) -> Kind {
    let eku = cert.and_then(|c| c.extended_key_usage().ok().flatten());
    match eku {
        Some(u) if u.value.client_auth && !u.value.server_auth => Kind::ProxyBackend,
        _ => Kind::Server,
    }
}

impl<'a, 't> OrgCheck<'a, 't> {
    /// The leaves: every one the profile declares (present or not) and every one on disk.
    pub(super) fn units(&self, layout: &OrgLayout, spec: Option<&'t OrgSpec>) -> Vec<Unit<'t>> {
        let mut units: Vec<Unit<'t>> = Vec::new();
        for l in spec.map(|s| s.leaves.as_slice()).unwrap_or_default() {
            units.push(Unit {
                name: l.name.to_string(),
                kind: Some(l.kind),
                files: layout.leaf(l.kind, l.name.as_str()),
                spec: Some(l),
            });
        }
        if spec.is_some_and(|s| s.jwt.is_some()) || self.site.dir.join("signing").is_dir() {
            units.push(Unit {
                name: JWT_SIGNING_NAME.into(),
                kind: Some(Kind::JwtSigning),
                files: layout.jwt_signing(),
                spec: None,
            });
        }
        let known = |units: &[Unit<'_>], name: &str, kinds: &[Kind]| {
            units
                .iter()
                .any(|u| u.name == name && u.kind.is_some_and(|k| kinds.contains(&k)))
        };
        // Node folders: every folder of the org that is not a fixed part of the layout.
        let mut nodes: Vec<String> = self
            .dirs
            .iter()
            .filter(|d| d.parent() == Some(self.site.dir.as_path()))
            .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.starts_with('.') && !ORG_FOLDERS.contains(&n.as_str()))
            .collect();
        nodes.sort();
        for name in nodes {
            if !known(&units, &name, &[Kind::Server, Kind::ProxyBackend]) {
                units.push(Unit {
                    files: layout.leaf(Kind::Server, &name),
                    name,
                    kind: None,
                    spec: None,
                });
            }
        }
        // Client files are `C.D.<ext>`; a name is a DNS label, without dots, so C is what
        // precedes the first dot.
        let client_dir = self.site.dir.join("client");
        let mut clients = BTreeSet::new();
        for f in self
            .files
            .iter()
            .filter(|f| f.parent() == Some(client_dir.as_path()))
        {
            let n = file_name(f);
            if let Some((c, _)) = n.split_once('.') {
                // One of the files the layout gives client `c`, not a look-alike.
                let ours = layout.leaf(Kind::Client, c).all().any(|p| p == f);
                // `C-chain.D.cert.pem` is client C's chain file, not a client of its own.
                let chain_of = c.strip_suffix("-chain").filter(|_| n.ends_with("cert.pem"));
                if ours && chain_of.is_none() && !known(&units, c, &[Kind::Client]) {
                    clients.insert(c.to_string());
                }
            }
        }
        for c in clients {
            units.push(Unit {
                files: layout.leaf(Kind::Client, &c),
                name: c,
                kind: Some(Kind::Client),
                spec: None,
            });
        }
        units
    }

    pub(super) fn check_unit(&self, u: &Unit<'_>, ca: Option<&CaChain>, dns: &str) -> UnitDone {
        let f = &u.files;
        let cert = match self.exists(&f.cert).then(|| read_cert(&f.cert)) {
            Some(Ok(d)) => LeafCert {
                der: Some(d),
                error: None,
            },
            Some(Err(m)) => LeafCert {
                der: None,
                error: Some(m),
            },
            None => LeafCert {
                der: None,
                error: None,
            },
        };
        let parsed = cert.der.as_ref().and_then(|d| check::parse(d).ok());
        let kind = u.kind.unwrap_or_else(|| kind_by_eku(parsed.as_ref()));
        let fix = self.issue(&u.name, kind, true);
        let restore = self.restore(&u.name, kind);
        let mut out = Vec::new();

        if !f.all().any(|p| self.exists(p)) {
            let mut e = Entry::new(&f.cert, format!("{} cert", kind.name()));
            let declared = match u.spec {
                Some(_) => format!(" (the profile {} declares this leaf)", self.o.topo.source),
                None => String::new(),
            };
            e.problem(
                Code::Missing,
                format!("is missing, with its key{declared}"),
                &self.issue(&u.name, kind, false),
            );
            out.push(e);
            return UnitDone {
                entries: out,
                signing: None,
            };
        }

        let mut e = Entry::new(&f.cert, format!("{} cert", kind.name()));
        if let Some(m) = &cert.error {
            e.fault(m.clone(), &fix);
        } else if cert.der.is_none() {
            e.problem(Code::Missing, "is missing", &fix);
        }
        if let (Some(der), Some(c)) = (&cert.der, &parsed) {
            match ca {
                Some(ca) if ca.sound => {
                    if let Err(m) =
                        check::chain(der, kind, &ca.intermediates(), ca.root(), self.o.now)
                    {
                        e.fault(m, &fix);
                    }
                }
                _ => e.problem(Code::CaBroken, self.ca_broken(), ""),
            }
            if kind == Kind::Server {
                let (sans, whose) = match u.spec {
                    Some(s) => (
                        s.sans.clone(),
                        format!(", which the profile {} declares", self.o.topo.source),
                    ),
                    None => (vec![San::Dns(format!("{}.{dns}", u.name))], String::new()),
                };
                if let Err(m) = check::names(der, &sans) {
                    e.problem(Code::from(&m), format!("{m}{whose}"), &fix);
                }
            }
            self.expiry(&mut e, c, &fix);
        }
        out.push(e);

        let mut e = Entry::new(&f.key, format!("{} key", kind.name()));
        let mut pem_key = None;
        if !self.exists(&f.key) {
            e.problem(
                Code::Missing,
                "is missing, so its cert cannot be used",
                &fix,
            );
        } else {
            pem_key =
                self.private_key(&mut e, &f.key, cert.der.as_ref(), &file_name(&f.cert), &fix);
        }
        out.push(e);

        if let Some(p) = &f.chain {
            let mut e = Entry::new(p, format!("{} chain", kind.name()));
            self.chain_file(&mut e, p, f, &cert, ca, kind != Kind::Client, &restore);
            out.push(e);
        }
        if let Some(p) = &f.haproxy_pem {
            let mut e = Entry::new(p, format!("{} HAProxy PEM", kind.name()));
            self.haproxy_pem(&mut e, p, &cert, pem_key.as_ref(), ca, &restore);
            out.push(e);
        }
        if let Some(p) = &f.csr {
            let mut e = Entry::new(p, format!("{} CSR", kind.name()));
            self.csr(&mut e, p, cert.der.as_ref(), &fix);
            out.push(e);
        }
        out.extend(self.der_forms(f, &cert, pem_key.as_ref(), kind, &fix, &restore));
        if let Some(p) = &f.public_key {
            let mut e = Entry::new(p, format!("{} public key", kind.name()));
            self.public_key(&mut e, p, f, parsed.as_ref(), &fix, &restore);
            out.push(e);
        }
        UnitDone {
            entries: out,
            signing: cert.der.filter(|_| kind == Kind::JwtSigning),
        }
    }
}
