//! `burnwatch replay` end to end: the `--json` contract, human output, bad input, and
//! (in `differential`) agreement with Prometheus evaluating Sloth's rules.

mod differential;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{burnwatch, fixture};

/// Per-minute traffic: `Some((good, total))`, or `None` for a minute without datapoint.
pub type Minutes = Vec<Option<(u64, u64)>>;

/// Write `minutes` as recorded events of SLO `diff-requests`, the first minute at `start`
/// (seconds since the epoch).
pub fn write_events(dir: &Path, name: &str, start: i64, minutes: &[Option<(u64, u64)>]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (i, m) in minutes.iter().enumerate() {
        if let Some((good, total)) = m {
            let ts = chrono::DateTime::from_timestamp(start + 60 * i as i64, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            writeln!(
                f,
                r#"{{"ts":"{ts}","slo_id":"diff-requests","good":{good},"total":{total}}}"#
            )
            .unwrap();
        }
    }
    f.flush().unwrap();
    path
}

/// Run `replay --json` with `extra` arguments; returns the transition objects and the
/// summary object.
pub fn replay_json(data: &Path, extra: &[&str]) -> (Vec<Value>, Value) {
    let out = burnwatch()
        .args(["replay", "--spec"])
        .arg(fixture("replay/slo.yaml"))
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    (lines, summary)
}

/// Steady traffic of 1000 requests a minute with `bad` errors in the given minutes.
fn traffic(len: usize, bad: impl Fn(usize) -> u64) -> Minutes {
    (0..len).map(|m| Some((1000 - bad(m), 1000))).collect()
}

const NOV20: i64 = 1_795_132_800; // 2026-11-20T00:00:00Z

#[test]
fn json_output_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    // Eight quiet hours, then 10:00-10:09 a total outage, then two quiet hours.
    let data = write_events(
        dir.path(),
        "outage.jsonl",
        NOV20,
        &traffic(12 * 60, |m| if (600..610).contains(&m) { 1000 } else { 0 }),
    );
    let (lines, summary) = replay_json(&data, &["--eval-interval", "1m"]);
    let page: Vec<&Value> = lines.iter().filter(|l| l["severity"] == "page").collect();
    assert_eq!(page.len(), 2, "{lines:?}");
    // The first outage minute (10:00) is complete at 10:01: 1/60 of the hour is > 1.44 %.
    assert_eq!(
        serde_json::to_string(page[0]).unwrap(),
        r#"{"ts":"2026-11-20T10:01:00Z","slo_id":"diff-requests","alert":"DiffHighErrorRate","severity":"page","state":"firing"}"#
    );
    // Ten minutes burn 10/360 of 6h (> 0.6 %): the 30m window keeps the page until 30
    // minutes after recovery at 10:10.
    assert_eq!(page[1]["ts"], "2026-11-20T10:40:00Z");
    assert_eq!(page[1]["state"], "resolved");
    assert!(
        lines
            .iter()
            .any(|l| l["severity"] == "ticket" && l["state"] == "firing")
    );
    assert_eq!(
        summary,
        serde_json::json!({"summary": true, "slos": 1, "evaluations": 721, "pages": 1, "tickets": 1})
    );
    assert_eq!(
        serde_json::to_string(&summary).unwrap(),
        r#"{"summary":true,"slos":1,"evaluations":721,"pages":1,"tickets":1}"#,
        "key order as documented"
    );
}

#[test]
fn text_output_shows_burn_rates_and_durations() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_events(
        dir.path(),
        "outage.jsonl",
        NOV20,
        &traffic(12 * 60, |m| if (600..610).contains(&m) { 1000 } else { 0 }),
    );
    let out = burnwatch()
        .args(["replay", "--spec"])
        .arg(fixture("replay/slo.yaml"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let firing = text
        .lines()
        .find(|l| l.contains("page") && l.contains("FIRING"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(firing.starts_with("2026-11-20T10:01:00Z"), "{firing}");
    assert!(
        firing.contains("diff-requests  DiffHighErrorRate"),
        "{firing}"
    );
    // 1 minute of 100 % errors: 5m at 200×, 1h at 16.7×, over the 14.4× factor.
    assert!(
        firing.contains("page-quick 5m 200.0× 1h 16.7× (> 14.4×, burning)"),
        "{firing}"
    );
    assert!(
        text.contains("RESOLVED  diff-requests  DiffHighErrorRate  fired for 39m"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("1441 evaluations every 30s; 1 page, 1 ticket"),
        "{text}"
    );
}

#[test]
fn a_silent_source_raises_the_data_missing_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let mut minutes = traffic(3 * 60, |_| 0);
    for m in &mut minutes[60..100] {
        *m = None;
    }
    let data = write_events(dir.path(), "gap.jsonl", NOV20, &minutes);
    let (lines, summary) = replay_json(
        &data,
        &["--eval-interval", "1m", "--data-missing-after", "10m"],
    );
    let missing: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["alert"] == "SLODataMissing")
        .map(|l| (l["ts"].as_str().unwrap(), l["state"].as_str().unwrap()))
        .collect();
    // The last datapoint covers 00:59; ten minutes of silence after 01:00 is 01:10. Data
    // is back for minute 01:40, complete at 01:41.
    assert_eq!(
        missing,
        [
            ("2026-11-20T01:10:00Z", "firing"),
            ("2026-11-20T01:41:00Z", "resolved")
        ]
    );
    assert_eq!(summary["tickets"], 1);
    assert_eq!(summary["pages"], 0, "a gap is not an outage");
}

fn replay_fails(data: &Path) -> String {
    let out = burnwatch()
        .args(["replay", "--spec"])
        .arg(fixture("replay/slo.yaml"))
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_lines_are_reported_with_their_line_number() {
    let stderr = replay_fails(&fixture("replay/good-exceeds-total.jsonl"));
    assert!(
        stderr.contains("good-exceeds-total.jsonl:3: \"good\" (1200) exceeds \"total\" (1000)"),
        "{stderr}"
    );
    let stderr = replay_fails(&fixture("replay/unknown-slo.jsonl"));
    assert!(
        stderr.contains("unknown-slo.jsonl:2: unknown SLO \"diff-request\""),
        "{stderr}"
    );
    let stderr = replay_fails(&fixture("replay/cloudwatch.jsonl"));
    assert!(
        stderr.contains("cloudwatch.jsonl:1: CloudWatch datapoints match no SLO"),
        "{stderr}"
    );
    let stderr = replay_fails(&fixture("replay/does-not-exist.jsonl"));
    assert!(stderr.contains("cannot open"), "{stderr}");
}

#[test]
fn bad_specs_and_arguments_exit_2() {
    let out = burnwatch()
        .args(["replay", "--spec", "/nonexistent/specs", "--data"])
        .arg(fixture("replay/unknown-slo.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = burnwatch()
        .args(["replay", "--spec"])
        .arg(fixture("replay/slo.yaml"))
        .arg("--data")
        .arg(fixture("replay/unknown-slo.jsonl"))
        .args(["--eval-interval", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--eval-interval"));
}

/// A recorded ALB incident in the CloudWatch datapoint form replays through the same
/// plugin code as the live source: during a total outage the load balancer answers every
/// request with a 503 and `RequestCount` has no datapoint, which must read as 100 % errors
/// (not "no traffic") and page; recovery resolves the page.
#[test]
fn cloudwatch_datapoints_replay_through_the_alb_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alb.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let start = 1_795_168_800; // 2026-11-20T10:00:00Z
    let outage = 120..140; // minutes
    let line = |f: &mut std::io::BufWriter<std::fs::File>,
                minute: i64,
                metric: &str,
                value: u64| {
        let ts = chrono::DateTime::from_timestamp(start + 60 * minute, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        writeln!(
            f,
            r#"{{"ts":"{ts}","namespace":"AWS/ApplicationELB","metric":"{metric}","dimensions":{{"LoadBalancer":"app/mass-spec/0123456789abcdef"}},"stat":"Sum","period":60,"value":{value}}}"#
        )
        .unwrap();
    };
    for minute in 0..200 {
        if outage.contains(&minute) {
            line(&mut f, minute, "HTTPCode_ELB_5XX_Count", 1000);
            line(&mut f, minute, "HTTPCode_ELB_503_Count", 1000);
        } else {
            line(&mut f, minute, "RequestCount", 1000);
        }
    }
    f.flush().unwrap();
    drop(f);
    let out = burnwatch()
        .args(["replay", "--spec"])
        .arg(crate::support::repo().join("slo-specs/api.yaml"))
        .arg("--data")
        .arg(&path)
        .args(["--json", "--eval-interval", "1m"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let page: Vec<&Value> = events
        .iter()
        .filter(|e| e["slo_id"] == "mass-spec-api-availability" && e["severity"] == "page")
        .collect();
    assert_eq!(page.len(), 2, "one page firing then resolved: {events:?}");
    let at = |e: &Value| {
        chrono::DateTime::parse_from_rfc3339(e["ts"].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    assert_eq!(page[0]["state"], "firing");
    assert_eq!(page[0]["alert"], "MassSpecAPIAvailability");
    // Onset at minute 120; the first minute of errors is complete at 121, so the page
    // fires at the evaluation of 121 (one bucket plus at most one evaluation interval).
    let fired = at(page[0]) - (start + 60 * 120);
    assert!((60..=120).contains(&fired), "fired {fired}s after onset");
    assert_eq!(page[1]["state"], "resolved");
    assert!(
        at(page[1]) > start + 60 * 140,
        "resolves only after recovery"
    );
}
