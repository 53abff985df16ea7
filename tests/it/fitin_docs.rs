//! The README, docs/ and the profiles stand alone: every repository path they name exists in
//! the repository, every markdown link resolves (anchors included), and none points outside the
//! repository (the development notes a clone does not have).

use std::path::{Path, PathBuf};

/// Folders of the repository whose paths a page may name. Paths under the output tree
/// (`certs/...`, `NS/...`) are not repository paths and are not checked here.
const REPO_DIRS: &[&str] = &["docs/", "src/", "tests/", "scripts/", "profiles/"];

/// Names of files that are not in a clone.
const OUTSIDE: &[&str] = &["SPEC.md", "test-ha.md", "../shared", "STYLE.md", "/work/"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, docs/*.md and profiles/*.toml.
fn pages() -> Vec<PathBuf> {
    let mut v = vec![root().join("README.md")];
    for (dir, ext) in [("docs", "md"), ("profiles", "toml")] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == ext) {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(md: &str) -> Vec<String> {
    let mut in_code = false;
    let mut v = Vec::new();
    for line in md.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            v.push(slug(line.trim_start_matches('#')));
        }
    }
    v
}

/// Every problem with the references of `text`, the page at `page` (repository root `root`).
fn problems(page: &Path, text: &str, root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for bad in OUTSIDE {
        if text.contains(bad) {
            out.push(format!("mentions `{bad}`, which is not in the repository"));
        }
    }
    // Markdown links `[..](target)`, relative to the page's folder.
    if page.extension().is_some_and(|e| e == "md") {
        let mut rest = text;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            rest = &rest[end..];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target, None),
            };
            let linked = if file.is_empty() {
                page.to_path_buf()
            } else {
                page.parent().unwrap().join(file)
            };
            if !linked.exists() {
                out.push(format!("links `{target}`, which does not exist"));
            } else if let Some(a) = anchor {
                let md = std::fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&md).iter().any(|h| h == a) {
                    out.push(format!("links `{target}`, which has no heading `#{a}`"));
                }
            }
        }
    }
    // Repository paths anywhere (backticks, prose, comments), relative to the repository root.
    let sep = |c: char| c.is_whitespace() || "`'\"()[]<>,;|=".contains(c);
    for token in text.split(sep) {
        let t = token.trim_start_matches("./");
        let t = t.split('#').next().unwrap_or("");
        let t = t.trim_end_matches(['.', ':']);
        if !REPO_DIRS.iter().any(|d| t.starts_with(d)) || t.contains(['*', '{', '$']) {
            continue;
        }
        if !root.join(t).exists() {
            out.push(format!(
                "names `{t}`, which does not exist in the repository"
            ));
        }
    }
    out
}

#[test]
fn readme_docs_and_profiles_name_only_what_a_clone_has() {
    let root = root();
    let mut all = Vec::new();
    let pages = pages();
    assert!(pages.len() >= 6, "{pages:?}");
    for p in &pages {
        let text = std::fs::read_to_string(p).unwrap();
        for m in problems(p, &text, &root) {
            all.push(format!("{}: {m}", p.strip_prefix(&root).unwrap().display()));
        }
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

#[test]
fn the_checker_catches_each_kind_of_bad_reference() {
    let root = root();
    let page = root.join("docs/example.md");
    let bad = [
        ("see `../shared/SPEC.md`", "SPEC.md"),
        ("the scenario (test-ha.md)", "test-ha.md"),
        ("[gone](gone.md)", "gone.md"),
        ("[anchor](layout.md#no-such-heading)", "no-such-heading"),
        ("run `scripts/missing.sh`", "scripts/missing.sh"),
        ("# in a comment: docs/nothing.md.", "docs/nothing.md"),
        ("in `src/nope/`", "src/nope/"),
    ];
    for (text, what) in bad {
        let p = problems(&page, text, &root);
        assert!(
            p.iter().any(|m| m.contains(what)),
            "{text:?} not caught: {p:?}"
        );
    }
    let good = "[layout](layout.md) [modes](layout.md#modes) `certs/participant1/jwt/jwks.json` \
                `NS/client/C.D.cert.pem` `./scripts/test.sh` `src/cmd/` https://example.com/docs/x";
    assert_eq!(problems(&page, good, &root), Vec::<String>::new());
}
