//! Backtesting: run recorded data through the real window store and evaluator, as the
//! daemon would have seen it, and report every alert transition.
//!
//! Time range: evaluations run every `eval_interval` on the epoch-aligned grid (like
//! Prometheus' rule slots), from the first recorded timestamp to the end of the last
//! recorded minute (`until` moves the end, either way). Before each evaluation at `t`,
//! every minute that is complete at `t` is fed in, so the evaluator never sees the
//! future. Evaluation stops where the data stops: past it every window would be "no
//! data", which holds alerts rather than resolving them, so to see a page resolve, the
//! recording must cover the recovery.

pub mod record;

use std::collections::BTreeMap;

use crate::eval::{Change, Evaluator, IngestError, SloIndex, Transition};
use crate::source::record as source_record;
use crate::spec::{Severity, Slo};
use crate::window::{self, Counts};

use record::{Line, Record};

/// How to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Seconds between evaluations (> 0).
    pub eval_interval: i64,
    /// Last evaluation time (inclusive); default: end of the last recorded minute.
    pub until: Option<i64>,
}

/// What a replay found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Every alert state change, in time order.
    pub transitions: Vec<Transition>,
    /// Number of SLOs evaluated.
    pub slos: usize,
    /// Number of evaluations.
    pub evaluations: u64,
    /// First and last evaluation time, if any.
    pub range: Option<(i64, i64)>,
    /// Page alerts that fired.
    pub pages: usize,
    /// Ticket alerts that fired (burn-rate and data-missing tickets).
    pub tickets: usize,
}

/// Why the data cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A line that does not fit the specs.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `until` lies too far past the data: the loop would run (almost) forever.
    #[error("--until is more than {} days past the first recorded line", record::MAX_SPAN_SECS / 86_400)]
    Until,
    /// The evaluation interval is not positive.
    #[error("the evaluation interval must be at least one second")]
    Interval,
    /// The evaluator refused a minute (cannot happen for checked, time-ordered input;
    /// reported rather than ignored).
    #[error("minute {minute}: {error}")]
    Ingest {
        /// The minute index.
        minute: i64,
        /// Why.
        error: IngestError,
    },
}

/// Replay `lines` through `evaluator`.
///
/// `slos` are the specs the evaluator was built from: CloudWatch datapoint lines are turned
/// into SLO events through the same plugin code the live CloudWatch source uses
/// (`source::record::events_from_datapoints`), so a recorded incident replays exactly.
pub fn run(
    evaluator: &mut Evaluator,
    slos: &[Slo],
    lines: &[Line],
    options: ReplayOptions,
) -> Result<Report, ReplayError> {
    if options.eval_interval <= 0 {
        return Err(ReplayError::Interval);
    }
    let minutes = minutes(evaluator, slos, lines)?;
    let mut report = Report {
        transitions: Vec::new(),
        slos: evaluator.len(),
        evaluations: 0,
        range: None,
        pages: 0,
        tickets: 0,
    };
    let (Some(first), Some(last)) = (
        lines.iter().map(|l| l.record.ts()).min(),
        minutes.keys().next_back().map(|(m, _)| (m + 1) * 60),
    ) else {
        return Ok(report);
    };
    let step = options.eval_interval;
    let until = options.until.unwrap_or(last);
    if until.saturating_sub(first) > record::MAX_SPAN_SECS.saturating_add(60) {
        return Err(ReplayError::Until);
    }
    let mut t = first.div_euclid(step) * step;
    if t < first {
        t += step;
    }
    let mut pending = minutes.into_iter().peekable();
    while t <= until {
        while let Some(((m, slo), _)) = pending.peek() {
            if (m + 1) * 60 > t {
                break;
            }
            let (m, slo) = (*m, *slo);
            let Some((_, counts)) = pending.next() else {
                break;
            };
            // Fed in time order, so nothing is ever too late; the counts are checked.
            evaluator
                .ingest_counts(slo, m, counts)
                .map_err(|error| ReplayError::Ingest { minute: m, error })?;
        }
        let tr = evaluator.evaluate(t);
        for x in &tr {
            if x.change == Change::Fired {
                match x.severity {
                    Severity::Page => report.pages += 1,
                    Severity::Ticket => report.tickets += 1,
                }
            }
        }
        report.transitions.extend(tr);
        report.evaluations += 1;
        report.range = Some((report.range.map_or(t, |(a, _)| a), t));
        t += step;
    }
    Ok(report)
}

/// Every line as counts per (minute, SLO), checked against the specs: event and ratio lines
/// as they are, CloudWatch datapoints through the live plugin code. Also what the daemon's
/// `sources.replay` feeds, so both replay paths read a recording the same way.
pub fn minutes(
    evaluator: &Evaluator,
    slos: &[Slo],
    lines: &[Line],
) -> Result<BTreeMap<(i64, SloIndex), Counts>, ReplayError> {
    let mut minutes = bucket(evaluator, lines)?;
    datapoint_minutes(evaluator, slos, lines, &mut minutes)?;
    Ok(minutes)
}

/// Check every line against the specs and bucket them per SLO and minute (the last line
/// for a minute wins, as a re-read bucket does in the live window store).
fn bucket(
    evaluator: &Evaluator,
    lines: &[Line],
) -> Result<BTreeMap<(i64, SloIndex), Counts>, ReplayError> {
    let mut minutes: BTreeMap<(i64, SloIndex), Counts> = BTreeMap::new();
    for line in lines {
        let err = |message: String| ReplayError::Line {
            line: line.number,
            message,
        };
        let (ts, slo_id, counts, ratio) = match &line.record {
            Record::Events {
                ts,
                slo_id,
                good,
                total,
            } => (
                *ts,
                slo_id,
                window::events_counts(*good, *total).map_err(|e| err(e.to_string()))?,
                false,
            ),
            Record::Ratio {
                ts,
                slo_id,
                error_ratio,
            } => (
                *ts,
                slo_id,
                window::ratio_counts(*error_ratio).map_err(|e| err(e.to_string()))?,
                true,
            ),
            // Turned into events through the CloudWatch plugins, see `datapoint_minutes`.
            Record::Datapoint(_) => continue,
        };
        let Some(slo) = evaluator.slo_index(slo_id) else {
            return Err(err(format!(
                "unknown SLO {slo_id:?}: no spec given defines it (ids are \
                 <service>-<name>)"
            )));
        };
        let raw = evaluator.slo(slo).def.raw;
        if raw != ratio {
            return Err(err(if raw {
                format!("SLO {slo_id:?} has a raw SLI: record \"error_ratio\", not good/total")
            } else {
                format!("SLO {slo_id:?} has an events SLI: record \"good\" and \"total\"")
            }));
        }
        // A later line for the same minute replaces an earlier one, for events and raw
        // samples alike: a recording holds the daemon's re-reads of recent minutes (late
        // data), each the whole minute's value, and the daemon keeps one value per minute.
        minutes.insert((ts.div_euclid(60), slo), counts);
    }
    Ok(minutes)
}

/// Turn the CloudWatch datapoint lines into per-minute SLO counts with the live plugin code.
/// Minutes the data covers without events are zero traffic (CloudWatch publishes no
/// datapoint when there are no requests); events of longer buckets count in the minute
/// their bucket starts.
fn datapoint_minutes(
    evaluator: &Evaluator,
    slos: &[Slo],
    lines: &[Line],
    minutes: &mut BTreeMap<(i64, SloIndex), Counts>,
) -> Result<(), ReplayError> {
    let mut first_line = None;
    let mut points = Vec::new();
    for line in lines {
        if let Record::Datapoint(d) = &line.record {
            first_line.get_or_insert(line.number);
            points.push(d.clone());
        }
    }
    let Some(line) = first_line else {
        return Ok(());
    };
    let batch = source_record::events_from_datapoints(slos, &points);
    if batch.events.is_empty() && batch.covered.is_empty() {
        return Err(ReplayError::Line {
            line,
            message: "CloudWatch datapoints match no SLO of the given specs (check the \
                      namespace, metric names and dimensions against the SLO plugins' options)"
                .into(),
        });
    }
    for c in &batch.covered {
        let Some(slo) = evaluator.slo_index(&c.slo_id) else {
            continue;
        };
        let (from, to) = (
            c.from.timestamp().div_euclid(60),
            c.to.timestamp().div_euclid(60),
        );
        for m in from..to {
            minutes.entry((m, slo)).or_default();
        }
    }
    for e in &batch.events {
        let Some(slo) = evaluator.slo_index(&e.slo_id) else {
            continue;
        };
        let counts = window::events_counts(e.good.round() as u64, e.total.round() as u64).map_err(
            |err| ReplayError::Line {
                line,
                message: format!("SLO {:?} at {}: {err}", e.slo_id, e.bucket_start),
            },
        )?;
        let entry = minutes
            .entry((e.bucket_start.timestamp().div_euclid(60), slo))
            .or_default();
        *entry = entry.plus(counts);
    }
    Ok(())
}
