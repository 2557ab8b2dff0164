//! Recorded data: the JSON Lines form `run --record FILE` writes (the [`Recorder`]) and
//! `replay` reads (with `crate::replay::record`, which checks every line).
//!
//! One CloudWatch datapoint per line, exactly as a GetMetricData result flattens:
//! `{"ts","namespace","metric","dimensions","stat","period","value"}`; sources that are not
//! CloudWatch (PromQL, the Step Functions and Batch APIs) write their SLO events instead:
//! `{"ts","slo_id","good","total"}`, or `{"ts","slo_id","error_ratio"}` for `raw` SLIs. [`events_from_datapoints`] turns recorded datapoints
//! into SLO events through the same plugin and table code as the live fetcher, so a
//! recorded incident replays through exactly the live arithmetic. A missing minute means
//! no datapoint (zero events for count metrics), not an error.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cloudwatch::planner::QueryPlan;
use super::cloudwatch::plugins::{MetricKey, cloudwatch_slis};
use super::cloudwatch::table::{ChunkTable, evaluate_chunk};
use super::{SourceBatch, SourceError, align_down, from_epoch};
use crate::spec::Slo;

/// One recorded CloudWatch datapoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Datapoint {
    /// Bucket start.
    pub ts: DateTime<Utc>,
    /// Namespace.
    pub namespace: String,
    /// Metric name.
    pub metric: String,
    /// Dimensions.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Statistic.
    pub stat: String,
    /// Period in seconds.
    pub period: u32,
    /// Value (`null` in the file for a non-finite value, read back as NaN).
    #[serde(with = "finite_or_null")]
    pub value: f64,
}

impl Datapoint {
    /// The series this datapoint belongs to.
    pub fn key(&self) -> MetricKey {
        MetricKey {
            namespace: self.namespace.clone(),
            metric: self.metric.clone(),
            dimensions: self.dimensions.clone(),
            stat: self.stat.clone(),
        }
    }
}

/// One recorded SLO bucket (sources that are not CloudWatch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventLine {
    /// Bucket start (buckets are one minute).
    pub ts: DateTime<Utc>,
    /// The SLO.
    pub slo_id: String,
    /// Good events.
    pub good: f64,
    /// Total events.
    pub total: f64,
}

/// One recorded raw-SLI sample (a PromQL `raw` error ratio).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioLine {
    /// Bucket start.
    pub ts: DateTime<Utc>,
    /// The SLO.
    pub slo_id: String,
    /// Error ratio in `[0, 1]`.
    pub error_ratio: f64,
}

/// A line of a record file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordLine {
    /// A CloudWatch datapoint.
    Datapoint(Datapoint),
    /// SLO events.
    Events(EventLine),
    /// A raw-SLI sample.
    Ratio(RatioLine),
}

mod finite_or_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Appends recorded lines to a file; cheap to clone and share between sources.
#[derive(Clone, Debug)]
pub struct Recorder {
    path: PathBuf,
    out: Arc<Mutex<BufWriter<File>>>,
}

impl Recorder {
    /// Open `path` for appending (created if missing).
    pub fn open(path: &Path) -> Result<Recorder, SourceError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| SourceError::Record {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(Recorder {
            path: path.to_path_buf(),
            out: Arc::new(Mutex::new(BufWriter::new(file))),
        })
    }

    /// Append one series' datapoints.
    pub fn datapoints(&self, key: &MetricKey, period: u32, points: &[(i64, f64)]) {
        self.write(points.iter().map(|&(ts, value)| {
            RecordLine::Datapoint(Datapoint {
                ts: from_epoch(ts),
                namespace: key.namespace.clone(),
                metric: key.metric.clone(),
                dimensions: key.dimensions.clone(),
                stat: key.stat.clone(),
                period,
                value,
            })
        }));
    }

    /// Append what a source delivered, so that it replays as the daemon saw it: events
    /// as event lines, samples of the `raw` SLOs as `error_ratio` lines, and every covered
    /// bucket without an event as a zero line (it had no events; a bucket outside any
    /// coverage stays absent, which replays as "no datapoint", as a failed read did live).
    pub fn batch(&self, batch: &SourceBatch, raw: &dyn Fn(&str) -> bool) {
        let mut lines: Vec<(DateTime<Utc>, RecordLine)> = batch
            .events
            .iter()
            .map(|e| {
                let line = if raw(&e.slo_id) {
                    RecordLine::Ratio(RatioLine {
                        ts: e.bucket_start,
                        slo_id: e.slo_id.clone(),
                        error_ratio: if e.total > 0.0 {
                            (1.0 - e.good / e.total).clamp(0.0, 1.0)
                        } else {
                            0.0
                        },
                    })
                } else {
                    RecordLine::Events(EventLine {
                        ts: e.bucket_start,
                        slo_id: e.slo_id.clone(),
                        good: e.good,
                        total: e.total,
                    })
                };
                (e.bucket_start, line)
            })
            .collect();
        let with_events: std::collections::HashSet<(&str, DateTime<Utc>)> = batch
            .events
            .iter()
            .map(|e| (e.slo_id.as_str(), e.bucket_start))
            .collect();
        for c in batch.covered.iter().filter(|c| !raw(&c.slo_id)) {
            let step = chrono::TimeDelta::seconds(i64::from(c.bucket_secs.max(60)));
            let mut t = c.from;
            while t < c.to {
                if !with_events.contains(&(c.slo_id.as_str(), t)) {
                    lines.push((
                        t,
                        RecordLine::Events(EventLine {
                            ts: t,
                            slo_id: c.slo_id.clone(),
                            good: 0.0,
                            total: 0.0,
                        }),
                    ));
                }
                t += step;
            }
        }
        lines.sort_by_key(|(t, _)| *t);
        self.write(lines.into_iter().map(|(_, l)| l));
    }

    /// Flush buffered lines to the file.
    pub fn flush(&self) {
        if let Ok(mut out) = self.out.lock()
            && let Err(e) = out.flush()
        {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write record file");
        }
    }

    fn write(&self, lines: impl Iterator<Item = RecordLine>) {
        let Ok(mut out) = self.out.lock() else {
            return;
        };
        for line in lines {
            let res = serde_json::to_writer(&mut *out, &line)
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = res {
                tracing::error!(path = %self.path.display(), error = %e, "cannot write record file");
                return;
            }
        }
    }
}

/// Turn recorded CloudWatch datapoints into SLO events for `slos`, through the live plugin
/// code. Datapoints are grouped by period; each group covers the buckets from its first to
/// its last datapoint, and a later line for the same series and bucket replaces an earlier
/// one (re-reads of the overlap). SLOs none of whose metrics appear in the data get
/// nothing (their source was not CloudWatch, or they were not recorded).
pub fn events_from_datapoints(slos: &[Slo], datapoints: &[Datapoint]) -> SourceBatch {
    let keys: HashMap<MetricKey, ()> = datapoints.iter().map(|d| (d.key(), ())).collect();
    let slis: Vec<_> = cloudwatch_slis(slos, &|_| true)
        .into_iter()
        .filter(|s| s.keys().any(|k| keys.contains_key(k)))
        .collect();
    let plan = QueryPlan::build(&slis);
    let index: HashMap<&MetricKey, usize> = plan
        .queries
        .iter()
        .enumerate()
        .map(|(i, k)| (k, i))
        .collect();
    let mut by_period: BTreeMap<u32, Vec<(usize, &Datapoint)>> = BTreeMap::new();
    for d in datapoints {
        if let Some(&q) = index.get(&d.key()) {
            by_period.entry(d.period.max(1)).or_default().push((q, d));
        }
    }
    let mut batch = SourceBatch::default();
    for (period, points) in by_period {
        let (Some(min), Some(max)) = (
            points.iter().map(|(_, d)| d.ts).min(),
            points.iter().map(|(_, d)| d.ts).max(),
        ) else {
            continue;
        };
        let start = align_down(min, period);
        let end = align_down(max, period) + chrono::TimeDelta::seconds(i64::from(period));
        let mut table = ChunkTable::new(start, end, period, plan.queries.len());
        for (q, d) in points {
            table.insert(q, d.ts.timestamp(), d.value);
        }
        batch.extend(evaluate_chunk(&plan, &table, &HashMap::new(), |_| true));
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_line_forms_parse_and_round_trip() {
        let dp = r#"{"ts":"2026-11-20T10:00:00Z","namespace":"AWS/ApplicationELB","metric":"RequestCount","dimensions":{"LoadBalancer":"app/mass-spec/0123456789abcdef"},"stat":"Sum","period":60,"value":1200}"#;
        let ev = r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"mass-spec-web-availability","good":995,"total":1000}"#;
        let a: RecordLine = serde_json::from_str(dp).unwrap();
        let b: RecordLine = serde_json::from_str(ev).unwrap();
        let RecordLine::Datapoint(d) = &a else {
            panic!("{a:?}")
        };
        assert_eq!(
            (d.metric.as_str(), d.value, d.period),
            ("RequestCount", 1200.0, 60)
        );
        assert!(matches!(&b, RecordLine::Events(e) if e.total == 1000.0));
        let back: RecordLine = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        // A typo'd field is an error, not a silently different line.
        assert!(serde_json::from_str::<RecordLine>(&dp.replace("metric", "metrik")).is_err());
    }

    #[test]
    fn non_finite_values_are_written_as_null_and_read_as_nan() {
        let d = RecordLine::Datapoint(Datapoint {
            ts: from_epoch(0),
            namespace: "N".into(),
            metric: "M".into(),
            dimensions: BTreeMap::new(),
            stat: "Sum".into(),
            period: 60,
            value: f64::NAN,
        });
        let s = serde_json::to_string(&d).unwrap();
        assert!(s.contains("\"value\":null"), "{s}");
        let RecordLine::Datapoint(back) = serde_json::from_str(&s).unwrap() else {
            panic!()
        };
        assert!(back.value.is_nan());
    }
}
