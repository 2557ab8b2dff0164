//! Outbox logic driven with chosen times and a recording receiver (an implementation of
//! the `Notifier` boundary, as Prometheus' `TestNotify` captures sends). Delivery to real
//! receivers is covered by the integration tests (`tests/it/notify.rs`).

use std::sync::Mutex;

use chrono::TimeZone;

use super::*;
use crate::notify::{BoxFuture, State};
use crate::status::StatusBoard;

/// Accepts, refuses or rejects as told, and records every call.
struct Recorder {
    id: String,
    batch: usize,
    repeats: bool,
    mode: Mutex<Mode>,
    calls: Mutex<Vec<Vec<String>>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Accept,
    Down,
    /// Reject any batch holding the SLO `bad`.
    RejectBad,
}

impl Recorder {
    fn new(id: &str, batch: usize, repeats: bool, mode: Mode) -> Arc<Self> {
        Arc::new(Recorder {
            id: id.into(),
            batch,
            repeats,
            mode: Mutex::new(mode),
            calls: Mutex::new(Vec::new()),
        })
    }
    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }
    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

impl Notifier for Recorder {
    fn receiver(&self) -> &str {
        &self.id
    }
    fn max_batch(&self) -> usize {
        self.batch
    }
    fn wants_repeats(&self) -> bool {
        self.repeats
    }
    fn send<'a>(&'a self, batch: &'a [Notification]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let ids: Vec<String> = batch
                .iter()
                .map(|n| format!("{}:{}", n.slo_id, n.state))
                .collect();
            self.calls.lock().unwrap().push(ids);
            match *self.mode.lock().unwrap() {
                Mode::Accept => Ok(()),
                Mode::Down => Err(NotifyError::Unavailable("connection refused".into())),
                Mode::RejectBad if batch.iter().any(|n| n.slo_id == "bad") => {
                    Err(NotifyError::Rejected("HTTP 400".into()))
                }
                Mode::RejectBad => Ok(()),
            }
        })
    }
}

fn t(sec: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap() + chrono::Duration::seconds(sec)
}

fn note(slo: &str, state: State) -> Notification {
    let mut n = crate::notify::tests::sample(state);
    n.slo_id = slo.into();
    n.labels.insert("sloth_id".into(), slo.into());
    n
}

fn all_notifications(store: &Store) -> Vec<NotificationRecord> {
    let from = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
    store.notifications(from, to).unwrap()
}

fn outbox(receivers: Vec<Arc<Recorder>>) -> (Outbox, Arc<Store>, Telemetry) {
    let store = Arc::new(Store::open_in_memory().unwrap());
    let telemetry = Telemetry::new(StatusBoard::new());
    let notifiers = receivers
        .into_iter()
        .map(|r| r as Arc<dyn Notifier>)
        .collect();
    let policy = RetryPolicy {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(60),
        max_age: Duration::from_secs(86_400),
    };
    (
        Outbox::new(store.clone(), notifiers, policy, telemetry.clone()),
        store,
        telemetry,
    )
}

#[test]
fn backoff_doubles_is_capped_and_jitter_keeps_half() {
    let p = RetryPolicy {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        max_age: Duration::from_secs(86_400),
    };
    assert_eq!(p.delay(1, 1.0), Duration::from_secs(1));
    assert_eq!(p.delay(2, 1.0), Duration::from_secs(2));
    assert_eq!(p.delay(4, 1.0), Duration::from_secs(8));
    assert_eq!(p.delay(7, 1.0), Duration::from_secs(60));
    assert_eq!(p.delay(u32::MAX, 1.0), Duration::from_secs(60));
    assert_eq!(p.delay(4, 0.0), Duration::from_secs(4));
    assert_eq!(p.delay(0, 1.0), Duration::from_secs(1));
}

#[tokio::test]
async fn accepted_rows_are_deleted_and_failed_ones_rescheduled() {
    let am = Recorder::new("am", 64, true, Mode::Accept);
    let sns = Recorder::new("sns", 1, false, Mode::Down);
    let (outbox, store, telemetry) = outbox(vec![am.clone(), sns.clone()]);
    outbox
        .enqueue(&[note("a", State::Firing), note("b", State::Firing)], t(0))
        .unwrap();
    let r = outbox.deliver_due(t(0)).await.unwrap();
    assert_eq!((r.delivered, r.retrying), (2, 2));
    assert_eq!(am.calls(), [vec!["a:firing", "b:firing"]], "one batch");
    assert_eq!(
        sns.calls().len(),
        1,
        "a dead receiver costs one attempt per round"
    );
    let left = store.outbox_items().unwrap();
    assert_eq!(left.len(), 2);
    for item in &left {
        assert_eq!(item.receiver, "sns");
        assert_eq!(item.attempts, 1);
        assert_eq!(item.last_error.as_deref(), Some("connection refused"));
        assert!(item.next_attempt_at >= t(1) && item.next_attempt_at <= t(2));
    }
    let log = all_notifications(&store);
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| r.delivered && r.receiver == "am"));
    assert_eq!(log[0].detail["attempts"], 1);
    let text = telemetry.encode().unwrap();
    assert!(
        text.contains(r#"burnwatch_outbox_depth{receiver="sns"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"burnwatch_outbox_depth{receiver="am"} 0"#),
        "{text}"
    );
    // One notification was attempted; the second was postponed without an attempt.
    assert!(text.contains(
        r#"burnwatch_notifications_failed_total{receiver="sns",reason="unavailable"} 1"#
    ));

    // Not due yet: nothing is tried. Once due and the receiver is back: delivered.
    assert_eq!(outbox.deliver_due(t(0)).await.unwrap().total(), 0);
    sns.set(Mode::Accept);
    let r = outbox.deliver_due(t(2)).await.unwrap();
    assert_eq!(r.delivered, 2);
    assert!(store.outbox_items().unwrap().is_empty());
}

#[tokio::test]
async fn a_rejected_batch_is_bisected_and_the_culprit_given_up() {
    let am = Recorder::new("am", 64, true, Mode::RejectBad);
    let (outbox, store, _) = outbox(vec![am.clone()]);
    outbox
        .enqueue(
            &[
                note("a", State::Firing),
                note("bad", State::Firing),
                note("c", State::Firing),
            ],
            t(0),
        )
        .unwrap();
    let r = outbox.deliver_due(t(0)).await.unwrap();
    assert_eq!((r.delivered, r.rejected, r.retrying), (2, 1, 0));
    assert!(
        store.outbox_items().unwrap().is_empty(),
        "never retried forever"
    );
    let log = all_notifications(&store);
    let bad = log.iter().find(|r| r.slo_id == "bad").unwrap();
    assert!(!bad.delivered);
    assert_eq!(bad.detail["error"], "HTTP 400");
}

#[tokio::test]
async fn firing_goes_before_its_resolve_even_across_failures() {
    let am = Recorder::new("am", 64, true, Mode::Down);
    let (outbox, _store, _) = outbox(vec![am.clone()]);
    outbox.enqueue(&[note("a", State::Firing)], t(0)).unwrap();
    outbox.enqueue(&[note("a", State::Resolved)], t(1)).unwrap();
    outbox.deliver_due(t(1)).await.unwrap();
    assert_eq!(am.calls(), [vec!["a:firing"]], "the resolve waits");
    am.set(Mode::Accept);
    outbox.deliver_due(t(10)).await.unwrap();
    outbox.deliver_due(t(10)).await.unwrap();
    assert_eq!(
        am.calls(),
        [vec!["a:firing"], vec!["a:firing"], vec!["a:resolved"]]
    );
}

#[tokio::test]
async fn repeats_skip_receivers_that_want_only_state_changes() {
    let am = Recorder::new("am", 64, true, Mode::Accept);
    let sns = Recorder::new("sns", 1, false, Mode::Accept);
    let (outbox, _, _) = outbox(vec![am.clone(), sns.clone()]);
    let mut resend = note("a", State::Firing);
    resend.repeat = true;
    let rows = outbox.rows(&resend).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].receiver, "am");
    assert_eq!(outbox.rows(&note("a", State::Firing)).unwrap().len(), 2);
}

#[tokio::test]
async fn rows_of_unconfigured_receivers_are_kept_and_postponed() {
    let am = Recorder::new("am", 64, true, Mode::Accept);
    let (outbox, store, _) = outbox(vec![am]);
    store
        .outbox_enqueue(
            &[NewOutboxItem {
                receiver: "alertmanager:http://old:9093".into(),
                alert_key: "k".into(),
                coalesce_key: String::new(),
                payload: serde_json::to_string(&note("a", State::Firing)).unwrap(),
            }],
            t(0),
        )
        .unwrap();
    let r = outbox.deliver_due(t(0)).await.unwrap();
    assert_eq!(r.orphaned, 1);
    assert_eq!(
        outbox.deliver_due(t(1)).await.unwrap().total(),
        0,
        "no spinning"
    );
    assert_eq!(store.outbox_items().unwrap().len(), 1, "kept");
}

#[tokio::test]
async fn run_drains_on_shutdown_and_leaves_undeliverable_rows_stored() {
    let am = Recorder::new("am", 64, true, Mode::Accept);
    let sns = Recorder::new("sns", 1, false, Mode::Down);
    let (outbox, store, _) = outbox(vec![am.clone(), sns]);
    outbox
        .enqueue(&[note("a", State::Firing)], Utc::now())
        .unwrap();
    // Shutdown is already requested: only the drain runs.
    outbox
        .run(std::future::ready(()), Duration::from_secs(5))
        .await;
    assert_eq!(am.calls().len(), 1);
    let left = store.outbox_items().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].receiver, "sns");
}

#[tokio::test]
async fn unreadable_rows_are_given_up_and_counted() {
    let am = Recorder::new("am", 64, true, Mode::Accept);
    let (outbox, store, telemetry) = outbox(vec![am.clone()]);
    store
        .outbox_enqueue(
            &[NewOutboxItem {
                receiver: "am".into(),
                alert_key: String::new(),
                coalesce_key: String::new(),
                payload: "{not json".into(),
            }],
            t(0),
        )
        .unwrap();
    let r = outbox.deliver_due(t(0)).await.unwrap();
    assert_eq!(r.rejected, 1);
    assert!(am.calls().is_empty());
    assert!(store.outbox_items().unwrap().is_empty());
    assert!(
        telemetry
            .encode()
            .unwrap()
            .contains(r#"burnwatch_notifications_failed_total{receiver="am",reason="invalid"} 1"#)
    );
}

#[tokio::test]
async fn notifications_that_no_longer_matter_expire_after_max_age_and_live_pages_stay() {
    let sns = Recorder::new("sns", 10, false, Mode::Down);
    let (outbox, store, telemetry) = outbox(vec![sns.clone()]);
    // `a` fired and resolved while SNS was down; `b` still fires; `c` only resolved.
    outbox
        .enqueue(&[note("a", State::Firing), note("b", State::Firing)], t(0))
        .unwrap();
    outbox
        .enqueue(&[note("a", State::Resolved)], t(60))
        .unwrap();
    outbox
        .enqueue(&[note("c", State::Resolved)], t(120))
        .unwrap();
    outbox.deliver_due(t(0)).await.unwrap();

    // Just under a day: nothing is given up.
    let r = outbox.deliver_due(t(86_399)).await.unwrap();
    assert_eq!(r.expired, 0);
    assert_eq!(store.outbox_items().unwrap().len(), 4);

    let r = outbox.deliver_due(t(86_400 + 121)).await.unwrap();
    assert_eq!(r.expired, 3, "a's page and resolve, c's resolve");
    let left: Vec<_> = store
        .outbox_items()
        .unwrap()
        .into_iter()
        .map(|i| {
            serde_json::from_str::<Notification>(&i.payload)
                .unwrap()
                .slo_id
        })
        .collect();
    assert_eq!(
        left,
        ["b"],
        "a page for an alert still firing is never given up"
    );
    let expired: Vec<_> = all_notifications(&store)
        .into_iter()
        .filter(|r| !r.delivered)
        .map(|r| {
            (
                r.slo_id,
                r.state,
                r.detail["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(expired.len(), 3, "{expired:?}");
    assert!(
        expired.iter().all(|(_, _, e)| e
            .starts_with("expired: undelivered for longer than outbox.max_age (86400s)")),
        "{expired:?}"
    );
    assert!(
        expired
            .iter()
            .any(|(s, st, e)| s == "a" && st == "firing" && e.ends_with("the alert has moved on"))
    );
    let text = telemetry.encode().unwrap();
    assert!(
        text.contains(r#"burnwatch_notifications_failed_total{receiver="sns",reason="expired"} 3"#),
        "{text}"
    );
}

/// A row whose timestamp cannot be read (a hand edit, a disk fault) used to fail the whole
/// round, so no notification went out at all. It is now quarantined: recorded as
/// undelivered with the reason, deleted, counted as `invalid`; the other rows go out.
#[tokio::test]
async fn a_row_with_a_corrupt_timestamp_is_quarantined_and_the_rest_delivered() {
    let am = Recorder::new("am", 64, true, Mode::Accept);
    let (outbox, store, telemetry) = outbox(vec![am.clone()]);
    let ids = outbox
        .enqueue(
            &[
                note("broken", State::Firing),
                note("fine", State::Firing),
                note("late", State::Firing),
            ],
            t(0),
        )
        .unwrap();
    {
        let conn = store.conn();
        conn.execute(
            "UPDATE outbox SET created_at = 'last tuesday' WHERE id = ?1",
            [ids[0]],
        )
        .unwrap();
        conn.execute(
            "UPDATE outbox SET next_attempt_at = 'soon' WHERE id = ?1",
            [ids[2]],
        )
        .unwrap();
    }
    let r = outbox.deliver_due(t(0)).await.unwrap();
    assert_eq!((r.delivered, r.rejected), (1, 2), "{r:?}");
    assert_eq!(am.calls(), [vec!["fine:firing"]]);
    assert!(
        store.outbox_items().unwrap().is_empty(),
        "quarantined rows are gone"
    );
    let log = all_notifications(&store);
    assert_eq!(log.len(), 3, "{log:?}");
    for slo in ["broken", "late"] {
        let rec = log.iter().find(|r| r.slo_id == slo).unwrap();
        assert!(!rec.delivered, "{rec:?}");
        assert_eq!(rec.receiver, "am");
        assert_eq!(rec.state, "firing", "the payload was still readable");
        let error = rec.detail["error"].as_str().unwrap();
        assert!(error.contains("bad timestamp"), "{error}");
    }
    assert!(log.iter().any(|r| r.slo_id == "fine" && r.delivered));
    let text = telemetry.encode().unwrap();
    assert!(
        text.contains(r#"burnwatch_notifications_failed_total{receiver="am",reason="invalid"} 2"#),
        "{text}"
    );
    // The next round has nothing left to trip over.
    assert_eq!(outbox.deliver_due(t(1)).await.unwrap().total(), 0);
}
