//! Database probes in the daemon: every configured `probes:` target runs on its own
//! `interval` (default 60 s, [`crate::probe::db::schedule`]), on slots aligned to it
//! (multiples of the interval since the Unix epoch, so the first run waits for the next
//! slot and replicas probe at the same instants); each run is stored
//! (`/api/v1/probes`, `history`, RDS events for `timeline`), exported (`burnwatch_probe_*`)
//! and evaluated by the target's `DatabaseConnectivity` alert ([`alert`]).
//!
//! Alert state changes, transitions and notifications of one run are written in one
//! transaction through [`EvalContext::commit`], like an SLO evaluation: the outbox
//! delivers at least once, and a restart restores the state (neither a second page nor a
//! forgotten resolve). If the commit fails, the run leaves the alert state as it was, so
//! the next run decides again instead of believing something was sent.

pub mod alert;
pub mod task;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::RawSection;
use crate::daemon::{EvalContext, EvalError};
use crate::eval::alert::{AlertState, Change, Condition};
use crate::probe::ProbeRun;
use crate::probe::db::schedule::ProbeAlertConfig;
use crate::probe::db::{ProbeTarget, run_probe_outcome};
use crate::spec::diag::{Diagnostic, Diagnostics};
use crate::spec::yaml::{Node, Value};
use crate::store::{AlertTransition, EvaluationCommit, StoredAlertState};

use alert::{ALERT_NAME, ProbeAlertState, STATE_KEY, STATE_PREFIX, state_id};

/// How long to wait before reading the stored alert states again when the store fails at
/// start (probing without them could page a second time for an alert already firing).
const RESTORE_RETRY: Duration = Duration::from_secs(5);

/// Parse the configuration's `probes:` items (`file` is the configuration file, for
/// diagnostics). Errors come back as `FILE:LINE:COL` diagnostics.
pub fn parse(
    file: &std::path::Path,
    items: &[RawSection],
) -> Result<Vec<ProbeTarget>, Vec<Diagnostic>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let list = Node {
        pos: items[0].pos,
        value: Value::Seq(items.iter().map(|s| s.node.clone()).collect()),
    };
    let mut diags = Diagnostics::new(file);
    let targets = crate::probe::db::target::parse_probes(&list, &mut diags);
    if diags.error_count() > 0 {
        return Err(diags.into_vec());
    }
    Ok(targets)
}

/// Run every target on its own interval until the task is aborted (dropping the future
/// stops every target) or a target's loop ends ([`task`] restarts it then). Stored alert
/// states are restored first.
pub async fn run(targets: Vec<ProbeTarget>, ctx: EvalContext) {
    let mut states = restore(&targets, &ctx).await;
    let mut set = tokio::task::JoinSet::new();
    let mut names = HashMap::new();
    for target in targets {
        let state = states.remove(&target.name).unwrap_or_else(|| {
            let fresh = ProbeAlertState::default();
            // Equal to "no row": nothing is written until the state differs from it.
            let value = serde_json::to_value(&fresh).unwrap_or_default();
            (fresh, value)
        });
        // A restored firing alert is visible before the first run.
        ctx.board
            .publish_probe_alert(&target.name, state.0.snapshot(&target.name, &ctx.config));
        tracing::info!(
            target = %target.name,
            interval = %target.schedule.interval,
            alert = ?target.schedule.alert,
            "database probe scheduled"
        );
        let name = target.name.clone();
        names.insert(set.spawn(run_target(target, state, ctx.clone())).id(), name);
    }
    // A target's loop never ends. If one does, stop them all (dropping `set` aborts the
    // rest): the pipeline sees the task end and restarts it ([`task::ProbeTask::check`]).
    if let Some((target, cause)) = task::first_ended(&mut set, &names).await {
        tracing::error!(target = %target, cause = %cause, "a database probe loop ended");
    }
}

/// The stored alert state per target name. States of targets that are gone from the
/// configuration (or no longer alert) are retired: a firing alert is resolved once, so
/// it does not hang in Alertmanager until its `endsAt`, and the row is removed.
async fn restore(
    targets: &[ProbeTarget],
    ctx: &EvalContext,
) -> HashMap<String, (ProbeAlertState, serde_json::Value)> {
    let stored = loop {
        let store = ctx.store.clone();
        match tokio::task::spawn_blocking(move || store.alert_states()).await {
            Ok(Ok(s)) => break s,
            Ok(Err(e)) => tracing::error!(error = %e, "cannot read probe alert states; retrying"),
            Err(e) => tracing::error!(error = %e, "probe alert state task failed; retrying"),
        }
        tokio::time::sleep(RESTORE_RETRY).await;
    };
    let mut out = HashMap::new();
    for s in stored {
        let Some(name) = s.slo_id.strip_prefix(STATE_PREFIX) else {
            continue;
        };
        if s.alert_key != STATE_KEY {
            continue;
        }
        let state: ProbeAlertState = match serde_json::from_value(s.state.clone()) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(target = name, error = %e, "ignoring unreadable stored probe alert state");
                continue;
            }
        };
        let alerting = targets
            .iter()
            .any(|t| t.name == name && t.schedule.alert.is_some());
        if alerting {
            out.insert(name.to_string(), (state, s.state));
        } else if let Err(e) = retire(name, state, ctx).await {
            tracing::error!(target = name, error = %e, "cannot retire the alert of a removed probe target");
        }
    }
    out
}

async fn retire(
    name: &str,
    mut state: ProbeAlertState,
    ctx: &EvalContext,
) -> Result<(), EvalError> {
    let now = Utc::now();
    let t = now.timestamp();
    let mut commit = EvaluationCommit {
        removed: vec![(state_id(name), STATE_KEY.to_string())],
        ..Default::default()
    };
    let mut notifications = Vec::new();
    if state.alert.state == AlertState::Firing
        && state.alert.eval(t, Condition::False) == Some(Change::Resolved)
    {
        let resend = secs(ctx.config.resend_delay);
        if let Some(d) = state.alert.mark_sent(t, resend, resend)
            && let Some(mut n) = state.notification(name, d, false, &ctx.config)
        {
            n.annotations.insert(
                "summary".into(),
                format!(
                    "Database probe target {name} was removed from the configuration or its \
                     alert disabled; its alert is resolved without a healthy run."
                ),
            );
            notifications.push(n);
        }
        let mut detail = serde_json::json!({});
        if let Some(f) = &state.failure {
            detail = serde_json::json!({
                "kind": "probe",
                "target": name,
                "classification": f.classification.as_str(),
                "probe_id": f.run_id,
                "runbook_url": state.runbook_url(&ctx.config),
            });
        }
        if let Some(fields) = detail.as_object_mut() {
            fields.insert(
                "reason".into(),
                "target removed from the configuration or its alert disabled".into(),
            );
        }
        tracing::warn!(
            target = name,
            "probe target no longer alerts: resolving its firing alert"
        );
        commit.transitions.push(AlertTransition {
            ts: now,
            slo_id: state_id(name),
            alert: ALERT_NAME.into(),
            severity: state.severity().into(),
            state: "resolved".into(),
            detail,
        });
    }
    ctx.commit(commit, &notifications, now).await?;
    Ok(())
}

fn secs(d: crate::spec::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// One target's loop: run, record, export, alert; then wait for the next tick.
async fn run_target(
    target: ProbeTarget,
    restored: (ProbeAlertState, serde_json::Value),
    ctx: EvalContext,
) {
    let (mut state, mut persisted) = restored;
    // The config guarantees at least 1s; the floor keeps a hand-built target from
    // spinning.
    let interval = target
        .schedule
        .interval
        .max(crate::probe::db::schedule::MIN_INTERVAL);
    let mut slot = crate::daemon::next_slot(Utc::now(), interval);
    loop {
        let wait = (slot - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let outcome = run_probe_outcome(&target).await;
        let run = outcome.run;
        let steps: Vec<(&str, f64)> = run
            .steps
            .iter()
            .map(|s| (s.step.as_str(), s.ms / 1000.0))
            .collect();
        ctx.telemetry.record_probe_run(
            &run.target,
            run.classification.as_str(),
            run.healthy,
            &steps,
        );
        tracing::info!(
            target = %run.target,
            classification = run.classification.as_str(),
            healthy = run.healthy,
            id = %run.id,
            "probe run"
        );
        let store = ctx.store.clone();
        let (stored, events) = (run.clone(), outcome.rds_events);
        let recorded = tokio::task::spawn_blocking(move || {
            store.insert_probe_run(&stored)?;
            store.insert_probe_rds_events(&events)
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot store probe run"),
            Err(e) => tracing::error!(error = %e, "probe store task failed"),
        }
        if let Some(cfg) = &target.schedule.alert
            && let Err(e) =
                alert_on(&target, &run, cfg, slot, &mut state, &mut persisted, &ctx).await
        {
            tracing::error!(target = %target.name, error = %e, "cannot commit the probe alert; the next run decides again");
        }
        // The next slot after now: a run that overran skips the slots it missed.
        slot = crate::daemon::next_slot(Utc::now().max(slot), interval);
    }
}

/// Evaluate the alert on `run`, started at `slot`, and commit what changed. On error
/// `state` is left as it was before the run.
///
/// The alert's clock is the slot, not the moment the run ended: replicas of an HA pair
/// probe on the same slots (multiples of the interval since the epoch, like SLO
/// evaluations), so two replicas that see the same failure fire, re-send and resolve
/// with the same `startsAt`/`endsAt`, hence the same SNS FIFO deduplication ids.
async fn alert_on(
    target: &ProbeTarget,
    run: &ProbeRun,
    cfg: &ProbeAlertConfig,
    slot: DateTime<Utc>,
    state: &mut ProbeAlertState,
    persisted: &mut serde_json::Value,
    ctx: &EvalContext,
) -> Result<(), EvalError> {
    let now = slot;
    let mut next = state.clone();
    let observed = next.observe(
        run,
        now.timestamp(),
        cfg,
        secs(target.schedule.interval),
        secs(ctx.config.resend_delay),
    );
    let name = &target.name;
    let value = serde_json::to_value(&next)?;
    let mut commit = EvaluationCommit::default();
    if value != *persisted {
        commit.states.push(StoredAlertState {
            slo_id: state_id(name),
            alert_key: STATE_KEY.into(),
            state: value.clone(),
            updated_at: now,
        });
    }
    let change = match (observed.change, observed.reclassified) {
        (Some(Change::Fired), _) | (None, Some(_)) => Some("firing"),
        (Some(Change::Resolved), _) => Some("resolved"),
        (None, None) => None,
    };
    if let Some(change) = change {
        let detail = next.transition_detail(name, &observed, &ctx.config);
        tracing::warn!(
            target = %name,
            alert = ALERT_NAME,
            severity = next.severity(),
            state = change,
            classification = run.classification.as_str(),
            previous = observed.reclassified.map(|c| c.as_str()),
            "probe alert {change}"
        );
        commit.transitions.push(AlertTransition {
            ts: now,
            slo_id: state_id(name),
            alert: ALERT_NAME.into(),
            severity: next.severity().into(),
            state: change.into(),
            detail,
        });
    }
    let notifications: Vec<_> = observed
        .delivery
        .and_then(|(d, repeat)| next.notification(name, d, repeat, &ctx.config))
        .into_iter()
        .collect();
    ctx.commit(commit, &notifications, now).await?;
    ctx.board
        .publish_probe_alert(name, next.snapshot(name, &ctx.config));
    *state = next;
    *persisted = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::notify::outbox::Outbox;
    use crate::notify::{BoxFuture, Notification, Notifier, NotifyError};
    use crate::probe::Classification;
    use crate::status::StatusBoard;
    use crate::store::Store;
    use crate::telemetry::Telemetry;

    /// A receiver that is never called: restore only enqueues.
    struct Receiver;
    impl Notifier for Receiver {
        fn receiver(&self) -> &str {
            "test:receiver"
        }
        fn send<'a>(&'a self, _: &'a [Notification]) -> BoxFuture<'a, Result<(), NotifyError>> {
            Box::pin(async { Err(NotifyError::Unavailable("not in this test".into())) })
        }
    }

    fn firing(target: &str) -> ProbeAlertState {
        let run = ProbeRun {
            id: format!("run-{target}"),
            target: target.into(),
            started_at: "2026-11-20T10:00:00.000Z".into(),
            healthy: false,
            classification: Classification::TcpRefused,
            failed_step: Some(crate::probe::StepName::Tcp),
            steps: vec![],
            runbook: Classification::TcpRefused.runbook(),
        };
        let mut s = ProbeAlertState::default();
        let cfg = ProbeAlertConfig {
            severity: crate::spec::Severity::Ticket,
            after: 1,
        };
        s.observe(&run, 1_000, &cfg, 60, 60);
        assert_eq!(s.alert.state, AlertState::Firing);
        s
    }

    #[tokio::test]
    async fn restore_keeps_configured_targets_and_resolves_removed_ones_once() {
        let (config, _) = Config::parse(
            std::path::Path::new("burnwatch.yaml"),
            "listen: 127.0.0.1:9464\n",
            &|_| None,
        )
        .unwrap();
        let store = Arc::new(Store::open_in_memory().unwrap());
        let states = ["kept", "gone", "muted"]
            .into_iter()
            .map(|t| StoredAlertState {
                slo_id: state_id(t),
                alert_key: STATE_KEY.into(),
                state: serde_json::to_value(firing(t)).unwrap(),
                updated_at: Utc::now(),
            })
            .collect();
        store
            .commit_evaluation(
                &EvaluationCommit {
                    states,
                    ..Default::default()
                },
                Utc::now(),
            )
            .unwrap();
        let board = StatusBoard::new();
        let telemetry = Telemetry::new(board.clone());
        let ctx = EvalContext {
            outbox: Arc::new(Outbox::new(
                store.clone(),
                vec![Arc::new(Receiver)],
                config.outbox.into(),
                telemetry.clone(),
            )),
            config: Arc::new(config),
            specs: Arc::new(vec![]),
            spec_options: Arc::new(crate::spec::LoadOptions::default()),
            store: store.clone(),
            board,
            telemetry,
        };
        let kept = ProbeTarget::new("kept", "db", 5432, "postgres", "probe");
        let mut muted = ProbeTarget::new("muted", "db", 5432, "postgres", "probe");
        muted.schedule.alert = None;

        let restored = restore(&[kept.clone(), muted], &ctx).await;
        assert_eq!(restored.len(), 1);
        assert_eq!(restored["kept"].0, firing("kept"), "restored as stored");

        let left: Vec<String> = store
            .alert_states()
            .unwrap()
            .into_iter()
            .map(|s| s.slo_id)
            .collect();
        assert_eq!(left, ["probe:kept"]);
        let day = chrono::TimeDelta::days(1);
        let transitions = store
            .alert_transitions(Utc::now() - day, Utc::now() + day)
            .unwrap();
        let mut resolved: Vec<&str> = transitions
            .iter()
            .filter(|t| t.state == "resolved")
            .map(|t| t.slo_id.as_str())
            .collect();
        resolved.sort();
        assert_eq!(resolved, ["probe:gone", "probe:muted"]);
        assert_eq!(transitions[0].severity, "ticket", "the episode's severity");
        let outbox: Vec<Notification> = store
            .outbox_items()
            .unwrap()
            .iter()
            .map(|i| serde_json::from_str(&i.payload).unwrap())
            .collect();
        assert_eq!(outbox.len(), 2);
        for n in &outbox {
            assert_eq!(n.state, crate::notify::State::Resolved);
            assert_eq!(n.starts_at.timestamp(), 1_000);
            assert_eq!(n.labels["sloth_severity"], "ticket");
            assert_eq!(
                n.annotations["runbook_url"],
                "runbooks/db-connectivity.md#tcp-refused"
            );
            assert!(n.annotations["summary"].contains("removed from the configuration"));
        }

        // A second start finds nothing left to retire.
        restore(&[kept], &ctx).await;
        assert_eq!(store.outbox_items().unwrap().len(), 2);
        assert_eq!(store.alert_states().unwrap().len(), 1, "kept stays");
    }
    /// Two replicas started at different instants probe on the same slots and describe
    /// the same failure with the same labels, `startsAt`/`endsAt` and SNS FIFO ids, even
    /// though their run ids (annotations) differ.
    #[test]
    fn replicas_seeing_the_same_failure_send_identical_identities() {
        use chrono::TimeZone;
        let (config, _) = Config::parse(
            std::path::Path::new("burnwatch.yaml"),
            "listen: 127.0.0.1:9464\n",
            &|_| None,
        )
        .unwrap();
        let cfg = ProbeAlertConfig {
            severity: crate::spec::Severity::Page,
            after: 2,
        };
        let interval = crate::spec::Duration::from_secs(60);
        let replica = |started: DateTime<Utc>, name: &str| {
            let mut state = ProbeAlertState::default();
            let mut slot = crate::daemon::next_slot(started, interval);
            let mut sent = Vec::new();
            // Failing from 10:05 on, healthy again from 10:12.
            while slot < Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap() {
                let failing = slot >= Utc.with_ymd_and_hms(2026, 11, 20, 10, 5, 0).unwrap()
                    && slot < Utc.with_ymd_and_hms(2026, 11, 20, 10, 12, 0).unwrap();
                let class = if failing {
                    Classification::TcpRefused
                } else {
                    Classification::Healthy
                };
                let run = ProbeRun {
                    id: format!("{name}-{}", slot.timestamp()),
                    target: "rds".into(),
                    started_at: slot.to_rfc3339(),
                    healthy: !failing,
                    classification: class,
                    failed_step: failing.then_some(crate::probe::StepName::Tcp),
                    steps: vec![],
                    runbook: class.runbook(),
                };
                let observed = state.observe(&run, slot.timestamp(), &cfg, 60, 60);
                if let Some((d, repeat)) = observed.delivery {
                    sent.extend(state.notification("rds", d, repeat, &config));
                }
                slot = crate::daemon::next_slot(slot, interval);
            }
            sent
        };
        let a = replica(Utc.with_ymd_and_hms(2026, 11, 20, 9, 58, 3).unwrap(), "a");
        let b = replica(
            Utc.with_ymd_and_hms(2026, 11, 20, 9, 59, 41).unwrap()
                + chrono::Duration::milliseconds(700),
            "b",
        );
        assert!(a.iter().any(|n| n.state == crate::notify::State::Firing));
        assert!(a.iter().any(|n| n.state == crate::notify::State::Resolved));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.labels, y.labels);
            assert_eq!((x.starts_at, x.ends_at), (y.starts_at, y.ends_at));
            assert_eq!(x.repeat, y.repeat);
            assert_ne!(x.annotations["probe_id"], y.annotations["probe_id"]);
            let fifo = |n: &Notification| crate::notify::sns::build_message(n, true).fifo;
            assert_eq!(fifo(x), fifo(y));
        }
        assert_eq!(
            a[0].starts_at,
            Utc.with_ymd_and_hms(2026, 11, 20, 10, 6, 0).unwrap(),
            "fired on the slot of the second failing run"
        );
    }
}
