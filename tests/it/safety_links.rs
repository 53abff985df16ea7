//! hapki never writes through a symbolic link: a `private/` folder or a key file replaced by a
//! link out of the tree is refused with one sentence, nothing is written outside, and the
//! outside folder's mode is left alone.

use crate::support::fixture::{Fixture, AT};
use crate::support::tree::mode;
use std::os::unix::fs::PermissionsExt;

fn tree() -> Fixture {
    Fixture::shipped_ecdsa().at(AT).init()
}

#[test]
fn a_private_folder_that_is_a_link_out_of_the_tree_is_refused() {
    let fx = tree();
    let outside = fx.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).unwrap();
    let private = fx.p1("participant1b/private");
    std::fs::remove_dir_all(&private).unwrap();
    std::os::unix::fs::symlink(&outside, &private).unwrap();

    for args in [&["issue", "participant1b", "--force"][..], &["init"][..]] {
        let r = fx.output(args);
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
    let fx = tree();
    let outside = fx.dir.path().join("victim.pem");
    std::fs::write(&outside, "precious").unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key = fx.p1("participant1b/private/participant1b.customer1.com.key.pem");
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&outside, &key).unwrap();

    let r = fx.output(&["issue", "participant1b", "--force"]);
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
