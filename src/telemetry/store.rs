//! The history store's own series: its size and what retention removed
//! (`burnwatch_store_*`), so a disk filling up is seen before it stops the daemon.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::store::retention::PruneReport;

/// Labels of pruned-row counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PrunedLabels {
    /// The store table (`slo_snapshots`, `probe_runs`, …).
    pub table: String,
    /// `retention` (older than `storage.retention`) or `thinned` (kept hourly).
    pub reason: String,
}

/// The store's series.
#[derive(Clone, Debug, Default)]
pub struct StoreTelemetry {
    /// `burnwatch_store_size_bytes`.
    pub size_bytes: Gauge,
    /// `burnwatch_store_rows_pruned_total{table,reason}`.
    pub rows_pruned: Family<PrunedLabels, Counter>,
    /// `burnwatch_store_prune_failures_total`.
    pub prune_failures: Counter,
}

impl StoreTelemetry {
    /// Declare the series in `r`.
    pub(super) fn register(r: &mut Registry) -> StoreTelemetry {
        let t = StoreTelemetry::default();
        r.register(
            "burnwatch_store_size_bytes",
            "Size of the history store's SQLite file (pages in use and free for reuse)",
            t.size_bytes.clone(),
        );
        r.register(
            "burnwatch_store_rows_pruned",
            "History rows removed by retention (past storage.retention, or thinned to hourly)",
            t.rows_pruned.clone(),
        );
        r.register(
            "burnwatch_store_prune_failures",
            "Retention passes that failed (retried at the next pass)",
            t.prune_failures.clone(),
        );
        t
    }

    /// Count what one retention pass removed.
    pub fn record_prune(&self, report: &PruneReport) {
        for (pruned, reason) in [(&report.deleted, "retention"), (&report.thinned, "thinned")] {
            for &(table, n) in &pruned.rows {
                self.rows_pruned
                    .get_or_create(&PrunedLabels {
                        table: table.to_string(),
                        reason: reason.to_string(),
                    })
                    .inc_by(n as u64);
            }
        }
    }

    /// Set the store's size.
    pub fn set_size(&self, bytes: u64) {
        self.size_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}
