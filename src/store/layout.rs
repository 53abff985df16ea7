//! The drop-in file layout: the exact paths existing Canton, NGINX, HAProxy and Postgres configs
//! point at (SPEC.md "Files on disk"). Every path hapki reads or writes comes from here.

use crate::model::{CaLevel, Kind};
use std::path::{Path, PathBuf};

/// The paths of one org (`NS`) with DNS domain `D` under the output dir.
#[derive(Clone, Debug)]
pub struct OrgLayout {
    pub dir: PathBuf,
    pub dns: String,
}

/// The files of one CA level.
#[derive(Clone, Debug)]
pub struct CaFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub csr: Option<PathBuf>,
}

/// A delegated OCSP responder's cert and key.
#[derive(Clone, Debug)]
pub struct ResponderFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The files of one leaf; which are present depends on the kind.
#[derive(Clone, Debug)]
pub struct LeafFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub csr: Option<PathBuf>,
    /// Servers and proxy-backends: leaf, intermediate(s), root. Clients: leaf, intermediate(s),
    /// no root, what a client sends to a server that trusts only the root.
    pub chain: Option<PathBuf>,
    pub cert_der: Option<PathBuf>,
    pub key_der: Option<PathBuf>,
    pub public_key: Option<PathBuf>,
    /// Chain (leaf, intermediate(s), root) then key in one PEM, the form HAProxy's `crt` takes;
    /// it holds the key, so it lives in `private/` with the key's mode.
    pub haproxy_pem: Option<PathBuf>,
}

impl LeafFiles {
    /// Every file of the leaf, cert and key first.
    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.cert, &self.key].into_iter().chain(
            [
                &self.csr,
                &self.chain,
                &self.cert_der,
                &self.key_der,
                &self.public_key,
                &self.haproxy_pem,
            ]
            .into_iter()
            .flatten(),
        )
    }
}

impl OrgLayout {
    pub fn new(out: &Path, org: &str, dns: &str) -> Self {
        OrgLayout {
            dir: out.join(org),
            dns: dns.to_string(),
        }
    }

    pub fn ca(&self, level: CaLevel) -> CaFiles {
        match level {
            CaLevel::Root => CaFiles {
                cert: root_cert_in(&self.dir),
                key: self.dir.join("root/private/ca.key.pem"),
                csr: None,
            },
            CaLevel::Policy => CaFiles {
                cert: self.dir.join("policy/certs/policy.cert.pem"),
                key: self.dir.join("policy/private/policy.key.pem"),
                csr: Some(self.dir.join("policy/csr/policy.csr.pem")),
            },
            CaLevel::Intermediate => CaFiles {
                cert: self.dir.join("intermediate/certs/intermediate.cert.pem"),
                key: self.dir.join("intermediate/private/intermediate.key.pem"),
                csr: Some(self.dir.join("intermediate/csr/intermediate.csr.pem")),
            },
        }
    }

    /// Intermediate(s) then root: what a peer trusts to verify this org's leaves.
    pub fn trust_bundle(&self) -> PathBuf {
        self.dir.join("intermediate/certs/ca-chain.cert.pem")
    }

    /// The org's CA certs as a PKCS#12 truststore (password `changeit`) for the JVM's
    /// `-Djavax.net.ssl.trustStore`.
    pub fn truststore(&self) -> PathBuf {
        self.dir.join("intermediate/certs/truststore.p12")
    }

    /// A copy of the root beside the bundle.
    pub fn root_copy(&self) -> PathBuf {
        self.dir.join("intermediate/certs/root-ca.cert.pem")
    }

    /// The folder of one CA level (`NS/root`, `NS/policy`, `NS/intermediate`): its index and
    /// CRL live there, as `openssl ca` keeps them.
    pub fn ca_dir(&self, level: CaLevel) -> PathBuf {
        self.dir.join(level.name())
    }

    /// The CA's database in the `openssl ca` / `openssl ocsp -index` format.
    pub fn index(&self, level: CaLevel) -> PathBuf {
        self.ca_dir(level).join("index.txt")
    }

    /// `unique_subject = no`: a renewed cert keeps its subject.
    pub fn index_attr(&self, level: CaLevel) -> PathBuf {
        self.ca_dir(level).join("index.txt.attr")
    }

    /// The next CRL number, in hex (openssl's `crlnumber`).
    pub fn crlnumber(&self, level: CaLevel) -> PathBuf {
        self.ca_dir(level).join("crlnumber")
    }

    /// A copy of every cert the CA issued, by serial (uppercase hex), as `openssl ca` keeps them.
    pub fn newcert(&self, level: CaLevel, serial_hex: &str) -> PathBuf {
        self.ca_dir(level)
            .join(format!("newcerts/{serial_hex}.pem"))
    }

    /// The CA's CRL in PEM (`ca.crl.pem` for the root, `policy.crl.pem`, `intermediate.crl.pem`).
    pub fn crl_pem(&self, level: CaLevel) -> PathBuf {
        self.ca_dir(level)
            .join(format!("crl/{}.crl.pem", crl_stem(level)))
    }

    /// The same CRL in DER.
    pub fn crl_der(&self, level: CaLevel) -> PathBuf {
        self.ca_dir(level)
            .join(format!("crl/{}.crl.der", crl_stem(level)))
    }

    /// The issuing CA's CRL then every CA's above it: what `ssl_crl`, `crl-file` and
    /// `ssl_crl_file` take, since those servers check every CA of the chain.
    pub fn crl_bundle(&self) -> PathBuf {
        self.dir.join("intermediate/crl/ca-chain.crl.pem")
    }

    pub fn leaf(&self, kind: Kind, name: &str) -> LeafFiles {
        let d = &self.dns;
        match kind {
            Kind::Server | Kind::ProxyBackend => {
                let node = self.dir.join(name);
                LeafFiles {
                    cert: node.join(format!("certs/{name}.{d}.cert.pem")),
                    key: node.join(format!("private/{name}.{d}.key.pem")),
                    csr: Some(node.join(format!("csr/{name}.{d}.csr.pem"))),
                    chain: Some(node.join(format!("certs/{name}-chain.{d}.cert.pem"))),
                    cert_der: None,
                    key_der: None,
                    public_key: None,
                    haproxy_pem: Some(node.join(format!("private/{name}.{d}.haproxy.pem"))),
                }
            }
            Kind::Client => {
                let c = self.dir.join("client");
                LeafFiles {
                    cert: c.join(format!("{name}.{d}.cert.pem")),
                    key: c.join(format!("{name}.{d}.key.pem")),
                    csr: Some(c.join(format!("{name}.{d}.csr.pem"))),
                    chain: Some(c.join(format!("{name}-chain.{d}.cert.pem"))),
                    cert_der: Some(c.join(format!("{name}.{d}.cert.der"))),
                    key_der: Some(c.join(format!("{name}.{d}.key.der"))),
                    public_key: None,
                    haproxy_pem: None,
                }
            }
            Kind::JwtSigning => {
                let s = self.dir.join("signing");
                LeafFiles {
                    cert: s.join(format!("{name}.{d}.cert.pem")),
                    key: s.join(format!("{name}.{d}.key.pem")),
                    csr: None,
                    chain: None,
                    cert_der: None,
                    key_der: None,
                    public_key: Some(s.join(format!("{name}.{d}.pub.pem"))),
                    haproxy_pem: None,
                }
            }
        }
    }

    /// The JWT signing key's files (`NS/signing/jwt-sign.D.*`).
    pub fn jwt_signing(&self) -> LeafFiles {
        self.leaf(Kind::JwtSigning, JWT_SIGNING_NAME)
    }

    /// The staged next JWT signing key of a rotation (`hapki jwt rotate`), beside the current
    /// one: `NS/signing/next/jwt-sign.D.{cert,key,pub}.pem`.
    pub fn jwt_signing_next(&self) -> LeafFiles {
        self.jwt_signing_in(self.dir.join("signing/next"))
    }

    /// The folder of retired JWT signing keys, one sub-folder per kid.
    pub fn jwt_retired_dir(&self) -> PathBuf {
        self.dir.join("signing/retired")
    }

    /// The cert of a retired JWT signing key (`NS/signing/retired/KID/jwt-sign.D.cert.pem`):
    /// it stays published in the JWKS until the tokens it signed have expired. Nothing else of
    /// the key is kept: a retired key never signs again, so its private half is only a risk.
    pub fn jwt_signing_retired(&self, kid: &str) -> PathBuf {
        self.jwt_retired_dir()
            .join(kid)
            .join(format!("{JWT_SIGNING_NAME}.{}.cert.pem", self.dns))
    }

    /// What the rotation tracks: the latest `exp` each signing key put in a token, and when
    /// each retired key may go (`NS/signing/rotation.json`).
    pub fn jwt_rotation_state(&self) -> PathBuf {
        self.dir.join("signing/rotation.json")
    }

    fn jwt_signing_in(&self, dir: PathBuf) -> LeafFiles {
        let (n, d) = (JWT_SIGNING_NAME, &self.dns);
        LeafFiles {
            cert: dir.join(format!("{n}.{d}.cert.pem")),
            key: dir.join(format!("{n}.{d}.key.pem")),
            csr: None,
            chain: None,
            cert_der: None,
            key_der: None,
            public_key: Some(dir.join(format!("{n}.{d}.pub.pem"))),
            haproxy_pem: None,
        }
    }

    /// The delegated OCSP responder of a CA (EKU OCSPSigning, id-pkix-ocsp-nocheck), which
    /// signs `hapki serve`'s OCSP answers about the certs that CA issued:
    /// `NS/intermediate/certs/ocsp.D.cert.pem`, `NS/root/certs/root-ocsp.D.cert.pem`,
    /// `NS/policy/certs/policy-ocsp.D.cert.pem`, each key under the CA's `private/`.
    pub fn ocsp_responder(&self, level: CaLevel) -> ResponderFiles {
        let d = &self.dns;
        let stem = match level {
            CaLevel::Root => "root-ocsp",
            CaLevel::Policy => "policy-ocsp",
            CaLevel::Intermediate => "ocsp",
        };
        let ca = self.dir.join(level.name());
        ResponderFiles {
            cert: ca.join(format!("certs/{stem}.{d}.cert.pem")),
            key: ca.join(format!("private/{stem}.{d}.key.pem")),
        }
    }

    pub fn jwks(&self) -> PathBuf {
        self.dir.join("jwt/jwks.json")
    }

    /// The token endpoint's clients and their secret hashes (`hapki jwt client add`).
    pub fn clients(&self) -> PathBuf {
        self.dir.join("jwt/clients.json")
    }

    pub fn token(&self, user: &str) -> PathBuf {
        self.dir.join(format!("jwt/{user}.token"))
    }

    /// Many tokens of one user, one per line (`hapki jwt mint --count`).
    pub fn tokens(&self, user: &str) -> PathBuf {
        self.dir.join(format!("jwt/{user}.tokens"))
    }
}

fn crl_stem(level: CaLevel) -> &'static str {
    match level {
        CaLevel::Root => "ca",
        CaLevel::Policy => "policy",
        CaLevel::Intermediate => "intermediate",
    }
}

/// Whether `name` may be a client's: a client `X-chain` would have its cert at the path of
/// client X's chain file (`NS/client/X-chain.D.cert.pem`), so such names are refused.
pub fn client_name_error(name: &str) -> Option<String> {
    name.ends_with("-chain").then(|| {
        format!(
            "the client name `{name}` ends in `-chain`, which names client chain files (C-chain.D.cert.pem); choose another name"
        )
    })
}

/// The file-name stem of the JWT signing key.
pub const JWT_SIGNING_NAME: &str = "jwt-sign";

/// The folders of an org's layout that are not nodes: no server, client or proxy may take
/// these names, and a folder by one of them is never read as a node.
pub const ORG_FOLDERS: &[&str] = &["root", "intermediate", "policy", "client", "signing", "jwt"];

/// The root CA cert of the org whose folder is `org_dir` (all that marks a folder as an org's).
pub fn root_cert_in(org_dir: &Path) -> PathBuf {
    org_dir.join("root/certs/ca.cert.pem")
}

/// Whether a folder holds private keys, so must be 0700.
pub fn is_private_dir(dir: &Path) -> bool {
    matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("private" | "client" | "signing")
    ) || (dir.file_name().is_some_and(|n| n == "next")
        && dir
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "signing"))
}
