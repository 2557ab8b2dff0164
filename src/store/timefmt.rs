//! How the store writes timestamps: RFC 3339 UTC with milliseconds and a `Z`
//! (`2026-11-20T10:00:00.000Z`). One fixed width means text order is time order, so range
//! queries and `next_attempt_at <= now` work on the TEXT columns, and `sqlite3` users read
//! the same format every other output uses.

use chrono::{DateTime, SecondsFormat, Utc};

use super::StoreError;

/// Format a timestamp for a TEXT column.
pub(crate) fn write(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Read a timestamp column back.
pub(crate) fn read(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_order_is_time_order() {
        let a = DateTime::parse_from_rfc3339("2026-11-20T09:59:59.999Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(write(a) < write(b));
        assert_eq!(write(b), "2026-11-20T10:00:00.000Z");
        assert_eq!(read(&write(a)).unwrap(), a);
        assert!(read("yesterday").is_err());
    }
}
