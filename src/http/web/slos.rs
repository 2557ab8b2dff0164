//! The SLO pages: the list at `/` (every SLO's SLI, budget and burn state at a glance) and
//! `/slo/{id}` (charts over the period, the burn-rate pairs against their thresholds, the
//! alerts and their recent transitions). Pure rendering from the status board, the
//! published histories and stored transitions.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use super::chart::{Chart, line_chart};
use super::html::{Nav, badge, count, esc, page, pct, rate, runbook_link, seg, table, time};
use crate::status::{AlertStatus, SloSnapshot, Status};
use crate::store::AlertTransition;
use crate::window::History;

/// The burn state shown for an SLO: `page` or `ticket` while such an alert fires (a page
/// wins), `no_data` when its SLI has no data, else `ok`.
pub fn burn_state(s: &SloSnapshot) -> &'static str {
    let firing = |severity: &str| {
        s.alerts
            .iter()
            .any(|a| a.status == AlertStatus::Firing && a.severity == severity)
    };
    if firing("page") {
        "page"
    } else if s.no_data {
        "no_data"
    } else if firing("ticket") {
        "ticket"
    } else {
        "ok"
    }
}

/// Order of states in the list: what needs attention first.
fn urgency(state: &str) -> u8 {
    match state {
        "page" => 0,
        "ticket" => 1,
        "no_data" => 2,
        _ => 3,
    }
}

/// The SLI over the period (`1 - period error ratio`).
fn period_sli(s: &SloSnapshot) -> Option<f64> {
    s.windows
        .iter()
        .find(|w| w.window == s.period)
        .and_then(|w| w.error_ratio)
        .map(|e| 1.0 - e)
}

/// The budget-remaining bar: an SVG (no inline styles), filled to the share left; an
/// overspent budget is an empty red bar.
fn budget_bar(remaining: Option<f64>) -> String {
    let Some(r) = remaining.filter(|r| r.is_finite()) else {
        return "<span class=\"muted\">no data</span>".into();
    };
    let level = if r <= 0.0 {
        "bad"
    } else if r < 0.25 {
        "warn"
    } else {
        "good"
    };
    let width = (r.clamp(0.0, 1.0) * 100.0 * 10.0).round() / 10.0;
    format!(
        "<span class=\"budget\"><svg class=\"bar\" viewBox=\"0 0 100 10\" aria-hidden=\"true\">\
         <rect class=\"bar-bg-{level}\" width=\"100\" height=\"10\"/>\
         <rect class=\"bar-{level}\" width=\"{width}\" height=\"10\"/></svg>\
         <span class=\"num\">{}</span></span>",
        pct(Some(r))
    )
}

/// `/`: every SLO, most urgent first; state and budget right after the name, so that a
/// phone shows them without scrolling the table.
pub fn list_page(status: &Status) -> String {
    let mut body = String::from("<h1>Service level objectives</h1>\n");
    let Some(at) = status.evaluated_at else {
        body.push_str("<p class=\"notice\">No evaluation has run yet: burnwatch is still backfilling SLI history. This page reloads itself.</p>\n");
        return page("SLOs", Nav::Slos, true, &body);
    };
    let mut slos: Vec<(&SloSnapshot, &'static str)> =
        status.slos.iter().map(|s| (s, burn_state(s))).collect();
    slos.sort_by_key(|(_, st)| urgency(st));
    let n = |state: &str| slos.iter().filter(|(_, s)| *s == state).count();
    let _ = writeln!(
        body,
        "<p class=\"summary\">{} SLOs: {} paging, {} ticket, {} without data, {} ok. Evaluated {}.</p>",
        slos.len(),
        n("page"),
        n("ticket"),
        n("no_data"),
        n("ok"),
        time(at)
    );
    let rows: Vec<String> = slos
        .iter()
        .map(|(s, state)| {
            format!(
                "<tr class=\"slo state-{state}\" data-slo=\"{id}\"><td><a href=\"/slo/{href}\">{name}</a>\
                 <div class=\"muted\">{service}</div></td><td>{badge}</td><td>{bar}</td>\
                 <td class=\"num\">{sli}</td><td class=\"num\">{burn}</td><td class=\"num\">{objective}%</td></tr>",
                id = esc(&s.id),
                href = esc(&seg(&s.id)),
                name = esc(&s.name),
                service = esc(&s.service),
                objective = s.objective,
                sli = pct(period_sli(s)),
                bar = budget_bar(s.period_error_budget_remaining),
                burn = rate(s.current_burn_rate),
                badge = badge(state),
            )
        })
        .collect();
    body.push_str(&table(
        "slos",
        &[
            "SLO",
            "State",
            "Budget remaining",
            "SLI (period)",
            "Burn rate",
            "Objective",
        ],
        &rows,
    ));
    page("SLOs", Nav::Slos, true, &body)
}

/// The two charts of one SLO from its history.
fn charts(s: &SloSnapshot, history: Option<&History>) -> String {
    let empty = History::default();
    let h = history.unwrap_or(&empty);
    let start = DateTime::from_timestamp(h.start_minute.saturating_mul(60), 0).unwrap_or_default();
    let step_secs = h.step_minutes.saturating_mul(60);
    let sli = h.sli();
    let budget = h.budget_remaining(s.error_budget_ratio());
    let objective = s.objective / 100.0;
    let objective_label = format!("objective {}%", s.objective);
    let mut out = String::from("<section class=\"charts\">\n<h2>Over the period</h2>\n");
    let step = crate::spec::Duration::from_secs(u64::try_from(step_secs).unwrap_or(0));
    if h.points.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">No SLI data in the {} period yet.</p>",
            s.period
        );
    } else {
        let _ = writeln!(
            out,
            "<p class=\"muted\">From {} (the first data in the {} period), one point per {step}.</p>",
            time(start),
            s.period
        );
    }
    let _ = writeln!(
        out,
        "<figure><figcaption>SLI</figcaption>{}</figure>",
        line_chart(&Chart {
            id: "chart-sli",
            title: "SLI over the period",
            values: &sli,
            start,
            step_secs,
            reference: Some((objective, &objective_label)),
            include: &[1.0],
            format: pct,
        })
    );
    let _ = writeln!(
        out,
        "<figure><figcaption>Error budget remaining</figcaption>{}</figure>",
        line_chart(&Chart {
            id: "chart-budget",
            title: "Error budget remaining over the period",
            values: &budget,
            start,
            step_secs,
            reference: Some((0.0, "budget spent")),
            include: &[1.0],
            format: pct,
        })
    );
    out.push_str("</section>\n");
    out
}

/// The burn-rate table: each pair's windows against its threshold.
fn pairs_table(s: &SloSnapshot) -> String {
    let rows: Vec<String> = s
        .pairs
        .iter()
        .map(|p| {
            let above = |r: Option<f64>| {
                if r.is_some_and(|r| r > p.factor) {
                    " above"
                } else {
                    ""
                }
            };
            format!(
                "<tr class=\"pair pair-{tier}\" data-state=\"{state}\"><td>{tier}</td><td>{badge}</td>\
                 <td class=\"num{la}\"><span class=\"window\">{lw}</span> {lr}</td>\
                 <td class=\"num{sa}\"><span class=\"window\">{sw}</span> {sr}</td>\
                 <td class=\"num\">{factor}</td></tr>",
                tier = p.tier.as_str(),
                lw = p.long_window,
                la = above(p.long_burn_rate),
                lr = rate(p.long_burn_rate),
                sw = p.short_window,
                sa = above(p.short_burn_rate),
                sr = rate(p.short_burn_rate),
                factor = rate(Some(p.factor)),
                state = p.state,
                badge = badge(p.state),
            )
        })
        .collect();
    let mut out = String::from(
        "<section>\n<h2>Burn rates</h2>\n<p class=\"muted\">A pair burns when both its windows \
         burn faster than its threshold (and the long window saw enough events).</p>\n",
    );
    out.push_str(&table(
        "pairs",
        &["Pair", "State", "Long window", "Short window", "Threshold"],
        &rows,
    ));
    out.push_str("</section>\n");
    out
}

/// `/slo/{id}`.
pub fn slo_page(
    s: &SloSnapshot,
    evaluated_at: Option<DateTime<Utc>>,
    history: Option<&History>,
    transitions: &[AlertTransition],
) -> String {
    let state = burn_state(s);
    let mut body = format!(
        "<h1>{name}</h1>\n<p class=\"meta\">{service} · objective {objective}% over {period} · {badge}</p>\n",
        name = esc(&s.name),
        service = esc(&s.service),
        objective = s.objective,
        period = s.period,
        badge = badge(state),
    );
    let _ = writeln!(
        body,
        "<dl class=\"numbers\"><div><dt>SLI (period)</dt><dd>{}</dd></div>\
         <div><dt>Budget remaining</dt><dd>{}</dd></div>\
         <div><dt>Current burn rate</dt><dd>{}</dd></div>\
         <div><dt>Period burn rate</dt><dd>{}</dd></div></dl>",
        pct(period_sli(s)),
        budget_bar(s.period_error_budget_remaining),
        rate(s.current_burn_rate),
        rate(s.period_burn_rate),
    );
    if let Some(at) = evaluated_at {
        let _ = writeln!(body, "<p class=\"muted\">Evaluated {}.</p>", time(at));
    }
    body.push_str(&charts(s, history));
    body.push_str(&pairs_table(s));

    let alerts: Vec<String> = s
        .alerts
        .iter()
        .map(|a| {
            let since = match (a.status, a.fired_at, a.resolved_at) {
                (AlertStatus::Firing, Some(t), _) => format!("firing since {}", time(t)),
                (_, _, Some(t)) => format!("resolved {}", time(t)),
                _ => String::new(),
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{since}</td><td>{}</td></tr>",
                esc(&a.name),
                badge(a.status.as_str()),
                esc(&a.severity),
                runbook_link(a.annotations.get("runbook_url").map_or("", String::as_str)),
            )
        })
        .collect();
    body.push_str("<section>\n<h2>Alerts</h2>\n");
    body.push_str(&table(
        "alerts",
        &["Alert", "State", "Severity", "When", "Runbook"],
        &alerts,
    ));
    body.push_str("</section>\n");

    let windows: Vec<String> = s
        .windows
        .iter()
        .map(|w| {
            let budget = s.error_budget_ratio();
            let burn = w.error_ratio.filter(|_| budget > 0.0).map(|e| e / budget);
            format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                w.window,
                count(w.total),
                pct(w.error_ratio),
                rate(burn)
            )
        })
        .collect();
    body.push_str("<section>\n<h2>Windows</h2>\n");
    body.push_str(&table(
        "windows",
        &["Window", "Events", "Error ratio", "Burn rate"],
        &windows,
    ));
    body.push_str("</section>\n");

    body.push_str("<section>\n<h2>Recent alert transitions</h2>\n");
    if transitions.is_empty() {
        body.push_str("<p class=\"muted\">None in the last 7 days.</p>\n");
    } else {
        body.push_str(&super::history::transitions_table(transitions, false));
    }
    body.push_str("</section>\n");
    page(&s.name, Nav::Slos, true, &body)
}

/// How far back the SLO page lists transitions.
pub const SLO_TRANSITIONS_SINCE: TimeDelta = TimeDelta::days(7);
