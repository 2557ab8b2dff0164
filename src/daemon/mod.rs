//! `burnwatch run`: wiring, scheduling and shutdown.
//!
//! [`run`] opens the history store, starts the HTTP server, the outbox worker and the
//! retention task ([`retention`]), then drives the SLO evaluation (an [`Evaluation`]
//! passed in) on slots aligned to the evaluation interval, until `shutdown` completes.
//! Shutdown is a parameter (mini-redis): production passes [`shutdown_signal`] (SIGTERM
//! or SIGINT), tests pass anything.
//!
//! Shutdown order: stop evaluating (no new notifications), mark not ready, let the outbox
//! deliver what is due for at most `outbox.shutdown_timeout` (the rest stays in SQLite for
//! the next start), stop the HTTP server after in-flight requests.
//!
//! The store is locked for the daemon's life ([`crate::store::lock`]): a second daemon on
//! the same store exits instead of delivering the same outbox rows. After each successful
//! evaluation the [`Watchdog`] beats (`BurnwatchWatchdog` to every Alertmanager).
//!
//! The evaluation is a component: the daemon knows when to call it, not what it does.
//! Without one, the daemon serves HTTP and delivers the outbox, and says so in the log.

pub mod retention;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::config::Config;
use crate::http::{AppState, Readiness};
use crate::notify::alertmanager::AlertmanagerNotifier;
use crate::notify::outbox::{Outbox, OutboxError};
use crate::notify::sns::SnsNotifier;
use crate::notify::watchdog::Watchdog;
use crate::notify::{BoxFuture, Notification, Notifier, NotifyError};
use crate::spec::{Duration, LoadOptions, SpecDocument};
use crate::status::StatusBoard;
use crate::store::{EvaluationCommit, Store, StoreError};
use crate::telemetry::Telemetry;

/// Errors an [`Evaluation`] reports; logged and counted, never fatal.
pub type EvalError = Box<dyn std::error::Error + Send + Sync>;

/// The SLO evaluation, as the daemon drives it.
///
/// Contract:
/// - [`Evaluation::start`] is called once, before any tick: restore alert state from
///   [`EvalContext::store`] (`Store::alert_states`) and backfill the windows from the
///   sources. On `Err` the daemon logs, waits one interval and calls it again. It
///   reports ready (`/readyz`) only after the first tick that returns `Ok` (the status
///   board then holds the SLO series).
/// - [`Evaluation::tick`] is called at every slot `now` (multiples of `eval_interval`
///   since the Unix epoch, like Prometheus' aligned evaluation timestamps): fetch new
///   data, evaluate, then persist state changes, transitions and notifications with
///   [`EvalContext::commit`] (one transaction) and publish a
///   [`Status`](crate::status::Status) on [`EvalContext::board`]. An `Err` is logged and
///   counted; the next slot runs normally. Slots missed because a tick overran are
///   skipped and counted (`burnwatch_evaluations_missed_total`).
/// - Ticks never overlap; a tick in progress at shutdown may finish within
///   `outbox.shutdown_timeout`.
pub trait Evaluation: Send {
    /// Restore state and backfill; see the trait docs.
    fn start<'a>(&'a mut self, ctx: &'a EvalContext) -> BoxFuture<'a, Result<(), EvalError>>;
    /// Evaluate at slot `now`; see the trait docs.
    fn tick<'a>(
        &'a mut self,
        now: DateTime<Utc>,
        ctx: &'a EvalContext,
    ) -> BoxFuture<'a, Result<(), EvalError>>;
}

/// What an [`Evaluation`] may use.
#[derive(Debug, Clone)]
pub struct EvalContext {
    /// The daemon configuration (sources, intervals, `external_url` for links).
    pub config: Arc<Config>,
    /// The loaded, valid spec documents.
    pub specs: Arc<Vec<SpecDocument>>,
    /// Period and alert-window catalog the specs were loaded with.
    pub spec_options: Arc<LoadOptions>,
    /// The history store.
    pub store: Arc<Store>,
    /// The notification outbox.
    pub outbox: Arc<Outbox>,
    /// Where to publish the SLO status for `/metrics` and the API.
    pub board: StatusBoard,
    /// Metrics handles (source and evaluation series).
    pub telemetry: Telemetry,
}

impl EvalContext {
    /// Persist one evaluation's changes and enqueue `notifications` for every receiver
    /// that wants them, in one transaction; then wake the outbox. After a crash the store
    /// never holds a state whose notifications are missing, nor the reverse.
    pub async fn commit(
        &self,
        mut commit: EvaluationCommit,
        notifications: &[Notification],
        now: DateTime<Utc>,
    ) -> Result<(), OutboxError> {
        for n in notifications {
            commit.outbox.extend(self.outbox.rows(n)?);
        }
        if commit.is_empty() {
            return Ok(());
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.commit_evaluation(&commit, now))
            .await
            .map_err(|e| OutboxError::Task(e.to_string()))??;
        if !notifications.is_empty() {
            self.outbox.wake();
        }
        Ok(())
    }
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The history store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another daemon holds the store (or its lock file is unusable).
    #[error(transparent)]
    Locked(#[from] crate::store::lock::LockError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
    /// A notifier could not be set up.
    #[error("cannot set up notifier: {0}")]
    Notifier(#[from] NotifyError),
}

/// Build the receivers the configuration names.
pub async fn notifiers(config: &Config) -> Result<Vec<Arc<dyn Notifier>>, NotifyError> {
    let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
    if let Some(am) = &config.notifiers.alertmanager {
        for url in &am.urls {
            out.push(Arc::new(
                AlertmanagerNotifier::new(url, am.timeout.to_std(), am.bearer_token.clone())?
                    .with_basic_auth(am.basic_auth.clone()),
            ));
        }
    }
    if let Some(sns) = &config.notifiers.sns {
        out.push(Arc::new(SnsNotifier::from_config(sns).await));
    }
    Ok(out)
}

/// The first slot strictly after `now`: multiples of `interval` since the Unix epoch.
pub fn next_slot(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let ms = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let t = now.timestamp_millis();
    let next = t.div_euclid(ms).saturating_add(1).saturating_mul(ms);
    DateTime::from_timestamp_millis(next).unwrap_or(now)
}

/// Run the daemon until `shutdown` completes. `specs` must be valid (the caller reported
/// their diagnostics).
pub async fn run(
    config: Config,
    specs: Vec<SpecDocument>,
    spec_options: LoadOptions,
    evaluation: Option<Box<dyn Evaluation>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DaemonError> {
    let config = Arc::new(config);
    // Before the store is even migrated: a second daemon must not touch it.
    let lock = crate::store::lock::StoreLock::acquire(&config.storage.path)?;
    let store = Arc::new(Store::open(&config.storage.path)?);
    tracing::info!(path = %store.path().display(), lock = %lock.path().display(), "history store open and locked");
    let board = StatusBoard::new();
    let telemetry = Telemetry::new(board.clone());
    let readiness = Readiness::new(telemetry.clone());

    let receivers = notifiers(&config).await?;
    if receivers.is_empty() {
        tracing::warn!(
            "no notifiers configured: alerts are evaluated and recorded, but nobody is paged"
        );
    }
    for r in &receivers {
        tracing::info!(receiver = %r.receiver(), "notifier ready");
    }
    let outbox = Arc::new(Outbox::new(
        store.clone(),
        receivers,
        config.outbox.into(),
        telemetry.clone(),
    ));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(config.listen);
    tracing::info!(%addr, external_url = %config.external_url(), "HTTP server listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let http = tokio::spawn(crate::http::serve(
        listener,
        AppState {
            board: board.clone(),
            telemetry: telemetry.clone(),
            readiness: readiness.clone(),
            store: store.clone(),
            outbox: outbox.clone(),
            token: config.api.token.clone(),
            token_env: config.api.token_env.clone(),
            external_url: config.external_url(),
        },
        stopped(stop_rx.clone()),
    ));
    let drain = config.outbox.shutdown_timeout.to_std();
    let worker = {
        let outbox = outbox.clone();
        let stop = stopped(stop_rx.clone());
        tokio::spawn(async move { outbox.run(stop, drain).await })
    };
    let pruner = tokio::spawn(retention::run(
        store.clone(),
        config.storage.retention.to_std(),
        telemetry.clone(),
        stopped(stop_rx.clone()),
    ));

    let ctx = EvalContext {
        config: config.clone(),
        specs: Arc::new(specs),
        spec_options: Arc::new(spec_options),
        store,
        outbox,
        board,
        telemetry,
    };
    tokio::pin!(shutdown);
    match evaluation {
        Some(mut evaluation) => {
            let watchdog = Watchdog::from_config(&config)?;
            if watchdog.is_some() {
                tracing::info!(
                    alert = crate::notify::watchdog::ALERT_NAME,
                    "watchdog on: sent to every Alertmanager while evaluations succeed"
                );
            }
            evaluate(
                evaluation.as_mut(),
                &ctx,
                &readiness,
                watchdog,
                shutdown.as_mut(),
            )
            .await
        }
        None => {
            tracing::warn!(
                slos = ctx.specs.iter().map(|d| d.slos.len()).sum::<usize>(),
                "no SLO evaluation is wired into this build yet: serving HTTP and delivering \
                 the outbox only"
            );
            readiness.set(true);
            shutdown.as_mut().await;
        }
    }

    tracing::info!("shutting down: evaluation stopped, delivering pending notifications");
    readiness.set(false);
    let _ = stop_tx.send(true);
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "outbox worker ended abnormally");
    }
    if let Err(e) = pruner.await {
        tracing::error!(error = %e, "retention task ended abnormally");
    }
    match http.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(DaemonError::Serve(e)),
        Err(e) => tracing::error!(error = %e, "HTTP server task ended abnormally"),
    }
    tracing::info!("stopped");
    // Held to the very end: the outbox and the HTTP API used the store until here.
    drop(lock);
    Ok(())
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn evaluate(
    evaluation: &mut dyn Evaluation,
    ctx: &EvalContext,
    readiness: &Readiness,
    mut watchdog: Option<Watchdog>,
    mut shutdown: std::pin::Pin<&mut (impl Future<Output = ()> + Send)>,
) {
    let interval = ctx.config.eval_interval;
    // Restore and backfill; retry until it works or we are told to stop.
    loop {
        tokio::select! {
            _ = shutdown.as_mut() => return,
            r = evaluation.start(ctx) => match r {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, retry_in = %interval, "backfill failed; not ready");
                    tokio::select! {
                        _ = shutdown.as_mut() => return,
                        _ = tokio::time::sleep(interval.to_std()) => {}
                    }
                }
            }
        }
    }
    // Ready only once the first evaluation has published SLO series (design.md: a scrape
    // right after a rollout must not see an SLO-less target), so not here yet.
    tracing::info!(eval_interval = %interval, "backfill done; evaluating SLOs");

    let grace = ctx.config.outbox.shutdown_timeout.to_std();
    let mut slot = next_slot(Utc::now(), interval);
    loop {
        let wait = (slot - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.as_mut() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let started = Instant::now();
        let result = {
            let tick = tracing::Instrument::instrument(
                evaluation.tick(slot, ctx),
                tracing::info_span!("evaluation", at = %slot),
            );
            tokio::pin!(tick);
            tokio::select! {
                r = &mut tick => r,
                _ = shutdown.as_mut() => {
                    // Let the tick commit what it computed, within the shutdown budget.
                    match tokio::time::timeout(grace, tick).await {
                        Ok(Err(e)) => tracing::error!(error = %e, "evaluation failed"),
                        Ok(Ok(())) => {}
                        Err(_) => tracing::warn!("evaluation abandoned at shutdown"),
                    }
                    return;
                }
            }
        };
        ctx.telemetry.evaluations.inc();
        ctx.telemetry
            .evaluation_duration
            .observe(started.elapsed().as_secs_f64());
        if result.is_ok()
            && let Some(w) = watchdog.as_mut()
        {
            w.beat(slot);
        }
        match result {
            Ok(()) if !readiness.is_ready() => {
                readiness.set(true);
                tracing::info!(at = %slot, "first evaluation published; ready");
            }
            Ok(()) => {}
            Err(e) => {
                ctx.telemetry.evaluation_failures.inc();
                tracing::error!(error = %e, at = %slot, "evaluation failed");
            }
        }
        let now = Utc::now();
        let mut next = next_slot(slot, interval);
        let mut missed = 0u64;
        while next <= now {
            next = next_slot(next, interval);
            missed += 1;
        }
        if missed > 0 {
            ctx.telemetry.evaluations_missed.inc_by(missed);
            tracing::warn!(missed, "evaluation overran its interval; skipped slots");
        }
        slot = next;
    }
}

/// A future that resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when
/// this is called (inside a Tokio runtime), not when the future is first polled, so a
/// signal arriving during start-up is not lost.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM"),
                _ = int.recv() => tracing::info!("received SIGINT"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("received Ctrl-C");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn slots_are_aligned_to_the_interval() {
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 20, h, m, s).unwrap();
        let i = Duration::from_secs(30);
        assert_eq!(next_slot(at(10, 0, 0), i), at(10, 0, 30));
        assert_eq!(next_slot(at(10, 0, 1), i), at(10, 0, 30));
        assert_eq!(next_slot(at(10, 0, 29), i), at(10, 0, 30));
        assert_eq!(next_slot(at(10, 0, 30), i), at(10, 1, 0));
        assert_eq!(
            next_slot(at(10, 7, 0), Duration::from_mins(5)),
            at(10, 10, 0)
        );
    }
}

#[cfg(test)]
mod run_tests {
    use std::sync::Mutex;

    use super::*;
    use crate::store::StoredAlertState;

    /// Fails its first start, then records ticks and saves one alert state.
    struct Counting {
        starts: u32,
        slots: Arc<Mutex<Vec<DateTime<Utc>>>>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
    }

    impl Evaluation for Counting {
        fn start<'a>(&'a mut self, _: &'a EvalContext) -> BoxFuture<'a, Result<(), EvalError>> {
            Box::pin(async move {
                self.starts += 1;
                if self.starts == 1 {
                    Err("CloudWatch unreachable".into())
                } else {
                    Ok(())
                }
            })
        }
        fn tick<'a>(
            &'a mut self,
            now: DateTime<Utc>,
            ctx: &'a EvalContext,
        ) -> BoxFuture<'a, Result<(), EvalError>> {
            Box::pin(async move {
                let commit = EvaluationCommit {
                    states: vec![StoredAlertState {
                        slo_id: "api".into(),
                        alert_key: "page".into(),
                        state: serde_json::json!({"last_tick": now.to_rfc3339()}),
                        updated_at: now,
                    }],
                    ..Default::default()
                };
                ctx.commit(commit, &[], now).await?;
                let mut slots = self.slots.lock().unwrap();
                slots.push(now);
                if slots.len() == 2
                    && let Some(stop) = self.stop.take()
                {
                    let _ = stop.send(());
                }
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn start_is_retried_ticks_are_aligned_and_state_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("burnwatch.yaml");
        let (config, _) =
            Config::parse(&file, "listen: 127.0.0.1:0\neval_interval: 1s\n", &|_| None).unwrap();
        let slots = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let evaluation = Counting {
            starts: 0,
            slots: slots.clone(),
            stop: Some(stop),
        };
        run(
            config.clone(),
            vec![],
            LoadOptions::default(),
            Some(Box::new(evaluation)),
            async {
                let _ = stopped.await;
            },
        )
        .await
        .unwrap();
        let slots = slots.lock().unwrap().clone();
        assert_eq!(slots.len(), 2);
        assert!(slots.iter().all(|s| s.timestamp_subsec_millis() == 0));
        assert_eq!(slots[1] - slots[0], chrono::Duration::seconds(1));
        let store = Store::open(&config.storage.path).unwrap();
        let states = store.alert_states().unwrap();
        assert_eq!(states.len(), 1);
        assert_eq!(states[0].state["last_tick"], slots[1].to_rfc3339().as_str());
    }
}
