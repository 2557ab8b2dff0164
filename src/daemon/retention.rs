//! The retention task: keeps the history store bounded while the daemon runs.
//!
//! A [`Pruner`] pass runs at start and then every [`PRUNE_EVERY`], on a blocking thread,
//! as a series of short transactions (so an evaluation's commit never waits long behind
//! it); the store's size is published every [`SIZE_EVERY`]. A failed pass is logged,
//! counted and retried at the next minute: every transaction is whole, so nothing is half
//! pruned.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::store::Store;
use crate::store::retention::Pruner;
use crate::telemetry::Telemetry;

/// How often history is pruned and thinned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often the store's size is read for `burnwatch_store_size_bytes`.
pub const SIZE_EVERY: Duration = Duration::from_secs(60);

/// Prune `store` to `retention` until `shutdown` completes. A pass in progress finishes
/// its current transaction series before this returns.
pub async fn run(
    store: Arc<Store>,
    retention: Duration,
    telemetry: Telemetry,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut pruner = Pruner::new(retention);
    let mut last_pass: Option<Instant> = None;
    loop {
        if last_pass.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            let started = Instant::now();
            let pass_store = store.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                let report = pruner.run(&pass_store, Utc::now());
                (pruner, report)
            })
            .await;
            match outcome {
                Ok((p, Ok(report))) => {
                    pruner = p;
                    last_pass = Some(started);
                    telemetry.store.record_prune(&report);
                    if report.deleted.total() + report.thinned.total() > 0 {
                        tracing::info!(
                            deleted = ?report.deleted.rows,
                            thinned = ?report.thinned.rows,
                            ms = started.elapsed().as_millis() as u64,
                            "history pruned"
                        );
                    }
                }
                Ok((p, Err(e))) => {
                    pruner = p;
                    telemetry.store.prune_failures.inc();
                    tracing::warn!(error = %e, "pruning history failed; retrying in a minute");
                }
                Err(e) => {
                    telemetry.store.prune_failures.inc();
                    tracing::error!(error = %e, "the pruning task failed; retention stops");
                    return;
                }
            }
        }
        let size_store = store.clone();
        match tokio::task::spawn_blocking(move || size_store.size_bytes()).await {
            Ok(Ok(bytes)) => telemetry.store.set_size(bytes),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the history store's size"),
            Err(e) => tracing::warn!(error = %e, "cannot read the history store's size"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(SIZE_EVERY) => {}
        }
    }
}
