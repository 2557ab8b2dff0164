//! Step 6, saturation: client connections in use against the slots a normal role can
//! use (`max_connections` minus the slots reserved for superusers, and on RDS for
//! `rds_superuser`). Pool exhaustion looks like an outage to the application long before
//! the server refuses logins; this step shows it coming.
//!
//! Counting other roles' sessions in `pg_stat_activity` works for any role; their
//! `state` is only visible with `pg_monitor`, so the probe role should have it.

use std::time::Duration;

use tokio_postgres::{Client, SimpleQueryMessage};

use super::query::{QueryError, query_error};

/// What the saturation step counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Saturation {
    /// Client backends connected (including the probe's own).
    pub used: i64,
    /// `max_connections`.
    pub max_connections: i64,
    /// Slots reserved for superusers (and `rds_superuser` on RDS).
    pub reserved: i64,
    /// Sessions per `state` (`active`, `idle`, `idle in transaction`, `unknown` when not
    /// visible to the probe role).
    pub by_state: Vec<(String, i64)>,
}

impl Saturation {
    /// Slots a normal role can use.
    pub fn usable(&self) -> i64 {
        (self.max_connections - self.reserved).max(1)
    }
    /// Share of usable slots in use.
    pub fn ratio(&self) -> f64 {
        self.used as f64 / self.usable() as f64
    }
    /// `7 of 10 usable connection slots in use (70%, threshold 60%; max_connections 10, 0 reserved); active 1, idle 6`.
    pub fn describe(&self, threshold: f64) -> String {
        let states: Vec<String> = self
            .by_state
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        format!(
            "{} of {} usable connection slots in use ({:.0}%, threshold {:.0}%; max_connections {}, {} reserved); {}",
            self.used,
            self.usable(),
            self.ratio() * 100.0,
            threshold * 100.0,
            self.max_connections,
            self.reserved,
            states.join(", ")
        )
    }
}

const SQL: &str = "SELECT coalesce(state, 'unknown'), count(*)::text, \
    current_setting('max_connections'), current_setting('superuser_reserved_connections'), \
    coalesce(nullif(current_setting('rds.rds_superuser_reserved_connections', true), ''), '0') \
    FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1";

/// Count connections within `limit`.
pub async fn run(client: &Client, limit: Duration) -> Result<Saturation, QueryError> {
    let rows = match tokio::time::timeout(limit, client.simple_query(SQL)).await {
        Err(_) => return Err(QueryError::Timeout(limit)),
        Ok(r) => r.map_err(query_error)?,
    };
    let mut s = Saturation {
        used: 0,
        max_connections: 0,
        reserved: 0,
        by_state: Vec::new(),
    };
    let num = |v: Option<&str>| v.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
    for m in &rows {
        if let SimpleQueryMessage::Row(r) = m {
            let n = num(r.get(1));
            s.used += n;
            s.by_state
                .push((r.get(0).unwrap_or("unknown").to_string(), n));
            s.max_connections = num(r.get(2));
            s.reserved = num(r.get(3)) + num(r.get(4));
        }
    }
    if s.max_connections == 0 {
        return Err(QueryError::Connection(
            "could not read max_connections from the server".into(),
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_uses_the_usable_slots() {
        let s = Saturation {
            used: 7,
            max_connections: 13,
            reserved: 3,
            by_state: vec![("active".into(), 1), ("idle".into(), 6)],
        };
        assert_eq!(s.usable(), 10);
        assert!((s.ratio() - 0.7).abs() < 1e-9);
        assert_eq!(
            s.describe(0.6),
            "7 of 10 usable connection slots in use (70%, threshold 60%; max_connections 13, 3 reserved); active 1, idle 6"
        );
    }
}
