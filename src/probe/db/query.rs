//! Step 5, query: the probe query's latency against the target's threshold, and whether
//! the server accepts writes.
//!
//! A read-only server (`pg_is_in_recovery()` true, or `transaction_read_only` on, e.g.
//! `default_transaction_read_only`) behind an endpoint that should be the primary means
//! writes go to the wrong node: after a failover a stale DNS answer or a pooled
//! connection still points at the old primary, now a standby. The query step then fails
//! as `query_failed` (the vocabulary is fixed; the detail says "read-only"), because the
//! application's writes *will* fail there.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, SimpleQueryMessage};

use super::target::SessionAttrs;

/// Why the query step could not measure.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The server returned an error.
    #[error("{code}: {message}")]
    Server {
        /// SQLSTATE.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The connection failed mid-query.
    #[error("query failed: {0}")]
    Connection(String),
    /// The query did not finish within the step's timeout.
    #[error("no answer to the probe query within {0:?}")]
    Timeout(Duration),
}

/// What the query step measured.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryFindings {
    /// Latency of the probe query.
    pub latency: Duration,
    /// `pg_is_in_recovery()`: the server is a standby.
    pub in_recovery: bool,
    /// `transaction_read_only` of a new transaction.
    pub read_only: bool,
    /// `server_version`.
    pub server_version: String,
}

impl QueryFindings {
    /// True when the server cannot take writes.
    pub fn is_read_only(&self) -> bool {
        self.in_recovery || self.read_only
    }

    /// Whether the server is of the kind the target asks for.
    pub fn matches(&self, want: SessionAttrs) -> bool {
        match want {
            SessionAttrs::Any => true,
            SessionAttrs::ReadWrite => !self.is_read_only(),
            SessionAttrs::ReadOnly => self.is_read_only(),
        }
    }

    /// `SELECT 1 in 0.8ms (threshold 500ms); read-write primary; PostgreSQL 15.18`.
    pub fn describe(&self, query: &str, threshold: Duration) -> String {
        let role = match (self.in_recovery, self.read_only) {
            (true, _) => "READ-ONLY: standby in recovery (pg_is_in_recovery() = true)",
            (false, true) => {
                "READ-ONLY: transaction_read_only = on (default_transaction_read_only?)"
            }
            (false, false) => "read-write primary",
        };
        format!(
            "{} in {:.1}ms (threshold {}ms); {role}; PostgreSQL {}",
            short(query),
            self.latency.as_secs_f64() * 1e3,
            threshold.as_millis(),
            self.server_version
        )
    }
}

fn short(query: &str) -> String {
    let one_line = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 60 {
        format!("{}…", one_line.chars().take(60).collect::<String>())
    } else {
        one_line
    }
}

/// Run the probe query and the read-only check within `limit`.
pub async fn run(
    client: &Client,
    query: &str,
    limit: Duration,
) -> Result<QueryFindings, QueryError> {
    match tokio::time::timeout(limit, run_inner(client, query)).await {
        Ok(r) => r,
        Err(_) => Err(QueryError::Timeout(limit)),
    }
}

async fn run_inner(client: &Client, query: &str) -> Result<QueryFindings, QueryError> {
    let start = Instant::now();
    client.simple_query(query).await.map_err(query_error)?;
    let latency = start.elapsed();
    let rows = client
        .simple_query(
            "SELECT pg_is_in_recovery()::text, current_setting('transaction_read_only'), \
             current_setting('server_version')",
        )
        .await
        .map_err(query_error)?;
    let row = rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    });
    let get = |i: usize| row.and_then(|r| r.get(i)).unwrap_or("").to_string();
    Ok(QueryFindings {
        latency,
        in_recovery: get(0) == "true",
        read_only: get(1) == "on",
        server_version: get(2),
    })
}

/// Convert a driver error: SQLSTATE and message when the server sent one.
pub fn query_error(e: tokio_postgres::Error) -> QueryError {
    match e.as_db_error() {
        Some(db) => QueryError::Server {
            code: db.code().code().to_string(),
            message: db.message().to_string(),
        },
        None => QueryError::Connection(super::auth::with_causes(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_matching_and_detail() {
        let f = QueryFindings {
            latency: Duration::from_micros(800),
            in_recovery: false,
            read_only: true,
            server_version: "15.18".into(),
        };
        assert!(f.is_read_only());
        assert!(!f.matches(SessionAttrs::ReadWrite));
        assert!(f.matches(SessionAttrs::ReadOnly) && f.matches(SessionAttrs::Any));
        let d = f.describe("SELECT 1", Duration::from_millis(500));
        assert_eq!(
            d,
            "SELECT 1 in 0.8ms (threshold 500ms); READ-ONLY: transaction_read_only = on (default_transaction_read_only?); PostgreSQL 15.18"
        );
        let long = format!("SELECT {}", "1, ".repeat(40));
        assert!(short(&long).ends_with('…'));
    }
}
