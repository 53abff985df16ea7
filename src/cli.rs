//! The command line's tree: the top-level `Cli` parser and the subcommand enums (`Command`,
//! `CaCommand`, `JwtCommand`, `ExportCommand`). Each verb's clap `Args` struct, with its help
//! text (EXAMPLES, EXIT CODES), lives in that verb's own file under `src/cmd/`; this file only
//! names it, so a new verb adds one variant and one `use` here.
//!
//! The shared flag groups `Common` (profile, out, --at, --wait, passphrase) and `Tree` (profile,
//! out) stay here: they belong to no single verb, every verb file already imports them from
//! `crate::cli`, and a verb's file should not be the home of flags the others flatten in.
//!
//! Raw strings (names, SANs, days, key algorithms) are kept as text in the `Args` structs and
//! turned into checked domain types by each command before any work starts, so every refusal is
//! hapki's own one-sentence message.

use crate::cmd::ca::{CaInitArgs, CA_INIT_HELP};
use crate::cmd::ca_offline::{
    CaCsrArgs, CaImportArgs, CaSignArgs, CA_CSR_HELP, CA_IMPORT_HELP, CA_SIGN_HELP,
};
use crate::cmd::completions::{CompletionsArgs, COMPLETIONS_HELP};
use crate::cmd::crl::{CrlArgs, CRL_HELP};
use crate::cmd::export::{ExportBundleArgs, ExportP12Args, EXPORT_BUNDLE_HELP, EXPORT_P12_HELP};
use crate::cmd::help::{HelpArgs, HELP_HELP};
use crate::cmd::init::{InitArgs, INIT_HELP};
use crate::cmd::inspect::{InspectArgs, INSPECT_HELP};
use crate::cmd::issue::{IssueArgs, ISSUE_HELP};
use crate::cmd::jwt::{
    JwtKeygenArgs, JwtMintArgs, JwtVerifyArgs, JWT_KEYGEN_HELP, JWT_MINT_HELP, JWT_VERIFY_HELP,
};
use crate::cmd::jwt_client::ClientCommand;
use crate::cmd::jwt_rotate::{JwtRotateArgs, JWT_ROTATE_HELP};
use crate::cmd::lint::{LintArgs, LINT_HELP};
use crate::cmd::list::{ListArgs, LIST_HELP};
use crate::cmd::man::{ManArgs, MAN_HELP};
use crate::cmd::renew::{RenewArgs, RENEW_HELP};
use crate::cmd::revoke::{RevokeArgs, REVOKE_HELP};
use crate::cmd::serve::{ServeArgs, SERVE_HELP};
use crate::cmd::verify::{VerifyArgs, VERIFY_HELP};
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
    Client(ClientCommand),
}

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Create the root and intermediate CA of every org of the profile, or of one.
    #[command(after_help = CA_INIT_HELP)]
    Init(CaInitArgs),
    /// Offline root: make the key of the CA below the root here and write its request.
    #[command(after_help = CA_CSR_HELP)]
    Csr(CaCsrArgs),
    /// Offline root, on the root's machine: issue the CA a request asks for, and the root's CRL.
    #[command(after_help = CA_SIGN_HELP)]
    Sign(CaSignArgs),
    /// Offline root: install the CA cert, root and root CRL that `ca sign` wrote (or a root CRL).
    #[command(after_help = CA_IMPORT_HELP)]
    Import(CaImportArgs),
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
        crate::model::At::or_now(self.at.as_deref())
    }
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
