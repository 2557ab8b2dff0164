//! The daemon's SLO evaluation: the [`daemon::Evaluation`](crate::daemon::Evaluation)
//! that owns the window store and evaluator for the loaded SLOs.
//!
//! Start: restore alert states from the store, load the configured sources and backfill.
//! Each tick: feed what became complete, evaluate, commit state changes, transitions and
//! notifications in one transaction (the outbox delivers them), publish the status board
//! for `/metrics` and `/api/v1/slos`, and every 5 minutes store an SLO snapshot for
//! `timeline` and `report`.

pub mod feed;
pub mod probes;
mod publish;
pub mod sources;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::daemon::{EvalContext, EvalError, Evaluation};
use crate::eval::{
    AlertKind, Change, EvalOptions, Evaluator, SavedAlert, SavedAlerts, describe_pairs,
};
use crate::notify::BoxFuture;
use crate::spec::{Slo, SpecKind};
use crate::store::{AlertTransition, EvaluationCommit, StoredAlertState};
use crate::telemetry::SourceLabels;

use feed::ReplayFeed;
use sources::LiveSources;

use crate::source::record::Recorder;
use crate::source::settings::LiveSourceSettings;

/// Seconds between two stored SLO snapshots.
pub const SNAPSHOT_EVERY_SECS: i64 = 300;

/// The evaluation pipeline; build with [`Pipeline::new`], hand to `daemon::run`.
pub struct Pipeline {
    slos: Vec<Slo>,
    kinds: Vec<SpecKind>,
    evaluator: Option<Evaluator>,
    replay: Option<ReplayFeed>,
    live_settings: LiveSourceSettings,
    recorder: Option<Recorder>,
    live: Option<LiveSources>,
    /// Alert states as last persisted, by (SLO id, alert key).
    persisted: HashMap<(String, String), serde_json::Value>,
    last_snapshot: Option<i64>,
    /// Transitions of ticks whose commit failed: written with the next commit, so a busy
    /// or full store delays the history instead of losing it. At most
    /// [`MAX_UNSAVED_TRANSITIONS`], the newest kept.
    unsaved_transitions: Vec<AlertTransition>,
    probes: Vec<crate::probe::db::ProbeTarget>,
    /// Stopped when the pipeline is dropped; checked and restarted on every tick.
    probe_task: probes::task::ProbeTask,
}

/// How many transitions of failed commits wait in memory for the next commit. A store that
/// fails for hours (disk full) must not grow the daemon without bound: a tick stores a few
/// hundred bytes per transition, so this is a few megabytes, days of a noisy fleet's changes.
pub const MAX_UNSAVED_TRANSITIONS: usize = 10_000;

/// The newest `max` of `items` (in their order) and how many older ones were dropped.
fn keep_newest<T>(mut items: Vec<T>, max: usize) -> (Vec<T>, usize) {
    let dropped = items.len().saturating_sub(max);
    items.drain(..dropped);
    (items, dropped)
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    /// A pipeline; everything is set up in `start`.
    pub fn new() -> Self {
        Pipeline {
            slos: Vec::new(),
            kinds: Vec::new(),
            evaluator: None,
            replay: None,
            live_settings: LiveSourceSettings::default(),
            recorder: None,
            live: None,
            persisted: HashMap::new(),
            last_snapshot: None,
            unsaved_transitions: Vec::new(),
            probes: Vec::new(),
            probe_task: probes::task::ProbeTask::default(),
        }
    }

    /// Read SLI events from these live sources (parsed with
    /// [`crate::source::settings::parse`]), appending what they read to `recorder`
    /// (`run --record`) when given.
    pub fn with_sources(
        mut self,
        settings: LiveSourceSettings,
        recorder: Option<Recorder>,
    ) -> Self {
        self.live_settings = settings;
        self.recorder = recorder;
        self
    }

    /// Also run these database probes (parsed with [`probes::parse`]).
    pub fn with_probes(mut self, targets: Vec<crate::probe::db::ProbeTarget>) -> Self {
        self.probes = targets;
        self
    }
}

/// The `alert_key` an alert kind is stored under.
fn alert_key(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Page => "page",
        AlertKind::Ticket => "ticket",
        AlertKind::DataMissing => "data_missing",
    }
}

fn kind_of(key: &str) -> Option<AlertKind> {
    match key {
        "page" => Some(AlertKind::Page),
        "ticket" => Some(AlertKind::Ticket),
        "data_missing" => Some(AlertKind::DataMissing),
        _ => None,
    }
}

impl Pipeline {
    async fn start_inner(&mut self, ctx: &EvalContext) -> Result<(), EvalError> {
        let mut slos = Vec::new();
        let mut kinds = Vec::new();
        for d in ctx.specs.iter() {
            for s in &d.slos {
                slos.push(s.clone());
                kinds.push(d.kind);
            }
        }
        let cfg = &ctx.config;
        let secs = |d: crate::spec::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let mut evaluator = Evaluator::new(
            &slos,
            &ctx.spec_options,
            EvalOptions {
                eval_interval_secs: secs(cfg.eval_interval).max(1),
                resend_delay_secs: secs(cfg.resend_delay),
                ..EvalOptions::default()
            },
        )?;

        // Restore alert states.
        let store = ctx.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.alert_states()).await??;
        let mut saved = SavedAlerts::default();
        for s in stored {
            if s.slo_id.starts_with(probes::alert::STATE_PREFIX) {
                continue; // the probe task's own
            }
            let key = (s.slo_id.clone(), s.alert_key.clone());
            let (Some(kind), Ok(alert)) = (
                kind_of(&s.alert_key),
                serde_json::from_value(s.state.clone()),
            ) else {
                tracing::warn!(slo = %s.slo_id, alert = %s.alert_key, "ignoring unreadable stored alert state");
                continue;
            };
            self.persisted.insert(key, s.state);
            saved.alerts.push(SavedAlert {
                slo_id: s.slo_id,
                kind,
                alert,
            });
        }
        let restored = evaluator.restore_alerts(&saved);
        tracing::info!(restored, "alert states restored");
        // Restored firing alerts due for their re-send go out now, before the backfill:
        // their last message expires 4 × max(eval_interval, resend_delay) after it was
        // sent, and a long backfill must not let Alertmanager resolve them meanwhile (the
        // next send would then page again).
        let now_dt = Utc::now();
        let checkpoint = evaluator.alert_checkpoint();
        let due = due_notifications(
            &mut evaluator,
            &slos,
            now_dt.timestamp(),
            &cfg.external_url(),
        );
        if !due.is_empty() {
            let (commit, current) = state_changes(&self.persisted, &evaluator, now_dt)?;
            if let Err(e) = ctx.commit(commit, &due, now_dt).await {
                // Not sent after all: the first tick decides again.
                evaluator.rollback_alerts(checkpoint);
                tracing::error!(error = %e, "cannot commit the re-send of restored alerts; the first evaluation retries");
            } else {
                self.persisted = current;
            }
            tracing::info!(
                resent = due.len(),
                "restored firing alerts re-sent before the backfill"
            );
        }

        // Probes first: they need no backfill, and a restored firing probe alert keeps
        // being re-sent while a long source backfill runs. Started even without targets,
        // so a firing alert of a target removed from the configuration is resolved.
        if !self.probe_task.is_started() {
            tracing::info!(targets = self.probes.len(), "database probes scheduled");
            self.probe_task.start(&self.probes, ctx);
        }

        // Sources.
        let now = Utc::now().timestamp();
        if let Some(r) = &cfg.sources.replay {
            let file = r.file.clone();
            let (looping, slos_c) = (r.r#loop, slos.clone());
            let loaded = {
                let ev = &evaluator;
                ReplayFeed::load(&file, looping, &slos_c, ev)
            }?;
            let mut feed = loaded;
            if feed.is_empty() {
                tracing::warn!(file = %file.display(), "replay source: no data for any loaded SLO");
            }
            feed.anchor(now);
            let fed = feed.feed(now, &mut evaluator);
            self.count_fed(ctx, fed);
            tracing::info!(file = %file.display(), looping, buckets = fed.buckets, "replay source backfilled");
            self.replay = Some(feed);
        }
        let mut fed_slos: std::collections::BTreeSet<String> = self
            .replay
            .iter()
            .flat_map(|r| r.slos())
            .map(|i| evaluator.slo(i).def.id.clone())
            .collect();
        if self.live.is_none() && !self.live_settings.is_empty() {
            let live = LiveSources::build(
                &self.live_settings,
                &slos,
                ctx.spec_options.period,
                self.recorder.clone(),
                &ctx.telemetry,
            )
            .await?;
            self.live = Some(live);
        }
        if let Some(live) = self.live.as_mut() {
            let started = std::time::Instant::now();
            let fed = live
                .poll(Utc::now(), &mut evaluator, &ctx.telemetry, &ctx.store)
                .await;
            tracing::info!(
                sources = ?live.names(),
                buckets = fed.buckets,
                refused = fed.refused,
                secs = started.elapsed().as_secs_f64(),
                "live sources backfilled"
            );
            fed_slos.extend(live.slo_ids());
        }
        for slo in slos.iter().filter(|s| !fed_slos.contains(&s.id)) {
            tracing::warn!(
                slo = %slo.id,
                needs = sources::needed_source(slo),
                "no configured source feeds this SLO: it will report no_data (and raise its \
                 SLODataMissing ticket) until one does"
            );
        }
        self.slos = slos;
        self.kinds = kinds;
        self.evaluator = Some(evaluator);
        Ok(())
    }

    fn count_fed(&self, ctx: &EvalContext, fed: feed::Fed) {
        ctx.telemetry
            .source_datapoints
            .get_or_create(&SourceLabels {
                source: "replay".into(),
            })
            .inc_by(fed.buckets);
        if fed.refused > 0 {
            ctx.telemetry
                .source_fetch_errors
                .get_or_create(&SourceLabels {
                    source: "replay".into(),
                })
                .inc_by(fed.refused);
        }
    }

    async fn tick_inner(&mut self, now: DateTime<Utc>, ctx: &EvalContext) -> Result<(), EvalError> {
        let t = now.timestamp();
        self.probe_task.check(&self.probes, ctx).await;
        let Some(evaluator) = self.evaluator.as_mut() else {
            return Err("tick before start".into());
        };
        let mut fed = None;
        if let Some(feed) = self.replay.as_mut() {
            fed = Some(feed.feed(t, evaluator));
        }
        if let Some(live) = self.live.as_mut() {
            live.poll(now, evaluator, &ctx.telemetry, &ctx.store).await;
        }
        let transitions = evaluator.evaluate(t);

        // All or nothing: `due_notifications` marks alerts sent in memory; if the commit
        // that enqueues them fails, the marks are rolled back so the next tick sends them
        // (neither lost nor, once stored, sent twice), and the transitions wait for it.
        let checkpoint = evaluator.alert_checkpoint();
        let external_url = ctx.config.external_url();
        let notifications = due_notifications(evaluator, &self.slos, t, &external_url);
        let (mut commit, current) = state_changes(&self.persisted, evaluator, now)?;
        commit.transitions.append(&mut self.unsaved_transitions);
        for tr in &transitions {
            let state = match tr.change {
                Change::Fired => "firing",
                Change::Resolved => "resolved",
            };
            tracing::info!(slo = %tr.slo_id, alert = %tr.alert, severity = tr.severity.as_str(), state, "alert {state}");
            commit.transitions.push(AlertTransition {
                ts: now,
                slo_id: tr.slo_id.clone(),
                alert: tr.alert.clone(),
                severity: tr.severity.as_str().into(),
                state: state.into(),
                detail: serde_json::json!({
                    "kind": alert_key(tr.kind),
                    "burn_rates": describe_pairs(&tr.pairs),
                    "runbook_url": runbook_url(&ctx.specs, &tr.slo_id, tr.severity),
                }),
            });
        }
        let transitions_tried = commit.transitions.clone();
        if let Err(e) = ctx.commit(commit, &notifications, now).await {
            evaluator.rollback_alerts(checkpoint);
            let (kept, dropped) = keep_newest(transitions_tried, MAX_UNSAVED_TRANSITIONS);
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    kept = kept.len(),
                    "the store keeps failing: oldest unsaved alert transitions dropped from history"
                );
                ctx.telemetry.transitions_dropped.inc_by(dropped as u64);
            }
            self.unsaved_transitions = kept;
            return Err(e.into());
        }
        self.persisted = current;
        if let Some(fed) = fed {
            self.count_fed(ctx, fed);
        }

        let Some(evaluator) = self.evaluator.as_ref() else {
            return Ok(());
        };
        ctx.board.publish(publish::status(
            evaluator,
            &self.slos,
            &self.kinds,
            now,
            &external_url,
        ));

        if self.last_snapshot.is_none_or(|last| {
            t.div_euclid(SNAPSHOT_EVERY_SECS) > last.div_euclid(SNAPSHOT_EVERY_SECS)
        }) {
            ctx.board
                .publish_histories(publish::histories(evaluator, now));
            let rows = publish::snapshot_rows(evaluator, now);
            let store = ctx.store.clone();
            tokio::task::spawn_blocking(move || store.insert_slo_snapshots(&rows)).await??;
            self.last_snapshot = Some(t);
        }
        Ok(())
    }
}

/// Alert states by (SLO id, alert key), as stored.
type Persisted = HashMap<(String, String), serde_json::Value>;

/// The stored alert states that differ from the evaluator's: what to write and remove,
/// and the new persisted map once committed.
fn state_changes(
    persisted: &Persisted,
    evaluator: &Evaluator,
    now: DateTime<Utc>,
) -> Result<(EvaluationCommit, Persisted), EvalError> {
    let mut commit = EvaluationCommit::default();
    let mut current: HashMap<(String, String), serde_json::Value> = HashMap::new();
    for s in evaluator.save_alerts().alerts {
        let key = (s.slo_id.clone(), alert_key(s.kind).to_string());
        let value = serde_json::to_value(&s.alert)?;
        current.insert(key, value);
    }
    for (key, value) in &current {
        if persisted.get(key) != Some(value) {
            commit.states.push(StoredAlertState {
                slo_id: key.0.clone(),
                alert_key: key.1.clone(),
                state: value.clone(),
                updated_at: now,
            });
        }
    }
    for key in persisted.keys() {
        if !current.contains_key(key) {
            commit.removed.push(key.clone());
        }
    }
    Ok((commit, current))
}

/// The notifications due at `t` (Prometheus' resend schedule), as receivers get them.
fn due_notifications(
    evaluator: &mut Evaluator,
    slos: &[Slo],
    t: i64,
    external_url: &str,
) -> Vec<crate::notify::Notification> {
    // What was sent before, to tell first sends from repeats.
    let before: HashMap<(usize, AlertKind), (Option<i64>, Option<i64>)> = evaluator
        .slos()
        .flat_map(|v| {
            v.alerts.iter().map(move |a| {
                (
                    (v.index.0, v.def.alerts[a.def].kind),
                    (a.alert.last_sent_at, a.alert.resolved_at),
                )
            })
        })
        .collect();
    let due = evaluator.notifications(t);
    let mut notifications = Vec::new();
    for n in &due {
        let (sent, resolved_at) = before.get(&(n.slo.0, n.kind)).copied().unwrap_or_default();
        let repeat = match sent {
            None => false,
            Some(s) => !(n.resolved && resolved_at.is_some_and(|r| r > s)),
        };
        let view = evaluator.slo(n.slo);
        let evidence = view
            .alerts
            .iter()
            .find(|a| view.def.alerts[a.def].kind == n.kind)
            .map(|a| a.evidence.clone())
            .unwrap_or_default();
        if let Some(x) = publish::notification(&slos[n.slo.0], n, &evidence, repeat, external_url) {
            notifications.push(x);
        }
    }

    notifications
}

impl Evaluation for Pipeline {
    fn start<'a>(&'a mut self, ctx: &'a EvalContext) -> BoxFuture<'a, Result<(), EvalError>> {
        Box::pin(self.start_inner(ctx))
    }

    fn tick<'a>(
        &'a mut self,
        now: DateTime<Utc>,
        ctx: &'a EvalContext,
    ) -> BoxFuture<'a, Result<(), EvalError>> {
        Box::pin(self.tick_inner(now, ctx))
    }
}

/// The `runbook_url` annotation of an SLO's page or ticket alert, for history and
/// timelines (`None` when the spec gives none).
fn runbook_url(
    specs: &[crate::spec::SpecDocument],
    slo_id: &str,
    severity: crate::spec::Severity,
) -> Option<String> {
    let slo = specs
        .iter()
        .flat_map(|d| &d.slos)
        .find(|s| s.id == slo_id)?;
    let alert = match severity {
        crate::spec::Severity::Page => slo.page_alert.as_ref(),
        crate::spec::Severity::Ticket => slo.ticket_alert.as_ref(),
    }?;
    alert.annotations.get("runbook_url").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unsaved_backlog_keeps_the_newest_and_counts_the_rest() {
        let (kept, dropped) = keep_newest((0..12).collect(), 10);
        assert_eq!(kept, (2..12).collect::<Vec<_>>());
        assert_eq!(dropped, 2);
        let (kept, dropped) = keep_newest(vec![1, 2, 3], 10);
        assert_eq!((kept, dropped), (vec![1, 2, 3], 0));
        let (kept, dropped) = keep_newest(vec![1, 2, 3], 0);
        assert_eq!((kept, dropped), (Vec::<i32>::new(), 3));
    }
}
