//! The overview dashboard: every SLO on one screen with its objective, SLI over the
//! period, error budget remaining, current burn rate and alert state, plus budget and
//! burn-rate trends. It answers "is anything burning, and where?" before drilling into a
//! service's burn dashboard.

use serde_json::json;

use crate::spec::{AlertWindows, Duration};

use super::model::{Dashboard, Panel, Thresholds};
use super::panels::{
    Layout, Query, by_name, defaults, line_style, stat, table, timeseries, value_mapping,
};
use super::query::{Filter, alert_state, by_id, number, selector};
use super::series::{CURRENT_BURN_RATE, OBJECTIVE, PERIOD_BUDGET_REMAINING, sli_error_series};
use super::{
    BURN_TAG, OVERVIEW_TAG, OVERVIEW_UID, Skeleton, SloWindows, alert_annotations, tag_link,
};

/// Alert state values shown as text (see [`alert_state`]).
pub(crate) fn alert_state_mapping() -> serde_json::Value {
    value_mapping(&[
        ("0", "OK", "green"),
        ("1", "TICKET", "orange"),
        ("2", "PAGE", "red"),
    ])
}

/// Budget remaining colours: red when spent, orange under a quarter, green otherwise.
pub(crate) fn budget_thresholds() -> Thresholds {
    Thresholds::new("red", &[(0.0, "orange"), (0.25, "green")])
}

/// Burn-rate colours: yellow at 1 (spending exactly the budget over the period), orange at
/// the slow page threshold, red at the fast page threshold.
pub(crate) fn burn_thresholds(windows: &AlertWindows) -> Thresholds {
    let p = windows.period;
    Thresholds::new(
        "green",
        &[
            (1.0, "yellow"),
            (windows.page_slow.factor(p), "orange"),
            (windows.page_quick.factor(p), "red"),
        ],
    )
}

/// The SLI over each SLO's own period: `1 - slo:sli_error:ratio_rate<period>`, one
/// selector per distinct period among `slos`.
pub(crate) fn period_sli(slos: &[SloWindows<'_>], filter: &Filter) -> String {
    let mut periods: Vec<Duration> = slos.iter().map(SloWindows::period).collect();
    periods.sort();
    periods.dedup();
    let selectors: Vec<String> = periods
        .iter()
        .map(|p| selector(&sli_error_series(*p), filter))
        .collect();
    format!("1 - max {} ({})", by_id(), selectors.join(" or "))
}

/// One row per SLO: service, SLO, alert state, budget left, current burn rate, SLI over
/// the period and objective. Instant queries aggregated to the SLO identity so Grafana's
/// `merge` lines them up.
pub(crate) fn status_table(
    slos: &[SloWindows<'_>],
    filter: &Filter,
    windows: &AlertWindows,
) -> Panel {
    let by = by_id();
    let queries = vec![
        Query::new(format!("max {by} ({})", selector(OBJECTIVE, filter)), ""),
        Query::new(period_sli(slos, filter), ""),
        Query::new(
            format!("max {by} ({})", selector(PERIOD_BUDGET_REMAINING, filter)),
            "",
        ),
        Query::new(
            format!("max {by} ({})", selector(CURRENT_BURN_RATE, filter)),
            "",
        ),
        Query::new(alert_state(filter), ""),
    ];
    let cell = |mode: &str| json!({"mode": mode, "type": "color-background"});
    let short = windows.page_quick.short;
    let overrides = vec![
        by_name(
            "Value #A",
            vec![
                ("displayName", json!("Objective")),
                ("unit", json!("percentunit")),
                ("decimals", json!(3)),
            ],
        ),
        by_name(
            "Value #B",
            vec![
                ("displayName", json!("SLI (period)")),
                ("unit", json!("percentunit")),
                ("decimals", json!(3)),
            ],
        ),
        by_name(
            "Value #C",
            vec![
                ("displayName", json!("Budget left")),
                ("unit", json!("percentunit")),
                ("decimals", json!(1)),
                ("thresholds", json!(budget_thresholds())),
                ("custom.cellOptions", cell("basic")),
            ],
        ),
        by_name(
            "Value #D",
            vec![
                ("displayName", json!(format!("Burn rate ({short})"))),
                ("unit", json!("suffix:x")),
                ("decimals", json!(2)),
                ("thresholds", json!(burn_thresholds(windows))),
                ("custom.cellOptions", json!({"type": "color-text"})),
            ],
        ),
        by_name(
            "Value #E",
            vec![
                ("displayName", json!("Alert")),
                ("mappings", json!([alert_state_mapping()])),
                ("custom.cellOptions", cell("basic")),
            ],
        ),
    ];
    let organize = json!({
        "excludeByName": {"Time": true, "sloth_id": true},
        "indexByName": {
            "sloth_service": 0,
            "sloth_slo": 1,
            "Value #E": 2,
            "Value #C": 3,
            "Value #D": 4,
            "Value #B": 5,
            "Value #A": 6
        },
        "renameByName": {"sloth_service": "Service", "sloth_slo": "SLO"}
    });
    let description = format!(
        "Every SLO now. Alert: PAGE or TICKET while burnwatch's (or Prometheus') multi-window \
         multi-burn-rate alert fires. Budget left: share of the period's error budget not yet \
         spent. Burn rate ({short}): how many times faster than sustainable the budget burns \
         right now; the fast page fires when it and the {} burn rate both exceed {}.",
        windows.page_quick.long,
        number(windows.page_quick.factor(windows.period)),
    );
    table(
        "SLO status",
        &description,
        queries,
        overrides,
        organize,
        "Alert",
    )
}

fn count_stat(title: &str, description: &str, expr: String, alarm: &str) -> Panel {
    stat(
        title,
        description,
        Query::new(format!("count({expr}) or vector(0)"), ""),
        defaults("none", Some(0), Thresholds::new("green", &[(1.0, alarm)])),
        true,
    )
}

/// The overview of every SLO; thresholds follow the default period's windows.
pub fn dashboard(slos: &[SloWindows<'_>], windows: &AlertWindows) -> Dashboard {
    let all = Filter::all();
    let mut grid = Layout::new();
    grid.add(
        6,
        4,
        stat(
            "SLOs",
            "SLOs exported (one slo:objective:ratio series each).",
            Query::new(format!("count({OBJECTIVE})"), ""),
            defaults("none", Some(0), Thresholds::new("blue", &[])),
            false,
        ),
    );
    let state = alert_state(&all);
    grid.add(
        6,
        4,
        count_stat(
            "Paging now",
            "SLOs whose page alert fires.",
            format!("{state} == 2"),
            "red",
        ),
    );
    grid.add(
        6,
        4,
        count_stat(
            "Tickets open",
            "SLOs whose ticket alert fires (and no page).",
            format!("{state} == 1"),
            "orange",
        ),
    );
    grid.add(
        6,
        4,
        count_stat(
            "Budget exhausted",
            "SLOs that spent their whole error budget for the period.",
            format!("{PERIOD_BUDGET_REMAINING} <= 0"),
            "red",
        ),
    );
    let rows = u32::try_from(slos.len()).unwrap_or(u32::MAX);
    grid.add(
        24,
        rows.saturating_add(3).clamp(6, 24),
        status_table(slos, &all, windows),
    );
    let legend = "{{sloth_service}} / {{sloth_slo}}";
    let mut budget = defaults(
        "percentunit",
        Some(1),
        Thresholds::new("red", &[(0.0, "green")]),
    );
    budget.max = Some(1.0);
    grid.add(
        12,
        9,
        timeseries(
            "Error budget remaining",
            "Share of each SLO's period budget left; the dashed line is 0 (budget spent).",
            vec![Query::new(PERIOD_BUDGET_REMAINING, legend)],
            budget,
            line_style("dashed", Some(0.0), None),
            Vec::new(),
        ),
    );
    let p = windows.period;
    grid.add(
        12,
        9,
        timeseries(
            &format!("Current burn rate ({})", windows.page_quick.short),
            &format!(
                "Burn rate over the shortest alert window. Dashed: 1 (budget lasts exactly the \
                 period), {} (slow page) and {} (fast page, with the {} window).",
                number(windows.page_slow.factor(p)),
                number(windows.page_quick.factor(p)),
                windows.page_quick.long
            ),
            vec![Query::new(CURRENT_BURN_RATE, legend)],
            defaults("suffix:x", Some(2), burn_thresholds(windows)),
            line_style("dashed", Some(0.0), None),
            Vec::new(),
        ),
    );
    Skeleton {
        uid: OVERVIEW_UID,
        title: "burnwatch / SLO overview".into(),
        description: "Every SLO: objective, SLI over the period, budget remaining, burn rate \
                      and alert state. Generated by `burnwatch generate dashboards` from the \
                      SLO specs; edits are overwritten."
            .into(),
        tags: vec!["burnwatch".into(), "slo".into(), OVERVIEW_TAG.into()],
        links: vec![tag_link("Service burn dashboards", BURN_TAG)],
        annotations: alert_annotations(&all),
        time_from: "now-7d",
        panels: grid.finish(),
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WindowCatalog;

    #[test]
    fn burn_colours_follow_the_page_thresholds_of_the_period() {
        let cat = WindowCatalog::builtin();
        let t = burn_thresholds(cat.get(Duration::from_days(28)).unwrap());
        let values: Vec<Option<f64>> = t.steps.iter().map(|s| s.value).collect();
        assert_eq!(
            values,
            [None, Some(1.0), Some(5.6000000000000005), Some(13.44)]
        );
    }
}
