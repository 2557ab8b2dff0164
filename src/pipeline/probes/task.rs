//! The probe task's supervision.
//!
//! While targets are configured the probe task ([`super::run`]) never ends on its own: each
//! target's loop runs until the daemon stops. If one loop ends anyway (a panic is a bug, a
//! return would be one too), that target is no longer probed and its
//! `DatabaseConnectivity` alert neither fires nor resolves — silently, because a task
//! handle nobody awaits swallows the panic. So [`super::run`] stops every loop as soon as
//! one ends ([`first_ended`]), and the pipeline checks the task on every tick
//! ([`ProbeTask::check`]): it logs why it ended, counts
//! `burnwatch_probe_task_restarts_total` and starts it again, which restores the alert
//! states from the store exactly as at start (what a run committed survives the restart).

use std::collections::HashMap;

use tokio::task::{Id, JoinHandle, JoinSet};

use crate::daemon::EvalContext;
use crate::probe::db::ProbeTarget;

/// The daemon's probe task, restarted when it ends. Dropping it stops the task.
#[derive(Debug, Default)]
pub struct ProbeTask {
    handle: Option<JoinHandle<()>>,
}

impl ProbeTask {
    /// Whether [`ProbeTask::start`] was called.
    pub fn is_started(&self) -> bool {
        self.handle.is_some()
    }

    /// Start probing `targets` (replacing a previous task's handle).
    pub fn start(&mut self, targets: &[ProbeTarget], ctx: &EvalContext) {
        self.handle = Some(tokio::spawn(super::run(targets.to_vec(), ctx.clone())));
    }

    /// Called on every tick: if the task ended, log why, count it and start it again.
    /// Returns whether it restarted the task. Without targets the task ends once it has
    /// retired the alerts of removed targets: its work is done, and it stays ended.
    pub async fn check(&mut self, targets: &[ProbeTarget], ctx: &EvalContext) -> bool {
        if targets.is_empty() {
            return false;
        }
        let Some(handle) = self.handle.as_mut() else {
            return false;
        };
        if !handle.is_finished() {
            return false;
        }
        let cause = match handle.await {
            Ok(()) => "returned".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::error!(
            cause = %cause,
            targets = targets.len(),
            "the database probe task ended; restarting it"
        );
        ctx.telemetry.tasks.probe_task_restarts.inc();
        self.start(targets, ctx);
        true
    }
}

impl Drop for ProbeTask {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Wait until the first task in `set` ends; the name `names` gives its id, and why it
/// ended. `None` when the set is empty.
pub(super) async fn first_ended(
    set: &mut JoinSet<()>,
    names: &HashMap<Id, String>,
) -> Option<(String, String)> {
    let (id, cause) = match set.join_next_with_id().await? {
        Ok((id, ())) => (id, "returned".to_string()),
        Err(e) => (e.id(), e.to_string()),
    };
    Some((names.get(&id).cloned().unwrap_or_default(), cause))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::Config;
    use crate::notify::outbox::Outbox;
    use crate::status::StatusBoard;
    use crate::store::Store;
    use crate::telemetry::Telemetry;

    fn ctx() -> EvalContext {
        let (config, _) = Config::parse(
            std::path::Path::new("burnwatch.yaml"),
            "listen: 127.0.0.1:9464\n",
            &|_| None,
        )
        .unwrap();
        let store = Arc::new(Store::open_in_memory().unwrap());
        let board = StatusBoard::new();
        let telemetry = Telemetry::new(board.clone());
        EvalContext {
            outbox: Arc::new(Outbox::new(
                store.clone(),
                vec![],
                config.outbox.into(),
                telemetry.clone(),
            )),
            config: Arc::new(config),
            specs: Arc::new(vec![]),
            spec_options: Arc::new(crate::spec::LoadOptions::default()),
            store,
            board,
            telemetry,
        }
    }

    /// A target on a port nothing listens on, probed every second: each run is stored
    /// (classified `tcp_refused`), which shows the task is alive.
    fn target() -> ProbeTarget {
        let mut t = ProbeTarget::new("refused", "127.0.0.1", 1, "postgres", "probe");
        t.schedule.interval = crate::spec::Duration::from_secs(1);
        t.schedule.alert = None;
        t
    }

    fn restarts(ctx: &EvalContext) -> String {
        let text = ctx.telemetry.encode().unwrap();
        text.lines()
            .find(|l| l.starts_with("burnwatch_probe_task_restarts_total "))
            .unwrap_or_else(|| panic!("no restart counter in:\n{text}"))
            .to_string()
    }

    #[tokio::test]
    async fn a_probe_task_that_panicked_is_counted_and_restarted() {
        let ctx = ctx();
        let targets = [target()];
        let mut task = ProbeTask {
            handle: Some(tokio::spawn(async { panic!("probe loop bug") })),
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(restarts(&ctx), "burnwatch_probe_task_restarts_total 0");

        assert!(
            task.check(&targets, &ctx).await,
            "the ended task is noticed"
        );
        assert_eq!(restarts(&ctx), "burnwatch_probe_task_restarts_total 1");
        // The new task probes: a run is stored within a few intervals.
        let mut stored = Vec::new();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let store = ctx.store.clone();
            stored = tokio::task::spawn_blocking(move || {
                store.list_probe_runs("2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z", None)
            })
            .await
            .unwrap()
            .unwrap();
            if !stored.is_empty() {
                break;
            }
        }
        assert_eq!(stored.first().map(|r| r.target.as_str()), Some("refused"));
        // A running task is left alone.
        assert!(!task.check(&targets, &ctx).await);
        assert_eq!(restarts(&ctx), "burnwatch_probe_task_restarts_total 1");
    }

    #[tokio::test]
    async fn without_targets_an_ended_task_is_done_not_dead() {
        let ctx = ctx();
        let mut task = ProbeTask::default();
        task.start(&[], &ctx);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!task.check(&[], &ctx).await);
        assert_eq!(restarts(&ctx), "burnwatch_probe_task_restarts_total 0");
    }

    /// One target's loop ending ends the wait, named, while the others still run; the
    /// probe task then returns and its supervision restarts it.
    #[tokio::test]
    async fn the_first_ended_target_loop_is_reported_by_name() {
        let mut set = JoinSet::new();
        let mut names = HashMap::new();
        names.insert(
            set.spawn(std::future::pending::<()>()).id(),
            "healthy".to_string(),
        );
        names.insert(
            set.spawn(async { panic!("bad classification") }).id(),
            "broken".to_string(),
        );
        let (name, cause) =
            tokio::time::timeout(Duration::from_secs(10), first_ended(&mut set, &names))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(name, "broken");
        assert!(cause.contains("panicked"), "{cause}");
        assert!(first_ended(&mut JoinSet::new(), &names).await.is_none());
    }
}
