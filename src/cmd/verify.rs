//! `hapki verify DIR`: checks a whole tree (see `crate::verify`) and reports it per file, for
//! people (one line per file and a summary) or as JSON. Exit 0 when nothing is wrong (warnings
//! alone are fine), 1 when a problem was found, 2 when it could not run.

use super::{EXIT_OK, EXIT_PROBLEM};
use crate::cli::VerifyArgs;
use crate::error::Result;
use crate::model::{At, Span};
use crate::profile::Topology;
use crate::verify::{verify_tree, Entry, Finding, Options, Status};
use time::{Duration, OffsetDateTime};

/// The default of `--within`.
const WITHIN: &str = "30d";

pub fn run(args: &VerifyArgs) -> Result<i32> {
    // Every flag is checked before the tree is read, so a typo is exit 2, not a report.
    let now = match &args.at {
        Some(s) => s.parse::<At>()?.0,
        None => OffsetDateTime::now_utc(),
    };
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
