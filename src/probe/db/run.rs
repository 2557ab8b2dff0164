//! One probe run: the steps in order, each timed and bounded by its own timeout, the data
//! plane stopping at the first failure, then the RDS control plane when configured.
//!
//! The run's classification is that of the first failed step in layer order (the RDS step
//! comes last); when the data plane fails, the RDS step still runs and its detail explains
//! the failure (rebooting, failover) in the same record.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::probe::model::{Classification, ProbeRun, StepName, StepResult, format_ts, new_run_id};
use crate::probe::{Probe, ProbeFuture};

use super::rds::RdsEvent;
use super::target::ProbeTarget;
use super::{auth, dns, query, rds, saturation, tcp, tls};

/// A run plus facts that do not belong in the `probe --json` document but in history
/// (RDS events feed the postmortem timeline).
#[derive(Debug, Clone)]
pub struct ProbeOutcome {
    /// The contract document.
    pub run: ProbeRun,
    /// RDS events of the last hour, when the RDS step ran.
    pub rds_events: Vec<RdsEvent>,
}

/// Run every step against `target` once. The one entry point for the CLI and the daemon.
/// Never fails; never takes longer than `target.timeouts.total()` (plus scheduling).
pub async fn run_probe(target: &ProbeTarget) -> ProbeRun {
    run_probe_outcome(target).await.run
}

/// [`run_probe`], also returning the RDS events it saw.
#[tracing::instrument(name = "probe", skip_all, fields(target = %target.name, classification = tracing::field::Empty))]
pub async fn run_probe_outcome(target: &ProbeTarget) -> ProbeOutcome {
    let started = Utc::now();
    let mut rec = Recorder::default();
    data_plane(target, &mut rec).await;
    let mut rds_events = Vec::new();
    if let Some(id) = &target.rds_instance_id {
        let limit = target.timeouts.rds.to_std();
        let t0 = rec.begin(StepName::Rds);
        // Building the client (region, credentials chain) counts against the step too.
        let result = tokio::time::timeout(limit, async {
            let client = rds::client(&target.aws).await;
            rds::check(&client, id, limit).await
        })
        .await
        .unwrap_or(Err(rds::RdsError::Timeout(limit)));
        match result {
            Ok(f) => {
                rds_events = f.events.clone();
                if f.serving() {
                    rec.ok(StepName::Rds, t0, f.describe());
                } else {
                    rec.fail(
                        StepName::Rds,
                        t0,
                        Classification::RdsNotAvailable,
                        f.describe(),
                    );
                }
            }
            Err(e) => rec.fail(StepName::Rds, t0, e.classification(), e.to_string()),
        }
    }
    let (classification, failed_step) = rec.failure.unwrap_or((Classification::Healthy, None));
    tracing::Span::current().record("classification", classification.as_str());
    ProbeOutcome {
        run: ProbeRun {
            id: new_run_id(started),
            target: target.name.clone(),
            started_at: format_ts(started),
            healthy: classification == Classification::Healthy,
            classification,
            failed_step,
            steps: rec.steps,
            runbook: classification.runbook(),
        },
        rds_events,
    }
}

/// Steps 1–6; returns at the first failure.
async fn data_plane(target: &ProbeTarget, rec: &mut Recorder) {
    let t = &target.timeouts;

    let t0 = rec.begin(StepName::Dns);
    let addrs = match dns::resolve(&target.host, target.port, t.dns.to_std()).await {
        Ok(a) => {
            rec.ok(StepName::Dns, t0, dns::describe(&a));
            a
        }
        Err(e) => return rec.fail(StepName::Dns, t0, e.classification(), e.to_string()),
    };

    let t0 = rec.begin(StepName::Tcp);
    let connected = match tcp::connect(&addrs, t.tcp.to_std()).await {
        Ok(c) => {
            rec.ok(StepName::Tcp, t0, tcp::describe(&c.outcomes));
            c
        }
        Err(e) => {
            let detail = tcp::describe(&e.outcomes);
            return rec.fail(StepName::Tcp, t0, e.classification(), detail);
        }
    };

    let t0 = rec.begin(StepName::Tls);
    let negotiated = match tls::negotiate(
        connected.stream,
        &target.host,
        target.sslmode,
        target.ca_bundle.as_deref(),
        t.tls.to_std(),
    )
    .await
    {
        Ok(n) => {
            rec.ok(StepName::Tls, t0, n.detail.clone());
            n
        }
        Err(e) => return rec.fail(StepName::Tls, t0, e.classification(), e.to_string()),
    };

    let t0 = rec.begin(StepName::Auth);
    let session = match auth::login(negotiated.stream, target, t.auth.to_std()).await {
        Ok(s) => {
            rec.ok(
                StepName::Auth,
                t0,
                format!(
                    "logged in as {} to database {} ({})",
                    target.user,
                    target.dbname,
                    password_kind(target)
                ),
            );
            s
        }
        Err(e) => return rec.fail(StepName::Auth, t0, e.classification(), e.detail()),
    };

    let t0 = rec.begin(StepName::Query);
    let threshold = target.query_slow.to_std();
    match query::run(&session.client, &target.query, t.query.to_std()).await {
        Ok(f) => {
            let detail = f.describe(&target.query, threshold);
            if !f.matches(target.target_session_attrs) {
                let want = match target.target_session_attrs {
                    super::target::SessionAttrs::ReadOnly => {
                        "the target expects a read-only server but this one accepts writes"
                    }
                    _ => {
                        "the target expects a writable primary: writes sent here fail (stale endpoint after a failover?)"
                    }
                };
                return rec.fail(
                    StepName::Query,
                    t0,
                    Classification::QueryFailed,
                    format!("{detail}; {want}"),
                );
            }
            if f.latency > threshold {
                return rec.fail(StepName::Query, t0, Classification::QuerySlow, detail);
            }
            rec.ok(StepName::Query, t0, detail);
        }
        Err(e) => return rec.fail(StepName::Query, t0, e.classification(), e.to_string()),
    }

    let t0 = rec.begin(StepName::Saturation);
    match saturation::run(&session.client, t.saturation.to_std()).await {
        Ok(s) => {
            let detail = s.describe(target.saturation_high);
            if s.ratio() >= target.saturation_high {
                rec.fail(
                    StepName::Saturation,
                    t0,
                    Classification::SaturationHigh,
                    detail,
                );
            } else {
                rec.ok(StepName::Saturation, t0, detail);
            }
        }
        Err(e) => rec.fail(
            StepName::Saturation,
            t0,
            Classification::QueryFailed,
            format!("cannot count connections: {e}"),
        ),
    }
}

/// How the password was obtained, for the auth detail (never the value).
fn password_kind(target: &ProbeTarget) -> String {
    use super::target::PasswordSource as P;
    match &target.password {
        P::None => "no password".into(),
        P::Env(v) => format!("password from ${v}"),
        P::SecretsManager { secret_id, .. } => format!("password from Secrets Manager {secret_id}"),
        P::RdsIam => "RDS IAM token".into(),
        P::Inline(_) => "password from the URL".into(),
    }
}

/// Collects step results and remembers the first failure.
#[derive(Default)]
struct Recorder {
    steps: Vec<StepResult>,
    failure: Option<(Classification, Option<StepName>)>,
    /// The trace span of the step under way (`probe.dns`, ...), closed when it is recorded.
    span: Option<tracing::Span>,
}

impl Recorder {
    /// Start `step`: its clock and its trace span (a child of the run's `probe` span).
    fn begin(&mut self, step: StepName) -> Instant {
        self.span = Some(tracing::info_span!(
            "probe.step",
            otel.name = format!("probe.{step}"),
            step = step.as_str(),
            ok = tracing::field::Empty,
            classification = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        ));
        Instant::now()
    }
    fn push(&mut self, step: StepName, t0: Instant, ok: bool, detail: String) {
        if let Some(span) = self.span.take() {
            span.record("ok", ok);
            if !ok {
                span.record("otel.status_code", "ERROR");
            }
        }
        self.steps.push(StepResult {
            step,
            ok,
            ms: millis(t0.elapsed()),
            detail,
        });
    }
    fn ok(&mut self, step: StepName, t0: Instant, detail: String) {
        self.push(step, t0, true, detail);
    }
    fn fail(&mut self, step: StepName, t0: Instant, c: Classification, detail: String) {
        if let Some(span) = &self.span {
            span.record("classification", c.as_str());
        }
        self.push(step, t0, false, detail);
        if self.failure.is_none() {
            self.failure = Some((c, Some(step)));
        }
    }
}

/// Milliseconds with microsecond resolution.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A [`Probe`] over one configured database target.
#[derive(Debug, Clone)]
pub struct DbProbe {
    /// What to probe.
    pub target: ProbeTarget,
}

impl Probe for DbProbe {
    fn name(&self) -> &str {
        &self.target.name
    }
    fn budget(&self) -> Duration {
        self.target.timeouts.total()
    }
    fn run(&self) -> ProbeFuture<'_> {
        Box::pin(run_probe(&self.target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unresolvable_name_stops_at_dns() {
        let t = ProbeTarget::new("t", "burnwatch-run.invalid", 5432, "db", "u");
        let run = run_probe(&t).await;
        assert!(!run.healthy);
        assert_eq!(run.classification, Classification::DnsFailed);
        assert_eq!(run.failed_step, Some(StepName::Dns));
        assert_eq!(run.steps.len(), 1);
        assert_eq!(run.runbook, "runbooks/db-connectivity.md#dns-failed");
        assert!(
            run.steps[0].detail.contains("burnwatch-run.invalid"),
            "{}",
            run.steps[0].detail
        );
    }

    #[test]
    fn millis_round_to_microseconds() {
        assert_eq!(millis(Duration::from_nanos(1_234_567)), 1.235);
    }
}
