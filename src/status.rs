//! The daemon's published view of every SLO: a plain snapshot, replaced after each
//! evaluation and read by `/metrics` (Sloth-named series) and `/api/v1`.
//!
//! The evaluator knows nothing of this module; the daemon maps the evaluator's status into
//! [`SloSnapshot`]s and calls [`StatusBoard::publish`]. Readers take a cheap clone of the
//! current `Arc`, so a slow scrape never blocks an evaluation.
//!
//! Beside the status, the board carries every SLO's [`History`] (events over the period at
//! chart resolution) for the web view. It is published less often (at the snapshot
//! cadence), so reading it never touches the evaluator either.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::spec::{Duration, Labels, Tier};
use crate::window::History;

/// One SLO after one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSnapshot {
    /// `sloth_id` (`<service>-<name>`).
    pub id: String,
    /// `sloth_service`.
    pub service: String,
    /// `sloth_slo`.
    pub name: String,
    /// The SLO's labels (root and SLO labels merged), added to every series as Sloth does.
    pub labels: Labels,
    /// The objective in percent (99.9).
    pub objective: f64,
    /// The SLO period (30d).
    pub period: Duration,
    /// The spec format, Sloth's `sloth_spec` label (`prometheus/v1`, ...).
    pub spec: String,
    /// Error ratio per SLI window (the alert windows and the period), ascending.
    pub windows: Vec<WindowRatio>,
    /// Error ratio of the shortest window divided by the error budget
    /// (`slo:current_burn_rate:ratio`); `None` without data.
    pub current_burn_rate: Option<f64>,
    /// Period error ratio divided by the error budget (`slo:period_burn_rate:ratio`).
    pub period_burn_rate: Option<f64>,
    /// `1 - period_burn_rate` (`slo:period_error_budget_remaining:ratio`).
    pub period_error_budget_remaining: Option<f64>,
    /// True when the SLI has no data (source outage or no events): shown, never "good".
    pub no_data: bool,
    /// The SLO's alerts (page, ticket, data missing).
    pub alerts: Vec<AlertSnapshot>,
    /// The four burn-rate pairs (page quick and slow, ticket quick and slow) with their
    /// burn rates and thresholds: why an alert fires or does not.
    pub pairs: Vec<PairSnapshot>,
}

/// One multi-window burn-rate pair of one SLO after one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSnapshot {
    /// Which pair (its severity is `tier.severity()`).
    pub tier: Tier,
    /// The short window (5m for page-quick).
    pub short_window: Duration,
    /// The short window's burn rate; `None` without data.
    pub short_burn_rate: Option<f64>,
    /// The long window (1h for page-quick).
    pub long_window: Duration,
    /// The long window's burn rate; `None` without data.
    pub long_burn_rate: Option<f64>,
    /// The burn-rate threshold both windows must exceed (14.4 for page-quick over 30d).
    pub factor: f64,
    /// `burning` (both above the threshold with enough events), `quiet`, `low_traffic`
    /// (above it, too few events) or `no_data`.
    pub state: &'static str,
}

impl SloSnapshot {
    /// The error budget as Prometheus evaluates Sloth's `vector(1-r)`: `1 - objective/100`.
    pub fn error_budget_ratio(&self) -> f64 {
        1.0 - self.objective / 100.0
    }
}

/// The error ratio over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRatio {
    /// The window (5m, 1h, ..., 30d).
    pub window: Duration,
    /// Bad events / all events; `None` when there were no events or no data.
    pub error_ratio: Option<f64>,
    /// All events in the window (0 without data).
    pub total: f64,
}

/// Where an alert's state machine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// The condition does not hold.
    Inactive,
    /// The condition holds but has not yet fired (a `for` duration).
    Pending,
    /// Firing: receivers have been (or are being) told.
    Firing,
}

impl AlertStatus {
    /// `inactive`, `pending` or `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Inactive => "inactive",
            AlertStatus::Pending => "pending",
            AlertStatus::Firing => "firing",
        }
    }
}

/// One alert of one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSnapshot {
    /// The alert name.
    pub name: String,
    /// `page`, `ticket`, ...
    pub severity: String,
    /// Current state.
    pub status: AlertStatus,
    /// When the current firing episode started.
    pub fired_at: Option<DateTime<Utc>>,
    /// When the last episode resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Labels as sent to Alertmanager.
    pub labels: Labels,
    /// Annotations as sent to Alertmanager.
    pub annotations: Labels,
    /// Burn rate per window that the alert looks at (`"5m" → 15.2`).
    pub burn_rates: BTreeMap<String, f64>,
}

/// Everything published after one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Evaluation time; `None` until the first evaluation.
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Every SLO, in spec order.
    pub slos: Vec<SloSnapshot>,
}

/// Every SLO's [`History`], published at the snapshot cadence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histories {
    /// When they were read; `None` until the first time.
    pub computed_at: Option<DateTime<Utc>>,
    /// By SLO id.
    pub slos: BTreeMap<String, History>,
}

/// The shared, replaceable [`Status`] (and [`Histories`]).
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    current: Arc<RwLock<Arc<Status>>>,
    histories: Arc<RwLock<Arc<Histories>>>,
    /// Database probe alerts that are pending or firing, by target (published by each
    /// probe task after its run, so `/api/v1/alerts` lists them next to SLO alerts).
    probe_alerts: Arc<RwLock<BTreeMap<String, AlertSnapshot>>>,
}

impl StatusBoard {
    /// An empty board (no evaluation yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace the published status.
    pub fn publish(&self, status: Status) {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(status);
    }

    /// The current status (a cheap clone of an `Arc`).
    pub fn current(&self) -> Arc<Status> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Set (or clear, with `None`) the pending or firing alert of probe `target`.
    pub fn publish_probe_alert(&self, target: &str, alert: Option<AlertSnapshot>) {
        let mut guard = self.probe_alerts.write().unwrap_or_else(|p| p.into_inner());
        match alert {
            Some(a) => guard.insert(target.to_string(), a),
            None => guard.remove(target),
        };
    }

    /// The pending or firing probe alerts, by target.
    pub fn probe_alerts(&self) -> BTreeMap<String, AlertSnapshot> {
        self.probe_alerts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replace the published histories.
    pub fn publish_histories(&self, histories: Histories) {
        let mut guard = self.histories.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(histories);
    }

    /// The current histories (a cheap clone of an `Arc`).
    pub fn histories(&self) -> Arc<Histories> {
        self.histories
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_budget_matches_prometheus_evaluating_sloths_rule() {
        let s = SloSnapshot {
            id: "a".into(),
            service: "s".into(),
            name: "n".into(),
            labels: Labels::new(),
            objective: 99.9,
            period: Duration::from_days(30),
            spec: "prometheus/v1".into(),
            windows: vec![],
            current_burn_rate: None,
            period_burn_rate: None,
            period_error_budget_remaining: None,
            no_data: true,
            alerts: vec![],
            pairs: vec![],
        };
        // Sloth writes vector(1-0.9990000000000001); Prometheus evaluates it in f64.
        assert_eq!(s.error_budget_ratio(), 1.0 - 0.9990000000000001);
    }

    #[test]
    fn readers_keep_their_snapshot_while_a_new_one_is_published() {
        let board = StatusBoard::new();
        assert!(board.current().evaluated_at.is_none());
        let before = board.current();
        board.publish(Status {
            evaluated_at: Some(Utc::now()),
            slos: vec![],
        });
        assert!(before.evaluated_at.is_none());
        assert!(board.current().evaluated_at.is_some());
    }
}
