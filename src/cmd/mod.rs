//! One module per subcommand, each with a `run` that returns the process exit code. The work
//! itself lives in the library modules (`issue`, `token`, `verify`, `inspect`); a verb turns its
//! flags into domain types, calls them and prints the result.

pub mod ca;
pub mod ca_offline;
pub mod completions;
pub mod crl;
pub mod export;
pub mod help;
pub mod init;
pub mod inspect;
pub mod issue;
pub mod jwt;
pub mod jwt_client;
pub mod jwt_rotate;
pub mod lint;
pub mod list;
pub mod man;
pub mod renew;
pub mod revoke;
pub mod serve;
pub mod verify;

use crate::error::{Error, Result};
use crate::model::Kind;
use crate::pki::Leaf;
use crate::profile::OrgSpec;
use std::path::Path;

/// Exit codes, as documented in every `--help`.
pub const EXIT_OK: i32 = 0;
pub const EXIT_PROBLEM: i32 = 1;

/// Counts leaves by kind for summaries.
pub fn kind_counts(leaves: &[Leaf]) -> String {
    let mut parts = Vec::new();
    for k in [
        Kind::Server,
        Kind::Client,
        Kind::ProxyBackend,
        Kind::JwtSigning,
    ] {
        let n = leaves.iter().filter(|l| l.spec.kind == k).count();
        if n > 0 {
            parts.push(format!("{n} {}", k.name()));
        }
    }
    parts.join(", ")
}

/// Refuses to run when `out` cannot be written, before any key is generated.
pub fn preflight(out: &Path) -> Result<()> {
    crate::store::check_writable(out)
}

/// `Error` for a CA that exists and would be replaced without `--force`.
pub fn ca_exists(org: &OrgSpec, path: &Path) -> Error {
    Error::input(format!(
        "the CA of org `{}` already exists at {}; pass --force to replace it (every cert it issued must then be re-issued)",
        org.name,
        path.display()
    ))
}
