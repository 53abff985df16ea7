//! What `hapki verify` says about each file: an `Entry` per file with its findings, each a
//! stable `Code` for machines, a sentence and a fix for people.

use std::path::{Path, PathBuf};

/// The verdict on one file (or private folder).
#[derive(Clone, Debug)]
pub struct Entry {
    pub file: PathBuf,
    pub kind: String,
    pub problems: Vec<Note>,
    pub warnings: Vec<Note>,
}

/// One thing found about a file: what is wrong, and how to fix it in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub what: String,
    /// Empty when there is nothing to do about this file itself (e.g. its CA is what is broken).
    pub fix: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fix.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}; {}", self.what, self.fix)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Problem,
    Warning,
}

impl Entry {
    pub(super) fn new(file: &Path, kind: impl Into<String>) -> Entry {
        Entry {
            file: file.to_path_buf(),
            kind: kind.into(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn status(&self) -> Status {
        if !self.problems.is_empty() {
            Status::Problem
        } else if !self.warnings.is_empty() {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    pub(super) fn problem(&mut self, what: impl Into<String>, fix: &str) {
        self.problems.push(Note {
            what: what.into(),
            fix: fix.to_string(),
        });
    }

    pub(super) fn warn(&mut self, what: impl Into<String>, fix: &str) {
        self.warnings.push(Note {
            what: what.into(),
            fix: fix.to_string(),
        });
    }
}
