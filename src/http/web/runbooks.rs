//! The repository's runbooks, embedded in the binary and served at `/runbooks/{file}`, so
//! the links burnwatch emits (`runbooks/db-connectivity.md#auth-failed` from a probe run,
//! `runbook_url` annotations of the SLO specs) resolve inside burnwatch even where the
//! repository is not at hand (a 3 a.m. phone).
//!
//! The Markdown is rendered minimally: headings with GitHub's anchors (so `#auth-failed`
//! lands on its section), paragraphs, lists, fenced code, inline code, bold and links to
//! other runbooks. Everything else is shown as text; all text is escaped.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::html::{Nav, esc, page};

/// Every runbook in `runbooks/`, by file name. A unit test checks that the folder and this
/// list agree.
pub const RUNBOOKS: &[(&str, &str)] = &[
    (
        "analysis-latency.md",
        include_str!("../../../runbooks/analysis-latency.md"),
    ),
    (
        "analysis-success.md",
        include_str!("../../../runbooks/analysis-success.md"),
    ),
    (
        "api-availability.md",
        include_str!("../../../runbooks/api-availability.md"),
    ),
    (
        "batch-queue.md",
        include_str!("../../../runbooks/batch-queue.md"),
    ),
    (
        "db-connectivity.md",
        include_str!("../../../runbooks/db-connectivity.md"),
    ),
    (
        "upload-success.md",
        include_str!("../../../runbooks/upload-success.md"),
    ),
    (
        "web-availability.md",
        include_str!("../../../runbooks/web-availability.md"),
    ),
];

/// The Markdown of runbook `file` (`db-connectivity.md`).
pub fn find(file: &str) -> Option<&'static str> {
    RUNBOOKS.iter().find(|(f, _)| *f == file).map(|(_, t)| *t)
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`,
/// repeated anchors suffixed `-1`, `-2`, ...
fn anchor(text: &str, seen: &mut BTreeSet<String>) -> String {
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
    seen.insert(slug.clone());
    slug
}

/// Where a Markdown link target points from a runbook page: other runbooks and anchors
/// resolve inside burnwatch, absolute http(s) links are kept, anything else is not linked.
fn link_target(target: &str) -> Option<String> {
    if target.starts_with('#') || target.starts_with("https://") || target.starts_with("http://") {
        return Some(target.to_string());
    }
    let (file, frag) = target.split_once('#').unwrap_or((target, ""));
    let file = file
        .trim_start_matches("./")
        .trim_start_matches("runbooks/");
    find(file)?;
    Some(if frag.is_empty() {
        format!("/runbooks/{file}")
    } else {
        format!("/runbooks/{file}#{frag}")
    })
}

/// Inline Markdown: `code`, **bold**, [text](target); the rest escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`')
            && let Some(end) = after.find('`')
        {
            let _ = write!(out, "<code>{}</code>", esc(&after[..end]));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix("**")
            && let Some(end) = after.find("**")
        {
            let _ = write!(out, "<strong>{}</strong>", inline(&after[..end]));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[')
            && let Some(close) = after.find("](")
            && let Some(end) = after[close + 2..].find(')')
        {
            let label = &after[..close];
            let target = &after[close + 2..close + 2 + end];
            match link_target(target) {
                Some(href) => {
                    let _ = write!(out, "<a href=\"{}\">{}</a>", esc(&href), inline(label));
                }
                None => out.push_str(&inline(label)),
            }
            rest = &after[close + 3 + end..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push_str(&esc(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Open block while rendering.
#[derive(PartialEq)]
enum Block {
    None,
    Para,
    Ul,
    Ol,
}

fn close(out: &mut String, block: &mut Block) {
    out.push_str(match block {
        Block::None => "",
        Block::Para => "</p>\n",
        Block::Ul => "</li></ul>\n",
        Block::Ol => "</li></ol>\n",
    });
    *block = Block::None;
}

/// An ordered-list item `12. text` → (12, text).
fn ordered_item(line: &str) -> Option<(u32, &str)> {
    let (num, text) = line.split_once(". ")?;
    Some((num.parse().ok()?, text))
}

/// The runbook's Markdown as HTML (the body of its page).
pub fn render(markdown: &str) -> String {
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    let mut block = Block::None;
    let mut code: Option<String> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            match code.take() {
                Some(text) => {
                    let _ = writeln!(out, "<pre><code>{}</code></pre>", esc(&text));
                }
                None => {
                    close(&mut out, &mut block);
                    code = Some(String::new());
                }
            }
            continue;
        }
        if let Some(text) = code.as_mut() {
            text.push_str(line);
            text.push('\n');
            continue;
        }
        if trimmed.is_empty() {
            close(&mut out, &mut block);
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            close(&mut out, &mut block);
            let text = line[hashes..].trim();
            let _ = writeln!(
                out,
                "<h{hashes} id=\"{}\">{}</h{hashes}>",
                esc(&anchor(text, &mut seen)),
                inline(text)
            );
            continue;
        }
        let bullet = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "));
        if let Some(text) = bullet.filter(|_| line.len() - trimmed.len() < 2) {
            if block == Block::Ul {
                out.push_str("</li>");
            } else {
                close(&mut out, &mut block);
                out.push_str("<ul>");
                block = Block::Ul;
            }
            let _ = write!(out, "<li>{}", inline(text));
            continue;
        }
        if let Some((n, text)) = ordered_item(trimmed).filter(|_| line.len() == trimmed.len()) {
            if block == Block::Ol {
                out.push_str("</li>");
            } else {
                close(&mut out, &mut block);
                out.push_str("<ol>");
                block = Block::Ol;
            }
            let _ = write!(out, "<li value=\"{n}\">{}", inline(text));
            continue;
        }
        match block {
            Block::None => {
                out.push_str("<p>");
                block = Block::Para;
            }
            _ => out.push(' '),
        }
        out.push_str(&inline(trimmed));
    }
    if let Some(text) = code {
        let _ = writeln!(out, "<pre><code>{}</code></pre>", esc(&text));
    }
    close(&mut out, &mut block);
    out
}

/// The page of runbook `file`, or `None` when there is no such runbook.
pub fn runbook_page(file: &str) -> Option<String> {
    let markdown = find(file)?;
    let body = format!(
        "<article class=\"runbook\">\n<p class=\"muted\">runbooks/{}</p>\n{}</article>\n",
        esc(file),
        render(markdown)
    );
    let title = markdown
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or(file);
    Some(page(title, Nav::None, false, &body))
}
