//! hapki never writes through a symbolic link: a `private/` folder or a key file replaced by a
//! link out of the tree is refused with one sentence, nothing is written outside, and the
//! outside folder's mode is left alone.

use assert_cmd::cargo::CommandCargoExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/canton-ha-ecdsa.toml");
const AT: &str = "2026-11-26T12:00:00Z";

fn run(args: &[&str], out: &Path) -> Output {
    Command::cargo_bin("hapki")
        .unwrap()
        .args(args)
        .args([
            "--profile",
            PROFILE,
            "--out",
            out.to_str().unwrap(),
            "--at",
            AT,
        ])
        .output()
        .unwrap()
}

fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("T");
    assert!(run(&["init"], &out).status.success());
    (d, out)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_private_folder_that_is_a_link_out_of_the_tree_is_refused() {
    let (d, out) = tree();
    let outside = d.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).unwrap();
    let private = out.join("participant1/participant1b/private");
    std::fs::remove_dir_all(&private).unwrap();
    std::os::unix::fs::symlink(&outside, &private).unwrap();

    for args in [&["issue", "participant1b", "--force"][..], &["init"][..]] {
        let r = run(args, &out);
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&r.stderr),
            format!(
                "error: {} is a symbolic link; hapki does not write through links; remove it\n",
                private.display()
            ),
            "{args:?}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{args:?}");
        assert_eq!(mode(&outside), 0o755, "{args:?}");
    }
}

#[test]
fn a_key_file_that_is_a_link_is_refused_and_its_target_untouched() {
    let (d, out) = tree();
    let outside = d.path().join("victim.pem");
    std::fs::write(&outside, "precious").unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key = out.join("participant1/participant1b/private/participant1b.customer1.com.key.pem");
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&outside, &key).unwrap();

    let r = run(&["issue", "participant1b", "--force"], &out);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&r.stderr),
        format!(
            "error: {} is a symbolic link; hapki does not write through links; remove it\n",
            key.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    assert_eq!(mode(&outside), 0o644);
    assert!(std::fs::symlink_metadata(&key)
        .unwrap()
        .file_type()
        .is_symlink());
}
