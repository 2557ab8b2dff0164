//! Mapping the evaluator's state to what leaves the pipeline: notifications, the status
//! board and stored SLO snapshots.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::eval::{AlertKind, AlertState, Evaluator, PairState, PairStatus};
use crate::notify::alert::{AlertEvent, notification as slo_notification};
use crate::notify::{Notification, State};
use crate::spec::{Duration, Slo, SpecKind};
use crate::status::{
    AlertSnapshot, AlertStatus, Histories, PairSnapshot, SloSnapshot, Status, WindowRatio,
};
use crate::store::snapshots::SloSnapshotRow;

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Burn rate per window of `pairs`, each window once, short windows first.
fn burn_rates(pairs: &[PairStatus]) -> Vec<(Duration, f64)> {
    let mut out: Vec<(Duration, f64)> = Vec::new();
    for p in pairs {
        for (w, r) in [
            (p.short_window, p.short_burn_rate),
            (p.long_window, p.long_burn_rate),
        ] {
            if let Some(r) = r
                && !out.iter().any(|(x, _)| *x == w)
            {
                out.push((w, r));
            }
        }
    }
    out.sort_by_key(|(w, _)| *w);
    out
}

/// The notification for one due alert of the evaluator.
pub(super) fn notification(
    slo: &Slo,
    n: &crate::eval::Notification,
    evidence: &[PairStatus],
    repeat: bool,
    external_url: &str,
) -> Option<Notification> {
    let state = if n.resolved {
        State::Resolved
    } else {
        State::Firing
    };
    match n.kind {
        AlertKind::Page | AlertKind::Ticket => slo_notification(
            slo,
            &AlertEvent {
                severity: n.kind.severity(),
                state,
                starts_at: ts(n.starts_at),
                ends_at: ts(n.ends_at),
                burn_rates: burn_rates(evidence),
                repeat,
            },
            external_url,
        ),
        AlertKind::DataMissing => {
            let base = external_url.trim_end_matches('/');
            Some(Notification {
                slo_id: slo.id.clone(),
                alert: n.labels.get("alertname").cloned().unwrap_or_default(),
                severity: n.kind.severity().as_str().into(),
                state,
                labels: n.labels.clone(),
                annotations: n.annotations.clone(),
                starts_at: ts(n.starts_at),
                ends_at: ts(n.ends_at),
                generator_url: format!("{base}/api/v1/slos/{}", slo.id),
                repeat,
            })
        }
    }
}

/// The board's status after an evaluation at `now`.
pub(super) fn status(
    evaluator: &Evaluator,
    slos: &[Slo],
    kinds: &[SpecKind],
    now: DateTime<Utc>,
    external_url: &str,
) -> Status {
    let mut out = Vec::with_capacity(slos.len());
    for (view, (slo, kind)) in evaluator.slos().zip(slos.iter().zip(kinds)) {
        let st = view.status;
        let mut windows: Vec<WindowRatio> = st
            .windows(view.def)
            .map(|w| WindowRatio {
                window: w.window,
                error_ratio: w.error_ratio,
                total: w.events,
            })
            .collect();
        windows.sort_by_key(|w| w.window);
        windows.dedup_by_key(|w| w.window);
        let alerts = view
            .alerts
            .iter()
            .map(|a| {
                let def = &view.def.alerts[a.def];
                let firing = a.alert.state == AlertState::Firing;
                // Labels and annotations as a send now would carry them.
                let sent = notification(
                    slo,
                    &crate::eval::Notification {
                        slo: view.index,
                        kind: def.kind,
                        labels: def.labels.clone(),
                        annotations: def.annotations.clone(),
                        starts_at: a.alert.fired_at.unwrap_or(0),
                        ends_at: a.alert.valid_until.unwrap_or(0),
                        resolved: false,
                    },
                    &a.evidence,
                    false,
                    external_url,
                );
                let (labels, annotations) = sent
                    .map(|n| (n.labels, n.annotations))
                    .unwrap_or_else(|| (def.labels.clone(), def.annotations.clone()));
                AlertSnapshot {
                    name: def.name.clone(),
                    severity: def.kind.severity().as_str().into(),
                    status: if firing {
                        AlertStatus::Firing
                    } else {
                        AlertStatus::Inactive
                    },
                    fired_at: a.alert.fired_at.filter(|_| firing).map(ts),
                    resolved_at: a.alert.resolved_at.map(ts),
                    labels,
                    annotations,
                    burn_rates: burn_rates(&a.evidence)
                        .into_iter()
                        .map(|(w, r)| (w.to_string(), r))
                        .collect::<BTreeMap<_, _>>(),
                }
            })
            .collect();
        out.push(SloSnapshot {
            id: slo.id.clone(),
            service: slo.service.clone(),
            name: slo.name.clone(),
            labels: slo.labels.clone(),
            objective: slo.objective,
            period: view.def.period,
            spec: kind.sloth_spec().into(),
            windows,
            current_burn_rate: st.current_burn_rate(view.def),
            period_burn_rate: st.period_burn_rate(view.def),
            period_error_budget_remaining: st.period_error_budget_remaining(view.def),
            no_data: st.current_burn_rate(view.def).is_none() || st.data_missing,
            alerts,
            pairs: view.pairs().iter().map(pair_snapshot).collect(),
        });
    }
    Status {
        evaluated_at: Some(now),
        slos: out,
    }
}

/// One stored snapshot row per SLO.
pub(super) fn snapshot_rows(evaluator: &Evaluator, now: DateTime<Utc>) -> Vec<SloSnapshotRow> {
    evaluator
        .slos()
        .map(|v| {
            let st = v.status;
            let period = st.windows(v.def).find(|w| w.window == v.def.period);
            let hour = st
                .windows(v.def)
                .find(|w| w.window == Duration::from_secs(3600));
            SloSnapshotRow {
                ts: now,
                slo_id: v.def.id.clone(),
                budget_remaining: st.period_error_budget_remaining(v.def),
                period_error_ratio: period.and_then(|w| w.error_ratio),
                error_ratio_1h: hour.and_then(|w| w.error_ratio),
                period_events: period.map_or(0.0, |w| w.events),
            }
        })
        .collect()
}

/// A pair as the status board shows it.
fn pair_snapshot(p: &PairStatus) -> PairSnapshot {
    PairSnapshot {
        tier: p.tier,
        short_window: p.short_window,
        short_burn_rate: p.short_burn_rate,
        long_window: p.long_window,
        long_burn_rate: p.long_burn_rate,
        factor: p.factor,
        state: match p.state {
            PairState::Burning => "burning",
            PairState::Quiet => "quiet",
            PairState::LowTraffic => "low_traffic",
            PairState::NoData => "no_data",
        },
    }
}

/// Every SLO's events over its period at chart resolution, for the web view's charts.
pub(super) fn histories(evaluator: &Evaluator, now: DateTime<Utc>) -> Histories {
    let end = now.timestamp().div_euclid(60);
    Histories {
        computed_at: Some(now),
        slos: evaluator
            .slos()
            .map(|v| {
                let span = i64::try_from(v.def.period.as_secs() / 60).unwrap_or(i64::MAX);
                (
                    v.def.id.clone(),
                    crate::window::History::of(
                        v.windows,
                        end,
                        span,
                        crate::window::HISTORY_MAX_POINTS,
                    ),
                )
            })
            .collect(),
    }
}
