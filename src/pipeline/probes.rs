//! Database probes in the daemon: every configured `probes:` target runs once a
//! [`PROBE_INTERVAL`], each run is stored (`/api/v1/probes`, `history`) and exported
//! (`burnwatch_probe_*`).

use std::sync::Arc;
use std::time::Duration;

use crate::config::RawSection;
use crate::probe::db::{ProbeTarget, run_probe};
use crate::spec::diag::{Diagnostic, Diagnostics};
use crate::spec::yaml::{Node, Value};
use crate::store::Store;
use crate::telemetry::Telemetry;

/// Time between two runs of the same target.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(60);

/// Parse the configuration's `probes:` items (`file` is the configuration file, for
/// diagnostics). Errors come back as `FILE:LINE:COL` diagnostics.
pub fn parse(
    file: &std::path::Path,
    items: &[RawSection],
) -> Result<Vec<ProbeTarget>, Vec<Diagnostic>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let list = Node {
        pos: items[0].pos,
        value: Value::Seq(items.iter().map(|s| s.node.clone()).collect()),
    };
    let mut diags = Diagnostics::new(file);
    let targets = crate::probe::db::target::parse_probes(&list, &mut diags);
    if diags.error_count() > 0 {
        return Err(diags.into_vec());
    }
    Ok(targets)
}

/// Run every target every [`PROBE_INTERVAL`] until the task is aborted.
pub async fn run(targets: Vec<ProbeTarget>, store: Arc<Store>, telemetry: Telemetry) {
    let mut tick = tokio::time::interval(PROBE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for target in &targets {
            let run = run_probe(target).await;
            let steps: Vec<(&str, f64)> = run
                .steps
                .iter()
                .map(|s| (s.step.as_str(), s.ms / 1000.0))
                .collect();
            telemetry.record_probe_run(
                &run.target,
                run.classification.as_str(),
                run.healthy,
                &steps,
            );
            tracing::info!(
                target = %run.target,
                classification = run.classification.as_str(),
                healthy = run.healthy,
                id = %run.id,
                "probe run"
            );
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.insert_probe_run(&run)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "cannot store probe run"),
                Err(e) => tracing::error!(error = %e, "probe store task failed"),
            }
        }
    }
}
