//! Profiles: the declarative TOML topology (orgs, their servers, clients, HA replicas, proxies,
//! JWT users) and its validation into a `Topology` whose every name, SAN and key algorithm is
//! already a checked domain type. The built-in default, `profiles/canton-ha.toml`, is compiled in.

use crate::error::{Error, Result};
use crate::model::{parse_domain, CaKeyStore, KeyAlg, Kind, Label, San, Span};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The built-in default profile.
pub const BUILTIN: &str = include_str!("../../profiles/canton-ha.toml");
pub const BUILTIN_NAME: &str = "profiles/canton-ha.toml (built in)";

// ---- the raw TOML, as the user wrote it ----

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    country: Option<String>,
    state: Option<String>,
    tier: Option<u8>,
    ca_key: Option<String>,
    /// "scrypt", "pbkdf2" or "none": CA keys as encrypted PKCS#8 files.
    ca_key_encryption: Option<String>,
    /// A `pkcs11:` URI (RFC 7512): CA keys in that token instead of files.
    ca_key_store: Option<String>,
    leaf_key: Option<String>,
    jwt_key: Option<String>,
    root_days: Option<i64>,
    intermediate_days: Option<i64>,
    leaf_days: Option<i64>,
    /// nextUpdate of the issuing and policy CAs' CRLs, in days.
    crl_days: Option<i64>,
    /// nextUpdate of the root's CRL, in days.
    root_crl_days: Option<i64>,
    crl_url: Option<String>,
    ocsp_url: Option<String>,
    jwt_issuer: Option<String>,
    token_ttl: Option<String>,
    /// A critical nameConstraints extension on the org's issuing CA (docs/profiles.md).
    name_constraints: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    org: Vec<RawOrg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    name: String,
    dns: String,
    organization: String,
    #[serde(default)]
    servers: Vec<String>,
    #[serde(default)]
    clients: Vec<String>,
    #[serde(default)]
    replicas: Vec<RawReplica>,
    #[serde(default)]
    proxies: Vec<RawProxy>,
    /// Extra SANs per server, replica or proxy name.
    #[serde(default)]
    sans: BTreeMap<String, Vec<String>>,
    #[serde(flatten)]
    overrides: RawDefaults,
    jwt: Option<RawJwt>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplica {
    name: String,
    of: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProxy {
    name: String,
    fronts: String,
    #[serde(default)]
    backend_cert: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJwt {
    participant_id: Option<String>,
    issuer: Option<String>,
    key: Option<String>,
    format: Option<String>,
    ledger_id: Option<String>,
    #[serde(default)]
    users: Vec<RawUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    format: Option<String>,
    audience: Option<bool>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    act_as: Vec<String>,
    #[serde(default)]
    read_as: Vec<String>,
    application_id: Option<String>,
    scope: Option<String>,
    /// A client of the org whose mTLS cert authenticates this user at the token endpoint.
    client_cert: Option<String>,
}

// ---- the checked topology ----

/// The token shapes Canton accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// `scope: daml_ledger_api`, `aud` = participant id (Canton 2.x and 3.x).
    Scope,
    /// `aud = https://daml.com/jwt/aud/participant/<id>` (Canton 3.x).
    Audience,
    /// `https://daml.com/ledger-api` custom claims (Canton 2.x).
    Custom,
}

impl TokenFormat {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "scope" => Ok(TokenFormat::Scope),
            "audience" => Ok(TokenFormat::Audience),
            "custom" => Ok(TokenFormat::Custom),
            _ => Err(Error::input(format!(
                "the token format `{s}` is not one hapki knows; use scope, audience or custom"
            ))),
        }
    }
}

/// One leaf certificate the profile declares.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    pub name: Label,
    pub kind: Kind,
    /// Every SAN, in order (the leaf's own name first).
    pub sans: Vec<San>,
    pub days: u32,
    pub key: KeyAlg,
}

#[derive(Clone, Debug)]
pub struct UserSpec {
    pub name: String,
    pub format: TokenFormat,
    pub audience: bool,
    pub admin: bool,
    pub act_as: Vec<String>,
    pub read_as: Vec<String>,
    pub application_id: Option<String>,
    pub scope: Option<String>,
    /// The org's client (`clients`) whose cert (subject CN `C.D`, issued by the org's CA) gets
    /// this user's token from `hapki serve` without a secret (RFC 8705 `tls_client_auth`).
    pub client_cert: Option<Label>,
}

#[derive(Clone, Debug)]
pub struct JwtSpec {
    pub participant_id: String,
    pub ledger_id: String,
    pub issuer: String,
    pub key: KeyAlg,
    pub format: TokenFormat,
    pub ttl: Span,
    pub users: Vec<UserSpec>,
}

/// The `iss` of tokens when neither `[org.jwt]`, the org nor `[defaults]` names one.
const DEFAULT_JWT_ISSUER: &str = "local-jwt-provider";
/// The JWT signing key when neither `[org.jwt]`, the org nor `[defaults]` names one.
const DEFAULT_JWT_KEY: KeyAlg = KeyAlg::Rsa2048;
/// The token shape when `[org.jwt]` names none (or there is no such section).
const DEFAULT_TOKEN_FORMAT: TokenFormat = TokenFormat::Scope;
/// The token lifetime when neither the org nor `[defaults]` sets `token_ttl`: one day.
const DEFAULT_TOKEN_TTL: Span = Span(86_400);

impl JwtSpec {
    /// The JWT settings of org `name` when its profile has no `[org.jwt]` section (`jwt keygen`
    /// and `jwt mint` still work for it): the defaults a section gets for what it leaves out,
    /// and no users.
    pub fn default_for(name: &Label) -> JwtSpec {
        JwtSpec {
            participant_id: name.to_string(),
            ledger_id: name.to_string(),
            issuer: DEFAULT_JWT_ISSUER.into(),
            key: DEFAULT_JWT_KEY,
            format: DEFAULT_TOKEN_FORMAT,
            ttl: DEFAULT_TOKEN_TTL,
            users: vec![],
        }
    }
}

#[derive(Clone, Debug)]
pub struct OrgSpec {
    pub name: Label,
    pub dns: String,
    pub organization: String,
    pub country: String,
    pub state: String,
    pub tier: u8,
    pub ca_key: KeyAlg,
    /// Where the CA private keys live: plain files, encrypted files or a PKCS#11 token.
    pub ca_key_store: CaKeyStore,
    pub leaf_key: KeyAlg,
    pub root_days: u32,
    pub intermediate_days: u32,
    pub leaf_days: u32,
    /// CRL lifetime (thisUpdate to nextUpdate) of the issuing and policy CAs.
    pub crl_days: u32,
    /// CRL lifetime of the root CA, which signs rarely (only CA certs).
    pub root_crl_days: u32,
    pub crl_url: Option<String>,
    pub ocsp_url: Option<String>,
    pub leaves: Vec<LeafSpec>,
    pub jwt: Option<JwtSpec>,
    /// `name_constraints = true`: the issuing CA permits only the org's domain, the profile's
    /// extra SANs, localhost and the loopback addresses (see `pki::permitted`).
    pub name_constraints: bool,
    /// Every extra SAN the profile's `sans` tables name (what name constraints also permit).
    pub extra_sans: Vec<San>,
}

impl OrgSpec {
    /// The fully qualified name of a node of this org.
    pub fn fqdn(&self, name: &str) -> String {
        format!("{name}.{}", self.dns)
    }

    /// Refuses a leaf whose cert would break a limit (the SAN cap; a name over RFC 5280's 64
    /// characters is left out of the leaf's subject and kept in its SANs), so a profile or `issue --san` is refused with a sentence instead of failing the
    /// pre-issuance lint as a bug.
    pub fn check_leaf(&self, spec: &LeafSpec) -> Result<()> {
        let what = format!(
            "the {} `{}` of org `{}`",
            spec.kind.name(),
            spec.name,
            self.name
        );
        if spec.sans.len() > MAX_SANS {
            return Err(Error::input(format!(
                "{what} has {} SANs; a cert carries at most {MAX_SANS} (so that it stays well under 64 KiB): split the names over several leaves",
                spec.sans.len()
            )));
        }
        // The DER size of the names: a few octets of header per name.
        let octets: usize = spec
            .sans
            .iter()
            .map(|s| match s {
                San::Dns(d) => d.len() + 4,
                San::Ip(std::net::IpAddr::V4(_)) => 6,
                San::Ip(std::net::IpAddr::V6(_)) => 18,
            })
            .sum();
        if octets > MAX_SAN_OCTETS {
            return Err(Error::input(format!(
                "the SANs of {what} take {octets} bytes; a cert carries at most {MAX_SAN_OCTETS} bytes of names (so that it stays well under 64 KiB): split the names over several leaves"
            )));
        }
        Ok(())
    }

    /// The leaves of this org named `name` (a name can be both a server and a client).
    pub fn leaves_named(&self, name: &str) -> Vec<&LeafSpec> {
        self.leaves
            .iter()
            .filter(|l| l.name.as_str() == name)
            .collect()
    }

    /// The SANs a leaf of `kind` named `name` gets by default in this org.
    pub fn default_sans(&self, name: &Label, kind: Kind) -> Vec<San> {
        let own = San::Dns(self.fqdn(name.as_str()));
        match kind {
            Kind::Server => vec![
                own,
                San::Dns("localhost".into()),
                San::Ip([127, 0, 0, 1].into()),
                San::Ip(std::net::Ipv6Addr::LOCALHOST.into()),
            ],
            Kind::Client | Kind::ProxyBackend => vec![own],
            Kind::JwtSigning => vec![],
        }
    }
}

#[derive(Clone, Debug)]
pub struct Topology {
    /// Where it came from, for messages.
    pub source: String,
    pub orgs: Vec<OrgSpec>,
}

impl Topology {
    /// Loads `path`, or the built-in default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Topology> {
        match path {
            None => Topology::parse(BUILTIN, BUILTIN_NAME),
            Some(p) => {
                let bytes = crate::store::read_io(p, crate::store::PROFILE_CAP).map_err(|e| {
                    match e.kind() {
                        std::io::ErrorKind::NotFound => Error::input(format!(
                            "the profile {} does not exist; give the path of a profile file or leave out --profile for the built-in one",
                            p.display()
                        )),
                        std::io::ErrorKind::InvalidInput => Error::input(format!(
                            "cannot read the profile {}: {e}; give a TOML profile file",
                            p.display()
                        )),
                        _ => Error::io("read the profile", p, e),
                    }
                })?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    Error::input(format!(
                        "the profile {} is not UTF-8 text; give a TOML profile",
                        p.display()
                    ))
                })?;
                Topology::parse(&text, &p.display().to_string())
            }
        }
    }

    pub fn parse(text: &str, source: &str) -> Result<Topology> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| line_col(text, s.start))
                .unwrap_or((0, 0));
            let msg = e.message().trim().replace('\n', " ");
            Error::input(format!(
                "the profile {source} is not valid at line {line}, column {col}: {msg}; see docs/profiles.md for the expected fields"
            ))
        })?;
        let bad = |what: String| Error::input(format!("the profile {source} {what}"));
        if raw.org.is_empty() {
            return Err(bad(
                "declares no org; add at least one [[org]] with name, dns and organization".into(),
            ));
        }
        let mut orgs = Vec::new();
        let mut seen = BTreeSet::new();
        for ro in &raw.org {
            let org = build_org(ro, &raw.defaults).map_err(|e| match e {
                Error::Input(m) => bad(format!("has a problem in org `{}`: {m}", ro.name)),
                other => other,
            })?;
            if !seen.insert(org.name.clone()) {
                return Err(bad(format!(
                    "declares org `{}` twice; give each org a unique name",
                    org.name
                )));
            }
            orgs.push(org);
        }
        Ok(Topology {
            source: source.to_string(),
            orgs,
        })
    }

    pub fn org(&self, name: &str) -> Result<&OrgSpec> {
        self.orgs
            .iter()
            .find(|o| o.name.as_str() == name)
            .ok_or_else(|| {
                Error::input(format!(
                    "the org `{name}` is not in the profile {}; use one of {}",
                    self.source,
                    self.org_names()
                ))
            })
    }

    pub fn org_names(&self) -> String {
        self.orgs
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The orgs a command acts on: one when `--org` is given, else all.
    pub fn select(&self, org: Option<&str>) -> Result<Vec<&OrgSpec>> {
        match org {
            Some(name) => Ok(vec![self.org(name)?]),
            None => Ok(self.orgs.iter().collect()),
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

fn days(v: Option<i64>, default: u32, what: &str) -> Result<u32> {
    match v {
        None => Ok(default),
        Some(n) if (1..=36500).contains(&n) => Ok(n as u32),
        Some(n) => Err(Error::input(format!(
            "{what} is {n}; give a whole number of days from 1 to 36500"
        ))),
    }
}

fn key(v: Option<&String>, default: KeyAlg) -> Result<KeyAlg> {
    v.map(|s| s.parse()).unwrap_or(Ok(default))
}

fn url(v: Option<&String>, what: &str) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(u)
            if (u.starts_with("http://") || u.starts_with("https://"))
                && u.len() <= 2048
                && u.is_ascii()
                && !u.contains(char::is_whitespace) =>
        {
            Ok(Some(u.clone()))
        }
        Some(u) => Err(Error::input(format!(
            "{what} `{u}` is not an http(s) URL of at most 2048 characters; give one such as `http://crl.example.com/ca.crl`"
        ))),
    }
}

/// The most SANs one cert carries, and the most bytes they take: far above any real node
/// (a few names each), and low enough that a cert stays under `lint::MAX_CERT_LEN` (64 KiB).
pub const MAX_SANS: usize = 1000;
pub const MAX_SAN_OCTETS: usize = 32 * 1024;
/// RFC 5280 appendix A, ub-common-name.
pub const MAX_COMMON_NAME: usize = 64;

fn check_common_name(cn: &str, what: &str) -> Result<()> {
    let n = cn.chars().count();
    if n > MAX_COMMON_NAME {
        return Err(Error::input(format!(
            "the common name `{cn}` of {what} is {n} characters; RFC 5280 allows at most {MAX_COMMON_NAME}: shorten the name or the org's dns domain"
        )));
    }
    Ok(())
}

/// Subject attribute text: printable, no control characters. Values go into DER via rcgen (no
/// config-file pasting), so `;` and `/` are harmless; control characters never are.
fn subject_text(v: &str, what: &str) -> Result<String> {
    if v.is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
        return Err(Error::input(format!(
            "{what} `{}` must be 1 to 64 printable characters",
            v.escape_debug()
        )));
    }
    Ok(v.to_string())
}

pub fn user_name(v: &str) -> Result<String> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && !v.starts_with('.')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Error::input(format!(
            "the user name `{}` is not valid; use letters, digits, `_`, `-`, `.` and `@` (it names the token file)",
            v.escape_debug()
        )))
    }
}

fn build_org(ro: &RawOrg, d: &RawDefaults) -> Result<OrgSpec> {
    let o = &ro.overrides;
    let name = Label::parse(&ro.name, "org name")?;
    let dns = parse_domain(&ro.dns, "dns domain")?;
    let tier = o.tier.or(d.tier).unwrap_or(2);
    if !(1..=3).contains(&tier) {
        return Err(Error::input(format!(
            "tier is {tier}; use 1 (root only), 2 (root and intermediate) or 3 (root, policy and issuing CA)"
        )));
    }
    let leaf_key = key(o.leaf_key.as_ref().or(d.leaf_key.as_ref()), KeyAlg::Rsa2048)?;
    let leaf_days = days(o.leaf_days.or(d.leaf_days), 365, "leaf_days")?;
    let mut org = OrgSpec {
        name,
        dns,
        organization: subject_text(&ro.organization, "organization")?,
        country: subject_text(
            o.country
                .as_deref()
                .or(d.country.as_deref())
                .unwrap_or("US"),
            "country",
        )?,
        state: subject_text(
            o.state
                .as_deref()
                .or(d.state.as_deref())
                .unwrap_or("New York"),
            "state",
        )?,
        tier,
        ca_key: key(o.ca_key.as_ref().or(d.ca_key.as_ref()), KeyAlg::Rsa4096)?,
        ca_key_store: CaKeyStore::parse(
            o.ca_key_encryption
                .as_deref()
                .or(d.ca_key_encryption.as_deref()),
            o.ca_key_store.as_deref().or(d.ca_key_store.as_deref()),
        )?,
        leaf_key,
        root_days: days(o.root_days.or(d.root_days), 7300, "root_days")?,
        intermediate_days: days(
            o.intermediate_days.or(d.intermediate_days),
            3650,
            "intermediate_days",
        )?,
        leaf_days,
        crl_days: days(o.crl_days.or(d.crl_days), 7, "crl_days")?,
        root_crl_days: days(o.root_crl_days.or(d.root_crl_days), 180, "root_crl_days")?,
        crl_url: url(o.crl_url.as_ref().or(d.crl_url.as_ref()), "crl_url")?,
        ocsp_url: url(o.ocsp_url.as_ref().or(d.ocsp_url.as_ref()), "ocsp_url")?,
        leaves: vec![],
        jwt: None,
        name_constraints: o.name_constraints.or(d.name_constraints).unwrap_or(false),
        extra_sans: vec![],
    };
    if org.name_constraints && tier == 1 {
        return Err(Error::input(
            "name_constraints = true puts name constraints on the CA below the root, and tier 1 has none; use tier 2 or 3".to_string(),
        ));
    }
    if org.country.len() != 2 || !org.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Error::input(format!(
            "country `{}` is not a two-letter ISO 3166 code; use e.g. `US`",
            org.country
        )));
    }

    let label = |s: &str, what: &str| -> Result<Label> {
        let l = Label::parse(s, what)?;
        if crate::store::ORG_FOLDERS.contains(&l.as_str()) {
            return Err(Error::input(format!(
                "the {what} `{s}` is a folder name of the layout; choose another name"
            )));
        }
        Ok(l)
    };

    // Service groups: a primary server with its replicas and the proxies in front of it. Every
    // server cert of a group names the whole group, since clients and proxies address the
    // service, and configs that point a replica at the primary's files must keep working.
    let mut servers: Vec<Label> = Vec::new();
    for s in &ro.servers {
        let l = label(s, "server name")?;
        if servers.contains(&l) {
            return Err(Error::input(format!("server `{s}` is listed twice")));
        }
        servers.push(l);
    }
    let mut group: BTreeMap<Label, Vec<Label>> = BTreeMap::new();
    let mut replicas: Vec<(Label, Label)> = Vec::new();
    for r in &ro.replicas {
        let l = label(&r.name, "replica name")?;
        let of = Label::parse(&r.of, "replica's `of`")?;
        if !servers.contains(&of) {
            return Err(Error::input(format!(
                "replica `{}` stands in for `{}`, which is not one of its servers; add it to servers",
                r.name, r.of
            )));
        }
        if servers.contains(&l) || replicas.iter().any(|(n, _)| n == &l) {
            return Err(Error::input(format!(
                "replica `{}` is also declared as a server or another replica; give it one role",
                r.name
            )));
        }
        group.entry(of.clone()).or_default().push(l.clone());
        replicas.push((l, of));
    }
    let mut proxies: Vec<(Label, Label, bool)> = Vec::new();
    for p in &ro.proxies {
        let l = label(&p.name, "proxy name")?;
        let fronts = Label::parse(&p.fronts, "proxy's `fronts`")?;
        if !servers.contains(&fronts) {
            return Err(Error::input(format!(
                "proxy `{}` fronts `{}`, which is not one of its servers; add it to servers",
                p.name, p.fronts
            )));
        }
        if servers.contains(&l) || replicas.iter().any(|(n, _)| n == &l) {
            return Err(Error::input(format!(
                "proxy `{}` is also declared as a server or replica; give it one role",
                p.name
            )));
        }
        group.entry(fronts.clone()).or_default().push(l.clone());
        proxies.push((l, fronts, p.backend_cert));
    }
    let known = |n: &str| {
        servers.iter().any(|s| s.as_str() == n)
            || replicas.iter().any(|(r, _)| r.as_str() == n)
            || proxies.iter().any(|(p, _, _)| p.as_str() == n)
    };
    let mut extra: BTreeMap<String, Vec<San>> = BTreeMap::new();
    for (node, list) in &ro.sans {
        if !known(node) {
            return Err(Error::input(format!(
                "sans names `{node}`, which is not a server, replica or proxy of the org; fix the name"
            )));
        }
        let sans = list
            .iter()
            .map(|s| San::parse(s))
            .collect::<Result<Vec<_>>>()?;
        for san in &sans {
            if !org.extra_sans.contains(san) {
                org.extra_sans.push(san.clone());
            }
        }
        extra.insert(node.clone(), sans);
    }

    let server_leaf = |name: &Label, primary: &Label, org: &OrgSpec| -> LeafSpec {
        let mut sans = org.default_sans(name, Kind::Server);
        let mut push = |s: San| {
            if !sans.contains(&s) {
                sans.push(s)
            }
        };
        push(San::Dns(org.fqdn(primary.as_str())));
        for member in group.get(primary).into_iter().flatten() {
            push(San::Dns(org.fqdn(member.as_str())));
        }
        for s in extra.get(name.as_str()).into_iter().flatten() {
            push(s.clone());
        }
        LeafSpec {
            name: name.clone(),
            kind: Kind::Server,
            sans,
            days: leaf_days,
            key: leaf_key,
        }
    };
    let mut leaves = Vec::new();
    for s in &servers {
        leaves.push(server_leaf(s, s, &org));
    }
    for (r, of) in &replicas {
        leaves.push(server_leaf(r, of, &org));
    }
    let mut clients: Vec<Label> = Vec::new();
    for c in &ro.clients {
        let l = label(c, "client name")?;
        if let Some(m) = crate::store::layout::client_name_error(c) {
            return Err(Error::input(m));
        }
        if clients.contains(&l) {
            return Err(Error::input(format!("client `{c}` is listed twice")));
        }
        leaves.push(LeafSpec {
            sans: org.default_sans(&l, Kind::Client),
            name: l.clone(),
            kind: Kind::Client,
            days: leaf_days,
            key: leaf_key,
        });
        clients.push(l);
    }
    for (p, _, backend) in &proxies {
        if *backend {
            let mut sans = org.default_sans(p, Kind::ProxyBackend);
            for s in extra.get(p.as_str()).into_iter().flatten() {
                if !sans.contains(s) {
                    sans.push(s.clone());
                }
            }
            leaves.push(LeafSpec {
                name: p.clone(),
                kind: Kind::ProxyBackend,
                sans,
                days: leaf_days,
                key: leaf_key,
            });
        }
    }
    for level in [
        crate::model::CaLevel::Root,
        crate::model::CaLevel::Policy,
        crate::model::CaLevel::Intermediate,
    ] {
        check_common_name(
            &crate::pki::ca_common_name(&org, level),
            &format!("the {} CA of org `{}`", level.name(), org.name),
        )?;
    }
    for l in &leaves {
        org.check_leaf(l)?;
    }
    org.leaves = leaves;

    if let Some(j) = &ro.jwt {
        let jwt_key = key(
            j.key.as_ref().or(o.jwt_key.as_ref()).or(d.jwt_key.as_ref()),
            DEFAULT_JWT_KEY,
        )?;
        if let Some(why) = crate::token::stage::jwt_key_refusal(jwt_key) {
            return Err(Error::input(format!(
                "the JWT key of org `{}` is {jwt_key}, which cannot sign Canton tokens: {why}",
                ro.name
            )));
        }
        let participant_id = j.participant_id.clone().unwrap_or_else(|| ro.name.clone());
        let format = match &j.format {
            Some(f) => TokenFormat::parse(f)?,
            None => DEFAULT_TOKEN_FORMAT,
        };
        let ttl = match o.token_ttl.as_deref().or(d.token_ttl.as_deref()) {
            Some(t) => t.parse()?,
            None => DEFAULT_TOKEN_TTL,
        };
        let mut users = Vec::new();
        let mut names = BTreeSet::new();
        for u in &j.users {
            let name = user_name(&u.name)?;
            if !names.insert(name.clone()) {
                return Err(Error::input(format!("user `{name}` is listed twice")));
            }
            let client_cert = match &u.client_cert {
                None => None,
                Some(c) => match clients.iter().find(|l| l.as_str() == c) {
                    Some(l) => Some(l.clone()),
                    None => {
                        return Err(Error::input(format!(
                            "user `{name}` of org `{}` has client_cert = \"{c}\", which is not one of the org's clients; name one of `clients`",
                            ro.name
                        )))
                    }
                },
            };
            if let Some(c) = &client_cert {
                if users
                    .iter()
                    .any(|x: &UserSpec| x.client_cert.as_ref() == Some(c))
                {
                    return Err(Error::input(format!(
                        "client `{c}` of org `{}` is the client_cert of two users; a cert can stand for one user only",
                        ro.name
                    )));
                }
            }
            let custom = u.admin || !u.act_as.is_empty() || !u.read_as.is_empty();
            let format = match &u.format {
                Some(f) => TokenFormat::parse(f)?,
                None if custom => TokenFormat::Custom,
                None => format,
            };
            users.push(UserSpec {
                name,
                format,
                audience: u.audience.unwrap_or(true),
                admin: u.admin,
                act_as: u.act_as.clone(),
                read_as: u.read_as.clone(),
                application_id: u.application_id.clone(),
                scope: u.scope.clone(),
                client_cert,
            });
        }
        org.jwt = Some(JwtSpec {
            ledger_id: j
                .ledger_id
                .clone()
                .unwrap_or_else(|| participant_id.clone()),
            participant_id,
            issuer: j
                .issuer
                .clone()
                .or_else(|| o.jwt_issuer.clone())
                .or_else(|| d.jwt_issuer.clone())
                .unwrap_or_else(|| DEFAULT_JWT_ISSUER.into()),
            key: jwt_key,
            format,
            ttl,
            users,
        });
    }
    Ok(org)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profile_has_the_seed_topology() {
        let t = Topology::load(None).unwrap();
        assert_eq!(t.org_names(), "domain, participant1, participant2");
        let d = t.org("domain").unwrap();
        let seq = d
            .leaves
            .iter()
            .find(|l| l.name.as_str() == "sequencer" && l.kind == Kind::Server)
            .unwrap();
        let names: Vec<String> = seq.sans.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "DNS:sequencer.acme.com",
                "DNS:localhost",
                "IP:127.0.0.1",
                "IP:::1",
                "DNS:sequencer2.acme.com",
                "DNS:lb-sequencer.acme.com"
            ]
        );
        let p1 = t.org("participant1").unwrap();
        let p1b = &p1.leaves_named("participant1b")[0];
        assert!(p1b
            .sans
            .contains(&San::Dns("participant1.customer1.com".into())));
        assert_eq!(
            p1.leaves_named("lb-participant1")[0].kind,
            Kind::ProxyBackend
        );
        // 25 leaves in all: 6 + 5 domain, 5 + 2 + 1 participant1, 4 + 2 participant2.
        let n: usize = t.orgs.iter().map(|o| o.leaves.len()).sum();
        assert_eq!(n, 25);
        assert_eq!(p1.jwt.as_ref().unwrap().users.len(), 3);
        assert_eq!(
            p1.jwt.as_ref().unwrap().users[2].format,
            TokenFormat::Custom
        );
    }

    #[test]
    fn an_empty_jwt_section_gets_the_defaults_of_an_org_without_one() {
        let t = Topology::parse(
            "[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\n[org.jwt]\n",
            "p.toml",
        )
        .unwrap();
        let org = &t.orgs[0];
        let (a, b) = (org.jwt.clone().unwrap(), JwtSpec::default_for(&org.name));
        assert_eq!(
            (
                &a.participant_id,
                &a.ledger_id,
                &a.issuer,
                a.key,
                a.format,
                a.ttl
            ),
            (
                &b.participant_id,
                &b.ledger_id,
                &b.issuer,
                b.key,
                b.format,
                b.ttl
            )
        );
        assert_eq!(
            (b.participant_id.as_str(), b.issuer.as_str(), b.key, b.ttl),
            ("p", "local-jwt-provider", KeyAlg::Rsa2048, Span(86400))
        );
    }

    #[test]
    fn org_settings_override_defaults_for_jwt_too() {
        let t = Topology::parse(
            r#"
[defaults]
jwt_key = "rsa2048"
token_ttl = "1d"
[[org]]
name = "p"
dns = "p.com"
organization = "P"
jwt_key = "ecdsa-p256"
jwt_issuer = "me"
token_ttl = "12h"
[org.jwt]
"#,
            "p.toml",
        )
        .unwrap();
        let j = t.orgs[0].jwt.as_ref().unwrap();
        assert_eq!(
            (j.key, j.issuer.as_str(), j.ttl),
            (KeyAlg::EcdsaP256, "me", Span(43200))
        );
    }

    #[test]
    fn malformed_profile_names_line() {
        let e = Topology::parse("[[org]]\nname = 3\n", "p.toml").unwrap_err();
        assert!(
            e.to_string().contains("p.toml is not valid at line 2"),
            "{e}"
        );
    }

    #[test]
    fn client_cert_names_one_client_of_the_org_for_one_user() {
        let t = Topology::load(None).unwrap();
        let users = &t.org("participant1").unwrap().jwt.as_ref().unwrap().users;
        let admin = users
            .iter()
            .find(|u| u.name == "participant_admin")
            .unwrap();
        assert_eq!(
            admin.client_cert.as_ref().map(Label::as_str),
            Some("participant1")
        );
        let base = |users: &str| {
            format!(
                "[[org]]\nname = \"p\"\ndns = \"p.com\"\norganization = \"P\"\nclients = [\"c\"]\n[org.jwt]\nusers = [{users}]\n"
            )
        };
        let e = Topology::parse(&base(r#"{ name = "a", client_cert = "nope" }"#), "p.toml")
            .unwrap_err();
        assert!(
            e.to_string().contains("not one of the org's clients"),
            "{e}"
        );
        let e = Topology::parse(
            &base(r#"{ name = "a", client_cert = "c" }, { name = "b", client_cert = "c" }"#),
            "p.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("client_cert of two users"), "{e}");
        assert!(Topology::parse(&base(r#"{ name = "a", client_cert = "c" }"#), "p.toml").is_ok());
    }
}
