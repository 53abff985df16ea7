//! Limits at the edge: a profile or `issue --san` that would make a cert break RFC 5280 or grow
//! past 64 KiB is refused with one sentence naming the node and the cap (exit 2, nothing
//! written), never "internal error"; at the cap the cert is issued and lints clean.

use crate::support::fixture::{hapki, Fixture, AT};

/// A fixture of one org `p` (domain `dns`) whose server `web` carries `sans` SANs of its own.
fn fixture(dns: &str, sans: usize) -> Fixture {
    let list: Vec<String> = (0..sans).map(|i| format!("\"DNS:n{i}.{dns}\"")).collect();
    Fixture::profile(&format!(
        "[defaults]\nca_key = \"ecdsa-p256\"\nleaf_key = \"ecdsa-p256\"\n\
         [[org]]\nname = \"p\"\ndns = \"{dns}\"\norganization = \"P\"\nservers = [\"web\"]\n\
         [org.sans]\nweb = [{}]\n",
        list.join(", ")
    ))
    .at(AT)
    .bare()
}

fn refused(out: &std::process::Output, want: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(want), "`{want}` not in: {err}");
}

#[test]
fn a_profile_server_with_3200_sans_is_refused_at_parse_time() {
    let fx = fixture("p.example.com", 3200);
    let out = &fx.out;
    refused(
        &fx.output(&["init"]),
        "has a problem in org `p`: the server `web` of org `p` has 3204 SANs; a cert carries at most 1000",
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn issue_with_1001_extra_sans_is_refused_and_1000_sans_make_a_clean_cert() {
    // 996 profile SANs + the 4 defaults (own name, localhost, 127.0.0.1, ::1) = the cap.
    let fx = fixture("p.example.com", 996);
    let out = &fx.out;
    let o = fx.output(&["init"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cert = out.join("p/web/certs/web.p.example.com.cert.pem");
    let lint = hapki().arg("lint").arg(&cert).output().unwrap();
    assert_eq!(
        lint.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );

    let extra: Vec<String> = (0..1001)
        .map(|i| format!("DNS:x{i}.p.example.com"))
        .collect();
    let before = std::fs::read(&cert).unwrap();
    refused(
        &fx.output(&[
            "issue",
            "api",
            "--org",
            "p",
            "--kind",
            "server",
            "--san",
            &extra.join(","),
        ]),
        "error: the server `api` of org `p` has 1005 SANs; a cert carries at most 1000",
    );
    assert!(!out.join("p/api").exists());
    assert_eq!(std::fs::read(&cert).unwrap(), before);
}

#[test]
fn a_common_name_over_64_characters_is_refused_with_a_sentence() {
    // 50 characters of domain: the CA names (`intermediate-ca.` + domain) pass 64.
    let dns = format!("{}.example.com", "d".repeat(38));
    let fx = fixture(&dns, 0);
    let out = &fx.out;
    refused(
        &fx.output(&["init"]),
        "RFC 5280 allows at most 64: shorten the name or the org's dns domain",
    );
    assert!(!out.exists());
}
