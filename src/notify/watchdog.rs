//! `BurnwatchWatchdog`: an alert that always fires while burnwatch evaluates, so that a
//! dead man's switch downstream of Alertmanager notices when it stops (kube-prometheus'
//! `Watchdog` convention).
//!
//! - Sent to every configured Alertmanager after each successful evaluation, at most once
//!   per `resend_delay`, with `endsAt = now + 4 × max(eval_interval, resend_delay)` like
//!   every firing alert: when burnwatch dies, hangs or keeps failing its evaluations, the
//!   alert resolves at Alertmanager a few intervals later and the dead man's switch (which
//!   expects a steady stream of it) raises the alarm.
//! - Labels (its identity) are the same on every replica and every start —
//!   `alertname="BurnwatchWatchdog"`, `severity="none"`, nothing replica- or
//!   time-specific — so an HA pair is one alert in Alertmanager that stays firing while
//!   either replica evaluates. [`notification`] is the one place that builds them.
//! - Not through the outbox: a watchdog delayed by a retry queue would claim liveness
//!   that no longer holds. A failed send is logged; the next beat sends again.
//! - Never to SNS (it would page someone every minute).
//! - `notifiers.alertmanager.watchdog: false` turns it off.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::alertmanager::AlertmanagerNotifier;
use super::{Notification, Notifier, NotifyError, State};
use crate::config::Config;
use crate::spec::Labels;

/// `alertname` of the watchdog.
pub const ALERT_NAME: &str = "BurnwatchWatchdog";

/// `Notification::slo_id` of the watchdog (no SLO id contains `:`).
pub const SLO_ID: &str = "burnwatch:watchdog";

/// The watchdog message at `now`, valid until `ends_at`; `starts_at` is when this process
/// first sent it (Alertmanager keeps the earliest when replicas disagree).
pub fn notification(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    external_url: &str,
) -> Notification {
    let mut labels = Labels::new();
    labels.insert("alertname".into(), ALERT_NAME.into());
    labels.insert("severity".into(), "none".into());
    let mut annotations = Labels::new();
    annotations.insert(
        "summary".into(),
        "burnwatch is evaluating SLOs; this alert always fires while it does.".into(),
    );
    annotations.insert(
        "description".into(),
        "This alert is meant to ensure that the whole alerting pipeline is functional. It \
         is always firing while burnwatch evaluates, so it should always be firing in \
         Alertmanager and always reach a dead man's switch integration. When it stops, \
         burnwatch (every replica) has stopped evaluating or cannot reach Alertmanager."
            .into(),
    );
    Notification {
        slo_id: SLO_ID.into(),
        alert: ALERT_NAME.into(),
        severity: "none".into(),
        state: State::Firing,
        labels,
        annotations,
        starts_at,
        ends_at,
        generator_url: external_url.trim_end_matches('/').to_string(),
        repeat: true,
    }
}

/// Sends the watchdog beats of one daemon.
pub struct Watchdog {
    receivers: Vec<Arc<dyn Notifier>>,
    external_url: String,
    resend: chrono::Duration,
    valid_for: chrono::Duration,
    started: Option<DateTime<Utc>>,
    last_sent: Option<DateTime<Utc>>,
    in_flight: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("receivers", &self.receivers.len())
            .field("last_sent", &self.last_sent)
            .finish_non_exhaustive()
    }
}

impl Watchdog {
    /// The watchdog for `config`: `None` without Alertmanagers or with
    /// `notifiers.alertmanager.watchdog: false`.
    pub fn from_config(config: &Config) -> Result<Option<Watchdog>, NotifyError> {
        let Some(am) = config
            .notifiers
            .alertmanager
            .as_ref()
            .filter(|a| a.watchdog)
        else {
            return Ok(None);
        };
        let mut receivers: Vec<Arc<dyn Notifier>> = Vec::new();
        for url in &am.urls {
            receivers.push(Arc::new(
                AlertmanagerNotifier::new(url, am.timeout.to_std(), am.bearer_token.clone())?
                    .with_basic_auth(am.basic_auth.clone()),
            ));
        }
        let secs = |d: crate::spec::Duration| {
            chrono::Duration::milliseconds(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        let resend = secs(config.resend_delay);
        let valid_for = secs(config.eval_interval).max(resend) * 4;
        Ok(Some(Watchdog::new(
            receivers,
            config.external_url(),
            resend,
            valid_for,
        )))
    }

    /// A watchdog sending to `receivers` at most every `resend`, each beat valid for
    /// `valid_for`.
    pub fn new(
        receivers: Vec<Arc<dyn Notifier>>,
        external_url: String,
        resend: chrono::Duration,
        valid_for: chrono::Duration,
    ) -> Watchdog {
        Watchdog {
            receivers,
            external_url,
            resend,
            valid_for,
            started: None,
            last_sent: None,
            in_flight: None,
        }
    }

    /// The beat due after a successful evaluation at `now`, if one is (the first, then
    /// once `resend` has passed since the last one); marks it sent.
    pub fn due(&mut self, now: DateTime<Utc>) -> Option<Notification> {
        if self.last_sent.is_some_and(|last| now - last < self.resend) {
            return None;
        }
        let started = *self.started.get_or_insert(now);
        self.last_sent = Some(now);
        Some(notification(
            started,
            now + self.valid_for,
            &self.external_url,
        ))
    }

    /// After a successful evaluation at `now`: send the due beat to every Alertmanager in
    /// the background, unless the previous beat is still being sent (an Alertmanager
    /// hanging up to its timeout must not delay evaluations nor pile up requests).
    pub fn beat(&mut self, now: DateTime<Utc>) {
        if self.in_flight.as_ref().is_some_and(|h| !h.is_finished()) {
            tracing::debug!("previous watchdog beat still in flight; skipping this one");
            return;
        }
        let Some(n) = self.due(now) else { return };
        let receivers = self.receivers.clone();
        self.in_flight = Some(tokio::spawn(async move {
            let batch = [n];
            for r in &receivers {
                match r.send(&batch).await {
                    Ok(()) => tracing::debug!(receiver = %r.receiver(), "watchdog sent"),
                    Err(e) => {
                        tracing::warn!(receiver = %r.receiver(), error = %e, "watchdog not delivered")
                    }
                }
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, s).unwrap()
    }

    #[test]
    fn labels_are_the_same_on_every_replica_and_every_beat() {
        let mut a = Watchdog::new(
            vec![],
            "http://replica-a:9464".into(),
            chrono::Duration::seconds(10),
            chrono::Duration::seconds(40),
        );
        let mut b = Watchdog::new(
            vec![],
            "http://replica-b:9464/".into(),
            chrono::Duration::seconds(10),
            chrono::Duration::seconds(40),
        );
        let first = a.due(at(0)).unwrap();
        let other = b.due(at(3)).unwrap();
        assert_eq!(first.labels, other.labels);
        assert_eq!(first.fingerprint(), other.fingerprint());
        assert_eq!(
            first.labels.iter().collect::<Vec<_>>(),
            vec![
                (&"alertname".to_string(), &"BurnwatchWatchdog".to_string()),
                (&"severity".to_string(), &"none".to_string()),
            ]
        );
        assert_eq!(first.state, State::Firing);
        assert_eq!(first.ends_at, at(40), "valid for a few intervals");
        assert_eq!(other.generator_url, "http://replica-b:9464");
    }

    #[test]
    fn beats_are_spaced_by_the_resend_delay_and_keep_their_start() {
        let mut w = Watchdog::new(
            vec![],
            "http://bw".into(),
            chrono::Duration::seconds(10),
            chrono::Duration::seconds(40),
        );
        assert!(w.due(at(0)).is_some());
        assert!(w.due(at(5)).is_none(), "within the resend delay");
        let later = w.due(at(10)).unwrap();
        assert_eq!(later.starts_at, at(0));
        assert_eq!(later.ends_at, at(50));
        assert!(w.due(at(19)).is_none());
        assert!(w.due(at(20)).is_some());
    }
}
