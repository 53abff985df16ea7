//! `hapki inspect FILE [--json]`: one file for people, or as JSON (the report is `crate::inspect`'s).

use super::EXIT_OK;
use crate::cli::InspectArgs;
use crate::error::{Error, Result};
use crate::inspect::report;
use time::OffsetDateTime;

pub fn run(args: &InspectArgs) -> Result<i32> {
    let report = report(&args.file, OffsetDateTime::now_utc())?;
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::bug(format!("serializing the report: {e}")))?;
        crate::outln!("{json}");
    } else {
        crate::out::print(&report.human());
    }
    Ok(EXIT_OK)
}
