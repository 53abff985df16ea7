//! The fixes `hapki verify` suggests: hapki commands with this run's `--profile` and `--out`,
//! and paths quoted as shell words, so a fix can be pasted as it is.

use super::OrgCheck;
use crate::model::Kind;
use std::path::Path;

/// Writes the fix commands, with the `--profile` and `--out` of this run.
pub(super) struct Fix {
    pub(super) tail: String,
    pub(super) profile_given: bool,
}

impl Fix {
    pub(super) fn new(out: &Path, profile: Option<&Path>) -> Fix {
        let mut tail = String::new();
        if let Some(p) = profile {
            tail += &format!(" --profile {}", shell(p));
        }
        // `certs` is every command's default --out, so it need not be said.
        if out != Path::new("certs") {
            tail += &format!(" --out {}", shell(out));
        }
        Fix {
            tail,
            profile_given: profile.is_some(),
        }
    }

    /// A hapki command in backquotes.
    pub(super) fn hapki(&self, args: &str) -> String {
        format!("`hapki {args}{}`", self.tail)
    }

    pub(super) fn other_profile_hint(&self) -> &'static str {
        if self.profile_given {
            ""
        } else {
            " (or, if the tree was built from another profile, pass that with --profile)"
        }
    }
}

pub(super) const READ_FIX: &str = "check its permissions and owner";

impl<'a, 't> OrgCheck<'a, 't> {
    pub(super) fn recreate_ca(&self) -> String {
        format!(
            "re-create the CA with {} and then re-issue its leaves with {}",
            self.fix
                .hapki(&format!("ca init --org {} --force", self.site.name)),
            self.fix.hapki("init")
        )
    }

    /// The command that (re-)issues a leaf.
    pub(super) fn issue(&self, name: &str, kind: Kind, force: bool) -> String {
        let org = &self.site.name;
        match kind {
            Kind::JwtSigning => format!(
                "re-create it with {} and then re-mint the tokens with {}",
                self.fix.hapki(&format!("jwt keygen --org {org} --force")),
                self.fix.hapki(&format!("jwt mint --org {org}"))
            ),
            _ => format!(
                "{} it with {}",
                if force { "re-issue" } else { "issue" },
                self.fix.hapki(&format!(
                    "issue {name} --org {org} --kind {}{}",
                    kind.name(),
                    if force { " --force" } else { "" }
                ))
            ),
        }
    }

    /// The command that writes a leaf's missing files from its cert and key (or re-issues the
    /// leaf when those are no good).
    pub(super) fn restore(&self, name: &str, kind: Kind) -> String {
        format!(
            "restore it from the cert and key with {}",
            self.fix.hapki(&format!(
                "issue {name} --org {} --kind {}",
                self.site.name,
                kind.name()
            ))
        )
    }
}

/// A path as one shell word, so a fix can be pasted as it is. shlex leaves a plain path as it
/// is and quotes the rest; it refuses only a NUL byte, which no path holds.
pub(super) fn shell(p: &Path) -> String {
    let s = p.to_string_lossy();
    match shlex::try_quote(&s) {
        Ok(q) => q.into_owned(),
        Err(_) => s.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_as_they_are_and_others_are_quoted_to_one_word() {
        for plain in ["certs", "/tmp/a-b_c/x.key.pem", "out/p1.acme.com"] {
            assert_eq!(shell(Path::new(plain)), plain);
        }
        for odd in ["my certs", "it's", "a$b", "x;rm -rf y", ""] {
            let q = shell(Path::new(odd));
            assert_ne!(q, odd);
            assert_eq!(shlex::split(&q), Some(vec![odd.to_string()]), "{q}");
        }
    }

    #[test]
    fn fix_commands_repeat_the_profile_and_out_of_the_run() {
        let f = Fix::new(Path::new("certs"), None);
        assert_eq!(f.hapki("init"), "`hapki init`");
        assert!(!f.other_profile_hint().is_empty());
        let f = Fix::new(Path::new("my certs"), Some(Path::new("p.toml")));
        assert_eq!(
            f.hapki("init"),
            "`hapki init --profile p.toml --out 'my certs'`"
        );
        assert_eq!(f.other_profile_hint(), "");
    }
}
