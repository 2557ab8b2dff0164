//! Notifications out: the [`Notifier`] boundary, the receivers (Alertmanager, SNS) and the
//! durable [`outbox`](outbox::Outbox) that makes delivery at-least-once.
//!
//! The evaluator decides *what* to send and *when* (Prometheus' `needs_sending` and
//! `ends_at` live in `eval`); the daemon maps each decision to a domain-neutral
//! [`Notification`] and hands it to the outbox, which stores it before the first attempt
//! and deletes it only once the receiver accepted it. Receivers never see the evaluator's
//! types, and the evaluator never sees HTTP or AWS.
//!
//! ```text
//! eval ─► daemon ─► Outbox::enqueue ─► SQLite outbox ─► Outbox::run ─► Notifier::send
//!                                                          ▲   retry with backoff │
//!                                                          └──────────────────────┘
//! ```

pub mod alert;
pub mod alertmanager;
pub mod outbox;
pub mod sns;
pub mod watchdog;

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::spec::Labels;

/// A boxed future, so [`Notifier`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Firing or resolved, as receivers understand it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The alert condition holds; `ends_at` is how long the message stays valid.
    Firing,
    /// The alert condition stopped holding at `ends_at`.
    Resolved,
}

impl State {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message about one alert, in the receivers' common vocabulary (Alertmanager's
/// `postableAlert` plus the few fields SNS subjects and attributes need). Stored in the
/// outbox as JSON, so its serialised shape must stay readable by the next version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The SLO (`sloth_id`).
    pub slo_id: String,
    /// The alert name (`alertname`).
    pub alert: String,
    /// `page` or `ticket` (`sloth_severity`).
    pub severity: String,
    /// Firing or resolved.
    pub state: State,
    /// The alert's identity: every label, including `alertname` and `sloth_severity`.
    /// Keep it stable across evaluations (Alertmanager keys alerts by it).
    pub labels: Labels,
    /// `summary`, `title`, `runbook_url`, `dashboard_url`, burn rates...
    pub annotations: Labels,
    /// When the alert started firing (Prometheus' `FiredAt`); the same for every message
    /// of one firing episode, including its resolve.
    pub starts_at: DateTime<Utc>,
    /// Firing: until when this message holds (`now + 4 × max(eval interval, resend
    /// delay)`). Resolved: when it resolved.
    pub ends_at: DateTime<Utc>,
    /// Link back to the SLO in burnwatch's API.
    pub generator_url: String,
    /// True when this re-sends a state receivers were already sent (Prometheus' periodic
    /// re-send). Receivers that notify people directly (SNS) skip re-sends; Alertmanager
    /// needs them to keep the alert alive.
    #[serde(default)]
    pub repeat: bool,
}

impl Notification {
    /// A stable fingerprint of the label set (FNV-1a, 64 bits, hex): the alert's identity
    /// for outbox ordering and SNS deduplication ids. Internal only; Alertmanager computes
    /// its own.
    pub fn fingerprint(&self) -> String {
        let mut h = Fnv::new();
        for (k, v) in &self.labels {
            h.write(k.as_bytes());
            h.write(&[0xff]);
            h.write(v.as_bytes());
            h.write(&[0xff]);
        }
        format!("{:016x}", h.finish())
    }

    /// Messages with the same key are interchangeable re-sends: same alert, same state,
    /// same firing episode (and, once resolved, the same resolve time). A newer one may
    /// replace a pending older one.
    pub fn coalesce_key(&self) -> String {
        match self.state {
            State::Firing => format!(
                "{}/firing/{}",
                self.fingerprint(),
                self.starts_at.timestamp_millis()
            ),
            State::Resolved => format!(
                "{}/resolved/{}/{}",
                self.fingerprint(),
                self.starts_at.timestamp_millis(),
                self.ends_at.timestamp_millis()
            ),
        }
    }
}

/// 64-bit FNV-1a: tiny, stable across platforms and releases (unlike `DefaultHasher`).
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// Why a receiver did not accept a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Worth retrying: connection refused, timeout, 5xx, throttling. The outbox keeps the
    /// notification and tries again with backoff.
    #[error("receiver unavailable: {0}")]
    Unavailable(String),
    /// The receiver refused the content (4xx, invalid parameter): retrying the same bytes
    /// cannot succeed. The outbox records it as undelivered, counts and logs it.
    #[error("receiver rejected the notification: {0}")]
    Rejected(String),
}

/// A receiver of notifications.
///
/// Contract:
/// - [`Notifier::send`] delivers a batch of at most [`Notifier::max_batch`]
///   notifications and returns `Ok` only when the receiver has accepted **all** of them
///   (Alertmanager answered 2xx; SNS returned a message id). The outbox then deletes them.
/// - An error applies to the whole batch. [`NotifyError::Unavailable`] means "try the same
///   batch later"; [`NotifyError::Rejected`] means "these bytes will never be accepted"
///   (for a batch of several, the outbox retries each one alone to find the culprit).
/// - `send` may be called again with notifications it already delivered (after a crash
///   or a lost response): receivers must tolerate duplicates (Alertmanager merges by
///   labels; SNS FIFO topics deduplicate by id).
/// - `send` must not retry internally for longer than its timeout; backoff is the
///   outbox's job.
/// - Implementations are driven only by the outbox worker and hold no state between calls
///   beyond connection pools.
pub trait Notifier: Send + Sync {
    /// Stable receiver id stored with each outbox row (`alertmanager:<url>`,
    /// `sns:<topic arn>`); must not contain secrets.
    fn receiver(&self) -> &str;

    /// Largest batch [`Notifier::send`] accepts. Default: 1.
    fn max_batch(&self) -> usize {
        1
    }

    /// Whether re-sends ([`Notification::repeat`]) should reach this receiver. Default:
    /// true (Alertmanager needs them to keep firing alerts alive).
    fn wants_repeats(&self) -> bool {
        true
    }

    /// Deliver `batch` (non-empty, at most `max_batch` long).
    fn send<'a>(&'a self, batch: &'a [Notification]) -> BoxFuture<'a, Result<(), NotifyError>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn sample(state: State) -> Notification {
        let labels: Labels = [
            ("alertname", "MassSpecAPIAvailability"),
            ("sloth_id", "mass-spec-api-availability"),
            ("sloth_service", "mass-spec"),
            ("sloth_slo", "api-availability"),
            ("sloth_severity", "page"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Notification {
            slo_id: "mass-spec-api-availability".into(),
            alert: "MassSpecAPIAvailability".into(),
            severity: "page".into(),
            state,
            labels,
            annotations: Labels::new(),
            starts_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
            ends_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 4, 0).unwrap(),
            generator_url: "http://127.0.0.1:9464/api/v1/slos/mass-spec-api-availability".into(),
            repeat: false,
        }
    }

    #[test]
    fn fingerprint_depends_on_labels_only() {
        let a = sample(State::Firing);
        let mut b = sample(State::Resolved);
        b.annotations.insert("summary".into(), "x".into());
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.labels.insert("sloth_severity".into(), "ticket".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
        // Moving a character between key and value changes the identity.
        let mut c = sample(State::Firing);
        c.labels = [("ab".to_string(), "c".to_string())].into();
        let mut d = sample(State::Firing);
        d.labels = [("a".to_string(), "bc".to_string())].into();
        assert_ne!(c.fingerprint(), d.fingerprint());
    }

    #[test]
    fn resends_coalesce_but_state_changes_do_not() {
        let fire = sample(State::Firing);
        let mut later = fire.clone();
        later.ends_at += chrono::Duration::minutes(1);
        later.repeat = true;
        assert_eq!(fire.coalesce_key(), later.coalesce_key());
        let resolve = sample(State::Resolved);
        assert_ne!(fire.coalesce_key(), resolve.coalesce_key());
        let mut next_episode = fire.clone();
        next_episode.starts_at += chrono::Duration::hours(1);
        assert_ne!(fire.coalesce_key(), next_episode.coalesce_key());
    }

    #[test]
    fn payload_round_trips_and_tolerates_missing_repeat() {
        let n = sample(State::Resolved);
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["state"], "resolved");
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("repeat");
        let back: Notification = serde_json::from_value(old).unwrap();
        assert_eq!(back, n);
    }
}
