//! `hapki verify DIR`: checks a whole tree (see `crate::verify`) and reports it per file, for
//! people (one line per file and a summary) or as JSON. Exit 0 when nothing is wrong (warnings
//! alone are fine), 1 when a problem was found, 2 when it could not run.

use super::{EXIT_OK, EXIT_PROBLEM};
use crate::error::Result;
use crate::model::{At, Span};
use crate::profile::Topology;
use crate::verify::{verify_tree, Entry, Finding, Options, Status};
use clap::Args;
use std::path::PathBuf;
use time::Duration;

pub const VERIFY_HELP: &str = "EXAMPLES:\n  hapki verify certs\n  hapki verify certs --profile my.toml --within 60d\n  hapki verify certs --at 2027-06-01T00:00:00Z --json\n\nOne line per file: `ok`, `FAIL` with what is wrong and the command that fixes it, or `warn` (e.g. a\ncertificate that expires within --within); then a summary. --json prints the same as an array of\n{file, kind, status: ok|problem|warning, problems: [..]}.\n\nEXIT CODES:\n  0  everything checks out (warnings alone are fine)\n  1  a problem was found (each is printed with its file and the fix)\n  2  could not run (the folder is missing or unreadable, or a flag is not valid)";

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

/// The default of `--within`.
const WITHIN: &str = "30d";

pub fn run(args: &VerifyArgs) -> Result<i32> {
    // Every flag is checked before the tree is read, so a typo is exit 2, not a report.
    let now = At::or_now(args.at.as_deref())?;
    let within = Span::parse_or_zero(args.within.as_deref().unwrap_or(WITHIN))?;
    let topo = Topology::load(args.profile.as_deref())?;
    crate::keys::passphrase::use_file(args.passphrase_file.as_deref());
    let entries = verify_tree(&Options {
        dir: &args.dir,
        topo: &topo,
        profile: args.profile.as_deref(),
        now,
        within: Duration::seconds(within.0),
    })?;
    let text = if args.json {
        json(&entries)
    } else {
        human(&entries)
    };
    crate::out::print(&text);
    let failed = entries.iter().any(|e| e.status() == Status::Problem);
    Ok(if failed { EXIT_PROBLEM } else { EXIT_OK })
}

fn human(entries: &[Entry]) -> String {
    let mut s = String::new();
    let (mut ok, mut bad, mut warn) = (0, 0, 0);
    for e in entries {
        let head = format!("{} ({})", e.file.display(), e.kind);
        match e.status() {
            Status::Ok => {
                ok += 1;
                s += &format!("ok   {head}\n");
            }
            Status::Problem => {
                bad += 1;
                s += &format!("FAIL {head}: {}\n", sentence(&e.problems, &e.warnings));
            }
            Status::Warning => {
                warn += 1;
                s += &format!("warn {head}: {}\n", sentence(&e.warnings, &[]));
            }
        }
    }
    s += &format!(
        "{} files checked: {ok} ok, {bad} problems, {warn} warnings\n",
        entries.len()
    );
    s
}

/// The notes of one file on one line. Notes in a row with the same fix share it, so a cert that
/// fails two ways says "re-issue it" once.
fn sentence(first: &[Finding], then: &[Finding]) -> String {
    let notes: Vec<&Finding> = first.iter().chain(then).collect();
    let mut s = String::new();
    for (i, n) in notes.iter().enumerate() {
        s += &n.what;
        match notes.get(i + 1) {
            Some(next) if next.fix == n.fix => s += ", and ",
            next => {
                if !n.fix.is_empty() {
                    s += "; ";
                    s += &n.fix;
                }
                if next.is_some() {
                    s += " | ";
                }
            }
        }
    }
    s
}

/// `[{file, kind, status, problems, codes, findings}]`. `problems` holds the sentences: the
/// warnings of a `warning` entry, and of a `problem` entry its problems and then its warnings.
/// `codes` holds their stable codes in the same order (docs/verify-codes.md), and `findings`
/// the same again as objects `{code, severity, what, fix, message}`, `message` being the
/// sentence of `problems`.
fn json(entries: &[Entry]) -> String {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let all = e
                .problems
                .iter()
                .map(|f| ("problem", f))
                .chain(e.warnings.iter().map(|f| ("warning", f)));
            let (mut said, mut codes, mut findings) = (Vec::new(), Vec::new(), Vec::new());
            for (severity, f) in all {
                said.push(f.to_string());
                codes.push(f.code.as_str());
                findings.push(serde_json::json!({
                    "code": f.code,
                    "severity": severity,
                    "what": f.what,
                    "fix": f.fix,
                    "message": f.to_string(),
                }));
            }
            serde_json::json!({
                "file": e.file.display().to_string(),
                "kind": e.kind,
                "status": e.status(),
                "problems": said,
                "codes": codes,
                "findings": findings,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}
