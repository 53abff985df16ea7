//! The command line: clap derive structs for every subcommand. Raw strings (names, SANs, days,
//! key algorithms) are kept as text here and turned into checked domain types by each command
//! before any work starts, so every refusal is hapki's own one-sentence message.

use crate::cmd::jwt_rotate::{JwtRotateArgs, JWT_ROTATE_HELP};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "hapki",
    version,
    // Our own `help` verb, so `hapki help --help` works like every other verb's `--help`.
    disable_help_subcommand = true,
    about = "PKI and tokens for secure, highly available Canton deployments",
    long_about = "hapki builds and checks the whole PKI and token set of a Canton (Daml) deployment: root and \
intermediate CAs per org, server, client and proxy-backend certs, JWT signing keys, a JWKS and tokens.",
    after_help = "EXAMPLES:\n  hapki init                      # the built-in Canton HA topology into ./certs\n  hapki verify certs              # check every file the way a TLS stack would\n\nEXIT CODES:\n  0  success\n  1  verify, jwt verify or lint found a problem\n  2  bad input, or a file could not be read or written"
)]
pub struct Cli {
    /// None: `hapki` alone, which prints the help on stdout and exits 0.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The main job: every CA, cert, key, JWKS and token of the profile's topology.
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
    /// Manage certificate authorities.
    #[command(
        subcommand,
        after_help = "EXAMPLES:\n  hapki ca init --tier 2\n  hapki ca init --org participant1 --tier 3\n\nEXIT CODES:\n  0  success\n  2  bad input, an existing CA without --force, or a file could not be written"
    )]
    Ca(CaCommand),
    /// Issue leaf certificates: every leaf of an org, one leaf, or an ad-hoc one.
    #[command(after_help = ISSUE_HELP)]
    Issue(IssueArgs),
    /// JWT signing keys, JWKS and tokens.
    #[command(
        subcommand,
        after_help = "EXAMPLES:\n  hapki jwt keygen --org participant1\n  hapki jwt mint --user alice\n  hapki jwt verify certs/participant1/jwt/alice.token --jwks certs/participant1/jwt/jwks.json\n\nEXIT CODES:\n  0  success (jwt verify: the token is valid)\n  1  jwt verify: the token is invalid\n  2  bad input, or a file could not be read or written"
    )]
    Jwt(JwtCommand),
    /// Check every chain, key, usage, expiry, permission, JWKS and token under a folder.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Show a certificate, CSR, key, JWKS or JWT for people (or as JSON).
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Lint certificates against RFC 5280: string types, extensions, serial, validity, SANs, AKI/SKI.
    #[command(after_help = LINT_HELP)]
    Lint(LintArgs),
    /// Revoke a certificate: mark it in its CA's index and sign the CRLs again.
    #[command(after_help = REVOKE_HELP)]
    Revoke(RevokeArgs),
    /// Sign the CRLs again (all, or those whose nextUpdate is near): safe from cron.
    #[command(after_help = CRL_HELP)]
    Crl(CrlArgs),
    /// Every certificate the CAs issued, from their indexes, with its status.
    #[command(after_help = LIST_HELP)]
    List(ListArgs),
    /// Re-issue leaves near the end of their life at the same paths.
    #[command(after_help = RENEW_HELP)]
    Renew(RenewArgs),
    /// Files of the tree in other forms: PKCS#12 for Java, per-node bundles (tar, Kubernetes).
    #[command(
        subcommand,
        after_help = "EXAMPLES:\n  hapki export p12 participant1b --password-file pw.txt --to participant1b.p12\n  hapki export bundle participant1b --to participant1b.tar\n\nEXIT CODES:\n  0  success\n  2  bad input, or a file could not be read or written"
    )]
    Export(ExportCommand),
    /// Shell completion script for bash, zsh, fish, elvish or powershell, on stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// The manual page (roff) on stdout, or one page per command into a folder.
    #[command(after_help = MAN_HELP)]
    Man(ManArgs),
    /// The help of hapki or of a command (the same as `hapki COMMAND --help`).
    #[command(after_help = HELP_HELP)]
    Help(HelpArgs),
    /// Serve an org's JWKS, CRLs and OCSP over HTTPS (and CRLs and OCSP over HTTP).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
}

const SERVE_HELP: &str = "EXAMPLES:\n  hapki serve --org participant1                       # https://127.0.0.1:9500, http://127.0.0.1:8500\n  hapki serve --org participant1 --listen 0.0.0.0:443 --http 0.0.0.0:80 --out /etc/canton/certs\n\nHTTPS (the org's auth server cert and chain): /.well-known/jwks.json (and /.well_known/jwks.json),\n/crl/NAME.crl (DER) and /crl/NAME.crl.pem for NAME root, policy, intermediate, OCSP at POST /ocsp and\nGET /ocsp/BASE64, /healthz. HTTP (--http): the CRLs, OCSP and /healthz. Files are re-read when they\nchange; one log line per request on stderr; SIGTERM or Ctrl-C stops it after the requests in flight.\n\nEXIT CODES:\n  0  stopped by SIGTERM or SIGINT\n  2  could not start (no auth cert, an address in use, bad input)";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The org to serve.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    /// HTTPS address (JWKS, CRLs, OCSP, health).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9500")]
    pub listen: String,
    /// Plain HTTP address for the CRLs and OCSP; `off` to serve HTTPS only.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8500")]
    pub http: String,
    /// Topology profile (TOML); the built-in profiles/canton-ha.toml when left out.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The folder hapki init wrote.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub out: PathBuf,
}

const LINT_HELP: &str = "Prints one line per finding, `FILE: SEVERITY code: sentence` (FILE[N] for certificate \
N of a file with several, counted from 0; the first is FILE); docs/lint.md lists every code. Notices are worth knowing but are no fault.

EXAMPLES:
  hapki lint certs/participant1/participant1/certs/participant1.customer1.com.cert.pem
  hapki lint certs/*/intermediate/certs/ca-chain.cert.pem other-ca.der
  hapki lint --json server.pem

EXIT CODES:
  0  no finding, or notices only
  1  a finding of severity error or warning
  2  a file could not be read or holds no certificate";

#[derive(Args, Debug)]
pub struct LintArgs {
    /// PEM (one or many certificates) or DER certificate files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Report as JSON: an array of {file, cert_index, subject, findings: [{code, severity, message}]}.
    #[arg(long)]
    pub json: bool,
}

const REVOKE_HELP: &str = "EXAMPLES:\n  hapki revoke reporting --org participant1 --reason key-compromise\n  hapki revoke certs/participant1/client/reporting.customer1.com.cert.pem\n  hapki revoke --serial 4F3A...C1 --org participant1 --reason superseded\n  hapki revoke intermediate --org participant1 --reason ca-compromise   # lands in the root's CRL\n\nThe cert is marked R in its issuer's index.txt and that CA's CRL and the bundle\nNS/intermediate/crl/ca-chain.crl.pem are signed again, in one atomic run; the cert files stay.\nReload the servers that read the CRL (nginx -s reload, HAProxy reload, pg_ctl reload).\nRevoking a cert twice says so and changes nothing.\n\nEXIT CODES:\n  0  revoked (or already revoked)\n  2  bad input (no such cert, an ambiguous name), or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// A leaf name (`reporting`), `intermediate` or `policy`, or a certificate file.
    #[arg(required_unless_present = "serial")]
    pub target: Option<String>,
    /// The org of the cert (needed when a name is in several orgs).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Revoke by serial (hex, as `hapki list` or `openssl x509 -serial` prints it).
    #[arg(long, value_name = "HEX", conflicts_with = "target")]
    pub serial: Option<String>,
    /// key-compromise, superseded, affiliation-changed, cessation-of-operation or unspecified
    /// (default: no reason code).
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

const CRL_HELP: &str = "EXAMPLES:\n  hapki crl                          # sign every CA's CRL and the bundles again\n  hapki crl --within 2d              # only CRLs whose nextUpdate is within 2 days (cron, e.g. hourly)\n  hapki crl --org participant1 --days 14\n\nA CRL's nextUpdate is crl_days (7) ahead for issuing and policy CAs and root_crl_days (180) for the\nroot. NGINX, HAProxy and PostgreSQL refuse EVERY client once a CRL of the chain has expired, so\nput `hapki crl --within 2d` in cron and reload them after it.\n\nEXIT CODES:\n  0  success (nothing to sign is success too)\n  2  bad input, no CA yet, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct CrlArgs {
    /// Only this org.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Only CRLs whose nextUpdate is within this span: 12h, 2d.
    #[arg(long, value_name = "DURATION")]
    pub within: Option<String>,
    /// nextUpdate this many days ahead (default: the profile's crl_days / root_crl_days).
    #[arg(long, value_name = "N")]
    pub days: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

const LIST_HELP: &str = "EXAMPLES:\n  hapki list\n  hapki list --org participant1 --expiring 30d\n  hapki list --json --at 2027-06-01T00:00:00Z\n\nOne row per cert in the CAs' indexes (and each org's root): org, kind, name, serial, not-after and\nstatus: valid, expiring (within --expiring, 30d by default), expired or revoked. With --expiring\nonly the certs that expire within it (or have expired) are listed.\n\nEXIT CODES:\n  0  success\n  2  bad input, or an index could not be read";

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this org.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Only certs that expire within this span (or have expired): 30d, 12h.
    #[arg(long, value_name = "DURATION")]
    pub expiring: Option<String>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

const RENEW_HELP: &str = "EXAMPLES:\n  hapki renew                                # every leaf with under a third of its life left\n  hapki renew participant1 --within 30d      # that leaf, if it expires within 30 days\n  hapki renew --org participant1 --keep-key --dry-run\n\nA renewed leaf gets a new serial (and a new key unless --keep-key) at the same paths, with every\nderived file (chain, CSR, DER, HAProxy PEM); the old cert stays in newcerts/ and the index.\nThen reload what uses it: nginx -s reload, HAProxy reload, pg_ctl reload; Canton has no\ncertificate hot reload: restart the node, the passive replica first.\n\nEXIT CODES:\n  0  success (nothing to renew is success too)\n  2  bad input, no CA yet, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct RenewArgs {
    /// Leaf names (default: every leaf of the profile).
    pub names: Vec<String>,
    /// Only this org.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Renew leaves that expire within this span, instead of those with under a third of their
    /// lifetime left: 30d, 12h.
    #[arg(long, value_name = "DURATION")]
    pub within: Option<String>,
    /// Certify the existing key again instead of generating a new one.
    #[arg(long = "keep-key")]
    pub keep_key: bool,
    /// Say what would be renewed, and change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub common: Common,
}

const COMPLETIONS_HELP: &str = "EXAMPLES:\n  hapki completions bash > ~/.local/share/bash-completion/completions/hapki\n  hapki completions zsh > ~/.zfunc/_hapki          # with fpath+=(~/.zfunc) before compinit\n  hapki completions fish > ~/.config/fish/completions/hapki.fish\n\nEXIT CODES:\n  0  success\n  2  an unknown shell";

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

const MAN_HELP: &str = "EXAMPLES:\n  hapki man | man -l -\n  hapki man --out-dir /usr/local/share/man/man1     # hapki.1, hapki-init.1, ...\n\nEXIT CODES:\n  0  success\n  2  the folder could not be written";

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write one page per command (hapki.1, hapki-init.1, ...) into this folder instead of
    /// printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

const HELP_HELP: &str = "EXAMPLES:\n  hapki help\n  hapki help jwt mint\n\nEXIT CODES:\n  0  success\n  2  an unknown command";

#[derive(Args, Debug)]
pub struct HelpArgs {
    /// The command (and subcommand) whose help to print.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

const INIT_HELP: &str = "EXAMPLES:\n  hapki init                          # the built-in Canton HA topology into ./certs\n  hapki init --profile profiles/canton-ha-ecdsa.toml --out pki\n  hapki init --json                   # the summary as JSON\n\nA second run fills in only what is missing (a deleted file, a killed run) and keeps the rest.\n\nEXIT CODES:\n  0  success\n  2  bad input, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Re-create everything, CAs included.
    #[arg(long)]
    pub force: bool,
    /// Report what was written as JSON (per org: CA, leaves by kind, JWKS, tokens).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Subcommand, Debug)]
pub enum JwtCommand {
    /// A JWT signing key and cert under the participant's CA, and its JWKS.
    #[command(after_help = JWT_KEYGEN_HELP)]
    Keygen(JwtKeygenArgs),
    /// Mint tokens for a user, or for every user of an org.
    #[command(after_help = JWT_MINT_HELP)]
    Mint(JwtMintArgs),
    /// Check a token against a JWKS: signature, kid, times, audience and the x5c chain.
    #[command(after_help = JWT_VERIFY_HELP)]
    Verify(JwtVerifyArgs),
    /// Roll the signing key over: stage a next key, promote it, retire the old one.
    #[command(after_help = JWT_ROTATE_HELP)]
    Rotate(JwtRotateArgs),
    /// The clients of `hapki serve`'s token endpoint: add or remove a user's secret.
    #[command(subcommand)]
    Client(crate::cmd::jwt_client::ClientCommand),
}

const JWT_KEYGEN_HELP: &str = "EXAMPLES:\n  hapki jwt keygen                         # every org that has JWT users\n  hapki jwt keygen --org participant1 --key ecdsa-p256\n\nEXIT CODES:\n  0  success\n  2  bad input, no CA yet, an existing key without --force, or a file could not be written";

#[derive(Args, Debug)]
pub struct JwtKeygenArgs {
    /// Only this org (default: every org with a [org.jwt] section).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// rsa2048 (RS256, default), rsa3072, rsa4096, ecdsa-p256 (ES256) or ecdsa-p384 (ES384).
    #[arg(long, value_name = "ALG")]
    pub key: Option<String>,
    /// Replace an existing signing key (tokens signed by the old key stop verifying).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

const JWT_MINT_HELP: &str = "EXAMPLES:\n  hapki jwt mint --user alice                    # alice's token, shape from the profile\n  hapki jwt mint --org participant1              # every user of the org\n  hapki jwt mint --user ops --org participant1 --admin --ttl 12h\n  hapki jwt mint --user bob --org participant2 --format audience --at 2026-11-26T12:00:00Z\n  hapki jwt mint --user alice --count 10000 > /dev/null   # load-test tokens, each with its own jti\n\nThe token is printed on stdout and written to NS/jwt/USER.token (with --count: NS/jwt/USER.tokens, one per line). Keys, certs and the JWKS are not touched.\n\nEXIT CODES:\n  0  success\n  2  bad input, no signing key yet, or a file could not be written";

#[derive(Args, Debug)]
pub struct JwtMintArgs {
    /// The user (sub); every user of the org when left out.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The org whose key signs (default: the one org that lists the user).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Audience (overrides the one the format implies).
    #[arg(long, value_name = "AUD")]
    pub aud: Option<String>,
    /// Lifetime: 30s, 15m, 12h, 1d (default 1d).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub ttl: Option<String>,
    /// Scope claim of a scope token (default daml_ledger_api).
    #[arg(long)]
    pub scope: Option<String>,
    /// Custom claims with admin: true.
    #[arg(long)]
    pub admin: bool,
    /// Party to act as (custom claims; repeatable).
    #[arg(long = "act-as", value_name = "PARTY")]
    pub act_as: Vec<String>,
    /// Party to read as (custom claims; repeatable).
    #[arg(long = "read-as", value_name = "PARTY")]
    pub read_as: Vec<String>,
    /// Participant id (default from the profile).
    #[arg(long = "participant-id", value_name = "ID")]
    pub participant_id: Option<String>,
    /// scope, audience or custom.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Mint N tokens for the one --user, each with its own `jti`, written one per line to
    /// NS/jwt/USER.tokens and printed one per line (1 to 1000000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: Option<u32>,
    #[command(flatten)]
    pub common: Common,
}

const JWT_VERIFY_HELP: &str = "EXAMPLES:\n  hapki jwt verify certs/participant1/jwt/alice.token --jwks certs/participant1/jwt/jwks.json\n  hapki jwt verify \"$TOKEN\" --jwks jwks.json --aud participant1 --at 2026-11-27T12:00:00Z\n  hapki jwt verify certs/participant1/jwt/alice.token --jwks certs/participant1/jwt/jwks.json --profile my.toml\n\nThe signature is checked with the JWKS key the token's kid names (its `use` must be `sig` when\ngiven), exp/nbf/iat with 60 s of leeway, the key's x5c chain to the org root, and `iss` when --iss\nor --profile says which issuer to expect.\n\nEXIT CODES:\n  0  the token is valid\n  1  the token is invalid (the reason is printed)\n  2  could not run (unreadable file, malformed JWKS)";

#[derive(Args, Debug)]
pub struct JwtVerifyArgs {
    /// The token, or a file holding it.
    pub token: String,
    /// The JWKS to check against.
    #[arg(long, value_name = "FILE")]
    pub jwks: PathBuf,
    /// The org root the JWKS key's x5c must chain to (default: NS/root/certs/ca.cert.pem when
    /// the JWKS is hapki's NS/jwt/jwks.json).
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
    /// Audience the token must carry.
    #[arg(long, value_name = "AUD")]
    pub aud: Option<String>,
    /// Issuer (`iss`) the token must carry.
    #[arg(long, value_name = "ISSUER")]
    pub iss: Option<String>,
    /// Profile the tree was built from: the token must carry the `iss` it sets for the org whose
    /// NS/jwt/jwks.json is given (unless --iss names one).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Check at this time (RFC 3339 or Unix seconds) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Report as JSON.
    #[arg(long)]
    pub json: bool,
}

const VERIFY_HELP: &str = "EXAMPLES:\n  hapki verify certs\n  hapki verify certs --profile my.toml --within 60d\n  hapki verify certs --at 2027-06-01T00:00:00Z --json\n\nOne line per file: `ok`, `FAIL` with what is wrong and the command that fixes it, or `warn` (e.g. a\ncertificate that expires within --within); then a summary. --json prints the same as an array of\n{file, kind, status: ok|problem|warning, problems: [..]}.\n\nEXIT CODES:\n  0  everything checks out (warnings alone are fine)\n  1  a problem was found (each is printed with its file and the fix)\n  2  could not run (the folder is missing or unreadable, or a flag is not valid)";

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The folder hapki init wrote.
    pub dir: PathBuf,
    /// Profile the tree was built from: what should be there, and the names each server cert
    /// carries (the built-in one when left out).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Check at this time (RFC 3339 or Unix seconds) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Warn about certificates that expire within this span: 30s, 15m, 12h, 1d (default 30d;
    /// 0s warns of nothing).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub within: Option<String>,
    /// Report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The passphrase of encrypted CA keys (first line of FILE; else HAPKI_PASSPHRASE_FILE):
    /// with it, verify also opens them and checks each matches its cert. Without it, only their
    /// format is checked.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

const INSPECT_HELP: &str = "EXAMPLES:\n  hapki inspect certs/participant1/participant1/certs/participant1.customer1.com.cert.pem\n  hapki inspect certs/participant1/jwt/alice.token --json\n\nEXIT CODES:\n  0  success\n  2  the file could not be read or is of no kind hapki knows";

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A certificate, CSR, private key (PEM or DER), JWKS or JWT.
    pub file: PathBuf,
    /// Report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Create the root and intermediate CA of every org of the profile, or of one.
    #[command(after_help = CA_INIT_HELP)]
    Init(CaInitArgs),
    /// Offline root: make the key of the CA below the root here and write its request.
    #[command(after_help = crate::cmd::ca_offline::CA_CSR_HELP)]
    Csr(crate::cmd::ca_offline::CaCsrArgs),
    /// Offline root, on the root's machine: issue the CA a request asks for, and the root's CRL.
    #[command(after_help = crate::cmd::ca_offline::CA_SIGN_HELP)]
    Sign(crate::cmd::ca_offline::CaSignArgs),
    /// Offline root: install the CA cert, root and root CRL that `ca sign` wrote (or a root CRL).
    #[command(after_help = crate::cmd::ca_offline::CA_IMPORT_HELP)]
    Import(crate::cmd::ca_offline::CaImportArgs),
}

/// Options every command that reads a profile or writes files takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Topology profile (TOML); the built-in profiles/canton-ha.toml when left out.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub out: PathBuf,
    /// Issue as of this time (RFC 3339 or Unix seconds) instead of now: certificate validity
    /// and token times start there (reproducible trees, tests with a pinned clock).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// How long to wait for another hapki writing the same folder: 30s, 2m (0s: do not wait).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30s",
        allow_hyphen_values = true
    )]
    pub wait: String,
    /// The passphrase of encrypted CA keys (profile `ca_key_encryption`): the first line of
    /// FILE. Else the file HAPKI_PASSPHRASE_FILE names, else a prompt on a terminal. Never on
    /// the command line itself.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl Common {
    /// Makes `--passphrase-file` this run's source of the CA keys' passphrase
    /// (`keys::passphrase`); every command that signs with a CA key calls it first.
    pub fn use_passphrase(&self) {
        crate::keys::passphrase::use_file(self.passphrase_file.as_deref());
    }

    /// Takes the output folder's lock (see `store::lock`), waiting up to `--wait`, and
    /// recovers what a killed run left. Every command that writes holds it while it runs.
    pub fn lock(&self) -> crate::Result<crate::store::Lock> {
        let wait = crate::model::Span::parse_or_zero(&self.wait)?;
        crate::store::Lock::take(&self.out, std::time::Duration::from_secs(wait.0 as u64))
    }

    /// The time this run issues at: `--at`, or now.
    pub fn now(&self) -> crate::Result<time::OffsetDateTime> {
        Ok(match &self.at {
            Some(a) => a.parse::<crate::model::At>()?.0,
            None => time::OffsetDateTime::now_utc(),
        })
    }
}

const CA_INIT_HELP: &str = "EXAMPLES:\n  hapki ca init                          # root + intermediate for every org\n  hapki ca init --org participant1 --tier 3\n  hapki ca init --profile my.toml --out pki --force\n\nEXIT CODES:\n  0  success\n  2  bad input, an existing CA without --force, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct CaInitArgs {
    /// CA tiers: 1 root only, 2 root > intermediate, 3 root > policy > issuing.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub tier: Option<u8>,
    /// Only this org of the profile.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Replace an existing CA (every cert it issued must then be re-issued).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

const ISSUE_HELP: &str = "EXAMPLES:\n  hapki issue participant1                       # every leaf the profile declares for the org\n  hapki issue participant1b                      # one declared leaf\n  hapki issue reporting --org participant1 --kind client --days 30\n  hapki issue db --org participant1 --kind server --san DNS:pg.customer1.com --san IP:10.0.0.5\n\nEXIT CODES:\n  0  success (existing valid leaves are skipped; --force re-issues them)\n  2  bad input, no CA yet, or a file could not be written (nothing was changed)";

#[derive(Args, Debug)]
pub struct IssueArgs {
    /// An org (every leaf it declares) or a leaf name.
    pub name: String,
    /// The org of the leaf.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// server, client, proxy-backend or jwt-signing (issues an ad-hoc leaf).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Extra subject alternative name: DNS:name or IP:address (repeatable, or comma-separated).
    #[arg(long, value_name = "DNS/IP")]
    pub san: Vec<String>,
    /// Validity in days (default from the profile).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub days: Option<String>,
    /// Key algorithm: rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384 or ed25519.
    #[arg(long, value_name = "ALG")]
    pub key: Option<String>,
    /// Re-issue leaves that exist and are valid.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// A PKCS#12 keystore of one leaf: its key, cert and chain (Java keytool, KeyStore, openssl).
    #[command(after_help = EXPORT_P12_HELP)]
    P12(ExportP12Args),
    /// Exactly the files one node's configs name (its key and chain, the trust bundle, the
    /// client certs it uses, the JWKS), as a tar or as Kubernetes manifests.
    #[command(after_help = EXPORT_BUNDLE_HELP)]
    Bundle(ExportBundleArgs),
}

const EXPORT_BUNDLE_HELP: &str = "EXAMPLES:\n  hapki export bundle participant1b --to participant1b.tar\n  tar -xpf participant1b.tar -C /etc/canton/certs        # the tree's paths and modes\n  hapki export bundle lb-participant1 --format k8s --to lb.yaml && kubectl apply -f lb.yaml\n\nA server gets its cert, chain and key, the org's trust bundle, the client certs named after its\nservice (and admin-api), and, for the participant of a JWT section, the JWKS and signing cert; a\nproxy gets its backend cert and the fronted primary's chain and key. No other key is in it.\n\nEXIT CODES:\n  0  success\n  2  bad input (not a node of the profile), a missing file, or a file could not be written";

#[derive(Args, Debug)]
pub struct ExportBundleArgs {
    /// The node: a server, replica or proxy (with a backend cert) of the profile.
    pub node: String,
    /// The org of the node (default: the one org that has it).
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// tar (default) or k8s (Secret and ConfigMap manifests).
    #[arg(long, value_name = "FORMAT", default_value = "tar")]
    pub format: String,
    /// The file to write (a tar, or a YAML manifest file).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    #[command(flatten)]
    pub tree: Tree,
}

const EXPORT_P12_HELP: &str = "EXAMPLES:\n  hapki export p12 participant1b --password-file pw.txt --to participant1b.p12\n  hapki export p12 participant1 --kind client --org participant1 --password-file pw.txt --to client.p12\n  keytool -list -storetype PKCS12 -keystore participant1b.p12 -storepass \"$(cat pw.txt)\"\n\nThe store password is the first line of --password-file (never on the command line); the key\nentry's alias is NAME and its password the store's. Encryption: PBKDF2-HMAC-SHA256 with\nAES-256-CBC, MAC HMAC-SHA256 (what Java writes by default). The file is written with mode 0600.\nEach org's CA certs are also in NS/intermediate/certs/truststore.p12 (password changeit), written\nby hapki init.\n\nEXIT CODES:\n  0  success\n  2  bad input (unknown leaf, an empty password), or a file could not be read or written";

#[derive(Args, Debug)]
pub struct ExportP12Args {
    /// The leaf: a server, replica, proxy or client of the profile.
    pub name: String,
    /// The org of the leaf (default: the one org that has it).
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// server, client or proxy-backend, when NAME is several (participant1 is a server and a client).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// A file whose first line is the store password.
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
    /// The PKCS#12 file to write.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    #[command(flatten)]
    pub tree: Tree,
}

/// Where an existing tree is and which profile made it (commands that read a tree).
#[derive(Args, Debug, Clone)]
pub struct Tree {
    /// Topology profile (TOML); the built-in profiles/canton-ha.toml when left out.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The folder hapki init wrote.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub out: PathBuf,
}
