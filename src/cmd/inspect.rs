//! `hapki inspect FILE [--json] [--at TIME]`: one file for people, or as JSON (the report is `crate::inspect`'s).

use super::EXIT_OK;
use crate::error::{Error, Result};
use crate::inspect::report;
use clap::Args;
use std::path::PathBuf;

pub const INSPECT_HELP: &str = "EXAMPLES:\n  hapki inspect certs/participant1/participant1/certs/participant1.customer1.com.cert.pem\n  hapki inspect certs/participant1/jwt/alice.token --json\n  hapki inspect certs/participant1/intermediate/crl/intermediate.crl.pem --at 2027-01-01T00:00:00Z\n\nEXIT CODES:\n  0  success\n  2  the file could not be read or is of no kind hapki knows";

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A certificate, CSR, CRL, private or public key (PEM or DER), JWKS or JWT.
    pub file: PathBuf,
    /// Report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Judge validity (expired, not yet valid, a CRL past its next update) as of this time
    /// (RFC 3339 or Unix seconds) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

pub fn run(args: &InspectArgs) -> Result<i32> {
    let now = crate::model::At::or_now(args.at.as_deref())?;
    let report = report(&args.file, now)?;
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::bug(format!("serializing the report: {e}")))?;
        crate::outln!("{json}");
    } else {
        crate::out::print(&report.human());
    }
    Ok(EXIT_OK)
}
