//! SLIs, burn rates, budgets and multi-window multi-burn-rate alerts, for every SLO at
//! every tick.
//!
//! The [`Evaluator`] owns one [`SloWindows`] per SLO. The daemon (or `replay`) feeds it
//! minute batches ([`Evaluator::ingest`]) and calls [`Evaluator::evaluate`] with the time;
//! each evaluation updates every SLO's [`SloStatus`] and alert state and returns the
//! transitions. [`Evaluator::notifications`] then says what to send to Alertmanager.
//!
//! Semantics follow the rules `generate prometheus` writes (Sloth v0.11+): the same
//! windows, factors (`slo::PairDef`), strict `>`, both windows of a pair, no `for:`,
//! the same alert names and labels. Where burnwatch differs it is on purpose:
//! - windows are exact event sums, the period too (Sloth averages 5m ratios over it);
//! - a window without events is `no_data` and never counts as good: it cannot start an
//!   alert nor resolve one (Prometheus would resolve), and a separate ticket
//!   (`SLODataMissing` by default) fires when an SLO has had no datapoint for a while;
//! - a pair needs at least `min_events` events in its long window to fire, so that one
//!   failed request out of three does not page.
//!
//! Architecture invariant: no I/O, no clock, no async. Time comes in as seconds since the
//! Unix epoch; the evaluation at `now` uses the minutes completed before `now`.

pub mod alert;
pub mod inline;
pub mod policy;
pub mod slo;
pub mod status;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::spec::{Duration, Labels, LoadOptions, Severity, Slo};
use crate::window::{BadData, Counts, EventBatch, RecordError, SloWindows};

pub use alert::{Alert, AlertState, Change, Condition, Delivery};
pub use inline::Inline;
pub use slo::{AlertDef, AlertKind, PairDef, SloDef};
pub use status::{PairState, PairStatus, SloStatus, WindowStatus};

/// Default minimum events in a pair's long window before it may fire. At 99.9 % one error
/// out of 3 requests is a 333× burn; with fewer than 20 events in an hour the ratio says
/// more about chance than about the service. SLOs with less traffic than that need
/// probers or grouping (SRE Workbook, "Low-traffic services"), not a page per failure.
pub const DEFAULT_MIN_EVENTS: u64 = 20;

/// Default time without any SLI datapoint before the data-missing ticket fires. Long
/// enough to ride out CloudWatch publishing delays and a throttled API call or two.
pub const DEFAULT_DATA_MISSING_AFTER_SECS: i64 = 15 * 60;

/// Default name of the data-missing alert.
pub const DEFAULT_DATA_MISSING_ALERT: &str = "SLODataMissing";

/// How the evaluator behaves; the daemon fills it from its config.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOptions {
    /// Seconds between evaluations (for `endsAt`; the caller does the scheduling).
    pub eval_interval_secs: i64,
    /// Minimum seconds between two sends of a firing alert.
    pub resend_delay_secs: i64,
    /// Minimum events in a pair's long window before the pair may fire.
    pub min_events: u64,
    /// Seconds without a datapoint before the data-missing ticket fires; `None` disables it.
    pub data_missing_after_secs: Option<i64>,
    /// Alert name of the data-missing ticket.
    pub data_missing_alert: String,
    /// Labels added to every SLO's series and alerts (like `generate -l k=v`).
    pub extra_labels: Labels,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            eval_interval_secs: 30,
            resend_delay_secs: alert::DEFAULT_RESEND_DELAY_SECS,
            min_events: DEFAULT_MIN_EVENTS,
            data_missing_after_secs: Some(DEFAULT_DATA_MISSING_AFTER_SECS),
            data_missing_alert: DEFAULT_DATA_MISSING_ALERT.into(),
            extra_labels: Labels::new(),
        }
    }
}

/// Why an evaluator could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The SLO's period is not in the alert-window catalog.
    #[error("SLO {slo:?}: {message}")]
    Period {
        /// SLO id.
        slo: String,
        /// The catalog's explanation.
        message: String,
    },
    /// A window that is not a whole number of minutes.
    #[error("SLO {slo:?}: window {window} is not a whole number of minutes")]
    Window {
        /// SLO id.
        slo: String,
        /// The window.
        window: Duration,
    },
    /// Two SLOs with the same id.
    #[error("SLO ID {0:?} is repeated")]
    Duplicate(String),
}

/// Why a batch was not stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    /// No SLO with that id.
    #[error("unknown SLO {0:?}")]
    UnknownSlo(String),
    /// Impossible counts.
    #[error(transparent)]
    BadData(#[from] BadData),
    /// Older than the minute ring keeps.
    #[error(transparent)]
    TooLate(#[from] RecordError),
}

/// Position of an SLO in the evaluator: look it up once, ingest by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SloIndex(pub usize);

/// One alert of one SLO: its definition index, state, and the pairs that fired it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SloAlert {
    /// Index into [`SloDef::alerts`].
    pub def: usize,
    /// Which alert (a copy of the definition's, so a tick need not read the definition).
    pub kind: AlertKind,
    /// State and timestamps.
    pub alert: Alert,
    /// The pairs of the alert's severity at the last firing evaluation: the burn rates
    /// that triggered it (empty for the data-missing ticket).
    pub evidence: Vec<PairStatus>,
}

/// An alert state change at one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// Evaluation time.
    pub at: i64,
    /// The SLO.
    pub slo: SloIndex,
    /// Its id.
    pub slo_id: String,
    /// Alert name.
    pub alert: String,
    /// Which alert.
    pub kind: AlertKind,
    /// `page` or `ticket`.
    pub severity: Severity,
    /// Fired or resolved.
    pub change: Change,
    /// Pairs of that severity at the transition (burn rates that fired or cleared it).
    pub pairs: Vec<PairStatus>,
}

/// An alert to hand to the notifier, Alertmanager-shaped but not wire-bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The SLO.
    pub slo: SloIndex,
    /// Which alert.
    pub kind: AlertKind,
    /// Identity labels, `alertname` included.
    pub labels: Labels,
    /// Annotations, with the burn rates and budget at send time.
    pub annotations: Labels,
    /// `startsAt`.
    pub starts_at: i64,
    /// `endsAt`.
    pub ends_at: i64,
    /// True for a resolution.
    pub resolved: bool,
}

/// The alert states of an [`Evaluator`] at one moment, per SLO and alert, from
/// [`Evaluator::alert_checkpoint`].
#[derive(Debug, Clone)]
pub struct AlertCheckpoint(Vec<Vec<alert::Alert>>);

/// Alert states to persist across restarts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedAlerts {
    /// One entry per non-inactive alert.
    pub alerts: Vec<SavedAlert>,
}

/// One persisted alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedAlert {
    /// SLO id.
    pub slo_id: String,
    /// Which alert.
    pub kind: AlertKind,
    /// Its state.
    pub alert: Alert,
}

/// Read access to one SLO: its definition, last status and alerts, with the derived
/// numbers `/metrics` and `/api/v1/slos` show.
#[derive(Clone, Copy, Debug)]
pub struct SloView<'a> {
    /// Its index.
    pub index: SloIndex,
    /// Definition.
    pub def: &'a SloDef,
    /// Status at the last evaluation.
    pub status: &'a SloStatus,
    /// Its enabled alerts.
    pub alerts: &'a [SloAlert],
    /// Its buckets.
    pub windows: &'a SloWindows,
}

impl SloView<'_> {
    /// Window `i` of [`SloDef::windows`]: events, error ratio, burn rate.
    pub fn window(&self, i: usize) -> WindowStatus {
        self.status.window(self.def, i)
    }
    /// Every window, in [`SloDef::windows`] order.
    pub fn windows(&self) -> impl Iterator<Item = WindowStatus> + '_ {
        self.status.windows(self.def)
    }
    /// The four pairs with their burn rates and states.
    pub fn pairs(&self) -> [PairStatus; 4] {
        self.status.pairs(self.def)
    }
    /// `slo:current_burn_rate:ratio`.
    pub fn current_burn_rate(&self) -> Option<f64> {
        self.status.current_burn_rate(self.def)
    }
    /// `slo:period_burn_rate:ratio`.
    pub fn period_burn_rate(&self) -> Option<f64> {
        self.status.period_burn_rate(self.def)
    }
    /// `slo:period_error_budget_remaining:ratio`.
    pub fn period_error_budget_remaining(&self) -> Option<f64> {
        self.status.period_error_budget_remaining(self.def)
    }
}

/// How many SLOs ahead `evaluate` asks for the buckets it will read: enough to cover a
/// memory access (~100 ns) with the work on the SLOs in between (~100 ns each).
const EVAL_PREFETCH_AHEAD: usize = 4;

/// How many batches ahead `ingest_many` asks for the buckets it will write (a batch takes
/// tens of nanoseconds).
const INGEST_PREFETCH_AHEAD: usize = 16;

/// Most alerts per SLO: page, ticket, data missing.
const MAX_ALERTS: usize = 3;

/// Everything an evaluation touches for one SLO sits in its entry (about 1.2 KB); the
/// definition's names, labels and annotations, needed only for output, are boxed.
struct SloEntry {
    windows: SloWindows,
    pairs: [PairDef; 4],
    status: SloStatus,
    alerts: Inline<SloAlert, MAX_ALERTS>,
    def: Box<SloDef>,
}

/// Every SLO's windows, status and alerts.
pub struct Evaluator {
    options: EvalOptions,
    slos: Vec<SloEntry>,
    index: HashMap<String, usize>,
    started_at: Option<i64>,
}

impl Evaluator {
    /// Build from loaded SLOs; each SLO's period (its own, or `spec.period`) must be in
    /// `spec.catalog`.
    pub fn new(slos: &[Slo], spec: &LoadOptions, options: EvalOptions) -> Result<Self, EvalError> {
        let mut entries = Vec::with_capacity(slos.len());
        let mut index = HashMap::with_capacity(slos.len());
        let data_missing = options
            .data_missing_after_secs
            .map(|after| (options.data_missing_alert.as_str(), after));
        for slo in slos {
            let period = slo.period.unwrap_or(spec.period);
            let aw = spec
                .catalog
                .require(period)
                .map_err(|message| EvalError::Period {
                    slo: slo.id.clone(),
                    message,
                })?;
            let def = SloDef::new(
                slo,
                period,
                aw,
                &slo::DefOptions {
                    extra_labels: &options.extra_labels,
                    data_missing,
                },
            )?;
            let minutes: Vec<u32> = def
                .windows
                .iter()
                .map(|w| u32::try_from(w.as_secs() / 60).unwrap_or(u32::MAX))
                .collect();
            let windows = SloWindows::new(&minutes).map_err(|_| EvalError::Window {
                slo: slo.id.clone(),
                window: Duration::default(),
            })?;
            if index.insert(slo.id.clone(), entries.len()).is_some() {
                return Err(EvalError::Duplicate(slo.id.clone()));
            }
            let mut alerts = Inline::default();
            for (i, a) in def.alerts.iter().enumerate() {
                // At most page, ticket and data missing.
                let _ = alerts.push(SloAlert {
                    def: i,
                    kind: a.kind,
                    alert: Alert::default(),
                    evidence: Vec::new(),
                });
            }
            entries.push(SloEntry {
                windows,
                pairs: def.pairs,
                status: SloStatus::default(),
                alerts,
                def: Box::new(def),
            });
        }
        Ok(Evaluator {
            options,
            slos: entries,
            index,
            started_at: None,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &EvalOptions {
        &self.options
    }

    /// Number of SLOs.
    pub fn len(&self) -> usize {
        self.slos.len()
    }

    /// True when there are no SLOs.
    pub fn is_empty(&self) -> bool {
        self.slos.is_empty()
    }

    /// The index of SLO `id`.
    pub fn slo_index(&self, id: &str) -> Option<SloIndex> {
        self.index.get(id).map(|&i| SloIndex(i))
    }

    /// One SLO.
    ///
    /// # Panics
    /// If `index` did not come from this evaluator.
    pub fn slo(&self, index: SloIndex) -> SloView<'_> {
        let e = &self.slos[index.0];
        SloView {
            index,
            def: &e.def,
            status: &e.status,
            alerts: &e.alerts,
            windows: &e.windows,
        }
    }

    /// All SLOs, in spec order.
    pub fn slos(&self) -> impl Iterator<Item = SloView<'_>> {
        (0..self.slos.len()).map(|i| self.slo(SloIndex(i)))
    }

    /// Store one minute of one SLO's events (replacing what that minute held).
    pub fn ingest(&mut self, batch: &EventBatch) -> Result<(), IngestError> {
        let index = self
            .slo_index(&batch.slo_id)
            .ok_or_else(|| IngestError::UnknownSlo(batch.slo_id.clone()))?;
        self.ingest_counts(index, batch.minute(), batch.counts()?)
    }

    /// Store counts for minute index `minute` (minutes since the epoch) of SLO `index`:
    /// the fast path for sources that resolved their SLOs once.
    pub fn ingest_counts(
        &mut self,
        index: SloIndex,
        minute: i64,
        counts: Counts,
    ) -> Result<(), IngestError> {
        self.windows_mut(index)?.record(minute, counts)?;
        Ok(())
    }

    /// Store a whole five-minute bucket older than the minute ring holds (minute index /
    /// 5), replacing it: what a late backfill re-read needs once newer data moved on.
    /// See [`crate::window::SloWindows::record_coarse`].
    pub fn ingest_coarse(
        &mut self,
        index: SloIndex,
        bucket: i64,
        counts: Counts,
    ) -> Result<(), IngestError> {
        self.windows_mut(index)?.record_coarse(bucket, counts)?;
        Ok(())
    }

    fn windows_mut(&mut self, index: SloIndex) -> Result<&mut SloWindows, IngestError> {
        self.slos
            .get_mut(index.0)
            .map(|e| &mut e.windows)
            .ok_or_else(|| IngestError::UnknownSlo(format!("#{}", index.0)))
    }

    /// Store many minutes at once (what a source's fetch produces), in order. Returns the
    /// position and reason of each batch that was refused; the others are stored.
    /// Faster than one [`Evaluator::ingest_counts`] call per batch with many SLOs, as
    /// it starts loading the buckets of the next batches while storing this one.
    pub fn ingest_many(
        &mut self,
        batches: &[(SloIndex, i64, Counts)],
    ) -> Vec<(usize, IngestError)> {
        let mut refused = Vec::new();
        for (n, &(index, minute, counts)) in batches.iter().enumerate() {
            if let Some(&(ahead, ahead_minute, _)) = batches.get(n + INGEST_PREFETCH_AHEAD)
                && let Some(e) = self.slos.get(ahead.0)
            {
                e.windows.prefetch_record(ahead_minute);
            }
            if let Err(e) = self.ingest_counts(index, minute, counts) {
                refused.push((n, e));
            }
        }
        refused
    }

    /// Evaluate every SLO at `now` (seconds since the epoch): windows end at the start of
    /// the current minute. Returns the alert state changes, in SLO order.
    pub fn evaluate(&mut self, now: i64) -> Vec<Transition> {
        let started_at = *self.started_at.get_or_insert(now);
        let end_minute = now.div_euclid(60);
        let mut transitions = Vec::new();
        let min_events = self.options.min_events;
        let data_missing_after = self.options.data_missing_after_secs;
        for i in 0..self.slos.len() {
            // Two stages: the window store whose fields locate an SLO's buckets is loaded
            // first; a few SLOs later, the buckets themselves.
            if let Some(ahead) = self.slos.get(i + 2 * EVAL_PREFETCH_AHEAD) {
                crate::window::prefetch_value(&ahead.windows);
            }
            if let Some(ahead) = self.slos.get(i + EVAL_PREFETCH_AHEAD) {
                ahead.windows.prefetch_advance(end_minute);
            }
            let e = &mut self.slos[i];
            e.windows.advance(end_minute);
            let sums = e.windows.sums();
            e.status.update(&e.pairs, now, &sums, min_events);
            e.status.last_data_at = e.windows.last_data_minute().map(|m| (m + 1) * 60);
            let silent_since = e.status.last_data_at.unwrap_or(started_at).max(started_at);
            e.status.data_missing =
                data_missing_after.is_some_and(|after| now - silent_since >= after);
            let page = e.status.condition(Severity::Page);
            let ticket = e.status.condition(Severity::Ticket);

            for a in e.alerts.iter_mut() {
                let kind = a.kind;
                let condition = match kind {
                    AlertKind::Page => page,
                    AlertKind::Ticket => ticket,
                    AlertKind::DataMissing => {
                        if e.status.data_missing {
                            Condition::True
                        } else {
                            Condition::False
                        }
                    }
                };
                let change = a.alert.eval(now, condition);
                let severity = kind.severity();
                if kind != AlertKind::DataMissing && condition == Condition::True {
                    // The burn rates that fired it; only firing alerts pay for this.
                    a.evidence.clear();
                    a.evidence.extend(
                        e.status
                            .pairs(&e.def)
                            .into_iter()
                            .filter(|p| p.tier.severity() == severity),
                    );
                }
                if let Some(change) = change {
                    transitions.push(Transition {
                        at: now,
                        slo: SloIndex(i),
                        slo_id: e.def.id.clone(),
                        alert: e.def.alerts[a.def].name.clone(),
                        kind,
                        severity,
                        change,
                        pairs: match kind {
                            AlertKind::DataMissing => Vec::new(),
                            _ => e
                                .status
                                .pairs(&e.def)
                                .into_iter()
                                .filter(|p| p.tier.severity() == severity)
                                .collect(),
                        },
                    });
                }
            }
        }
        transitions
    }

    /// Alerts due for sending at `now` (firing ones every resend delay, resolutions at
    /// once and for 15 minutes after); marks them sent. Call after [`Evaluator::evaluate`].
    pub fn notifications(&mut self, now: i64) -> Vec<Notification> {
        let (interval, resend) = (
            self.options.eval_interval_secs,
            self.options.resend_delay_secs,
        );
        let mut out = Vec::new();
        for (i, e) in self.slos.iter_mut().enumerate() {
            for a in e.alerts.iter_mut() {
                if !a.alert.needs_sending(now, resend) {
                    continue;
                }
                let Some(d) = a.alert.mark_sent(now, interval, resend) else {
                    continue;
                };
                let def = &e.def.alerts[a.def];
                let mut annotations = def.annotations.clone();
                if !a.evidence.is_empty() {
                    annotations.insert("burn_rates".into(), describe_pairs(&a.evidence));
                }
                if let Some(r) = e.status.period_error_budget_remaining(&e.def) {
                    annotations.insert(
                        "error_budget_remaining".into(),
                        format!("{:.1}%", r * 100.0),
                    );
                }
                out.push(Notification {
                    slo: SloIndex(i),
                    kind: def.kind,
                    labels: def.labels.clone(),
                    annotations,
                    starts_at: d.starts_at,
                    ends_at: d.ends_at,
                    resolved: d.resolved,
                });
            }
        }
        out
    }

    /// The alert states worth keeping across a restart (everything not inactive).
    pub fn save_alerts(&self) -> SavedAlerts {
        let alerts = self
            .slos
            .iter()
            .flat_map(|e| {
                e.alerts
                    .iter()
                    .filter(|a| a.alert.state != AlertState::Inactive)
                    .map(|a| SavedAlert {
                        slo_id: e.def.id.clone(),
                        kind: a.kind,
                        alert: a.alert.clone(),
                    })
            })
            .collect();
        SavedAlerts { alerts }
    }

    /// Every alert's state (inactive ones too), to roll a tick back with
    /// [`Evaluator::rollback_alerts`] when its commit fails: memory then never believes a
    /// notification was sent that the store never enqueued.
    pub fn alert_checkpoint(&self) -> AlertCheckpoint {
        AlertCheckpoint(
            self.slos
                .iter()
                .map(|e| e.alerts.iter().map(|a| a.alert.clone()).collect())
                .collect(),
        )
    }

    /// Put back the alert states of `checkpoint` (taken from this evaluator).
    pub fn rollback_alerts(&mut self, checkpoint: AlertCheckpoint) {
        for (e, alerts) in self.slos.iter_mut().zip(checkpoint.0) {
            for (a, saved) in e.alerts.iter_mut().zip(alerts) {
                a.alert = saved;
            }
        }
    }

    /// Restore saved states; entries for SLOs or alerts that no longer exist are skipped.
    /// Returns how many were restored.
    pub fn restore_alerts(&mut self, saved: &SavedAlerts) -> usize {
        let mut restored = 0;
        for s in &saved.alerts {
            let Some(&i) = self.index.get(&s.slo_id) else {
                continue;
            };
            let e = &mut self.slos[i];
            if let Some(a) = e.alerts.iter_mut().find(|a| a.kind == s.kind) {
                a.alert = s.alert.clone();
                restored += 1;
            }
        }
        restored
    }
}

/// `page-quick 5m 16.7× 1h 15.2× (> 14.4×)`, one pair per line segment, for annotations
/// and human output.
pub fn describe_pairs(pairs: &[PairStatus]) -> String {
    let fmt = |b: Option<f64>| b.map_or_else(|| "no data".to_string(), |b| format!("{b:.1}×"));
    pairs
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {} {} (> {}×{})",
                p.tier.as_str(),
                p.short_window,
                fmt(p.short_burn_rate),
                p.long_window,
                fmt(p.long_burn_rate),
                p.factor,
                match p.state {
                    PairState::Burning => ", burning",
                    PairState::LowTraffic => ", too few events",
                    PairState::NoData => ", no data",
                    PairState::Quiet => "",
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
