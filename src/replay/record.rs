//! Recorded data: the JSON Lines format `burnwatch replay` reads and `run --record`
//! writes (design.md, "Recorded data").
//!
//! Each non-blank line is one JSON object in one of these forms:
//! - SLO events, for PromQL SLIs: `{"ts":"…","slo_id":"…","good":995,"total":1000}`, the
//!   events of the minute starting at `ts` (floored to the minute; a later line for the
//!   same minute replaces an earlier one, as a re-read does in the daemon);
//! - a raw-SLI sample (burnwatch extension): `{"ts":"…","slo_id":"…","error_ratio":0.01}`,
//!   the minute's sample (a later line for the minute replaces it), averaged with the
//!   other minutes of its windows as Sloth averages raw ratios;
//! - a CloudWatch datapoint, exactly as GetMetricData returns it after flattening:
//!   `{"ts":"…","namespace":"AWS/ApplicationELB","metric":"RequestCount",
//!   "dimensions":{"LoadBalancer":"app/…"},"stat":"Sum","period":60,"value":1200}`.
//!   Turning datapoints into SLO events is the CloudWatch source's job; this module only
//!   reads and checks them into the record writer's [`Datapoint`] type.
//!
//! A missing minute is "no datapoint", not an error. Every problem is reported with its
//! line number; nothing is skipped silently.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde_json::{Map, Value};

pub use crate::source::record::Datapoint;

/// One checked line.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Good and total events of one SLO in one minute.
    Events {
        /// Seconds since the epoch.
        ts: i64,
        /// The SLO id.
        slo_id: String,
        /// Good events.
        good: u64,
        /// All events.
        total: u64,
    },
    /// One raw-SLI sample.
    Ratio {
        /// Seconds since the epoch.
        ts: i64,
        /// The SLO id.
        slo_id: String,
        /// Error ratio in [0, 1].
        error_ratio: f64,
    },
    /// A CloudWatch datapoint.
    Datapoint(Datapoint),
}

impl Record {
    /// The record's timestamp (seconds since the epoch).
    pub fn ts(&self) -> i64 {
        match self {
            Record::Events { ts, .. } | Record::Ratio { ts, .. } => *ts,
            Record::Datapoint(d) => d.ts.timestamp(),
        }
    }
}

/// A record and the line it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// 1-based line number.
    pub number: usize,
    /// What it says.
    pub record: Record,
}

/// A line that could not be read, or the file itself.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A bad line.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

/// How far (seconds) any line may lie from the recording's median timestamp: a year and a
/// day. Replay evaluates every step from the first to the last line and the daemon's
/// `sources.replay` loops over the span, so one far-away line (`9999-12-31`) would
/// otherwise mean an effectively endless loop or allocation.
pub const MAX_SPAN_SECS: i64 = 367 * 86_400;

/// How far (seconds) past the current time a line may lie (clock skew between recorder
/// and reader); recordings are of the past.
pub const MAX_FUTURE_SECS: i64 = 86_400;

/// Read every line of `input`; a line dated more than [`MAX_SPAN_SECS`] from the median
/// line, or more than [`MAX_FUTURE_SECS`] past now, is rejected with its line number (the
/// whole file, not quarantined: a recording is checked input, like a spec).
pub fn read(input: impl BufRead) -> Result<Vec<Line>, ReadError> {
    let lines = read_unchecked(input)?;
    check_range(&lines, chrono::Utc::now().timestamp())?;
    Ok(lines)
}

/// Reject lines far from the rest of the data or from `now` (see [`read`]).
pub fn check_range(lines: &[Line], now: i64) -> Result<(), ReadError> {
    let mut sorted: Vec<i64> = lines.iter().map(|l| l.record.ts()).collect();
    sorted.sort_unstable();
    let Some(&median) = sorted.get(sorted.len() / 2) else {
        return Ok(());
    };
    for l in lines {
        let ts = l.record.ts();
        if ts > now.saturating_add(MAX_FUTURE_SECS) {
            return Err(ReadError::Line {
                line: l.number,
                message: format!(
                    "timestamp {} is more than a day in the future; a recording holds past data",
                    fmt_ts(ts)
                ),
            });
        }
        if ts.abs_diff(median) > MAX_SPAN_SECS.unsigned_abs() {
            return Err(ReadError::Line {
                line: l.number,
                message: format!(
                    "timestamp {} is more than {} days from the rest of the recording \
                     (median {}); fix or remove the line",
                    fmt_ts(ts),
                    MAX_SPAN_SECS / 86_400,
                    fmt_ts(median)
                ),
            });
        }
    }
    Ok(())
}

fn fmt_ts(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map_or_else(|| ts.to_string(), |t| t.to_rfc3339())
}

fn read_unchecked(input: impl BufRead) -> Result<Vec<Line>, ReadError> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record = parse_line(&line).map_err(|message| ReadError::Line {
            line: i + 1,
            message,
        })?;
        out.push(Line {
            number: i + 1,
            record,
        });
    }
    Ok(out)
}

/// Parse one line.
pub fn parse_line(text: &str) -> Result<Record, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("expected a JSON object".into());
    };
    if obj.contains_key("slo_id") {
        if obj.contains_key("error_ratio") {
            check_keys(&obj, &["ts", "slo_id", "error_ratio"])?;
            let error_ratio = obj
                .get("error_ratio")
                .and_then(Value::as_f64)
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or("field \"error_ratio\" must be a number in [0, 1]")?;
            Ok(Record::Ratio {
                ts: ts(&obj)?,
                slo_id: string(&obj, "slo_id")?,
                error_ratio,
            })
        } else {
            check_keys(&obj, &["ts", "slo_id", "good", "total"])?;
            let good = count(&obj, "good")?;
            let total = count(&obj, "total")?;
            if good > total {
                return Err(format!(
                    "\"good\" ({good}) exceeds \"total\" ({total}): total counts every valid \
                     event, good ones included"
                ));
            }
            Ok(Record::Events {
                ts: ts(&obj)?,
                slo_id: string(&obj, "slo_id")?,
                good,
                total,
            })
        }
    } else if obj.contains_key("namespace") {
        check_keys(
            &obj,
            &[
                "ts",
                "namespace",
                "metric",
                "dimensions",
                "stat",
                "period",
                "value",
            ],
        )?;
        let dimensions = match obj.get("dimensions") {
            None => BTreeMap::new(),
            Some(Value::Object(d)) => d
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(format!("dimension {k:?} must be a string")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("field \"dimensions\" must be an object of strings".into()),
        };
        let period = obj
            .get("period")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p > 0 && p % 60 == 0)
            .ok_or("field \"period\" must be a positive multiple of 60 seconds")?;
        // `null` is how `run --record` writes a non-finite value: it replays as the live
        // source saw it (bad data, `no_data`), not as an error.
        let value = match obj.get("value") {
            Some(Value::Null) => f64::NAN,
            v => v
                .and_then(Value::as_f64)
                .ok_or("field \"value\" must be a number (or null)")?,
        };
        let secs = ts(&obj)?;
        let ts = chrono::DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| format!("timestamp {secs} is out of range"))?;
        Ok(Record::Datapoint(Datapoint {
            ts,
            namespace: string(&obj, "namespace")?,
            metric: string(&obj, "metric")?,
            dimensions,
            stat: string(&obj, "stat")?,
            period,
            value,
        }))
    } else {
        Err(
            "unknown record: expected {\"ts\",\"slo_id\",\"good\",\"total\"}, \
             {\"ts\",\"slo_id\",\"error_ratio\"} or a CloudWatch datapoint \
             {\"ts\",\"namespace\",\"metric\",\"dimensions\",\"stat\",\"period\",\"value\"}"
                .into(),
        )
    }
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "unknown field {k:?} (this form has: {})",
                allowed.join(", ")
            ));
        }
    }
    for k in allowed {
        if *k != "dimensions" && !obj.contains_key(*k) {
            return Err(format!("missing field {k:?}"));
        }
    }
    Ok(())
}

fn string(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("field {key:?} must be a non-empty string")),
    }
}

fn ts(obj: &Map<String, Value>) -> Result<i64, String> {
    let s = string(obj, "ts")?;
    chrono::DateTime::parse_from_rfc3339(&s)
        .map(|t| t.timestamp())
        .map_err(|e| format!("field \"ts\" is not an RFC 3339 time ({e}): {s:?}"))
}

/// A count: a non-negative number (`1200`, `1200.0` as CloudWatch sums print, or
/// `241.2` as a PromQL `rate × window` gives), rounded to the nearest whole event as the
/// live daemon stores it, so a recording replays to the same counts.
fn count(obj: &Map<String, Value>, key: &str) -> Result<u64, String> {
    let v = obj.get(key);
    if let Some(n) = v.and_then(Value::as_u64) {
        return Ok(n);
    }
    match v.and_then(Value::as_f64) {
        Some(f) if (0.0..9.0e15).contains(&f) => Ok(f.round() as u64),
        _ => Err(format!(
            "field {key:?} must be a non-negative number, got {}",
            v.map_or("nothing".to_string(), Value::to_string)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_all_three_forms() {
        let text = r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a-b","good":995,"total":1000}

{"ts":"2026-11-20T10:00:30+00:00","slo_id":"a-c","error_ratio":0.25}
{"ts":"2026-11-20T10:00:00Z","namespace":"AWS/ApplicationELB","metric":"RequestCount","dimensions":{"LoadBalancer":"app/x/1"},"stat":"Sum","period":60,"value":1200}
"#;
        let lines = read(text.as_bytes()).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0].record,
            Record::Events {
                ts: 1_795_168_800,
                slo_id: "a-b".into(),
                good: 995,
                total: 1000
            }
        );
        assert_eq!(lines[1].number, 3);
        assert!(
            matches!(&lines[2].record, Record::Datapoint(d) if d.value == 1200.0 && d.dimensions["LoadBalancer"] == "app/x/1")
        );
    }

    #[test]
    fn fractional_promql_counts_round_like_the_daemon_stores_them() {
        let r =
            parse_line(r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","good":226.6,"total":241.2}"#)
                .unwrap();
        assert!(
            matches!(
                r,
                Record::Events {
                    good: 227,
                    total: 241,
                    ..
                }
            ),
            "{r:?}"
        );
    }

    #[test]
    fn a_recorded_non_finite_value_reads_back_as_nan() {
        let r = parse_line(r#"{"ts":"2026-11-20T10:00:00Z","namespace":"N","metric":"M","dimensions":{},"stat":"Sum","period":60,"value":null}"#)
            .unwrap();
        assert!(matches!(r, Record::Datapoint(d) if d.value.is_nan()));
    }

    #[test]
    fn bad_lines_say_which_and_why() {
        let cases = [
            (
                r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","good":5,"total":3}"#,
                "exceeds",
            ),
            (
                r#"{"ts":"yesterday","slo_id":"a","good":1,"total":3}"#,
                "RFC 3339",
            ),
            (
                r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","good":-1,"total":3}"#,
                "non-negative number",
            ),
            (
                r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","good":"1","total":3}"#,
                "non-negative number",
            ),
            (
                r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","good":1,"totl":3}"#,
                "unknown field \"totl\"",
            ),
            (
                r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","good":1}"#,
                "missing field \"total\"",
            ),
            (
                r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","error_ratio":2}"#,
                "[0, 1]",
            ),
            (r#"[1,2]"#, "JSON object"),
            (r#"{"ts":"#, "not a JSON object"),
            (r#"{"hello":1}"#, "unknown record"),
        ];
        for (line, expect) in cases {
            let text = format!("\n{line}\n");
            let err = read(text.as_bytes()).unwrap_err().to_string();
            assert!(err.starts_with("line 2: "), "{err}");
            assert!(err.contains(expect), "{line}: {err}");
        }
    }

    #[test]
    fn a_far_away_line_is_rejected_with_its_number() {
        let ok = r#"{"ts":"2026-11-20T10:00:00Z","slo_id":"a","good":1,"total":3}"#;
        let far = r#"{"ts":"9999-12-31T00:00:00Z","slo_id":"a","good":1,"total":3}"#;
        let past = r#"{"ts":"1971-01-01T00:00:00Z","slo_id":"a","good":1,"total":3}"#;
        let now = 1_796_000_000;
        for bad in [far, past] {
            let text = format!("{ok}\n{ok}\n{bad}\n{ok}\n");
            let lines = read_unchecked(text.as_bytes()).unwrap();
            let err = check_range(&lines, now).unwrap_err().to_string();
            assert!(err.starts_with("line 3: "), "{err}");
        }
        // Every line far in the future: refused against now, not only against each other.
        let text = format!("{far}\n{far}\n");
        let lines = read_unchecked(text.as_bytes()).unwrap();
        let err = check_range(&lines, now).unwrap_err().to_string();
        assert!(
            err.starts_with("line 1: ") && err.contains("future"),
            "{err}"
        );
        let text = format!("{ok}\n{ok}\n");
        check_range(&read_unchecked(text.as_bytes()).unwrap(), now).unwrap();
    }
}
