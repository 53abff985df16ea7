//! Every command's `--help` carries examples and its exit codes (the contract of SPEC.md).

use crate::support::fixture::hapki;

#[test]
fn every_command_help_has_examples_and_exit_codes() {
    let commands: &[&[&str]] = &[
        &[],
        &["init"],
        &["ca"],
        &["ca", "init"],
        &["issue"],
        &["jwt"],
        &["jwt", "keygen"],
        &["jwt", "mint"],
        &["jwt", "verify"],
        &["verify"],
        &["inspect"],
        &["lint"],
    ];
    for c in commands {
        let out = hapki().args(*c).arg("--help").output().unwrap();
        assert!(out.status.success(), "{c:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("EXAMPLES:\n  hapki "),
            "{c:?} has no example:\n{text}"
        );
        assert!(
            text.contains("EXIT CODES:\n  0  "),
            "{c:?} has no exit codes:\n{text}"
        );
    }
}
