//! docs/ha-deployment.md cannot drift from what the HA tests run: it must contain every config
//! template under `tests/ha/` that it documents, word for word, and every hapki file path it
//! names (in the templates and in the Canton HOCON blocks) must be one `hapki init` writes.

use crate::support::fixture::crate_root;
use crate::support::ha::{ha_dir, ha_fixture, template};

/// The templates users copy; the others under tests/ha/ are test harness only.
const DOCUMENTED: &[&str] = &[
    "nginx-proxy.conf.tmpl",
    "haproxy.cfg.tmpl",
    "postgresql-tls.conf.tmpl",
    "pg_hba.conf.tmpl",
    "pg_ident.conf.tmpl",
];
const HARNESS: &[&str] = &["nginx-main.conf.tmpl", "nginx-backend.conf.tmpl"];

fn doc() -> String {
    let p = crate_root().join("docs/ha-deployment.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn doc_contains_every_documented_template_verbatim() {
    let doc = doc();
    for name in DOCUMENTED {
        let t = template(name);
        assert!(
            doc.contains(t.trim_end()),
            "docs/ha-deployment.md no longer contains tests/ha/{name} word for word; paste the file's text into its code block"
        );
    }
}

#[test]
fn every_template_under_tests_ha_is_documented_or_marked_as_harness() {
    for e in std::fs::read_dir(ha_dir()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            DOCUMENTED.contains(&name.as_str()) || HARNESS.contains(&name.as_str()),
            "tests/ha/{name} is neither in the docs nor marked as harness in tests/it/ha_docs.rs"
        );
    }
}

/// Every path in `text` that starts at `${CERTS}/` or at a token beginning `certs/`, without
/// that prefix (so relative to the output dir).
fn cert_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["${CERTS}/", "certs/"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(prefix) {
            let start = from + i;
            from = start + prefix.len();
            let before = text[..start].chars().last();
            if prefix == "certs/"
                && before.is_some_and(|c| c.is_alphanumeric() || "/-._{}$".contains(c))
            {
                continue; // the `certs/` folder inside a node, not the output dir
            }
            let rest = &text[from..];
            let end = rest
                .find(|c: char| c.is_whitespace() || "\"';`),".contains(c))
                .unwrap_or(rest.len());
            if end > 0 {
                out.push(rest[..end].to_string()); // (a bare `certs/` names the folder)
            }
        }
    }
    out
}

#[test]
fn every_file_path_in_the_doc_is_written_by_hapki_init() {
    let doc = doc();
    let paths = cert_paths(&doc);
    // Catches a doc (or this scanner) that silently stopped naming files.
    assert!(
        paths.len() >= 30,
        "only {} paths found: {paths:?}",
        paths.len()
    );
    let pki = ha_fixture();
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !pki.out.join(p).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "docs/ha-deployment.md names files hapki init does not write: {missing:?}"
    );
}

#[test]
fn path_scanner_finds_output_paths_and_skips_node_certs_folders() {
    let found = cert_paths(
        "ssl_certificate ${CERTS}/a/b/certs/x.pem;\n cert-chain-file = \"certs/p/q.pem\"\n see NS/H/certs/H.pem in `certs/`",
    );
    assert_eq!(found, ["a/b/certs/x.pem", "p/q.pem"]);
}
