//! Differential test: burnwatch's evaluator against Prometheus evaluating Sloth's rules.
//!
//! For each scenario the same per-minute events go to both sides:
//! - (a) Prometheus: `promtool test rules` (evaluation interval 1m) runs the rules Sloth
//!   v0.11+ generates for the fixture SLO (`tests/fixtures/replay/slo.yaml`), written out
//!   below from sloth-compat.md §6.3 (SLI recording rules) and §6.5 (alert rules). The
//!   events become two counters, `http_requests_total{code="200"}` and `{code="500"}`,
//!   sampled every minute: the sample at minute `i` is the cumulative count of minutes
//!   `0..i`, both counters start at 0 at minute 0.
//! - (b) burnwatch: `burnwatch replay --eval-interval 1m --json` on the same events as
//!   `{"ts","slo_id","good","total"}` lines.
//!
//! Technique: `promtool test rules` can only assert which alerts are active at given
//! times, so the test derives the alert timeline (which of page/ticket fires at each
//! minute) from replay and asserts it in promtool at every minute of the scenario.
//! promtool fails on any difference and prints what Prometheus had. The issue allows one
//! evaluation step of difference at window edges; these scenarios agree at every minute,
//! so none is allowed.
//!
//! Why the rate() ratio equals burnwatch's event sums: Prometheus 2.x ranges include both
//! ends, so `rate(c[w])` at a minute boundary sees a sample exactly at the range start and
//! one at the end, and `extrapolatedRate` extends the interval by nothing (the distance to
//! either edge is 0, below its 1.1 × sample-spacing threshold). Where a range reaches
//! before the series start, the counters' first sample is 0, so the extrapolation to the
//! counter's zero point is also 0. The `/ range` cancels in the error/total ratio, leaving
//! Σerrors/Σtotal over exactly the minutes burnwatch sums.
//!
//! Known, documented differences (see README "Evaluation semantics"):
//! - A window whose start falls in a gap: Prometheus loses the minute just after the gap
//!   (its counter sample is missing) and extrapolates by half a sample interval;
//!   burnwatch sums the minutes it has. The gap scenario keeps errors away from those
//!   edges; the difference would be a fraction of a minute's events.
//! - No data while an alert fires: Prometheus resolves (absent series compare false),
//!   burnwatch holds until data shows the burn stopped. The comparison scenarios never
//!   lose data while an alert fires; `no_data_while_firing_*` shows the difference on
//!   both sides.
//! - 1d, 3d and the period use five-minute buckets in burnwatch, pro rata at the old edge:
//!   exact while traffic is steady within the edge bucket. The "day-old incident" and
//!   "slow burn" scenarios move error changes through the 1d window's old edge. (With the
//!   Workbook catalog a full 3d window makes the 2h/1d ticket pair imply the 6h/3d one,
//!   so the 1d edge rarely decides a ticket; it does show in the 1d ratio on /metrics.)
//! - The period ratio (exact events in burnwatch, a mean of 5m ratios in Sloth) is not in
//!   any alert expression, so it cannot change alerts; it is not compared here.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::Command;

use super::{Minutes, replay_json, traffic, write_events};
use crate::support::service;

/// Sloth's error budget for 99.9 (`(100 - 99.9) / 100` in f64), as §6.5 prints it.
const EB: &str = "0.0009999999999999432";
const FILTER: &str = r#"{sloth_id="diff-requests", sloth_service="diff", sloth_slo="requests"}"#;
const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// Sloth's SLI recording rules (without the period rule, which no alert uses) and the
/// page and ticket alert rules for the fixture SLO.
fn sloth_rules() -> String {
    let mut r = String::from("groups:\n- name: sloth-slo-sli-recordings-diff-requests\n  rules:\n");
    for w in WINDOWS {
        write!(
            r,
            r#"  - record: slo:sli_error:ratio_rate{w}
    expr: |
      (sum(rate(http_requests_total{{job="diff",code=~"5.."}}[{w}])))
      /
      (sum(rate(http_requests_total{{job="diff"}}[{w}])))
    labels:
      owner: sre
      sloth_id: diff-requests
      sloth_service: diff
      sloth_slo: requests
      sloth_window: {w}
"#
        )
        .unwrap();
    }
    r.push_str("- name: sloth-slo-alerts-diff-requests\n  rules:\n");
    for (severity, route, [(s1, l1, f1), (s2, l2, f2)]) in [
        ("page", "pager", [("5m", "1h", "14.4"), ("30m", "6h", "6")]),
        ("ticket", "slack", [("2h", "1d", "3"), ("6h", "3d", "1")]),
    ] {
        let cond = |w: &str, f: &str| {
            format!(
                "max(slo:sli_error:ratio_rate{w}{FILTER} > ({f} * {EB})) without (sloth_window)"
            )
        };
        write!(
            r,
            "  - alert: DiffHighErrorRate\n    expr: |\n      (\n          {}\n          and\n          {}\n      )\n      or\n      (\n          {}\n          and\n          {}\n      )\n    labels:\n      severity: {route}\n      sloth_severity: {severity}\n",
            cond(s1, f1),
            cond(l1, f1),
            cond(s2, f2),
            cond(l2, f2),
        )
        .unwrap();
    }
    r
}

/// Which severities fire at each minute `0..=minutes`, from replay's transitions.
fn burnwatch_timeline(data: &std::path::Path, minutes: usize) -> Vec<BTreeSet<String>> {
    let (lines, summary) = replay_json(
        data,
        &["--eval-interval", "1m", "--data-missing-after", "0"],
    );
    assert_eq!(summary["evaluations"], minutes as u64 + 1, "{summary}");
    let mut active = BTreeSet::new();
    let mut timeline = Vec::with_capacity(minutes + 1);
    let mut changes = lines.iter().peekable();
    for m in 0..=minutes {
        let ts = chrono::DateTime::from_timestamp(60 * m as i64, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        while let Some(c) = changes.next_if(|c| c["ts"] == ts.as_str()) {
            assert_eq!(c["alert"], "DiffHighErrorRate");
            let severity = c["severity"].as_str().unwrap().to_string();
            match c["state"].as_str().unwrap() {
                "firing" => assert!(active.insert(severity)),
                _ => assert!(active.remove(&severity)),
            }
        }
        timeline.push(active.clone());
    }
    assert!(changes.next().is_none(), "all transitions fall on minutes");
    timeline
}

/// promtool's counter series: cumulative counts, `_` where a minute has no datapoint.
fn series(minutes: &Minutes, pick: impl Fn(u64, u64) -> u64) -> String {
    let mut out = String::from("0");
    let mut sum = 0u64;
    for m in minutes {
        match m {
            Some((good, total)) => {
                sum += pick(*good, *total);
                write!(out, " {sum}").unwrap();
            }
            None => out.push_str(" _"),
        }
    }
    out
}

struct Outcome {
    asserted_firing: usize,
    timeline: Vec<BTreeSet<String>>,
}

/// Run one scenario on both sides; panics with promtool's report on disagreement.
fn compare(name: &str, minutes: &Minutes) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let data = write_events(dir.path(), "data.jsonl", 0, minutes);
    let timeline = burnwatch_timeline(&data, minutes.len());
    let expected: Vec<(usize, BTreeSet<String>)> = timeline.iter().cloned().enumerate().collect();
    prometheus_agrees(name, minutes, &expected);
    Outcome {
        asserted_firing: timeline.iter().filter(|s| !s.is_empty()).count(),
        timeline,
    }
}

/// Assert in promtool that Prometheus, fed `minutes`, has exactly the severities of
/// `expected` firing at each listed minute.
fn prometheus_agrees(name: &str, minutes: &Minutes, expected: &[(usize, BTreeSet<String>)]) {
    let promtool = service("BURNWATCH_TEST_PROMTOOL");
    let dir = tempfile::tempdir().unwrap();
    let mut test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ngroup_eval_order: \
         [sloth-slo-sli-recordings-diff-requests, sloth-slo-alerts-diff-requests]\ntests:\n\
         - interval: 1m\n  input_series:\n  - series: 'http_requests_total{{job=\"diff\",code=\"200\"}}'\n    values: '{}'\n  - series: 'http_requests_total{{job=\"diff\",code=\"500\"}}'\n    values: '{}'\n  alert_rule_test:\n",
        series(minutes, |good, _| good),
        series(minutes, |good, total| total - good),
    );
    for (m, firing) in expected {
        write!(
            test,
            "  - eval_time: {m}m\n    alertname: DiffHighErrorRate\n"
        )
        .unwrap();
        if firing.is_empty() {
            continue;
        }
        test.push_str("    exp_alerts:\n");
        for severity in firing {
            let route = if severity == "page" { "pager" } else { "slack" };
            writeln!(
                test,
                "    - exp_labels: {{owner: sre, severity: {route}, sloth_id: diff-requests, \
                 sloth_service: diff, sloth_slo: requests, sloth_severity: {severity}}}"
            )
            .unwrap();
        }
    }
    std::fs::write(dir.path().join("rules.yml"), sloth_rules()).unwrap();
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let out = Command::new(&promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scenario {name}: Prometheus disagrees with burnwatch\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Minutes at which `severity` starts firing.
fn starts(timeline: &[BTreeSet<String>], severity: &str) -> Vec<usize> {
    (0..timeline.len())
        .filter(|&m| {
            timeline[m].contains(severity) && (m == 0 || !timeline[m - 1].contains(severity))
        })
        .collect()
}

fn check_rules_are_valid(promtool: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), sloth_rules()).unwrap();
    let out = Command::new(promtool)
        .args(["check", "rules", "rules.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

const H: usize = 60;

#[test]
fn outage_pages_and_tickets_at_the_same_minutes_as_prometheus() {
    check_rules_are_valid(&service("BURNWATCH_TEST_PROMTOOL"));
    // Seven quiet hours, 10 minutes of total outage, seven hours of recovery.
    let minutes = traffic(14 * H + 10, |m| {
        if (7 * H..7 * H + 10).contains(&m) {
            1000
        } else {
            0
        }
    });
    let o = compare("outage", &minutes);
    assert_eq!(starts(&o.timeline, "page"), [7 * H + 1]);
    assert!(
        !o.timeline[7 * H + 40].contains("page"),
        "resolved 30 min after recovery"
    );
    assert_eq!(starts(&o.timeline, "ticket").len(), 1);
    assert!(o.asserted_firing > 100, "{}", o.asserted_firing);
}

#[test]
fn partial_outage_and_recovery_match_prometheus() {
    // 2 % then 5 % errors for 20 minutes each, in a background of 0.05 %: the quick pair
    // crosses 14.4× partway, not on the first minute.
    let minutes = traffic(10 * H, |m| match m {
        m if (6 * H..6 * H + 20).contains(&m) => 20,
        m if (6 * H + 20..6 * H + 40).contains(&m) => 50,
        m if m % 2 == 0 => 1,
        _ => 0,
    });
    let o = compare("partial outage and recovery", &minutes);
    let page = starts(&o.timeline, "page");
    assert_eq!(page.len(), 1);
    assert!(page[0] > 6 * H + 1, "not on the first minute: {page:?}");
    assert!(o.asserted_firing > 30);
}

#[test]
fn blip_does_not_page_on_either_side() {
    // 40 seconds of errors (667 of a minute's 1000), under 2 % of the budget.
    let minutes = traffic(10 * H, |m| if m == 8 * H { 667 } else { 0 });
    let o = compare("blip", &minutes);
    assert!(starts(&o.timeline, "page").is_empty());
}

#[test]
fn slow_burn_tickets_at_the_same_minute_and_never_pages() {
    // 3.5× (0.35 % errors) from hour 6 for 26 hours: the 1d window passes its old edge.
    let minutes = traffic(32 * H, |m| {
        if m >= 6 * H {
            if m % 2 == 0 { 3 } else { 4 }
        } else {
            0
        }
    });
    let o = compare("slow burn", &minutes);
    assert!(starts(&o.timeline, "page").is_empty());
    assert_eq!(starts(&o.timeline, "ticket").len(), 1);
    assert!(o.asserted_firing > 600);
}

#[test]
fn day_old_incident_leaving_the_1d_window_matches_prometheus() {
    // A 34-minute 100 % outage starting and ending inside five-minute buckets, then,
    // a day later, a 4× burn: the old incident slides out of the 1d window's old edge
    // (five-minute buckets in burnwatch) while the ticket windows burn again.
    let minutes = traffic(27 * H, |m| match m {
        m if (63..97).contains(&m) => 1000,
        m if m >= 23 * H => 4,
        _ => 0,
    });
    let o = compare("day-old incident", &minutes);
    assert_eq!(starts(&o.timeline, "page").len(), 1);
    assert!(o.timeline[24 * H + 63].contains("ticket"));
    assert!(o.asserted_firing > 500);
}

#[test]
fn gaps_without_datapoints_match_prometheus() {
    // Quiet traffic with two gaps (no datapoints, and no requests counted), then a total
    // outage 45 minutes after the second gap ends.
    let mut minutes = traffic(9 * H, |m| {
        if (6 * H + 45..6 * H + 55).contains(&m) {
            1000
        } else {
            0
        }
    });
    for m in (2 * H..2 * H + 25).chain(5 * H + 30..6 * H) {
        minutes[m] = None;
    }
    let o = compare("gaps", &minutes);
    assert_eq!(starts(&o.timeline, "page"), [6 * H + 46]);
    assert!(o.asserted_firing > 60);
}

#[test]
fn no_data_while_firing_prometheus_resolves_and_burnwatch_holds() {
    // A total outage from 6h00; at 6h10 the source fails for an hour (no datapoints, and
    // no requests counted); when it is back, the outage is over.
    let mut minutes = traffic(9 * H, |m| {
        if (6 * H..6 * H + 10).contains(&m) {
            1000
        } else {
            0
        }
    });
    for m in &mut minutes[6 * H + 10..7 * H + 10] {
        *m = None;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = write_events(dir.path(), "data.jsonl", 0, &minutes);
    let timeline = burnwatch_timeline(&data, minutes.len());
    // burnwatch: pages at 6h01 and holds through the gap; resolves on the first minute of
    // data after it (7h10 complete at 7h11), which shows the short windows clear.
    assert_eq!(starts(&timeline, "page"), [6 * H + 1]);
    assert!((6 * H + 1..7 * H + 11).all(|m| timeline[m].contains("page")));
    assert!(!timeline[7 * H + 11].contains("page"));
    // Prometheus: firing while the 30m range still holds samples, resolved once it holds
    // fewer than two (at 6h40), while the source is still down.
    let set = |s: &[&str]| {
        s.iter()
            .map(|x| x.to_string())
            .collect::<BTreeSet<String>>()
    };
    prometheus_agrees(
        "no data while firing",
        &minutes,
        &[
            (6 * H + 30, set(&["page", "ticket"])),
            (6 * H + 50, set(&["ticket"])),
        ],
    );
    assert_eq!(timeline[6 * H + 50], set(&["page", "ticket"]));
}
