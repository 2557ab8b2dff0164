//! The database probe alert: one `DatabaseConnectivity` alert per target, fired after
//! `alert.after` consecutive unhealthy runs and resolved by the first healthy one.
//!
//! The state machine is the SLO alerts' own ([`crate::eval::alert::Alert`], Prometheus'
//! `alerting.go`), so delivery is the same: firing re-sent once `resend_delay` has passed
//! with `endsAt = now + 4 × max(probe interval, resend_delay)`, the resolve sent at once
//! with `endsAt` = the healthy run and re-sent for 15 minutes. Each run is one evaluation:
//!
//! | run | condition |
//! |---|---|
//! | healthy | false: resolves a firing alert |
//! | unhealthy, `after` or more in a row | true: fires (or keeps firing) |
//! | unhealthy, fewer than `after` in a row | unknown: neither fires nor resolves |
//!
//! Identity: labels `alertname`, `sloth_severity`, `target`. The classification is an
//! annotation, not a label: when a firing alert's classification changes (auth_failed →
//! tcp_refused) it stays the **same alert** — same `startsAt`, one page — and is re-sent
//! at once with the new `classification`, `runbook_url`, `probe_id` and summary, and the
//! change is recorded as a transition. A label would make every change a new alert in
//! Alertmanager (the old one left firing until its `endsAt`, a new page each time a
//! flapping database alternates between two failure modes).
//!
//! The state ([`ProbeAlertState`]) is serialisable and stored in `alert_state` under
//! `slo_id = probe:<target>`, `alert_key = connectivity`, so a restart neither re-pages
//! nor forgets a resolve. No I/O here: the caller stores and enqueues.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::eval::alert::{Alert, AlertState, Change, Condition, Delivery};
use crate::notify::{Notification, State};
use crate::probe::db::schedule::ProbeAlertConfig;
use crate::probe::{Classification, ProbeRun, StepName};
use crate::spec::Labels;
use crate::status::{AlertSnapshot, AlertStatus};

/// `alertname` of every probe alert.
pub const ALERT_NAME: &str = "DatabaseConnectivity";

/// Prefix of the `alert_state.slo_id` (and `Notification::slo_id`) of probe alerts; no
/// SLO id can start with it (SLO ids have no `:`).
pub const STATE_PREFIX: &str = "probe:";

/// `alert_state.alert_key` of a probe alert.
pub const STATE_KEY: &str = "connectivity";

/// Longest failed-step detail quoted in a summary (details are never secrets, but a
/// server message can be long).
const DETAIL_MAX: usize = 300;

/// The id probe alert state and notifications of `target` are stored under.
pub fn state_id(target: &str) -> String {
    format!("{STATE_PREFIX}{target}")
}

/// The failing run an alert describes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The run id (permalink `/api/v1/probes/{id}`).
    pub run_id: String,
    /// What it concluded.
    pub classification: Classification,
    /// Where it failed.
    pub failed_step: Option<StepName>,
    /// The failed step's detail (never a secret).
    pub detail: String,
}

impl Failure {
    fn of(run: &ProbeRun) -> Failure {
        let detail = run
            .failed_step
            .and_then(|s| run.step(s))
            .map(|s| s.detail.clone())
            .unwrap_or_default();
        Failure {
            run_id: run.id.clone(),
            classification: run.classification,
            failed_step: run.failed_step,
            detail,
        }
    }
}

/// One target's alert, as persisted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeAlertState {
    /// The Prometheus-style state machine.
    pub alert: Alert,
    /// Consecutive unhealthy runs up to the last one.
    #[serde(default)]
    pub failures: u32,
    /// `sloth_severity` of the current episode, fixed when it fired so that every message
    /// of the episode (the resolve too) has the same labels even if the config changes.
    #[serde(default)]
    pub severity: Option<String>,
    /// The latest failing run of the episode.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// The healthy run that resolved the episode.
    #[serde(default)]
    pub recovered_by: Option<String>,
}

/// What one run did to the alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// Fired or resolved, if it did.
    pub change: Option<Change>,
    /// The previous classification, when a firing alert's classification changed.
    pub reclassified: Option<Classification>,
    /// What to send now, if anything, and whether it repeats what receivers already got.
    pub delivery: Option<(Delivery, bool)>,
}

impl ProbeAlertState {
    /// Evaluate `run`, finished at `now` (seconds), for a target probed every
    /// `interval_secs` with alert settings `cfg`; `resend_secs` is the daemon's
    /// `resend_delay`. Marks what it returns for delivery as sent.
    pub fn observe(
        &mut self,
        run: &ProbeRun,
        now: i64,
        cfg: &ProbeAlertConfig,
        interval_secs: i64,
        resend_secs: i64,
    ) -> Observed {
        self.failures = if run.healthy {
            0
        } else {
            self.failures.saturating_add(1)
        };
        let condition = if run.healthy {
            Condition::False
        } else if self.failures >= cfg.after {
            Condition::True
        } else {
            Condition::Unknown
        };
        let change = self.alert.eval(now, condition);
        let mut reclassified = None;
        match change {
            Some(Change::Fired) => {
                self.severity = Some(cfg.severity.as_str().into());
                self.failure = Some(Failure::of(run));
                self.recovered_by = None;
            }
            Some(Change::Resolved) => self.recovered_by = Some(run.id.clone()),
            None if self.alert.state == AlertState::Firing && !run.healthy => {
                let previous = self.failure.as_ref().map(|f| f.classification);
                if previous.is_some_and(|p| p != run.classification) {
                    reclassified = previous;
                }
                self.failure = Some(Failure::of(run));
            }
            None => {}
        }
        if self.alert.state == AlertState::Inactive {
            self.severity = None;
            self.failure = None;
            self.recovered_by = None;
        }
        // A first send (new firing, or a resolve not yet sent) is not a repeat. A resolve
        // observed now is always due: timestamps are whole seconds, and a probe can resolve
        // in the same second its firing message went out (a restart between two runs),
        // where "resolved after the last send" cannot tell.
        let just_resolved = change == Some(Change::Resolved);
        let first = just_resolved
            || match (self.alert.resolved_at, self.alert.last_sent_at) {
                (_, None) => true,
                (Some(resolved), Some(sent)) => resolved > sent,
                (None, Some(_)) => false,
            };
        let due =
            just_resolved || self.alert.needs_sending(now, resend_secs) || reclassified.is_some();
        let delivery = if due {
            self.alert
                .mark_sent(now, interval_secs.max(1), resend_secs)
                .map(|d| (d, !first))
        } else {
            None
        };
        Observed {
            change,
            reclassified,
            delivery,
        }
    }

    /// The `sloth_severity` of the current episode.
    pub fn severity(&self) -> &str {
        self.severity.as_deref().unwrap_or("page")
    }

    /// The absolute or relative `runbook_url` of the current failure.
    pub fn runbook_url(&self, config: &Config) -> Option<String> {
        self.failure
            .as_ref()
            .map(|f| config.runbook_url(&f.classification.runbook()))
    }

    /// The message for `delivery` of `target`'s alert (`None` without a failure to
    /// describe, which a delivered alert always has).
    pub fn notification(
        &self,
        target: &str,
        delivery: Delivery,
        repeat: bool,
        config: &Config,
    ) -> Option<Notification> {
        let f = self.failure.as_ref()?;
        let severity = self.severity().to_string();
        let class = f.classification.as_str();
        let step = f.failed_step.map_or("-", StepName::as_str);
        let probe_url = format!("{}/api/v1/probes/{}", config.external_url(), f.run_id);

        let mut labels = Labels::new();
        labels.insert("alertname".into(), ALERT_NAME.into());
        labels.insert("sloth_severity".into(), severity.clone());
        labels.insert("target".into(), target.into());

        let mut annotations = Labels::new();
        annotations.insert(
            "title".into(),
            format!("({severity}) Database probe of {target} failing: {class}"),
        );
        let summary = if delivery.resolved {
            format!(
                "Database probe of {target} is healthy again (run {}); it had failed with \
                 {class} at the {step} step.",
                self.recovered_by.as_deref().unwrap_or("-")
            )
        } else {
            format!(
                "Database probe of {target} failed {} runs in a row: {class} at the {step} \
                 step ({}).",
                self.failures,
                clip(&f.detail)
            )
        };
        annotations.insert("summary".into(), summary);
        annotations.insert("classification".into(), class.into());
        annotations.insert("failed_step".into(), step.into());
        annotations.insert("probe_id".into(), f.run_id.clone());
        annotations.insert("probe_url".into(), probe_url.clone());
        annotations.insert(
            "runbook_url".into(),
            config.runbook_url(&f.classification.runbook()),
        );
        if let Some(id) = &self.recovered_by {
            annotations.insert("recovered_by_probe_id".into(), id.clone());
        }
        Some(Notification {
            slo_id: state_id(target),
            alert: ALERT_NAME.into(),
            severity,
            state: if delivery.resolved {
                State::Resolved
            } else {
                State::Firing
            },
            labels,
            annotations,
            starts_at: ts(delivery.starts_at),
            ends_at: ts(delivery.ends_at),
            generator_url: probe_url,
            repeat,
        })
    }

    /// What `/api/v1/alerts` shows for `target`: the alert while it fires, nothing
    /// otherwise.
    pub fn snapshot(&self, target: &str, config: &Config) -> Option<AlertSnapshot> {
        // Only a firing alert is listed: while failures count up to `after`, the state
        // does not keep the streak's run to describe (the runs are on /api/v1/probes).
        let status = match self.alert.state {
            AlertState::Firing => AlertStatus::Firing,
            _ => return None,
        };
        let fired_at = self
            .alert
            .fired_at
            .filter(|_| status == AlertStatus::Firing);
        let delivery = Delivery {
            starts_at: fired_at.unwrap_or_default(),
            ends_at: self.alert.valid_until.unwrap_or_default(),
            resolved: false,
        };
        let n = self.notification(target, delivery, false, config)?;
        Some(AlertSnapshot {
            name: ALERT_NAME.into(),
            severity: self.severity().into(),
            status,
            fired_at: fired_at.map(ts),
            resolved_at: None,
            labels: n.labels,
            annotations: n.annotations,
            burn_rates: Default::default(),
        })
    }

    /// The `alert_transitions.detail` of a change (or reclassification) just observed.
    pub fn transition_detail(
        &self,
        target: &str,
        observed: &Observed,
        config: &Config,
    ) -> serde_json::Value {
        let f = self.failure.as_ref();
        let mut detail = serde_json::json!({
            "kind": "probe",
            "target": target,
            "classification": f.map(|f| f.classification.as_str()),
            "failed_step": f.and_then(|f| f.failed_step).map(StepName::as_str),
            "probe_id": f.map(|f| f.run_id.as_str()),
            "runbook_url": self.runbook_url(config),
            "consecutive_failures": self.failures,
        });
        if let Some(fields) = detail.as_object_mut() {
            if let Some(previous) = observed.reclassified {
                fields.insert("change".into(), "classification".into());
                fields.insert("previous_classification".into(), previous.as_str().into());
            }
            if let Some(id) = &self.recovered_by {
                fields.insert("recovered_by_probe_id".into(), id.as_str().into());
            }
        }
        detail
    }
}

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn clip(s: &str) -> String {
    if s.chars().count() <= DETAIL_MAX {
        return s.to_string();
    }
    let mut out: String = s.chars().take(DETAIL_MAX).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StepResult;
    use crate::spec::Severity;

    fn run(id: &str, class: Classification) -> ProbeRun {
        let failed_step = match class {
            Classification::Healthy => None,
            Classification::TcpRefused => Some(StepName::Tcp),
            _ => Some(StepName::Auth),
        };
        ProbeRun {
            id: id.into(),
            target: "rds".into(),
            started_at: "2026-11-20T10:00:00.000Z".into(),
            healthy: class == Classification::Healthy,
            classification: class,
            failed_step,
            steps: failed_step
                .map(|s| StepResult {
                    step: s,
                    ok: false,
                    ms: 1.0,
                    detail: format!("{class} detail"),
                })
                .into_iter()
                .collect(),
            runbook: class.runbook(),
        }
    }

    fn config(extra: &str) -> Config {
        Config::parse(
            std::path::Path::new("burnwatch.yaml"),
            &format!("listen: 127.0.0.1:9464\n{extra}"),
            &|_| None,
        )
        .unwrap()
        .0
    }

    const CFG: ProbeAlertConfig = ProbeAlertConfig {
        severity: Severity::Page,
        after: 3,
    };
    const AUTH: Classification = Classification::AuthFailed;
    const OK: Classification = Classification::Healthy;

    /// Runs every 60 s, resend delay 60 s: fires on the third failure, re-sends every
    /// other run (strictly more than the delay, as Prometheus), resolves on the first
    /// healthy run and re-sends the resolve until 15 minutes have passed.
    #[test]
    fn fires_after_n_failures_resends_and_resolves_like_prometheus() {
        let mut s = ProbeAlertState::default();
        let mut at = 0;
        let step = |s: &mut ProbeAlertState, at: &mut i64, id: &str, c| {
            *at += 60;
            (*at, s.observe(&run(id, c), *at, &CFG, 60, 60))
        };
        for id in ["a", "b"] {
            let (_, o) = step(&mut s, &mut at, id, AUTH);
            assert_eq!((o.change, o.delivery), (None, None), "run {id}");
        }
        let (t, o) = step(&mut s, &mut at, "c", AUTH);
        assert_eq!(o.change, Some(Change::Fired));
        let (d, repeat) = o.delivery.unwrap();
        assert!(!repeat && !d.resolved);
        assert_eq!((d.starts_at, d.ends_at), (t, t + 4 * 60));
        assert_eq!(s.failure.as_ref().unwrap().run_id, "c");

        let (_, o) = step(&mut s, &mut at, "d", AUTH);
        assert_eq!(
            (o.change, o.delivery),
            (None, None),
            "within the resend delay"
        );
        let (t, o) = step(&mut s, &mut at, "e", AUTH);
        let (d, repeat) = o.delivery.unwrap();
        assert!(repeat, "a periodic re-send");
        assert_eq!((d.starts_at, d.ends_at), (180, t + 240), "same startsAt");

        let (t, o) = step(&mut s, &mut at, "f", OK);
        assert_eq!(o.change, Some(Change::Resolved));
        let (d, repeat) = o.delivery.unwrap();
        assert!(!repeat && d.resolved);
        assert_eq!((d.starts_at, d.ends_at), (180, t));
        assert_eq!(s.recovered_by.as_deref(), Some("f"));
        assert_eq!(
            s.failure.as_ref().unwrap().classification,
            AUTH,
            "the resolve still says what failed"
        );
        let resolved_at = t;
        let mut resends = 0;
        while at < resolved_at + 15 * 60 {
            let (_, o) = step(&mut s, &mut at, "ok", OK);
            if let Some((d, repeat)) = o.delivery {
                assert!(repeat && d.resolved && d.ends_at == resolved_at);
                resends += 1;
            }
        }
        assert_eq!(resends, 7, "every other run for 15 minutes");
        let (_, o) = step(&mut s, &mut at, "ok", OK);
        assert_eq!(o.delivery, None);
        assert_eq!(s, ProbeAlertState::default(), "forgotten after retention");
    }

    /// A restart between two runs can put the firing send and the resolve in the same
    /// second; the resolve must still go out, once.
    #[test]
    fn a_resolve_in_the_second_of_the_last_send_is_still_sent_once() {
        let mut s = ProbeAlertState::default();
        let once = ProbeAlertConfig { after: 1, ..CFG };
        let o = s.observe(&run("a", AUTH), 100, &once, 1, 60);
        assert_eq!(o.change, Some(Change::Fired));
        let o = s.observe(&run("b", OK), 100, &once, 1, 60);
        assert_eq!(o.change, Some(Change::Resolved));
        let (d, repeat) = o.delivery.expect("the resolve is sent");
        assert!(d.resolved && !repeat);
        let o = s.observe(&run("c", OK), 100, &once, 1, 60);
        assert_eq!(o.delivery, None, "and not again within the resend delay");
    }

    #[test]
    fn a_healthy_run_resets_the_count_and_a_short_failure_never_fires() {
        let mut s = ProbeAlertState::default();
        for (i, c) in [AUTH, AUTH, OK, AUTH, AUTH, OK].into_iter().enumerate() {
            let o = s.observe(&run("x", c), i as i64 * 60, &CFG, 60, 60);
            assert_eq!((o.change, o.delivery), (None, None));
        }
        assert_eq!(s.failures, 0);
        let after_one = ProbeAlertConfig {
            severity: Severity::Ticket,
            after: 1,
        };
        let o = s.observe(&run("y", AUTH), 400, &after_one, 60, 60);
        assert_eq!(o.change, Some(Change::Fired));
        assert_eq!(s.severity(), "ticket");
    }

    #[test]
    fn a_new_classification_while_firing_updates_the_same_alert_at_once() {
        let mut s = ProbeAlertState::default();
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            s.observe(&run(id, AUTH), i as i64 * 10, &CFG, 10, 60);
        }
        assert_eq!(s.alert.state, AlertState::Firing);
        let o = s.observe(&run("d", Classification::TcpRefused), 30, &CFG, 10, 60);
        assert_eq!(o.change, None, "no new alert");
        assert_eq!(o.reclassified, Some(AUTH));
        let (d, repeat) = o.delivery.expect("sent at once, inside the resend delay");
        assert_eq!(d.starts_at, 20, "same episode");
        assert!(
            repeat,
            "not a new page for receivers that only take state changes"
        );
        let c = config("");
        let n = s.notification("rds", d, repeat, &c).unwrap();
        assert_eq!(n.annotations["classification"], "tcp_refused");
        assert_eq!(n.annotations["failed_step"], "tcp");
        assert_eq!(n.annotations["probe_id"], "d");
        assert_eq!(
            n.annotations["runbook_url"],
            "runbooks/db-connectivity.md#tcp-refused"
        );
        let detail = s.transition_detail("rds", &o, &c);
        assert_eq!(detail["previous_classification"], "auth_failed");
        assert_eq!(detail["classification"], "tcp_refused");
        // The same classification again: nothing new to say within the resend delay.
        let o = s.observe(&run("e", Classification::TcpRefused), 40, &CFG, 10, 60);
        assert_eq!((o.reclassified, o.delivery), (None, None));
    }

    #[test]
    fn notification_labels_annotations_and_links() {
        let mut s = ProbeAlertState::default();
        let cfg = ProbeAlertConfig {
            severity: Severity::Page,
            after: 1,
        };
        let o = s.observe(&run("01JD", AUTH), 100, &cfg, 30, 60);
        let (d, repeat) = o.delivery.unwrap();
        let c = config(
            "external_url: https://bw.example.org/\n\
             runbook_base_url: https://git.example.org/sre/burnwatch/blob/main/\n",
        );
        let n = s.notification("mass-spec-rds", d, repeat, &c).unwrap();
        let labels: Vec<(&str, &str)> = n
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("alertname", "DatabaseConnectivity"),
                ("sloth_severity", "page"),
                ("target", "mass-spec-rds")
            ]
        );
        assert_eq!(
            n.annotations["runbook_url"],
            "https://git.example.org/sre/burnwatch/blob/main/runbooks/db-connectivity.md#auth-failed"
        );
        assert_eq!(
            n.annotations["probe_url"],
            "https://bw.example.org/api/v1/probes/01JD"
        );
        assert_eq!(n.generator_url, n.annotations["probe_url"]);
        assert_eq!(n.annotations["failed_step"], "auth");
        assert_eq!(
            n.annotations["summary"],
            "Database probe of mass-spec-rds failed 1 runs in a row: auth_failed at the auth \
             step (auth_failed detail)."
        );
        assert_eq!(
            n.annotations["title"],
            "(page) Database probe of mass-spec-rds failing: auth_failed"
        );
        assert_eq!(n.state, State::Firing);
        assert_eq!(n.slo_id, "probe:mass-spec-rds");
        assert_eq!((n.starts_at.timestamp(), n.ends_at.timestamp()), (100, 340));

        // The severity is the episode's: a config change does not split the alert.
        let ticket = ProbeAlertConfig {
            severity: Severity::Ticket,
            after: 1,
        };
        let o = s.observe(&run("ok", OK), 160, &ticket, 30, 60);
        let (d, repeat) = o.delivery.unwrap();
        let resolved = s.notification("mass-spec-rds", d, repeat, &c).unwrap();
        assert_eq!(resolved.state, State::Resolved);
        assert_eq!(resolved.fingerprint(), n.fingerprint());
        assert_eq!(resolved.annotations["recovered_by_probe_id"], "ok");
        assert_eq!(resolved.ends_at.timestamp(), 160);
    }

    #[test]
    fn state_survives_json_and_old_rows_without_new_fields() {
        let mut s = ProbeAlertState::default();
        s.observe(&run("a", AUTH), 10, &CFG, 60, 60);
        let json = serde_json::to_value(&s).unwrap();
        let back: ProbeAlertState = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        let minimal: ProbeAlertState =
            serde_json::from_value(serde_json::json!({"alert": {"state": "inactive"}})).unwrap();
        assert_eq!(minimal, ProbeAlertState::default());
    }

    #[test]
    fn long_details_are_clipped() {
        let long = "x".repeat(1000);
        assert_eq!(clip(&long).chars().count(), DETAIL_MAX + 1);
        assert_eq!(clip("short"), "short");
    }
}
