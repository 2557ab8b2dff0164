//! The daemon's own background tasks: how often one ended unexpectedly and was restarted.
//! A non-zero rate means a bug (a panic), which the log explains; the restart keeps the
//! daemon doing its job meanwhile.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// Handles on the task series.
#[derive(Clone, Debug, Default)]
pub struct TaskTelemetry {
    /// `burnwatch_probe_task_restarts_total`: the database probe task ended (a target's
    /// loop panicked or returned) and was started again
    /// ([`crate::pipeline::probes::task`]).
    pub probe_task_restarts: Counter,
}

impl TaskTelemetry {
    pub(super) fn register(r: &mut Registry) -> TaskTelemetry {
        let t = TaskTelemetry::default();
        r.register(
            "burnwatch_probe_task_restarts",
            "Times the database probe task ended unexpectedly and was restarted",
            t.probe_task_restarts.clone(),
        );
        t
    }
}
