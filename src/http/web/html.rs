//! HTML building blocks: escaping, the page layout, and number and time formatting.
//!
//! Every page is a `String` built here; dynamic text goes through [`esc`] (text and
//! attribute values) and path segments through [`seg`], so spec labels, probe details and
//! database messages can never inject markup.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

/// `text` escaped for HTML text and double- or single-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` percent-encoded as one URL path segment (unreserved characters kept), so ids
/// with `/`, `?` or `#` still land on their own page.
pub fn seg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/` and `/slo/{id}`.
    Slos,
    /// `/alerts`.
    Alerts,
    /// `/probes`, `/probes/{id}`.
    Probes,
    /// Runbooks and error pages.
    None,
}

/// Seconds between automatic reloads of pages that show live state (`<meta refresh>`, no
/// script needed).
const REFRESH_SECS: u32 = 60;

/// A whole page: head (viewport, the embedded stylesheet and icon), navigation, `body`.
pub fn page(title: &str, nav: Nav, refresh: bool, body: &str) -> String {
    let link = |href: &str, label: &str, this: Nav| {
        let current = if nav == this {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    let refresh = if refresh {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\n")
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n{refresh}\
         <title>{title} · burnwatch</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/burnwatch.css\">\n\
         <link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">\n\
         </head>\n<body>\n<header><nav><span class=\"brand\">burnwatch</span>{slos}{alerts}{probes}</nav></header>\n\
         <main>\n{body}</main>\n</body>\n</html>\n",
        title = esc(title),
        slos = link("/", "SLOs", Nav::Slos),
        alerts = link("/alerts", "Alerts", Nav::Alerts),
        probes = link("/probes", "Probes", Nav::Probes),
    )
}

/// A table wrapped so that it scrolls sideways on a narrow screen instead of widening
/// the page.
pub fn table(class: &str, head: &[&str], rows: &[String]) -> String {
    let mut out = format!(
        "<div class=\"scroll\"><table class=\"{}\"><thead><tr>",
        esc(class)
    );
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str(r);
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// A state badge: `<span class="badge badge-page">page</span>`.
pub fn badge(state: &str) -> String {
    let class: String = state
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!(
        "<span class=\"badge badge-{class}\">{}</span>",
        esc(&state.replace('_', " "))
    )
}

/// A ratio as a percentage: `0.9995` → `99.95%`; more decimals close to 100 % so that
/// 99.9 and 99.99 stay apart. `–` when absent or not finite.
pub fn pct(ratio: Option<f64>) -> String {
    match ratio.filter(|r| r.is_finite()) {
        Some(r) => {
            let p = r * 100.0;
            if p.abs() >= 10_000.0 {
                format!("{p:.0}%")
            } else if (99.0..100.0).contains(&p) {
                format!("{p:.3}%")
            } else {
                format!("{p:.2}%")
            }
        }
        None => "–".into(),
    }
}

/// A burn rate: `14.40×`; `–` when absent or not finite.
pub fn rate(r: Option<f64>) -> String {
    match r.filter(|r| r.is_finite()) {
        Some(r) if r.abs() >= 1000.0 => format!("{r:.0}×"),
        Some(r) => format!("{r:.2}×"),
        None => "–".into(),
    }
}

/// An event count: whole numbers without decimals.
pub fn count(n: f64) -> String {
    if !n.is_finite() {
        "–".into()
    } else if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    }
}

/// A time as RFC 3339 UTC to the second (what every burnwatch output uses).
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A `<time>` element for `t`.
pub fn time(t: DateTime<Utc>) -> String {
    let s = ts(t);
    format!("<time datetime=\"{s}\">{}</time>", s.replace('T', " "))
}

/// Where a runbook reference points in burnwatch: `runbooks/x.md#a` (repository-relative,
/// what specs and probes carry) → `/runbooks/x.md#a`, served from the binary. Absolute
/// `http(s)` URLs (a team wiki) are kept; anything else is not linked.
pub fn runbook_href(reference: &str) -> Option<String> {
    let r = reference.trim();
    if r.starts_with("https://") || r.starts_with("http://") {
        return Some(r.to_string());
    }
    let r = r.trim_start_matches("./").trim_start_matches('/');
    r.starts_with("runbooks/").then(|| format!("/{r}"))
}

/// A runbook link (`<a class="runbook">`), or the reference as text when it cannot be
/// linked; empty for an empty reference.
pub fn runbook_link(reference: &str) -> String {
    if reference.trim().is_empty() {
        return String::new();
    }
    match runbook_href(reference) {
        Some(href) => format!(
            "<a class=\"runbook\" href=\"{}\">{}</a>",
            esc(&href),
            esc(reference)
        ),
        None => esc(reference),
    }
}
