//! A service's burn dashboard, for the on-call engineer who was just paged: the service's
//! SLO status, then per SLO the SLI over every alert window, the burn rates against the
//! page and ticket thresholds of the window catalog, the budget remaining over time, and
//! alert annotations; then the database probe results (connectivity layer by layer).

use serde_json::json;

use crate::spec::{Severity, Tier};

use super::model::{Dashboard, Override, Panel, Thresholds};
use super::overview::{alert_state_mapping, budget_thresholds, burn_thresholds, status_table};
use super::panels::{
    Layout, Query, by_name, by_ref_id, by_regexp, defaults, line_style, ref_id, stat,
    state_timeline, table, timeseries, value_mapping,
};
use super::query::{Filter, alert_state, burn_rate, number, selector, sli};
use super::series::{
    CURRENT_BURN_RATE, OBJECTIVE, PERIOD_BUDGET_REMAINING, PROBE_CLASSIFICATION,
    PROBE_STEP_DURATION, PROBE_SUCCESS,
};
use super::{BURN_TAG, OVERVIEW_TAG, Skeleton, SloWindows, alert_annotations, percent, tag_link};

/// Probe classifications (design.md's fixed vocabulary) and the colour each gets:
/// healthy green, degraded-but-up orange, unreachable red.
const CLASSIFICATIONS: [(&str, &str); 13] = [
    ("healthy", "green"),
    ("dns_failed", "red"),
    ("tcp_refused", "red"),
    ("tcp_timeout", "red"),
    ("tls_failed", "red"),
    ("auth_failed", "red"),
    ("db_missing", "red"),
    ("too_many_connections", "red"),
    ("db_starting_or_shutting_down", "red"),
    ("query_failed", "red"),
    ("query_slow", "orange"),
    ("saturation_high", "orange"),
    ("rds_not_available", "red"),
];

/// Colour of a burn-rate threshold line per tier.
fn tier_color(tier: Tier) -> &'static str {
    match tier {
        Tier::PageQuick => "red",
        Tier::PageSlow => "orange",
        Tier::TicketQuick => "yellow",
        Tier::TicketSlow => "blue",
    }
}

fn tier_words(tier: Tier) -> &'static str {
    match tier {
        Tier::PageQuick => "fast page",
        Tier::PageSlow => "slow page",
        Tier::TicketQuick => "fast ticket",
        Tier::TicketSlow => "slow ticket",
    }
}

/// Burn rates of the windows of `severity`'s two tiers, with each tier's threshold drawn
/// as a dashed constant series (omitted when that alert is disabled).
fn burn_panel(s: &SloWindows<'_>, severity: Severity) -> Panel {
    let filter = Filter::slo(&s.slo.id);
    let period = s.period();
    let tiers: Vec<Tier> = Tier::ALL
        .into_iter()
        .filter(|t| t.severity() == severity)
        .collect();
    let enabled = match severity {
        Severity::Page => s.slo.page_alert.is_some(),
        Severity::Ticket => s.slo.ticket_alert.is_some(),
    };
    let mut windows = Vec::new();
    for t in &tiers {
        let w = s.windows.get(*t);
        windows.push(w.short);
        windows.push(w.long);
    }
    windows.sort();
    windows.dedup();
    let mut queries: Vec<Query> = windows
        .iter()
        .map(|w| {
            let roles: Vec<String> = tiers
                .iter()
                .flat_map(|t| {
                    let bw = s.windows.get(*t);
                    let mut r = Vec::new();
                    if bw.short == *w {
                        r.push(format!("{} short", tier_words(*t)));
                    }
                    if bw.long == *w {
                        r.push(format!("{} long", tier_words(*t)));
                    }
                    r
                })
                .collect();
            Query::new(
                burn_rate(*w, &filter),
                format!("{w} ({})", roles.join(", ")),
            )
        })
        .collect();
    let mut overrides: Vec<Override> = Vec::new();
    let mut max_factor: f64 = 1.0;
    let mut lines = Vec::new();
    if enabled {
        for t in &tiers {
            let bw = s.windows.get(*t);
            let factor = bw.factor(period);
            max_factor = max_factor.max(factor);
            overrides.push(by_ref_id(
                &ref_id(queries.len()),
                vec![
                    (
                        "color",
                        json!({"fixedColor": tier_color(*t), "mode": "fixed"}),
                    ),
                    (
                        "custom.lineStyle",
                        json!({"dash": [10, 10], "fill": "dash"}),
                    ),
                    ("custom.lineWidth", json!(2)),
                ],
            ));
            queries.push(Query::new(
                format!("vector({})", number(factor)),
                format!(
                    "{} threshold {}x ({} and {} both above)",
                    tier_words(*t),
                    number(factor),
                    bw.short,
                    bw.long
                ),
            ));
            lines.push(format!(
                "{}: {}x = {} % of the {period} budget in {}",
                tier_words(*t),
                number(factor),
                number(bw.error_budget_percent),
                bw.long
            ));
        }
    }
    let sev = severity.as_str();
    let (title, description) = if enabled {
        (
            format!("{} burn rate", capitalize(sev)),
            format!(
                "Error ratio per window divided by the error budget (1x = budget gone in \
                 exactly the {period} period). The {sev} alert fires while the short and the \
                 long window of a pair are both above its dashed threshold. {}.",
                lines.join("; ")
            ),
        )
    } else {
        (
            format!("{} burn rate ({sev} alert disabled)", capitalize(sev)),
            format!("The {sev} alert of this SLO is disabled; burn rates shown for context."),
        )
    };
    timeseries(
        &title,
        &description,
        queries,
        defaults("suffix:x", Some(2), Thresholds::new("green", &[])),
        line_style("off", Some(0.0), Some(max_factor * 1.25)),
        overrides,
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The panels of one SLO: status stats, SLI per window, budget over time, burn rates.
fn slo_panels(grid: &mut Layout, s: &SloWindows<'_>) {
    let slo = s.slo;
    let filter = Filter::slo(&slo.id);
    let period = s.period();
    let objective = slo.objective_ratio();
    let w = s.windows;
    grid.row(&format!(
        "{} · {} over {period}",
        slo.name,
        percent(slo.objective)
    ));
    grid.add(
        4,
        4,
        stat(
            "Objective",
            &format!("Target share of good events over {period}."),
            Query::new(selector(OBJECTIVE, &filter), ""),
            defaults("percentunit", Some(3), Thresholds::new("blue", &[])),
            false,
        ),
    );
    grid.add(
        5,
        4,
        stat(
            &format!("SLI over {period}"),
            "Share of good events over the whole period; red below the objective.",
            Query::new(sli(period, &filter), ""),
            defaults(
                "percentunit",
                Some(3),
                Thresholds::new("red", &[(objective, "green")]),
            ),
            false,
        ),
    );
    grid.add(
        5,
        4,
        stat(
            "Budget left",
            "Share of the period's error budget not yet spent (negative: overspent).",
            Query::new(selector(PERIOD_BUDGET_REMAINING, &filter), ""),
            defaults("percentunit", Some(1), budget_thresholds()),
            true,
        ),
    );
    grid.add(
        5,
        4,
        stat(
            &format!("Burn rate ({})", w.page_quick.short),
            "Budget burn rate over the shortest alert window (1x lasts exactly the period).",
            Query::new(selector(CURRENT_BURN_RATE, &filter), ""),
            defaults("suffix:x", Some(2), burn_thresholds(w)),
            false,
        ),
    );
    let mut alert = defaults(
        "none",
        None,
        Thresholds::new("green", &[(1.0, "orange"), (2.0, "red")]),
    );
    alert.mappings = vec![alert_state_mapping()];
    grid.add(
        5,
        4,
        stat(
            "Alert",
            "PAGE or TICKET while the multi-window multi-burn-rate alert fires (burnwatch's \
             state, or Prometheus' ALERTS when the rules are evaluated there).",
            Query::new(alert_state(&filter), ""),
            alert,
            true,
        ),
    );

    let mut windows = Vec::new();
    for win in w.sli_windows() {
        if !windows.contains(&win) {
            windows.push(win);
        }
    }
    let queries: Vec<Query> = windows
        .iter()
        .map(|win| {
            let legend = if *win == period {
                format!("{win} (period)")
            } else {
                win.to_string()
            };
            Query::new(sli(*win, &filter), legend)
        })
        .collect();
    let mut sli_defaults = defaults(
        "percentunit",
        Some(3),
        Thresholds::new("red", &[(objective, "green")]),
    );
    sli_defaults.max = Some(1.0);
    let soft_min = (1.0 - 10.0 * slo.error_budget_ratio()).max(0.0);
    let mut description = format!(
        "Share of good events over each alert window and the period; dashed: the {} \
         objective.",
        percent(slo.objective)
    );
    if !slo.description.is_empty() {
        description = format!("{} {description}", slo.description);
    }
    grid.add(
        12,
        8,
        timeseries(
            "SLI per window",
            &description,
            queries,
            sli_defaults,
            line_style("dashed", Some(soft_min), None),
            Vec::new(),
        ),
    );
    let mut budget = defaults(
        "percentunit",
        Some(1),
        Thresholds::new("red", &[(0.0, "green")]),
    );
    budget.max = Some(1.0);
    grid.add(
        12,
        8,
        timeseries(
            "Error budget remaining",
            &format!(
                "Share of the {period} error budget left over time; dashed: 0 (budget spent)."
            ),
            vec![Query::new(
                selector(PERIOD_BUDGET_REMAINING, &filter),
                format!("budget left ({period})"),
            )],
            budget,
            line_style("dashed", Some(0.0), None),
            Vec::new(),
        ),
    );
    grid.add(12, 8, burn_panel(s, Severity::Page));
    grid.add(12, 8, burn_panel(s, Severity::Ticket));
}

/// Database probe results: health per target, the current classification (each has a
/// runbook section), the classification history and step durations.
fn probe_panels(grid: &mut Layout) {
    grid.row("Database probes");
    let mut ok = defaults("none", None, Thresholds::new("red", &[(1.0, "green")]));
    ok.mappings = vec![value_mapping(&[
        ("0", "failing", "red"),
        ("1", "healthy", "green"),
    ])];
    grid.add(
        12,
        6,
        state_timeline(
            "Probe result",
            "Result of each database probe run per target (DNS, TCP, TLS, auth, query, \
             saturation, RDS status).",
            Query::new(PROBE_SUCCESS, "{{target}}"),
            ok,
            Vec::new(),
        ),
    );
    let entries: Vec<(&str, &str, &str)> = CLASSIFICATIONS
        .iter()
        .map(|(c, color)| (*c, *c, *color))
        .collect();
    grid.add(
        12,
        6,
        table(
            "Current classification",
            "What the last probe run found per target. Runbook: \
             runbooks/db-connectivity.md, section named after the classification \
             (underscores as dashes, e.g. auth_failed → #auth-failed).",
            vec![Query::new(format!("{PROBE_CLASSIFICATION} == 1"), "")],
            vec![by_name(
                "classification",
                vec![
                    ("mappings", json!([value_mapping(&entries)])),
                    (
                        "custom.cellOptions",
                        json!({"mode": "basic", "type": "color-background"}),
                    ),
                ],
            )],
            json!({
                "excludeByName": {"Time": true, "Value": true, "__name__": true},
                "indexByName": {"target": 0, "classification": 1},
                "renameByName": {"target": "Target", "classification": "Classification"}
            }),
            "Classification",
        ),
    );
    let mut present = defaults("none", None, Thresholds::new("red", &[]));
    present.mappings = vec![value_mapping(&[("1", "failing", "red")])];
    // Lanes are named `<target>: <classification>`; colour them like the table does.
    let lane_overrides = [("orange", "degraded"), ("green", "healthy")]
        .into_iter()
        .map(|(color, text)| {
            let names: Vec<&str> = CLASSIFICATIONS
                .iter()
                .filter(|(_, c)| *c == color)
                .map(|(name, _)| *name)
                .collect();
            by_regexp(
                &format!(".*: ({})", names.join("|")),
                vec![("mappings", json!([value_mapping(&[("1", text, color)])]))],
            )
        })
        .collect();
    grid.add(
        12,
        8,
        state_timeline(
            "Classification over time",
            "Which classification each target's probe had, over time (one lane per \
             target and classification).",
            Query::new(
                format!("{PROBE_CLASSIFICATION} == 1"),
                "{{target}}: {{classification}}",
            ),
            present,
            lane_overrides,
        ),
    );
    grid.add(
        12,
        8,
        timeseries(
            "Probe step durations",
            "How long each step of the last probe run took, per target.",
            vec![Query::new(PROBE_STEP_DURATION, "{{target}} {{step}}")],
            defaults("s", None, Thresholds::new("green", &[])),
            line_style("off", Some(0.0), None),
            Vec::new(),
        ),
    );
}

/// The burn dashboard of `service`.
pub fn dashboard(service: &str, uid: &str, slos: &[SloWindows<'_>]) -> Dashboard {
    let filter = Filter::service(service);
    let mut grid = Layout::new();
    if let Some(first) = slos.first() {
        grid.row("Status");
        let rows = u32::try_from(slos.len()).unwrap_or(u32::MAX);
        grid.add(
            24,
            rows.saturating_add(3).clamp(5, 24),
            status_table(slos, &filter, first.windows),
        );
    }
    for s in slos {
        slo_panels(&mut grid, s);
    }
    probe_panels(&mut grid);
    Skeleton {
        uid,
        title: format!("burnwatch / {service} burn"),
        description: format!(
            "Burn dashboard of {service}: SLI per window, burn rates against the page and \
             ticket thresholds, budget remaining, alerts and database probes. Generated by \
             `burnwatch generate dashboards` from the SLO specs; edits are overwritten."
        ),
        tags: vec![
            "burnwatch".into(),
            "slo".into(),
            BURN_TAG.into(),
            service.to_string(),
        ],
        links: vec![
            tag_link("SLO overview", OVERVIEW_TAG),
            tag_link("Service burn dashboards", BURN_TAG),
        ],
        annotations: alert_annotations(&filter),
        time_from: "now-24h",
        panels: grid.finish(),
    }
    .build()
}
