//! The command line: clap derive structs for every subcommand. Raw strings (names, SANs, days,
//! key algorithms) are kept as text here and turned into checked domain types by each command
//! before any work starts, so every refusal is hapki's own one-sentence message.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "EXIT CODES:\n  0  success\n  2  bad input, or a file could not be read or written (nothing was changed)";

#[derive(Parser, Debug)]
#[command(
    name = "hapki",
    version,
    about = "PKI and tokens for secure, highly available Canton deployments",
    long_about = "hapki builds and checks the whole PKI and token set of a Canton (Daml) deployment: root and \
intermediate CAs per org, server, client and proxy-backend certs, JWT signing keys, a JWKS and tokens.",
    after_help = "EXAMPLES:\n  hapki init                      # the built-in Canton HA topology into ./certs\n  hapki verify certs              # check every file the way a TLS stack would\n\nEXIT CODES:\n  0  success\n  1  verify found a problem\n  2  bad input, or a file could not be read or written"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Manage certificate authorities.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Issue leaf certificates: every leaf of an org, one leaf, or an ad-hoc one.
    #[command(after_help = ISSUE_HELP)]
    Issue(IssueArgs),
}

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Create the root and intermediate CA of every org of the profile, or of one.
    #[command(after_help = CA_INIT_HELP)]
    Init(CaInitArgs),
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

pub const _EXIT_CODES: &str = EXIT_CODES;
