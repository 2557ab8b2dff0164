//! The notification outbox table: the store half of at-least-once delivery.
//!
//! A notification is inserted here (in the same transaction as the alert state that
//! caused it, see [`Store::commit_evaluation`](super::Store::commit_evaluation)) before
//! any attempt to send it, and deleted only when the receiver accepted it — or when the
//! receiver rejected it permanently, which is recorded in `notifications` with
//! `delivered = 0`. A crash at any point leaves the row in place, so the next start sends
//! it again: a page may arrive twice (receivers deduplicate by labels or dedup id), never
//! zero times.
//!
//! Ordering: rows about the same alert (`alert_key`) are handed out one at a time per
//! receiver, oldest first ([`Store::outbox_due`]), so a resolve never overtakes the firing
//! message it resolves, even across retries.
//!
//! The payload is opaque JSON here; `notify::outbox` owns its shape.

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};

use super::notifications::{NotificationRecord, insert_notification};
use super::{Store, StoreError, timefmt};

/// A row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxItem {
    /// The receiver that must accept it (`alertmanager:<url>`, `sns:<topic arn>`).
    pub receiver: String,
    /// The alert it is about; rows with the same key go out in order. Empty: unordered.
    pub alert_key: String,
    /// Rows with the same non-empty key for the same receiver are interchangeable; a new
    /// one replaces pending older ones.
    pub coalesce_key: String,
    /// The notification, serialised by the notifier layer.
    pub payload: String,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Row id; increases with insertion order.
    pub id: i64,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// The receiver that must accept it.
    pub receiver: String,
    /// The alert it is about.
    pub alert_key: String,
    /// The serialised notification.
    pub payload: String,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// Not to be tried before this time.
    pub next_attempt_at: DateTime<Utc>,
    /// The last delivery error, for the API and `sqlite3` users.
    pub last_error: Option<String>,
}

/// A row whose timestamps do not parse (a hand edit, a disk fault): no [`OutboxItem`]
/// can be made of it. [`Store::outbox_due`] hands it out apart, and the worker gives up
/// on it (recorded as undelivered, deleted), so one damaged row cannot stop every
/// delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOutboxItem {
    /// Row id.
    pub id: i64,
    /// The receiver it was meant for.
    pub receiver: String,
    /// The serialised notification (it may still be readable).
    pub payload: String,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// `created_at` as stored.
    pub created_at: String,
    /// What cannot be read.
    pub reason: String,
}

/// What [`Store::outbox_due`] hands out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueRows {
    /// Rows to send.
    pub items: Vec<OutboxItem>,
    /// Due rows that cannot be read; to be given up on.
    pub invalid: Vec<InvalidOutboxItem>,
}

const COLUMNS: &str =
    "id, created_at, receiver, alert_key, payload, attempts, next_attempt_at, last_error";

fn row_to_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<(OutboxItem, String, String)> {
    Ok((
        OutboxItem {
            id: r.get(0)?,
            created_at: DateTime::<Utc>::MIN_UTC,
            receiver: r.get(2)?,
            alert_key: r.get(3)?,
            payload: r.get(4)?,
            attempts: r.get(5)?,
            next_attempt_at: DateTime::<Utc>::MIN_UTC,
            last_error: r.get(7)?,
        },
        r.get(1)?,
        r.get(6)?,
    ))
}

/// Parse the timestamps: readable rows, and the rest with the reason.
fn split(rows: Vec<(OutboxItem, String, String)>) -> (Vec<OutboxItem>, Vec<InvalidOutboxItem>) {
    let mut good = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for (mut item, created, next) in rows {
        let parsed = timefmt::read(&created)
            .map_err(|e| format!("created_at: {e}"))
            .and_then(|c| {
                timefmt::read(&next)
                    .map(|n| (c, n))
                    .map_err(|e| format!("next_attempt_at: {e}"))
            });
        match parsed {
            Ok((c, n)) => {
                item.created_at = c;
                item.next_attempt_at = n;
                good.push(item);
            }
            Err(reason) => bad.push(InvalidOutboxItem {
                id: item.id,
                receiver: item.receiver,
                payload: item.payload,
                attempts: item.attempts,
                created_at: created,
                reason,
            }),
        }
    }
    (good, bad)
}

fn finish(rows: Vec<(OutboxItem, String, String)>) -> Result<Vec<OutboxItem>, StoreError> {
    match split(rows) {
        (items, bad) if bad.is_empty() => Ok(items),
        (_, bad) => Err(StoreError::Corrupt(format!(
            "outbox row {}: {}",
            bad[0].id, bad[0].reason
        ))),
    }
}

/// Insert rows inside a caller's transaction, replacing pending rows they supersede.
pub(crate) fn enqueue_tx(
    tx: &Transaction<'_>,
    items: &[NewOutboxItem],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    let now = timefmt::write(now);
    let mut ids = Vec::with_capacity(items.len());
    let mut supersede = tx.prepare_cached(
        "DELETE FROM outbox WHERE receiver = ?1 AND coalesce_key = ?2 AND coalesce_key != ''",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox (created_at, receiver, payload, attempts, next_attempt_at, alert_key, coalesce_key)
         VALUES (?1, ?2, ?3, 0, ?1, ?4, ?5)",
    )?;
    for item in items {
        supersede.execute(params![item.receiver, item.coalesce_key])?;
        insert.execute(params![
            now,
            item.receiver,
            item.payload,
            item.alert_key,
            item.coalesce_key
        ])?;
        ids.push(tx.last_insert_rowid());
    }
    Ok(ids)
}

impl Store {
    /// Store notifications for delivery (one transaction). Returns the new row ids.
    pub fn outbox_enqueue(
        &self,
        items: &[NewOutboxItem],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids = enqueue_tx(&tx, items, now)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Rows to try now: for each receiver and alert only the oldest row, and only if it is
    /// due; oldest first, at most `limit`. A row whose `next_attempt_at` is no date at
    /// all is due (it would otherwise wait forever, and hold back its alert's later
    /// rows); rows with unreadable timestamps come back in [`DueRows::invalid`].
    pub fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<DueRows, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox o
             WHERE (o.next_attempt_at <= ?1 OR julianday(o.next_attempt_at) IS NULL)
               AND (o.alert_key = '' OR o.id = (SELECT min(i.id) FROM outbox i
                                                WHERE i.receiver = o.receiver
                                                  AND i.alert_key = o.alert_key))
             ORDER BY o.id LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![timefmt::write(now), limit as i64], row_to_item)?
            .collect::<Result<Vec<_>, _>>()?;
        let (items, invalid) = split(rows);
        Ok(DueRows { items, invalid })
    }

    /// Rows enqueued before `before`, oldest first, at most `limit`, each with whether a
    /// newer row of the same alert waits for the same receiver (the alert has moved on:
    /// resolved, or a new episode). What the outbox's maximum age looks at.
    pub fn outbox_stale(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(OutboxItem, bool)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM outbox n
                                      WHERE n.receiver = o.receiver AND o.alert_key != ''
                                        AND n.alert_key = o.alert_key AND n.id > o.id)
             FROM outbox o WHERE o.created_at < ?1 ORDER BY o.id LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![timefmt::write(before), limit as i64], |r| {
                Ok((row_to_item(r)?, r.get::<_, bool>(8)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let (items, newer): (Vec<_>, Vec<bool>) = rows.into_iter().unzip();
        Ok(finish(items)?.into_iter().zip(newer).collect())
    }

    /// Every pending row, oldest first (for the API and tests).
    pub fn outbox_items(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id"))?;
        let rows = stmt
            .query_map([], row_to_item)?
            .collect::<Result<Vec<_>, _>>()?;
        finish(rows)
    }

    /// When the next row [`Store::outbox_due`] would hand out becomes due, if any. Rows
    /// waiting behind an older row of the same alert do not count: they are not
    /// deliverable before it, and counting them would make the worker spin.
    pub fn outbox_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let next: Option<String> = conn.query_row(
            "SELECT min(o.next_attempt_at) FROM outbox o
             WHERE o.alert_key = '' OR o.id = (SELECT min(i.id) FROM outbox i
                                               WHERE i.receiver = o.receiver
                                                 AND i.alert_key = o.alert_key)",
            [],
            |r| r.get(0),
        )?;
        next.map(|s| timefmt::read(&s)).transpose()
    }

    /// When the oldest pending row was enqueued, if any (how late a page may be).
    pub fn outbox_oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        // Unreadable rows are given up on when due; they must not break the gauge.
        let oldest: Option<String> = conn.query_row(
            "SELECT min(created_at) FROM outbox WHERE julianday(created_at) IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        oldest.map(|s| timefmt::read(&s)).transpose()
    }

    /// Pending rows per receiver (receivers with none are absent).
    pub fn outbox_depth(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT receiver, count(*) FROM outbox GROUP BY receiver ORDER BY receiver",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The receiver accepted row `id` (or rejected it for good): delete it and record the
    /// outcome in `notifications`, atomically. Deleting a row that a newer re-send already
    /// replaced is not an error.
    pub fn outbox_finish(&self, id: i64, record: &NotificationRecord) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM outbox WHERE id = ?1", params![id])?;
        insert_notification(&tx, record)?;
        tx.commit()?;
        Ok(())
    }

    /// A delivery attempt of row `id` failed: count it and schedule the next one.
    pub fn outbox_retry(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
             WHERE id = ?1",
            params![id, timefmt::write(next_attempt_at), error],
        )?;
        Ok(())
    }

    /// Make every pending row due at `now` (an operator's "retry now"). Returns how many.
    pub fn outbox_make_due(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let n = self.conn().execute(
            "UPDATE outbox SET next_attempt_at = ?1 WHERE next_attempt_at > ?1",
            params![timefmt::write(now)],
        )?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, min, 0).unwrap()
    }

    fn item(receiver: &str, alert: &str, coalesce: &str, payload: &str) -> NewOutboxItem {
        NewOutboxItem {
            receiver: receiver.into(),
            alert_key: alert.into(),
            coalesce_key: coalesce.into(),
            payload: payload.into(),
        }
    }

    fn record(receiver: &str, delivered: bool) -> NotificationRecord {
        NotificationRecord {
            ts: t(5),
            receiver: receiver.into(),
            slo_id: "s".into(),
            alert: "A".into(),
            severity: "page".into(),
            state: "firing".into(),
            delivered,
            detail: serde_json::json!({}),
        }
    }

    #[test]
    fn one_row_per_alert_and_receiver_is_handed_out_in_order() {
        let store = Store::open_in_memory().unwrap();
        let ids = store
            .outbox_enqueue(
                &[
                    item("am", "a1", "a1/firing", "fire"),
                    item("am", "a1", "a1/resolved", "resolve"),
                    item("sns", "a1", "a1/firing", "fire"),
                    item("am", "a2", "", "other"),
                ],
                t(0),
            )
            .unwrap();
        let due: Vec<_> = store
            .outbox_due(t(0), 100)
            .unwrap()
            .items
            .into_iter()
            .map(|i| (i.receiver, i.payload))
            .collect();
        assert_eq!(
            due,
            [
                ("am".to_string(), "fire".to_string()),
                ("sns".into(), "fire".into()),
                ("am".into(), "other".into())
            ]
        );
        // The firing row fails: the resolve behind it must wait, not overtake it.
        store
            .outbox_retry(ids[0], t(2), "connection refused")
            .unwrap();
        let due = store.outbox_due(t(1), 100).unwrap().items;
        assert!(
            due.iter()
                .all(|i| i.alert_key != "a1" || i.receiver != "am")
        );
        let due = store.outbox_due(t(2), 100).unwrap().items;
        assert_eq!(due[0].payload, "fire");
        assert_eq!(due[0].attempts, 1);
        assert_eq!(due[0].last_error.as_deref(), Some("connection refused"));
        store.outbox_finish(ids[0], &record("am", true)).unwrap();
        let due = store.outbox_due(t(2), 100).unwrap().items;
        assert!(due.iter().any(|i| i.payload == "resolve"));
    }

    #[test]
    fn a_newer_resend_replaces_a_pending_one() {
        let store = Store::open_in_memory().unwrap();
        store
            .outbox_enqueue(&[item("am", "a1", "a1/firing/t0", "v1")], t(0))
            .unwrap();
        store
            .outbox_enqueue(&[item("sns", "a1", "a1/firing/t0", "sns")], t(0))
            .unwrap();
        store
            .outbox_enqueue(&[item("am", "a1", "a1/firing/t0", "v2")], t(1))
            .unwrap();
        let all: Vec<_> = store
            .outbox_items()
            .unwrap()
            .into_iter()
            .map(|i| i.payload)
            .collect();
        assert_eq!(all, ["sns", "v2"], "other receivers keep their rows");
        assert_eq!(
            store.outbox_depth().unwrap(),
            [("am".into(), 1), ("sns".into(), 1)]
        );
    }

    #[test]
    fn stale_rows_say_whether_their_alert_has_moved_on() {
        let store = Store::open_in_memory().unwrap();
        store
            .outbox_enqueue(
                &[
                    item("am", "a1", "", "a1 fire"),
                    item("am", "a2", "", "a2 fire"),
                    item("sns", "a1", "", "a1 fire"),
                ],
                t(0),
            )
            .unwrap();
        store
            .outbox_enqueue(&[item("am", "a1", "", "a1 resolve")], t(3))
            .unwrap();
        let stale: Vec<_> = store
            .outbox_stale(t(2), 10)
            .unwrap()
            .into_iter()
            .map(|(i, newer)| (i.receiver, i.payload, newer))
            .collect();
        assert_eq!(
            stale,
            [
                ("am".to_string(), "a1 fire".to_string(), true),
                ("am".into(), "a2 fire".into(), false),
                ("sns".into(), "a1 fire".into(), false),
            ]
        );
        assert_eq!(store.outbox_stale(t(5), 10).unwrap().len(), 4);
        assert_eq!(store.outbox_stale(t(5), 1).unwrap().len(), 1);
    }

    #[test]
    fn finishing_records_the_notification_and_next_due_follows_retries() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.outbox_next_due().unwrap(), None);
        let ids = store
            .outbox_enqueue(
                &[item("am", "a1", "", "x"), item("am", "a2", "", "y")],
                t(0),
            )
            .unwrap();
        store.outbox_retry(ids[0], t(9), "boom").unwrap();
        store.outbox_retry(ids[1], t(4), "boom").unwrap();
        assert_eq!(store.outbox_next_due().unwrap(), Some(t(4)));
        assert_eq!(store.outbox_make_due(t(3)).unwrap(), 2);
        assert_eq!(store.outbox_due(t(3), 10).unwrap().items.len(), 2);
        store.outbox_finish(ids[0], &record("am", false)).unwrap();
        assert_eq!(store.outbox_items().unwrap().len(), 1);
        let log = store.notifications(t(0), t(10)).unwrap();
        assert_eq!(log.len(), 1);
        assert!(!log[0].delivered);
    }

    /// Unreadable timestamps written behind the store's back: the rows come back apart
    /// with the reason (a `next_attempt_at` that is no date at all counts as due), the
    /// readable row is still handed out, and the age gauge's query skips them.
    #[test]
    fn rows_with_unreadable_timestamps_are_handed_out_apart() {
        let store = Store::open_in_memory().unwrap();
        let ids = store
            .outbox_enqueue(
                &[
                    item("am", "a1", "", "x"),
                    item("am", "a2", "", "y"),
                    item("am", "a3", "", "z"),
                ],
                t(0),
            )
            .unwrap();
        {
            let conn = store.conn();
            conn.execute("UPDATE outbox SET created_at = '' WHERE id = ?1", [ids[0]])
                .unwrap();
            conn.execute(
                "UPDATE outbox SET next_attempt_at = 'never' WHERE id = ?1",
                [ids[2]],
            )
            .unwrap();
        }
        let due = store.outbox_due(t(1), 10).unwrap();
        assert_eq!(due.items.len(), 1);
        assert_eq!(due.items[0].id, ids[1]);
        let bad: Vec<(i64, &str)> = due
            .invalid
            .iter()
            .map(|r| (r.id, r.reason.as_str()))
            .collect();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0].0, ids[0]);
        assert!(bad[0].1.starts_with("created_at: "), "{}", bad[0].1);
        assert_eq!(bad[1].0, ids[2]);
        assert!(bad[1].1.starts_with("next_attempt_at: "), "{}", bad[1].1);
        assert_eq!(due.invalid[1].payload, "z");
        assert_eq!(store.outbox_oldest().unwrap(), Some(t(0)));
    }
}
