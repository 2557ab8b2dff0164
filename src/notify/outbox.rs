//! The durable outbox worker: at-least-once delivery of [`Notification`]s.
//!
//! 1. **Enqueue**: [`Outbox::rows`] turns a notification into one row per receiver that
//!    wants it; the daemon writes them with the alert state in one transaction
//!    ([`Store::commit_evaluation`]) and calls [`Outbox::wake`]. ([`Outbox::enqueue`] does
//!    both for callers without alert state.)
//! 2. **Deliver**: [`Outbox::run`] takes due rows ([`Store::outbox_due`]: oldest first, one
//!    per alert and receiver so order holds), sends them in batches, and deletes a row only
//!    when its receiver accepted it ([`Store::outbox_finish`]).
//! 3. **Retry**: an unavailable receiver gets the row back with `attempts + 1` and a
//!    jittered exponential delay ([`RetryPolicy`]); the rest of that receiver's round is
//!    postponed without being tried, so a dead receiver costs one timeout per round, and
//!    other receivers are delivered concurrently. A rejected notification (4xx, invalid
//!    parameter) is recorded as undelivered and counted; it is never retried forever.
//! 4. **Shutdown**: on the shutdown signal the worker keeps delivering what is due for at
//!    most the configured time; anything left stays in SQLite and goes out after the next
//!    start. A crash at any point loses nothing: rows are deleted only after acceptance.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::{Notification, Notifier, NotifyError, State};
use crate::store::{
    InvalidOutboxItem, NewOutboxItem, NotificationRecord, OutboxItem, Store, StoreError,
};
use crate::telemetry::Telemetry;

/// Rows looked at per round; more wait for the next round (which follows at once).
pub const ROUND_LIMIT: usize = 500;
/// Longest sleep between rounds when nothing is due (a safety net; enqueues wake the
/// worker anyway).
pub const IDLE_WAIT: Duration = Duration::from_secs(60);

/// How long to wait before retrying a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubles with each further failure.
    pub initial: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
    /// Age after which a row that can no longer matter is given up ([`Outbox::expire`]).
    pub max_age: Duration,
}

impl RetryPolicy {
    /// The delay after the `failures`-th consecutive failure (1-based), scaled by
    /// `jitter` ∈ [0, 1] into [½·d, d] ("equal jitter": never zero, so a dead receiver
    /// is not hammered, yet replicas and rows spread out).
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let base = self
            .initial
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

impl From<crate::config::OutboxConfig> for RetryPolicy {
    fn from(c: crate::config::OutboxConfig) -> Self {
        RetryPolicy {
            initial: c.initial_backoff.to_std(),
            max: c.max_backoff.to_std(),
            max_age: c.max_age.to_std(),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Rows accepted by their receiver and deleted.
    pub delivered: usize,
    /// Rows that failed and were scheduled for a retry.
    pub retrying: usize,
    /// Rows rejected for good (or unreadable) and recorded as undelivered.
    pub rejected: usize,
    /// Rows for receivers that are no longer configured (kept, postponed).
    pub orphaned: usize,
    /// Rows given up after `outbox.max_age` (recorded as undelivered).
    pub expired: usize,
}

impl RoundReport {
    fn add(&mut self, o: RoundReport) {
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.rejected += o.rejected;
        self.orphaned += o.orphaned;
        self.expired += o.expired;
    }
    /// Rows looked at.
    pub fn total(&self) -> usize {
        self.delivered + self.retrying + self.rejected + self.orphaned + self.expired
    }
}

/// Why the outbox could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The history store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A notification could not be serialised.
    #[error("cannot serialise notification: {0}")]
    Encode(#[from] serde_json::Error),
    /// A worker task panicked or was cancelled.
    #[error("outbox worker task failed: {0}")]
    Task(String),
}

/// The outbox: the receivers, the store, and the wake-up signal.
pub struct Outbox {
    store: Arc<Store>,
    notifiers: BTreeMap<String, Arc<dyn Notifier>>,
    policy: RetryPolicy,
    telemetry: Telemetry,
    wake: Notify,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("receivers", &self.receivers())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// An outbox delivering to `notifiers` (receiver ids must be unique; a later one
    /// with the same id replaces an earlier one).
    pub fn new(
        store: Arc<Store>,
        notifiers: Vec<Arc<dyn Notifier>>,
        policy: RetryPolicy,
        telemetry: Telemetry,
    ) -> Self {
        let notifiers = notifiers
            .into_iter()
            .map(|n| (n.receiver().to_string(), n))
            .collect();
        Outbox {
            store,
            notifiers,
            policy,
            telemetry,
            wake: Notify::new(),
        }
    }

    /// The configured receiver ids.
    pub fn receivers(&self) -> Vec<String> {
        self.notifiers.keys().cloned().collect()
    }

    /// The store rows for `n`: one per receiver that wants it (re-sends skip receivers
    /// that only take state changes).
    pub fn rows(&self, n: &Notification) -> Result<Vec<NewOutboxItem>, serde_json::Error> {
        let payload = serde_json::to_string(n)?;
        let alert_key = n.fingerprint();
        let coalesce_key = n.coalesce_key();
        Ok(self
            .notifiers
            .values()
            .filter(|r| !n.repeat || r.wants_repeats())
            .map(|r| NewOutboxItem {
                receiver: r.receiver().to_string(),
                alert_key: alert_key.clone(),
                coalesce_key: coalesce_key.clone(),
                payload: payload.clone(),
            })
            .collect())
    }

    /// Store `batch` for delivery and wake the worker. Returns the new row ids.
    pub fn enqueue(
        &self,
        batch: &[Notification],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, OutboxError> {
        let mut rows = Vec::new();
        for n in batch {
            rows.extend(self.rows(n)?);
        }
        let ids = self.store.outbox_enqueue(&rows, now)?;
        self.wake();
        Ok(ids)
    }

    /// Tell the worker that rows are waiting (after a commit, or an operator's flush).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Give up rows older than the policy's `max_age` that can no longer matter: a
    /// resolve, or a page whose alert has moved on (a newer row of the same alert waits
    /// for the same receiver). A page for an alert that still fires is kept however old:
    /// it is still true. Given-up rows are recorded as undelivered in history and counted
    /// in `burnwatch_notifications_failed_total{reason="expired"}`. Returns how many.
    pub async fn expire(&self, now: DateTime<Utc>) -> Result<usize, OutboxError> {
        let age = chrono::Duration::from_std(self.policy.max_age).unwrap_or(chrono::Duration::MAX);
        let Some(before) = now.checked_sub_signed(age) else {
            return Ok(0);
        };
        let stale = blocking(&self.store, move |s| s.outbox_stale(before, ROUND_LIMIT)).await?;
        let ctx = ReceiverRound {
            store: self.store.clone(),
            policy: self.policy,
            telemetry: self.telemetry.clone(),
            now,
        };
        let mut expired = 0;
        for (item, moved_on) in stale {
            // Unreadable rows are the delivery round's to record.
            let Ok(n) = serde_json::from_str::<Notification>(&item.payload) else {
                continue;
            };
            if !(moved_on || n.state == State::Resolved) {
                continue;
            }
            let why = if moved_on {
                "the alert has moved on"
            } else {
                "a resolve"
            };
            tracing::warn!(receiver = %item.receiver, slo_id = %n.slo_id, alert = %n.alert,
                state = %n.state, attempts = item.attempts, enqueued_at = %item.created_at,
                last_error = item.last_error.as_deref().unwrap_or(""),
                "outbox: notification given up after outbox.max_age ({why})");
            self.telemetry
                .notification_failed(&item.receiver, "expired");
            let error = format!(
                "expired: undelivered for longer than outbox.max_age ({}s) and {why}",
                self.policy.max_age.as_secs()
            );
            ctx.finish(&item, Some(&n), false, Some(error)).await?;
            expired += 1;
        }
        Ok(expired)
    }

    /// One delivery round at `now`: stale rows that no longer matter are given up
    /// ([`Outbox::expire`]), then every due row is sent, retried later, or given up.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Result<RoundReport, OutboxError> {
        let expired = self.expire(now).await?;
        let due = blocking(&self.store, move |s| s.outbox_due(now, ROUND_LIMIT)).await?;
        let mut report = RoundReport {
            expired,
            ..RoundReport::default()
        };
        for row in due.invalid {
            self.quarantine(row).await?;
            report.rejected += 1;
        }
        let mut by_receiver: BTreeMap<String, Vec<OutboxItem>> = BTreeMap::new();
        for item in due.items {
            by_receiver
                .entry(item.receiver.clone())
                .or_default()
                .push(item);
        }
        let mut tasks = JoinSet::new();
        for (receiver, items) in by_receiver {
            let ctx = ReceiverRound {
                store: self.store.clone(),
                policy: self.policy,
                telemetry: self.telemetry.clone(),
                now,
            };
            match self.notifiers.get(&receiver) {
                Some(notifier) => {
                    let notifier = notifier.clone();
                    tasks.spawn(async move { ctx.deliver(notifier, items).await });
                }
                None => report.add(ctx.postpone_orphans(items).await?),
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let r = joined.map_err(|e| OutboxError::Task(e.to_string()))??;
            report.add(r);
        }
        self.update_gauges().await?;
        Ok(report)
    }

    /// Deliver until nothing is due any more (failed rows are rescheduled into the future,
    /// so this ends). Used on shutdown, under a deadline.
    pub async fn drain(&self) -> Result<RoundReport, OutboxError> {
        let mut total = RoundReport::default();
        loop {
            let r = self.deliver_due(Utc::now()).await?;
            total.add(r);
            if r.total() == 0 {
                return Ok(total);
            }
        }
    }

    /// Deliver until `shutdown` completes, then drain for at most `drain_timeout`.
    /// Store errors are logged and retried; they never stop the worker.
    pub async fn run(&self, shutdown: impl Future<Output = ()>, drain_timeout: Duration) {
        self.warn_about_orphans().await;
        tokio::pin!(shutdown);
        loop {
            let wait = match self.deliver_due(Utc::now()).await {
                Ok(_) => match blocking(&self.store, |s| s.outbox_next_due()).await {
                    Ok(Some(t)) => (t - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                    Ok(None) => IDLE_WAIT,
                    Err(e) => {
                        tracing::error!(error = %e, "outbox: cannot read the store");
                        Duration::from_secs(1)
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "outbox: delivery round failed");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait.min(IDLE_WAIT)) => {}
            }
        }
        match tokio::time::timeout(drain_timeout, self.drain()).await {
            Ok(Ok(r)) if r.delivered > 0 => {
                tracing::info!(delivered = r.delivered, "outbox: delivered on shutdown")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "outbox: delivery on shutdown failed"),
            Err(_) => tracing::warn!(
                timeout = ?drain_timeout,
                "outbox: shutdown deadline reached while delivering"
            ),
        }
        match blocking(&self.store, |s| s.outbox_depth()).await {
            Ok(depth) => {
                let left: u64 = depth.iter().map(|(_, n)| n).sum();
                if left > 0 {
                    tracing::warn!(
                        pending = left,
                        "outbox: notifications kept in the store; they are sent after the next start"
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "outbox: cannot read the store"),
        }
    }

    /// Give up on a row whose timestamps cannot be read: record it as undelivered with
    /// the reason, delete it and count it as `invalid`. Failing the round instead (as a
    /// store error does) would stop every delivery, round after round, for one damaged
    /// row. The payload, when still readable, names the alert in the record.
    async fn quarantine(&self, row: InvalidOutboxItem) -> Result<(), OutboxError> {
        let n = serde_json::from_str::<Notification>(&row.payload).ok();
        tracing::error!(receiver = %row.receiver, id = row.id, reason = %row.reason,
            slo_id = n.as_ref().map(|n| n.slo_id.as_str()),
            "outbox: unreadable row given up on and recorded as undelivered");
        self.telemetry.notification_failed(&row.receiver, "invalid");
        let field = |f: fn(&Notification) -> String| n.as_ref().map(f).unwrap_or_default();
        let record = NotificationRecord {
            ts: Utc::now(),
            receiver: row.receiver.clone(),
            slo_id: field(|n| n.slo_id.clone()),
            alert: field(|n| n.alert.clone()),
            severity: field(|n| n.severity.clone()),
            state: field(|n| n.state.as_str().to_string()),
            delivered: false,
            detail: serde_json::json!({
                "attempts": row.attempts,
                "enqueued_at": row.created_at,
                "error": format!("unreadable outbox row: {}", row.reason),
            }),
        };
        let id = row.id;
        blocking(&self.store, move |s| s.outbox_finish(id, &record)).await
    }

    async fn warn_about_orphans(&self) {
        let Ok(depth) = blocking(&self.store, |s| s.outbox_depth()).await else {
            return;
        };
        for (receiver, n) in depth {
            if !self.notifiers.contains_key(&receiver) {
                tracing::warn!(
                    receiver = %receiver,
                    pending = n,
                    "outbox: notifications for a receiver that is no longer configured are kept \
                     but not sent; configure the receiver again or delete them with sqlite3"
                );
            }
        }
    }

    async fn update_gauges(&self) -> Result<(), OutboxError> {
        let (depth, oldest) =
            blocking(&self.store, |s| Ok((s.outbox_depth()?, s.outbox_oldest()?))).await?;
        self.telemetry.set_outbox_depth(&self.receivers(), &depth);
        let age = oldest.map_or(0.0, |t| {
            (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.telemetry.outbox_oldest_age.set(age);
        Ok(())
    }
}

/// Run a store call off the async threads (SQLite may wait on its busy timeout).
async fn blocking<T, F>(store: &Arc<Store>, f: F) -> Result<T, OutboxError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| OutboxError::Task(e.to_string()))?
        .map_err(OutboxError::from)
}

/// One receiver's share of a round.
struct ReceiverRound {
    store: Arc<Store>,
    policy: RetryPolicy,
    telemetry: Telemetry,
    now: DateTime<Utc>,
}

impl ReceiverRound {
    async fn deliver(
        self,
        notifier: Arc<dyn Notifier>,
        items: Vec<OutboxItem>,
    ) -> Result<RoundReport, OutboxError> {
        let receiver = notifier.receiver().to_string();
        let mut report = RoundReport::default();
        let mut down: Option<String> = None;
        for chunk in items.chunks(notifier.max_batch().max(1)) {
            let mut batch = Vec::with_capacity(chunk.len());
            for item in chunk {
                match serde_json::from_str::<Notification>(&item.payload) {
                    Ok(n) => batch.push((item, n)),
                    Err(e) => {
                        tracing::error!(receiver = %receiver, id = item.id, error = %e,
                            "outbox: unreadable notification dropped");
                        self.telemetry.notification_failed(&receiver, "invalid");
                        self.finish(item, None, false, Some(format!("unreadable payload: {e}")))
                            .await?;
                        report.rejected += 1;
                    }
                }
            }
            if batch.is_empty() {
                continue;
            }
            if let Some(err) = &down {
                // Already failed this round: postpone without another timeout.
                for (item, _) in &batch {
                    self.retry(item, err).await?;
                    report.retrying += 1;
                }
                continue;
            }
            let notes: Vec<Notification> = batch.iter().map(|(_, n)| n.clone()).collect();
            match notifier.send(&notes).await {
                Ok(()) => {
                    for (item, n) in &batch {
                        self.delivered(&receiver, item, n).await?;
                        report.delivered += 1;
                    }
                }
                Err(NotifyError::Unavailable(e)) => {
                    tracing::warn!(receiver = %receiver, error = %e, pending = batch.len(),
                        "outbox: receiver unavailable; will retry");
                    for (item, _) in &batch {
                        self.telemetry.notification_failed(&receiver, "unavailable");
                        self.retry(item, &e).await?;
                        report.retrying += 1;
                    }
                    down = Some(e);
                }
                Err(NotifyError::Rejected(e)) if batch.len() == 1 => {
                    self.rejected(&receiver, batch[0].0, &batch[0].1, &e)
                        .await?;
                    report.rejected += 1;
                }
                Err(NotifyError::Rejected(_)) => {
                    // Find the culprit: send each alone.
                    for (item, n) in &batch {
                        if let Some(err) = &down {
                            self.retry(item, err).await?;
                            report.retrying += 1;
                            continue;
                        }
                        match notifier.send(std::slice::from_ref(n)).await {
                            Ok(()) => {
                                self.delivered(&receiver, item, n).await?;
                                report.delivered += 1;
                            }
                            Err(NotifyError::Rejected(e)) => {
                                self.rejected(&receiver, item, n, &e).await?;
                                report.rejected += 1;
                            }
                            Err(NotifyError::Unavailable(e)) => {
                                self.telemetry.notification_failed(&receiver, "unavailable");
                                self.retry(item, &e).await?;
                                report.retrying += 1;
                                down = Some(e);
                            }
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    async fn delivered(
        &self,
        receiver: &str,
        item: &OutboxItem,
        n: &Notification,
    ) -> Result<(), OutboxError> {
        self.telemetry.notification_sent(receiver, n.state.as_str());
        tracing::info!(receiver = %receiver, slo_id = %n.slo_id, alert = %n.alert,
            severity = %n.severity, state = %n.state, attempts = item.attempts + 1,
            "notification delivered");
        self.finish(item, Some(n), true, None).await
    }

    async fn rejected(
        &self,
        receiver: &str,
        item: &OutboxItem,
        n: &Notification,
        error: &str,
    ) -> Result<(), OutboxError> {
        self.telemetry.notification_failed(receiver, "rejected");
        tracing::error!(receiver = %receiver, slo_id = %n.slo_id, alert = %n.alert,
            state = %n.state, error = %error,
            "notification rejected by the receiver; not retried");
        self.finish(item, Some(n), false, Some(error.to_string()))
            .await
    }

    async fn finish(
        &self,
        item: &OutboxItem,
        n: Option<&Notification>,
        delivered: bool,
        error: Option<String>,
    ) -> Result<(), OutboxError> {
        let mut detail = serde_json::json!({
            "attempts": item.attempts + 1,
            "enqueued_at": item.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if let Some(e) = error {
            detail["error"] = e.into();
        }
        if let Some(n) = n {
            detail["labels"] = serde_json::to_value(&n.labels)?;
            detail["annotations"] = serde_json::to_value(&n.annotations)?;
            detail["starts_at"] = n.starts_at.to_rfc3339().into();
            detail["ends_at"] = n.ends_at.to_rfc3339().into();
        }
        let record = NotificationRecord {
            ts: Utc::now(),
            receiver: item.receiver.clone(),
            slo_id: n.map(|n| n.slo_id.clone()).unwrap_or_default(),
            alert: n.map(|n| n.alert.clone()).unwrap_or_default(),
            severity: n.map(|n| n.severity.clone()).unwrap_or_default(),
            state: n.map(|n| n.state.as_str().to_string()).unwrap_or_default(),
            delivered,
            detail,
        };
        let id = item.id;
        blocking(&self.store, move |s| s.outbox_finish(id, &record)).await
    }

    async fn retry(&self, item: &OutboxItem, error: &str) -> Result<(), OutboxError> {
        let delay = self.policy.delay(item.attempts + 1, rand::random::<f64>());
        let next = self.now
            + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::minutes(1));
        let (id, error) = (item.id, error.to_string());
        blocking(&self.store, move |s| s.outbox_retry(id, next, &error)).await
    }

    async fn postpone_orphans(self, items: Vec<OutboxItem>) -> Result<RoundReport, OutboxError> {
        let next = self.now
            + chrono::Duration::from_std(self.policy.max)
                .unwrap_or_else(|_| chrono::Duration::minutes(1));
        let n = items.len();
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        blocking(&self.store, move |s| {
            for id in ids {
                s.outbox_retry(id, next, "receiver is not configured")?;
            }
            Ok(())
        })
        .await?;
        Ok(RoundReport {
            orphaned: n,
            ..RoundReport::default()
        })
    }
}

#[cfg(test)]
mod tests;
