use super::*;
use crate::spec::Duration;
use crate::status::{Status, WindowRatio};

fn snapshot() -> SloSnapshot {
    SloSnapshot {
        id: "mass-spec-api-availability".into(),
        service: "mass-spec".into(),
        name: "api-availability".into(),
        labels: [
            ("owner", "platform-sre"),
            ("note", "say \"hi\"\nthere\\"),
            ("bad-name", "dropped"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        objective: 99.9,
        period: Duration::from_days(30),
        spec: "prometheus/v1".into(),
        windows: vec![
            WindowRatio {
                window: Duration::from_mins(5),
                error_ratio: Some(0.02),
                total: 6000.0,
            },
            WindowRatio {
                window: Duration::from_days(30),
                error_ratio: None,
                total: 0.0,
            },
        ],
        current_burn_rate: Some(20.0),
        period_burn_rate: None,
        period_error_budget_remaining: None,
        no_data: false,
        alerts: vec![],
        pairs: vec![],
    }
}

#[test]
fn sloth_series_use_sloths_names_labels_and_merge_order() {
    let board = StatusBoard::new();
    board.publish(Status {
        evaluated_at: None,
        slos: vec![snapshot()],
    });
    let text = Telemetry::new(board).encode().unwrap();
    let ids = r#"note="say \"hi\"\nthere\\",owner="platform-sre",sloth_id="mass-spec-api-availability",sloth_service="mass-spec",sloth_slo="api-availability""#;
    for line in [
        "# TYPE slo:sli_error:ratio_rate5m gauge".to_string(),
        format!(
            r#"slo:sli_error:ratio_rate5m{{{},sloth_window="5m"}} 0.02"#,
            ids
        ),
        // Sloth's rules: vector(0.9990000000000001) and vector(1-0.9990000000000001).
        format!("slo:objective:ratio{{{ids}}} 0.9990000000000001"),
        format!("slo:error_budget:ratio{{{ids}}} 0.0009999999999998899"),
        format!("slo:time_period:days{{{ids}}} 30.0"),
        format!("slo:current_burn_rate:ratio{{{ids}}} 20.0"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in\n{text}"
        );
    }
    let info = text
        .lines()
        .find(|l| l.starts_with("sloth_slo_info{"))
        .unwrap();
    for part in [
        r#"sloth_mode="burnwatch-daemon""#,
        r#"sloth_objective="99.9""#,
        r#"sloth_spec="prometheus/v1""#,
    ] {
        assert!(info.contains(part), "{info}");
    }
    assert!(info.ends_with(" 1.0") || info.ends_with(" 1"), "{info}");
    // No data is absent, never NaN or a fake value; invalid label names are dropped.
    assert!(!text.contains("ratio_rate30d{"), "{text}");
    assert!(!text.contains("period_burn_rate:ratio{"), "{text}");
    assert!(
        !text.contains("NaN") && !text.contains("bad-name"),
        "{text}"
    );
}

#[test]
fn self_metrics_are_named_burnwatch_and_counters_end_in_total() {
    let t = Telemetry::new(StatusBoard::new());
    t.notification_sent("alertmanager:http://am", "firing");
    t.notification_failed("sns:arn:aws:sns:us-east-1:1:t", "unavailable");
    t.set_outbox_depth(
        &["alertmanager:http://am".to_string(), "sns:x".to_string()],
        &[("sns:x".to_string(), 3)],
    );
    let text = t.encode().unwrap();
    for line in [
        r#"burnwatch_notifications_sent_total{receiver="alertmanager:http://am",state="firing"} 1"#,
        r#"burnwatch_notifications_failed_total{receiver="sns:arn:aws:sns:us-east-1:1:t",reason="unavailable"} 1"#,
        r#"burnwatch_outbox_depth{receiver="alertmanager:http://am"} 0"#,
        r#"burnwatch_outbox_depth{receiver="sns:x"} 3"#,
        "# TYPE burnwatch_evaluations_total counter",
        "# TYPE burnwatch_transitions_dropped_total counter",
        "burnwatch_transitions_dropped_total 0",
        "# TYPE burnwatch_evaluation_duration_seconds histogram",
        r#"burnwatch_build_info{version="0.1.0"} 1"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // With no evaluation yet there are no SLO series at all.
    assert!(!text.contains("slo:"), "{text}");
}

#[test]
fn alert_state_and_probe_runs_are_exported_as_dashboards_expect() {
    use crate::status::{AlertSnapshot, AlertStatus};
    let alert = |severity: &str, status| AlertSnapshot {
        name: "A".into(),
        severity: severity.into(),
        status,
        fired_at: None,
        resolved_at: None,
        labels: Labels::new(),
        annotations: Labels::new(),
        burn_rates: Default::default(),
    };
    let mut slo = snapshot();
    slo.labels.clear();
    slo.alerts = vec![
        alert("page", AlertStatus::Firing),
        alert("ticket", AlertStatus::Inactive),
        alert("ticket", AlertStatus::Firing),
    ];
    let board = StatusBoard::new();
    board.publish(Status {
        evaluated_at: None,
        slos: vec![slo],
    });
    let t = Telemetry::new(board);
    t.record_probe_run("rds", "healthy", true, &[("dns", 0.001), ("tcp", 0.002)]);
    t.record_probe_run("rds", "auth_failed", false, &[("dns", 0.003)]);
    let text = t.encode().unwrap();
    let ids = r#"sloth_id="mass-spec-api-availability",sloth_service="mass-spec""#;
    for line in [
        format!(
            r#"burnwatch_slo_alert_firing{{{ids},sloth_severity="page",sloth_slo="api-availability"}} 1.0"#
        ),
        format!(
            r#"burnwatch_slo_alert_firing{{{ids},sloth_severity="ticket",sloth_slo="api-availability"}} 1.0"#
        ),
        r#"burnwatch_probe_success{target="rds"} 0"#.to_string(),
        r#"burnwatch_probe_classification{target="rds",classification="auth_failed"} 1"#
            .to_string(),
        r#"burnwatch_probe_classification{target="rds",classification="healthy"} 0"#.to_string(),
        r#"burnwatch_probe_step_duration_seconds{target="rds",step="dns"} 0.003"#.to_string(),
        r#"burnwatch_probe_runs_total{target="rds",classification="healthy"} 1"#.to_string(),
        "# TYPE burnwatch_probe_step_duration_seconds gauge".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // The tcp step was not reached by the last run: no stale value.
    assert!(!text.contains(r#"step="tcp""#), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("burnwatch_slo_alert_firing{"))
            .count(),
        2
    );
}
