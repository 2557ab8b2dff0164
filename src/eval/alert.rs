//! The alert state machine: one [`Alert`] per SLO and alert (page, ticket, data missing),
//! modelled on Prometheus' `rules/alerting.go` so that Alertmanager sees exactly what a
//! Prometheus ruler evaluating the generated rules would send.
//!
//! ```text
//!             condition true                 condition false
//!  Inactive ───────────────────► Firing ─────────────────────► Resolved
//!     ▲                           ▲  │ true: stays Firing          │
//!     │                           │  │ unknown (no data): holds    │ true again: a new
//!     │                           │  └─────────────────────────────┤ alert (new startsAt)
//!     └───────────────────────────┴── 15 min after resolving ◄─────┘
//! ```
//!
//! - There is no Pending state: Sloth's alerts have no `for:`, and the Workbook advises
//!   against durations in SLO alerts (windows already smooth the signal).
//! - Every transition has its timestamp (`fired_at`, `resolved_at`, `last_sent_at`,
//!   `valid_until`); `now` is always an argument, never read from a clock.
//! - An unknown condition (a window without data) never starts an alert and never
//!   resolves one: no data is not good data. Prometheus would resolve here, because an
//!   absent series compares false; burnwatch holds until data shows the burn has stopped.
//!
//! Delivery follows Prometheus' `needsSending`/`sendAlerts`: firing alerts are (re)sent
//! every resend delay with `endsAt = now + 4 × max(eval interval, resend delay)`, resolved
//! alerts are sent at once with `endsAt = resolved_at` and re-sent for 15 minutes.

use serde::{Deserialize, Serialize};

/// How long a resolved alert keeps being re-sent (Prometheus' `resolvedRetention`): long
/// enough that a network blip or an Alertmanager restart does not lose the resolution,
/// which would leave the alert firing in Alertmanager until its `endsAt` expired.
pub const RESOLVED_RETENTION_SECS: i64 = 15 * 60;

/// Default minimum time between two sends of the same firing alert (Prometheus'
/// `--rules.alert.resend-delay`). Alertmanager's `--dispatch.start-delay` should match.
pub const DEFAULT_RESEND_DELAY_SECS: i64 = 60;

/// `endsAt` of a firing alert is this many evaluation (or resend) intervals ahead:
/// Prometheus' "allow for two Eval or Alertmanager send failures" with margin. If
/// burnwatch dies, Alertmanager resolves the alert on its own once `endsAt` passes.
pub const VALID_FOR_INTERVALS: i64 = 4;

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Not firing, and nothing left to tell Alertmanager.
    #[default]
    Inactive,
    /// The condition holds (or held, and no data says otherwise yet).
    Firing,
    /// The condition stopped holding; the resolution is (re)sent until
    /// [`RESOLVED_RETENTION_SECS`] after `resolved_at`.
    Resolved,
}

impl AlertState {
    /// The name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// The outcome of evaluating an alert's expression at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The alert condition holds.
    True,
    /// The condition does not hold, on data.
    False,
    /// No data to decide (a source failed or a window had no events).
    Unknown,
}

/// A state change worth reporting (replay output, history, logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Inactive or resolved → firing.
    Fired,
    /// Firing → resolved.
    Resolved,
}

/// What to send to Alertmanager for one alert at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// When the alert started firing.
    pub starts_at: i64,
    /// `valid_until` while firing; `resolved_at` once resolved.
    pub ends_at: i64,
    /// True when this is a resolution.
    pub resolved: bool,
}

/// One alert's state and the timestamps of its transitions (seconds since the epoch;
/// `None` means "not yet"). Serialisable so the daemon can persist and restore it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Current state.
    pub state: AlertState,
    /// When the current (or last) firing started: Alertmanager's `startsAt`.
    pub fired_at: Option<i64>,
    /// When it resolved, if it did since it last fired.
    pub resolved_at: Option<i64>,
    /// When it was last handed to the notifier.
    pub last_sent_at: Option<i64>,
    /// `endsAt` given with the last firing send.
    pub valid_until: Option<i64>,
}

impl Alert {
    /// Apply one evaluation at `now`; returns the change, if the state changed in a way
    /// people care about. Also expires resolved alerts after their retention.
    pub fn eval(&mut self, now: i64, condition: Condition) -> Option<Change> {
        match (self.state, condition) {
            (AlertState::Firing, Condition::True | Condition::Unknown) => None,
            (AlertState::Firing, Condition::False) => {
                self.state = AlertState::Resolved;
                self.resolved_at = Some(now);
                Some(Change::Resolved)
            }
            (AlertState::Inactive | AlertState::Resolved, Condition::True) => {
                // A new alert, as Prometheus creates a new one: new startsAt, sent at once.
                *self = Alert {
                    state: AlertState::Firing,
                    fired_at: Some(now),
                    ..Alert::default()
                };
                Some(Change::Fired)
            }
            (AlertState::Resolved, Condition::False | Condition::Unknown) => {
                if self
                    .resolved_at
                    .is_none_or(|r| now - r > RESOLVED_RETENTION_SECS)
                {
                    *self = Alert::default();
                }
                None
            }
            (AlertState::Inactive, Condition::False | Condition::Unknown) => None,
        }
    }

    /// Whether the notifier should send this alert at `now` (Prometheus' `needsSending`):
    /// a resolution not yet sent goes out at once; otherwise an alert is re-sent once
    /// `resend_delay` seconds passed since the last send. Inactive alerts never.
    pub fn needs_sending(&self, now: i64, resend_delay: i64) -> bool {
        if self.state == AlertState::Inactive {
            return false;
        }
        match (self.resolved_at, self.last_sent_at) {
            (_, None) => true,
            (Some(resolved), Some(sent)) if resolved > sent => true,
            (_, Some(sent)) => sent + resend_delay < now,
        }
    }

    /// Record a send at `now` and return what to send (Prometheus' `sendAlerts`).
    /// `None` for an inactive alert.
    pub fn mark_sent(
        &mut self,
        now: i64,
        eval_interval: i64,
        resend_delay: i64,
    ) -> Option<Delivery> {
        let starts_at = self.fired_at?;
        match self.state {
            AlertState::Inactive => None,
            AlertState::Firing => {
                let valid_until = now + VALID_FOR_INTERVALS * eval_interval.max(resend_delay);
                self.last_sent_at = Some(now);
                self.valid_until = Some(valid_until);
                Some(Delivery {
                    starts_at,
                    ends_at: valid_until,
                    resolved: false,
                })
            }
            AlertState::Resolved => {
                let resolved_at = self.resolved_at?;
                self.last_sent_at = Some(now);
                Some(Delivery {
                    starts_at,
                    ends_at: resolved_at,
                    resolved: true,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus' `TestNotify` in spirit: a scripted condition and resend delay, checking
    /// sent / not sent / re-sent / resolved at each step.
    #[test]
    fn sends_resends_and_resolves_like_prometheus() {
        let (interval, resend) = (30, 60);
        let mut a = Alert::default();
        assert_eq!(a.eval(0, Condition::False), None);
        assert!(!a.needs_sending(0, resend));

        assert_eq!(a.eval(30, Condition::True), Some(Change::Fired));
        assert!(a.needs_sending(30, resend));
        let d = a.mark_sent(30, interval, resend).unwrap();
        assert_eq!(
            d,
            Delivery {
                starts_at: 30,
                ends_at: 30 + 4 * 60,
                resolved: false
            }
        );

        // Within the resend delay: nothing; strictly after it: re-sent, same startsAt.
        assert_eq!(a.eval(60, Condition::True), None);
        assert!(!a.needs_sending(60, resend));
        assert!(
            !a.needs_sending(90, resend),
            "needs strictly more than the delay"
        );
        assert!(a.needs_sending(91, resend));
        let d = a.mark_sent(91, interval, resend).unwrap();
        assert_eq!((d.starts_at, d.ends_at), (30, 91 + 240));

        // No data while firing: holds, keeps being re-sent.
        assert_eq!(a.eval(120, Condition::Unknown), None);
        assert_eq!(a.state, AlertState::Firing);

        // Resolution goes out at once, even inside the resend delay, with endsAt = resolved.
        assert_eq!(a.eval(150, Condition::False), Some(Change::Resolved));
        assert!(a.needs_sending(152, resend));
        let d = a.mark_sent(152, interval, resend).unwrap();
        assert_eq!(
            d,
            Delivery {
                starts_at: 30,
                ends_at: 150,
                resolved: true
            }
        );
        assert!(!a.needs_sending(200, resend));
        assert!(a.needs_sending(213, resend), "resolved alerts are re-sent");

        // Kept for 15 minutes after resolving, then forgotten.
        assert_eq!(a.eval(150 + 900, Condition::False), None);
        assert_eq!(a.state, AlertState::Resolved);
        assert_eq!(a.eval(150 + 901, Condition::False), None);
        assert_eq!(a.state, AlertState::Inactive);
        assert!(!a.needs_sending(2000, resend));
        assert_eq!(a.mark_sent(2000, interval, resend), None);
    }

    #[test]
    fn firing_again_while_resolved_is_a_new_alert() {
        let mut a = Alert::default();
        a.eval(0, Condition::True);
        a.mark_sent(0, 60, 60);
        a.eval(60, Condition::False);
        a.mark_sent(60, 60, 60);
        assert_eq!(a.eval(120, Condition::True), Some(Change::Fired));
        assert_eq!(a.fired_at, Some(120));
        assert_eq!(a.resolved_at, None);
        assert!(a.needs_sending(120, 60), "a new alert is sent at once");
    }

    #[test]
    fn unknown_never_starts_an_alert() {
        let mut a = Alert::default();
        assert_eq!(a.eval(0, Condition::Unknown), None);
        assert_eq!(a.state, AlertState::Inactive);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut a = Alert::default();
        a.eval(10, Condition::True);
        a.mark_sent(10, 60, 60);
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains(r#""state":"firing""#), "{json}");
        let back: Alert = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
