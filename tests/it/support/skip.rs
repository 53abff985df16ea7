//! Tests whose subject needs what a machine may not allow (mounting a tmpfs needs root or
//! CAP_SYS_ADMIN). Rust's test harness has no "skipped" status, so such a test reports itself:
//!
//! - it writes `SKIPPED: <test>: <reason>` straight to the process's stderr, which the harness
//!   does not capture, so the line shows in every run (and scripts/test.sh counts them in its
//!   closing summary);
//! - with `CI=true` it fails instead, unless `HAPKI_ALLOW_SKIP` names it (a comma-separated list
//!   of test names, `module::test` or just `test`, or `all`): in CI nothing passes without
//!   running unless someone said so.
//!
//! ```ignore
//! let fs = match Tmpfs::mount(&dir, "4m") {
//!     Ok(fs) => fs,
//!     Err(why) => return skipped(test_name!(), &why),
//! };
//! ```

use std::io::Write;

/// The name of the enclosing test as `cargo test` prints it (`cli_core::some_test`).
macro_rules! test_name {
    () => {{
        fn here() {}
        let name = std::any::type_name_of_val(&here);
        let name = name.strip_suffix("::here").unwrap_or(name);
        name.split_once("::").map_or(name, |(_crate, rest)| rest)
    }};
}
pub(crate) use test_name;

/// Whether the program `bin` is on PATH (the tools a test drives: tar, keytool, java, zsh, man).
pub fn have(bin: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            std::fs::metadata(d.join(bin))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Whether `allow` (the value of HAPKI_ALLOW_SKIP) lets `test` skip.
fn allowed(allow: &str, test: &str) -> bool {
    let short = test.rsplit("::").next().unwrap_or(test);
    allow
        .split(',')
        .map(str::trim)
        .any(|a| a == "all" || a == test || a == short)
}

/// `test` cannot run its subject here because of `reason`: says so (see the module doc), and
/// fails the test in CI unless HAPKI_ALLOW_SKIP lets it skip. The caller then returns.
pub fn skipped(test: &str, reason: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let allow = std::env::var("HAPKI_ALLOW_SKIP").unwrap_or_default();
    if ci && !allowed(&allow, test) {
        panic!(
            "{test} cannot run here ({reason}), and in CI (CI=true) a test that cannot run fails; \
             make it runnable, or let it skip with HAPKI_ALLOW_SKIP={test}"
        );
    }
    // Not eprintln!: the harness captures that, and a passing test's output is never shown.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}

#[test]
fn a_skip_is_allowed_by_its_full_name_its_short_name_or_all() {
    let t = "cli_core::full_disk_fails_cleanly";
    assert!(allowed("all", t));
    assert!(allowed("cli_core::full_disk_fails_cleanly", t));
    assert!(allowed("x, full_disk_fails_cleanly", t));
    assert!(!allowed("", t));
    assert!(!allowed("full_disk", t));
    assert_eq!(
        test_name!(),
        "support::skip::a_skip_is_allowed_by_its_full_name_its_short_name_or_all"
    );
}
