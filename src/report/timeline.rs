//! The incident timeline: alert transitions, notifications delivered, probe results
//! (changes of classification only, with ids), RDS events, and the error budget each SLO
//! consumed, in time order. Markdown pastes into a postmortem as it is; JSON feeds tools.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::probe::ProbeRun;
use crate::source::rds::RdsEvent;
use crate::store::{AlertTransition, NotificationRecord, SloSnapshotRow};

/// What the timeline is built from (all already limited to the range).
#[derive(Debug, Default)]
pub struct Inputs {
    /// Alert state changes.
    pub transitions: Vec<AlertTransition>,
    /// Delivery outcomes.
    pub notifications: Vec<NotificationRecord>,
    /// Probe runs, oldest first.
    pub probes: Vec<ProbeRun>,
    /// The last probe run of each target before the range (so the first run in the range
    /// is only listed when it differs).
    pub probes_before: Vec<ProbeRun>,
    /// RDS events.
    pub rds_events: Vec<RdsEvent>,
    /// Last snapshot of each SLO before the range start.
    pub budget_before: Vec<SloSnapshotRow>,
    /// Snapshots inside the range.
    pub budget_during: Vec<SloSnapshotRow>,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When.
    pub ts: DateTime<Utc>,
    /// `alert`, `notification`, `probe` or `rds_event`.
    pub kind: &'static str,
    /// One human sentence.
    pub text: String,
    /// Probe run id, when the entry is a probe result (the permalink key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_id: Option<String>,
    /// A link (runbook or probe permalink), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Budget consumed by one SLO over the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetChange {
    /// The SLO.
    pub slo_id: String,
    /// Budget remaining when the range started (`None` = unknown).
    pub remaining_before: Option<f64>,
    /// Budget remaining at the last snapshot in the range.
    pub remaining_after: Option<f64>,
    /// `before − after`, as a share of the whole period's budget.
    pub consumed: Option<f64>,
}

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// Range start (inclusive).
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// Entries in time order (ties keep kind order: alert, notification, probe, rds).
    pub entries: Vec<Entry>,
    /// Budget consumed per SLO.
    pub budget: Vec<BudgetChange>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Build the timeline. `api_base` (e.g. `http://127.0.0.1:9464`) makes probe permalinks.
pub fn build(from: DateTime<Utc>, to: DateTime<Utc>, inputs: Inputs, api_base: &str) -> Timeline {
    let mut entries = Vec::new();
    for t in &inputs.transitions {
        let runbook = t
            .detail
            .get("runbook_url")
            .or_else(|| t.detail.pointer("/annotations/runbook_url"))
            .and_then(|v| v.as_str())
            .map(String::from);
        // The daemon records the evaluator's description of the pairs ("page-quick 5m
        // 46.6× 1h 36.8× (> 14.4×, burning); ..."); older rows may hold a window → rate map.
        let burn = match t.detail.get("burn_rates") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Object(m)) => {
                let mut parts: Vec<String> = m
                    .iter()
                    .filter_map(|(w, v)| v.as_f64().map(|x| format!("{w} {x:.1}x")))
                    .collect();
                parts.sort();
                Some(parts.join(", "))
            }
            _ => None,
        }
        .filter(|s| !s.is_empty());
        // Probe alerts are stored under `probe:<target>` (see pipeline::probes::alert).
        let subject = match t.slo_id.strip_prefix("probe:") {
            Some(target) => format!("database probe target `{target}`"),
            None => format!("SLO `{}`", t.slo_id),
        };
        let mut text = format!(
            "{} {} **{}** for {subject}",
            t.severity.to_uppercase(),
            t.state,
            t.alert,
        );
        if let Some(c) = t.detail.get("classification").and_then(|v| v.as_str()) {
            text.push_str(&format!(" ({c})"));
        }
        if let Some(b) = burn {
            text.push_str(&format!(" (burn rates: {b})"));
        }
        entries.push(Entry {
            ts: t.ts,
            kind: "alert",
            text,
            probe_id: None,
            link: runbook,
        });
    }
    for n in &inputs.notifications {
        let outcome = if n.delivered {
            "delivered to"
        } else {
            "FAILED for good at"
        };
        entries.push(Entry {
            ts: n.ts,
            kind: "notification",
            text: format!(
                "{} {} notification for **{}** ({}) {} `{}`",
                n.severity, n.state, n.alert, n.slo_id, outcome, n.receiver
            ),
            probe_id: None,
            link: None,
        });
    }
    // Probe results: only changes of classification per target.
    let mut last: std::collections::BTreeMap<&str, &str> = inputs
        .probes_before
        .iter()
        .map(|r| (r.target.as_str(), r.classification.as_str()))
        .collect();
    for run in &inputs.probes {
        let class = run.classification.as_str();
        if last.get(run.target.as_str()) == Some(&class) {
            continue;
        }
        last.insert(&run.target, class);
        let Ok(at) = DateTime::parse_from_rfc3339(&run.started_at) else {
            continue;
        };
        let step = run
            .failed_step
            .map_or(String::new(), |s| format!(", failed step `{}`", s.as_str()));
        entries.push(Entry {
            ts: at.with_timezone(&Utc),
            kind: "probe",
            text: format!(
                "probe `{}`: **{}**{} (run `{}`, runbook {})",
                run.target, class, step, run.id, run.runbook
            ),
            probe_id: Some(run.id.clone()),
            link: Some(format!(
                "{}/api/v1/probes/{}",
                api_base.trim_end_matches('/'),
                run.id
            )),
        });
    }
    for e in &inputs.rds_events {
        entries.push(Entry {
            ts: e.ts,
            kind: "rds_event",
            text: format!(
                "RDS `{}` {}[{}]: {}",
                e.source_id,
                if e.event_id.is_empty() {
                    String::new()
                } else {
                    format!("{} ", e.event_id)
                },
                e.categories.join(","),
                e.message
            ),
            probe_id: None,
            link: None,
        });
    }
    let order = |k: &str| match k {
        "alert" => 0,
        "notification" => 1,
        "probe" => 2,
        _ => 3,
    };
    entries.sort_by(|a, b| a.ts.cmp(&b.ts).then(order(a.kind).cmp(&order(b.kind))));
    Timeline {
        from,
        to,
        entries,
        budget: budget_changes(&inputs.budget_before, &inputs.budget_during),
    }
}

fn budget_changes(before: &[SloSnapshotRow], during: &[SloSnapshotRow]) -> Vec<BudgetChange> {
    let mut ids: Vec<&str> = before
        .iter()
        .chain(during)
        .map(|r| r.slo_id.as_str())
        .collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let first_in_range = during.iter().find(|r| r.slo_id == id);
            let remaining_before = before
                .iter()
                .find(|r| r.slo_id == id)
                .or(first_in_range)
                .and_then(|r| r.budget_remaining);
            let remaining_after = during
                .iter()
                .rev()
                .find(|r| r.slo_id == id)
                .and_then(|r| r.budget_remaining);
            let consumed = match (remaining_before, remaining_after) {
                (Some(b), Some(a)) => Some(b - a),
                _ => None,
            };
            BudgetChange {
                slo_id: id.to_string(),
                remaining_before,
                remaining_after,
                consumed,
            }
        })
        .collect()
}

impl Timeline {
    /// Markdown for a postmortem document.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "## Timeline {} to {}\n\nAll times UTC.\n\n",
            ts(self.from),
            ts(self.to)
        );
        if self.entries.is_empty() {
            out.push_str(
                "_No alerts, notifications, probe changes or RDS events in this range._\n",
            );
        } else {
            out.push_str("| Time | Kind | Event |\n|---|---|---|\n");
            for e in &self.entries {
                let mut text = e.text.replace('|', "\\|");
                if let Some(link) = &e.link {
                    text.push_str(&format!(" — [link]({link})"));
                }
                out.push_str(&format!("| {} | {} | {} |\n", ts(e.ts), e.kind, text));
            }
        }
        out.push_str("\n### Error budget consumed\n\n");
        if self.budget.is_empty() {
            out.push_str("_No SLO snapshots recorded in this range._\n");
        } else {
            out.push_str("| SLO | Budget left at start | Budget left at end | Consumed |\n|---|---|---|---|\n");
            for b in &self.budget {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    b.slo_id,
                    super::pct(b.remaining_before),
                    super::pct(b.remaining_after),
                    super::pct(b.consumed)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Classification, StepName};
    use chrono::TimeZone;

    fn at(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, min, 0).unwrap()
    }

    fn probe(id: &str, min: u32, c: Classification) -> ProbeRun {
        ProbeRun {
            id: id.into(),
            target: "mass-spec-rds".into(),
            started_at: crate::probe::model::format_ts(at(min)),
            healthy: c == Classification::Healthy,
            classification: c,
            failed_step: (c != Classification::Healthy).then_some(StepName::Auth),
            steps: vec![],
            runbook: c.runbook(),
        }
    }

    #[test]
    fn orders_events_and_keeps_only_probe_changes() {
        let inputs = Inputs {
            transitions: vec![
                AlertTransition {
                    ts: at(3),
                    slo_id: "mass-spec-api-availability".into(),
                    alert: "MassSpecAPIAvailability".into(),
                    severity: "page".into(),
                    state: "firing".into(),
                    detail: serde_json::json!({"burn_rates": {"5m": 1000.0, "1h": 250.0},
                        "runbook_url": "runbooks/api-availability.md"}),
                },
                AlertTransition {
                    ts: at(5),
                    slo_id: "probe:mass-spec-rds".into(),
                    alert: "DatabaseConnectivity".into(),
                    severity: "page".into(),
                    state: "firing".into(),
                    detail: serde_json::json!({"classification": "auth_failed",
                        "runbook_url": "runbooks/db-connectivity.md#auth-failed"}),
                },
            ],
            probes_before: vec![probe("01A", 0, Classification::Healthy)],
            probes: vec![
                probe("01B", 1, Classification::Healthy),
                probe("01C", 2, Classification::AuthFailed),
                probe("01D", 4, Classification::AuthFailed),
                probe("01E", 9, Classification::Healthy),
            ],
            rds_events: vec![RdsEvent {
                source_id: "mass-spec-db".into(),
                ts: at(2),
                event_id: "RDS-EVENT-0013".into(),
                categories: vec!["failover".into()],
                message: "Multi-AZ instance failover started".into(),
                kind: crate::source::rds::classify_event(
                    "Multi-AZ instance failover started",
                    &["failover".to_string()],
                )
                .1,
            }],
            budget_before: vec![SloSnapshotRow {
                ts: at(0),
                slo_id: "mass-spec-api-availability".into(),
                budget_remaining: Some(0.9),
                period_error_ratio: None,
                error_ratio_1h: None,
                period_events: 0.0,
            }],
            budget_during: vec![SloSnapshotRow {
                ts: at(8),
                slo_id: "mass-spec-api-availability".into(),
                budget_remaining: Some(0.75),
                period_error_ratio: None,
                error_ratio_1h: None,
                period_events: 0.0,
            }],
            ..Inputs::default()
        };
        let t = build(at(0), at(10), inputs, "http://127.0.0.1:9464/");
        let kinds: Vec<(&str, Option<&str>)> = t
            .entries
            .iter()
            .map(|e| (e.kind, e.probe_id.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("probe", Some("01C")),
                ("rds_event", None),
                ("alert", None),
                ("alert", None),
                ("probe", Some("01E")),
            ]
        );
        assert_eq!(
            t.entries[0].link.as_deref(),
            Some("http://127.0.0.1:9464/api/v1/probes/01C")
        );
        let md = t.to_markdown();
        assert!(md.contains("| 2026-11-20T10:02:00Z | probe | probe `mass-spec-rds`: **auth_failed**, failed step `auth` (run `01C`, runbook runbooks/db-connectivity.md#auth-failed)"), "{md}");
        assert!(md.contains("PAGE firing **MassSpecAPIAvailability** for SLO `mass-spec-api-availability` (burn rates: 1h 250.0x, 5m 1000.0x)"), "{md}");
        assert!(
            md.contains("PAGE firing **DatabaseConnectivity** for database probe target `mass-spec-rds` (auth_failed)"),
            "{md}"
        );
        assert!(
            md.contains("| `mass-spec-api-availability` | 90.0% | 75.0% | 15.0% |"),
            "{md}"
        );
    }
}
