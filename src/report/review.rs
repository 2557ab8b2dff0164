//! The weekly SLO review (`burnwatch report`): for every SLO, the error budget consumed
//! over the period, its worst hours, and the alerts that fired.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::store::{AlertTransition, SloSnapshotRow};

/// How many worst hours to list per SLO.
pub const WORST_HOURS: usize = 3;

/// One SLO's review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloReview {
    /// The SLO.
    pub slo_id: String,
    /// Budget left at the latest snapshot (rolling period ending then); `None` = no data.
    pub budget_remaining: Option<f64>,
    /// `1 − budget_remaining`: the share of the period's budget spent.
    pub budget_consumed: Option<f64>,
    /// Error ratio over the whole period at the latest snapshot.
    pub period_error_ratio: Option<f64>,
    /// The worst non-overlapping hours (end time, error ratio), worst first.
    pub worst_hours: Vec<(DateTime<Utc>, f64)>,
    /// Firing transitions per severity (`page`, `ticket`).
    pub alerts_fired: BTreeMap<String, usize>,
}

/// The whole review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    /// Period start.
    pub from: DateTime<Utc>,
    /// Period end.
    pub to: DateTime<Utc>,
    /// One entry per SLO seen in snapshots or transitions, by id.
    pub slos: Vec<SloReview>,
}

/// Build the review from the period's snapshots and alert transitions.
pub fn build(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    snapshots: &[SloSnapshotRow],
    transitions: &[AlertTransition],
) -> Review {
    let mut by_slo: BTreeMap<&str, Vec<&SloSnapshotRow>> = BTreeMap::new();
    for s in snapshots {
        by_slo.entry(&s.slo_id).or_default().push(s);
    }
    for t in transitions {
        by_slo.entry(&t.slo_id).or_default();
    }
    let slos = by_slo
        .into_iter()
        .map(|(id, mut rows)| {
            rows.sort_by_key(|r| r.ts);
            let latest = rows.last();
            let budget_remaining = latest.and_then(|r| r.budget_remaining);
            let mut alerts_fired = BTreeMap::new();
            for t in transitions
                .iter()
                .filter(|t| t.slo_id == id && t.state == "firing")
            {
                *alerts_fired.entry(t.severity.clone()).or_insert(0) += 1;
            }
            SloReview {
                slo_id: id.to_string(),
                budget_remaining,
                budget_consumed: budget_remaining.map(|r| 1.0 - r),
                period_error_ratio: latest.and_then(|r| r.period_error_ratio),
                worst_hours: worst_hours(&rows),
                alerts_fired,
            }
        })
        .collect();
    Review { from, to, slos }
}

/// Greedy pick of the highest 1h error ratios whose hours do not overlap.
fn worst_hours(rows: &[&SloSnapshotRow]) -> Vec<(DateTime<Utc>, f64)> {
    let mut candidates: Vec<(DateTime<Utc>, f64)> = rows
        .iter()
        .filter_map(|r| {
            r.error_ratio_1h
                .filter(|v| v.is_finite() && *v > 0.0)
                .map(|v| (r.ts, v))
        })
        .collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut picked: Vec<(DateTime<Utc>, f64)> = Vec::new();
    for c in candidates {
        if picked.len() == WORST_HOURS {
            break;
        }
        if picked.iter().all(|p| (p.0 - c.0).num_minutes().abs() >= 60) {
            picked.push(c);
        }
    }
    picked
}

impl Review {
    /// Markdown for the weekly review.
    pub fn to_markdown(&self) -> String {
        let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut out = format!("## SLO review {} to {}\n\n", ts(self.from), ts(self.to));
        if self.slos.is_empty() {
            out.push_str("_No SLO snapshots or alerts recorded in this period (is `burnwatch run` writing to this store?)._\n");
            return out;
        }
        out.push_str("| SLO | Budget consumed | Budget left | Error ratio | Pages | Tickets | Worst hours (end, error ratio) |\n|---|---|---|---|---|---|---|\n");
        for s in &self.slos {
            let worst: Vec<String> = s
                .worst_hours
                .iter()
                .map(|(t, v)| format!("{} {:.3}%", ts(*t), v * 100.0))
                .collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                s.slo_id,
                super::pct(s.budget_consumed),
                super::pct(s.budget_remaining),
                s.period_error_ratio
                    .map_or("n/a".to_string(), |v| format!("{:.4}%", v * 100.0)),
                s.alerts_fired.get("page").copied().unwrap_or(0),
                s.alerts_fired.get("ticket").copied().unwrap_or(0),
                if worst.is_empty() {
                    "-".to_string()
                } else {
                    worst.join("; ")
                }
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn snap(hour: u32, ratio_1h: f64, remaining: f64) -> SloSnapshotRow {
        SloSnapshotRow {
            ts: Utc.with_ymd_and_hms(2026, 11, 20, hour, 0, 0).unwrap(),
            slo_id: "s".into(),
            budget_remaining: Some(remaining),
            period_error_ratio: Some(0.0004),
            error_ratio_1h: Some(ratio_1h),
            period_events: 10.0,
        }
    }

    #[test]
    fn budget_worst_hours_and_alerts() {
        let snaps = vec![
            snap(1, 0.01, 0.9),
            snap(2, 0.05, 0.8),
            snap(3, 0.001, 0.7),
            snap(4, 0.02, 0.6),
        ];
        let firing = AlertTransition {
            ts: Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap(),
            slo_id: "s".into(),
            alert: "A".into(),
            severity: "page".into(),
            state: "firing".into(),
            detail: serde_json::json!({}),
        };
        let resolved = AlertTransition {
            state: "resolved".into(),
            ..firing.clone()
        };
        let r = build(snaps[0].ts, snaps[3].ts, &snaps, &[firing, resolved]);
        let s = &r.slos[0];
        assert_eq!(s.budget_remaining, Some(0.6));
        assert!((s.budget_consumed.unwrap() - 0.4).abs() < 1e-12);
        let worst: Vec<f64> = s.worst_hours.iter().map(|w| w.1).collect();
        assert_eq!(worst, vec![0.05, 0.02, 0.01]);
        assert_eq!(s.alerts_fired.get("page"), Some(&1));
        let md = r.to_markdown();
        assert!(
            md.contains("| `s` | 40.0% | 60.0% | 0.0400% | 1 | 0 |"),
            "{md}"
        );
    }
}
