//! The history pages: `/alerts` (what fires now and every stored transition) and
//! `/probes`, `/probes/{id}` (database probe runs with their steps and runbook links).
//! Pure rendering from the status board and the history store's records.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::html::{Nav, badge, esc, page, runbook_link, seg, table, time};
use crate::probe::ProbeRun;
use crate::status::{AlertSnapshot, AlertStatus, Status};
use crate::store::AlertTransition;

/// Transitions, newest first, as a table (`with_slo`: a column linking each SLO).
pub fn transitions_table(transitions: &[AlertTransition], with_slo: bool) -> String {
    let rows: Vec<String> = transitions
        .iter()
        .rev()
        .map(|t| {
            let detail = |k: &str| t.detail.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let slo = if with_slo {
                // Probe alerts are stored as `probe:<target>`: they link to the runs.
                let href = match t.slo_id.strip_prefix("probe:") {
                    Some(_) => "/probes".to_string(),
                    None => format!("/slo/{}", seg(&t.slo_id)),
                };
                format!(
                    "<td><a href=\"{}\">{}</a></td>",
                    esc(&href),
                    esc(&t.slo_id)
                )
            } else {
                String::new()
            };
            format!(
                "<tr class=\"transition\"><td>{}</td><td>{}</td><td>{}</td>{slo}<td>{}</td><td>{}</td><td>{}</td></tr>",
                time(t.ts),
                badge(&t.state),
                esc(&t.severity),
                esc(&t.alert),
                esc(detail("burn_rates")),
                runbook_link(detail("runbook_url")),
            )
        })
        .collect();
    let mut head = vec!["Time", "State", "Severity"];
    if with_slo {
        head.push("SLO");
    }
    head.extend(["Alert", "Burn rates", "Runbook"]);
    table("transitions", &head, &rows)
}

/// `/alerts`: alerts firing now, then the transitions since `since`.
pub fn alerts_page(
    status: &Status,
    probe_alerts: &BTreeMap<String, AlertSnapshot>,
    transitions: &[AlertTransition],
    since: DateTime<Utc>,
) -> String {
    let mut body = String::from("<h1>Alerts</h1>\n<section>\n<h2>Firing now</h2>\n");
    // (link, what, alert): SLO alerts link to their SLO, probe alerts to the failing run.
    let mut firing: Vec<(String, String, &AlertSnapshot)> = status
        .slos
        .iter()
        .flat_map(|s| s.alerts.iter().map(move |a| (s.id.as_str(), a)))
        .filter(|(_, a)| a.status != AlertStatus::Inactive)
        .map(|(slo, a)| (format!("/slo/{}", seg(slo)), slo.to_string(), a))
        .collect();
    for (target, a) in probe_alerts {
        let link = a.annotations.get("probe_id").map_or_else(
            || "/probes".to_string(),
            |id| format!("/probes/{}", seg(id)),
        );
        firing.push((link, format!("probe {target}"), a));
    }
    firing.sort_by_key(|(_, _, a)| std::cmp::Reverse(a.fired_at));
    if status.evaluated_at.is_none() && firing.is_empty() {
        body.push_str("<p class=\"notice\">No evaluation has run yet.</p>\n");
    } else if firing.is_empty() {
        body.push_str("<p class=\"muted\">Nothing is firing.</p>\n");
    } else {
        let rows: Vec<String> = firing
            .iter()
            .map(|(link, what, a)| {
                format!(
                    "<tr class=\"firing\"><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(link),
                    esc(what),
                    badge(a.status.as_str()),
                    esc(&a.severity),
                    esc(&a.name),
                    a.fired_at.map(time).unwrap_or_default(),
                    runbook_link(a.annotations.get("runbook_url").map_or("", String::as_str)),
                )
            })
            .collect();
        body.push_str(&table(
            "firing",
            &[
                "SLO or probe",
                "State",
                "Severity",
                "Alert",
                "Since",
                "Runbook",
            ],
            &rows,
        ));
    }
    let _ = write!(
        body,
        "</section>\n<section>\n<h2>History</h2>\n<p class=\"muted\">Every state change since {}, newest first (<code>burnwatch history alerts</code> has the rest).</p>\n",
        time(since)
    );
    if transitions.is_empty() {
        body.push_str("<p class=\"muted\">No transitions.</p>\n");
    } else {
        body.push_str(&transitions_table(transitions, true));
    }
    body.push_str("</section>\n");
    page("Alerts", Nav::Alerts, true, &body)
}

/// `/probes`: recent runs, newest first.
pub fn probes_page(runs: &[ProbeRun], since: DateTime<Utc>) -> String {
    let mut body = format!(
        "<h1>Probe runs</h1>\n<p class=\"muted\">Database probe runs since {}, newest first. \
         Each run's id is its permalink.</p>\n",
        time(since)
    );
    if runs.is_empty() {
        body.push_str("<p class=\"muted\">No probe runs. Configure <code>probes:</code> in burnwatch.yaml, or run <code>burnwatch probe db</code>.</p>\n");
        return page("Probes", Nav::Probes, true, &body);
    }
    let rows: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "<tr class=\"run\" data-run=\"{id}\"><td><a href=\"/probes/{href}\">{started}</a></td><td>{target}</td>\
                 <td>{badge}</td><td>{failed}</td><td>{runbook}</td></tr>",
                id = esc(&r.id),
                href = esc(&seg(&r.id)),
                started = esc(&r.started_at),
                target = esc(&r.target),
                badge = badge(r.classification.as_str()),
                failed = r.failed_step.map_or("", |s| s.as_str()),
                runbook = runbook_link(&r.runbook),
            )
        })
        .collect();
    body.push_str(&table(
        "runs",
        &[
            "Started",
            "Target",
            "Classification",
            "Failed step",
            "Runbook",
        ],
        &rows,
    ));
    page("Probes", Nav::Probes, true, &body)
}

/// `/probes/{id}`: one run, every step.
pub fn probe_page(run: &ProbeRun) -> String {
    let mut body = format!(
        "<h1>Probe run {id}</h1>\n<p class=\"meta\">{target} · started {started} · {badge}</p>\n\
         <p>Runbook: {runbook}</p>\n",
        id = esc(&run.id),
        target = esc(&run.target),
        started = esc(&run.started_at),
        badge = badge(run.classification.as_str()),
        runbook = runbook_link(&run.runbook),
    );
    let rows: Vec<String> = run
        .steps
        .iter()
        .map(|s| {
            let failed = run.failed_step == Some(s.step);
            format!(
                "<tr class=\"step{}\"><td>{}</td><td>{}</td><td class=\"num\">{:.1} ms</td><td class=\"detail\">{}</td></tr>",
                if failed { " failed" } else { "" },
                s.step.as_str(),
                badge(if s.ok { "ok" } else { "failed" }),
                s.ms,
                esc(&s.detail),
            )
        })
        .collect();
    body.push_str("<section>\n<h2>Steps</h2>\n");
    body.push_str(&table(
        "steps",
        &["Step", "Result", "Duration", "Detail"],
        &rows,
    ));
    let _ = write!(
        body,
        "</section>\n<p class=\"muted\">As JSON: <a href=\"/api/v1/probes/{}\">/api/v1/probes/{}</a></p>\n",
        esc(&seg(&run.id)),
        esc(&run.id)
    );
    page(&format!("Probe run {}", run.id), Nav::Probes, false, &body)
}
