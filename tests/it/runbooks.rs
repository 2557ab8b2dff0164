//! Every `runbook_url` burnwatch emits resolves to an existing file and heading anchor:
//! the SLO alerts' annotations in `slo-specs/` and every probe classification's runbook.
//! Anchors follow GitHub's rule for headings (lower case, punctuation dropped, spaces to
//! `-`, duplicates suffixed `-1`, `-2`, ...).

use std::collections::BTreeSet;
use std::path::Path;

use burnwatch::probe::Classification;

use crate::support::repo;

/// The anchors GitHub generates for a Markdown file's headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#').trim();
        let base: String = text
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut slug = base.clone();
        let mut n = 0;
        while seen.contains(&slug) {
            n += 1;
            slug = format!("{base}-{n}");
        }
        seen.insert(slug);
    }
    seen
}

/// Check that `url` (`runbooks/x.md` or `runbooks/x.md#anchor`) resolves in the repo.
fn check(url: &str, problems: &mut Vec<String>) {
    let (file, anchor) = match url.split_once('#') {
        Some((f, a)) => (f, Some(a)),
        None => (url, None),
    };
    let path = repo().join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        problems.push(format!("{url}: file {} does not exist", path.display()));
        return;
    };
    if let Some(a) = anchor
        && !anchors(&text).contains(a)
    {
        problems.push(format!("{url}: no heading with anchor #{a} in {file}"));
    }
}

#[test]
fn anchor_rule_matches_github() {
    let a = anchors(
        "# Runbook: the app\n## auth-failed\n```sh\n# not a heading\n```\n## auth-failed\n### Confirm (by hand)\n",
    );
    let want: BTreeSet<String> = [
        "runbook-the-app",
        "auth-failed",
        "auth-failed-1",
        "confirm-by-hand",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(a, want);
}

#[test]
fn slo_alert_runbooks_resolve() {
    let loaded = burnwatch::spec::load_paths(
        &[repo().join("slo-specs")],
        &burnwatch::spec::LoadOptions::default(),
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let mut urls = BTreeSet::new();
    for slo in loaded.slos() {
        for alert in [&slo.page_alert, &slo.ticket_alert].into_iter().flatten() {
            match alert.annotations.get("runbook_url") {
                Some(u) => {
                    urls.insert(u.clone());
                }
                None => panic!("{} alert {} has no runbook_url", slo.id, alert.name),
            }
        }
    }
    // Six SLOs, each with its own runbook.
    assert_eq!(urls.len(), 6, "{urls:?}");
    let mut problems = Vec::new();
    for u in &urls {
        check(u, &mut problems);
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_classification_has_its_runbook_section() {
    let mut problems = Vec::new();
    for c in Classification::ALL {
        let url = c.runbook();
        assert!(url.starts_with("runbooks/db-connectivity.md#"), "{url}");
        check(&url, &mut problems);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // And no section for a classification that does not exist (the vocabulary is fixed).
    let text = std::fs::read_to_string(repo().join("runbooks/db-connectivity.md")).unwrap();
    let sections: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(str::to_string)
        .collect();
    let vocabulary: BTreeSet<String> = Classification::ALL
        .iter()
        .map(|c| c.as_str().replace('_', "-"))
        .collect();
    assert_eq!(sections, vocabulary);
}

#[test]
fn relative_links_between_runbooks_resolve() {
    let dir = repo().join("runbooks");
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.starts_with("http") || !target.contains(".md") {
                continue;
            }
            let rel = Path::new("runbooks").join(target);
            check(rel.to_str().unwrap(), &mut problems);
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
