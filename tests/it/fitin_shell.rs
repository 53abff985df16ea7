//! Shell integration: completion scripts the shells accept, a man page `man` renders, and help
//! reachable every way a newcomer tries it (`hapki`, `hapki help`, `hapki help --help`).

use crate::support::fixture::{hapki, stdout_of_success};
use crate::support::skip::{have, skipped, test_name};
use std::process::Command as Proc;

fn stdout_of(args: &[&str]) -> String {
    stdout_of_success(&hapki().args(args).output().unwrap())
}

const VERBS: &[&str] = &[
    "init",
    "issue",
    "verify",
    "inspect",
    "jwt",
    "completions",
    "man",
];

#[test]
fn bash_completion_script_parses_and_names_every_verb() {
    let script = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hapki.bash");
    std::fs::write(&file, &script).unwrap();
    let out = Proc::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(out.status.success(), "bash -n: {out:?}");
    for v in VERBS {
        assert!(script.contains(v), "bash script lacks {v}");
    }
    // Sourcing it registers the completion function for `hapki`.
    let out = Proc::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p hapki", file.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("hapki"));
}

#[test]
fn zsh_fish_elvish_powershell_scripts_name_the_verbs() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        assert!(!script.trim().is_empty(), "{shell}");
        for v in VERBS {
            assert!(script.contains(v), "{shell} script lacks {v}");
        }
    }
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef hapki"), "{}", &zsh[..40]);
    if have("fish") {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("hapki.fish");
        std::fs::write(&f, stdout_of(&["completions", "fish"])).unwrap();
        let out = Proc::new("fish").arg("-n").arg(&f).output().unwrap();
        assert!(out.status.success(), "fish -n: {out:?}");
    }
}

#[test]
fn unknown_shell_is_refused_with_exit_2() {
    hapki()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("tcsh"));
}

#[test]
fn man_page_renders_with_man() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH hapki"), "not roff:\n{page}");
    if !have("man") {
        return skipped(
            test_name!(),
            "man is not installed (apt-get install man-db)",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("hapki.1");
    std::fs::write(&f, &page).unwrap();
    let out = Proc::new("man")
        .arg("-l")
        .arg(&f)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    assert!(out.status.success(), "man -l: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["NAME", "hapki", "SYNOPSIS", "init", "verify", "EXIT CODES"] {
        assert!(text.contains(want), "rendered page lacks {want}:\n{text}");
    }
}

#[test]
fn man_out_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    hapki()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .assert()
        .success();
    for page in [
        "hapki.1",
        "hapki-init.1",
        "hapki-jwt-mint.1",
        "hapki-verify.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn no_arguments_prints_help_on_stdout_and_exits_0() {
    let out = hapki().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Usage: hapki"), "{text}");
    assert!(text.contains("EXAMPLES:"), "{text}");
    assert!(out.stderr.is_empty());
}

#[test]
fn help_verb_and_its_own_help() {
    let text = stdout_of(&["help", "--help"]);
    assert!(text.contains("Usage: hapki help"), "{text}");
    assert!(text.contains("EXAMPLES:\n  hapki help"), "{text}");
    let text = stdout_of(&["help", "jwt", "mint"]);
    assert!(text.contains("Usage: hapki jwt mint"), "{text}");
    assert_eq!(stdout_of(&["help"]), stdout_of(&[]));
    hapki()
        .args(["help", "frobnicate"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "`frobnicate` is not a hapki command",
        ));
}

#[test]
fn new_verbs_help_has_examples_and_exit_codes() {
    for c in ["completions", "man", "help"] {
        let text = stdout_of(&[c, "--help"]);
        assert!(text.contains("EXAMPLES:\n  hapki "), "{c}:\n{text}");
        assert!(text.contains("EXIT CODES:\n  0  "), "{c}:\n{text}");
    }
}
