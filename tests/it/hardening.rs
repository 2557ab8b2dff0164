//! Hostile or broken input (issue 15): each case exits with a clear error, never a
//! panic or an endless loop.

use std::time::Duration;

use crate::support::{burnwatch, fixture};

/// One line dated 9999-12-31 among normal lines: replay used to evaluate every 30 s up to
/// that date (effectively forever). It now fails at once naming the line. The bound is
/// generous (a minute) and only guards against the old hang; it asserts no speed.
#[test]
fn replay_rejects_a_far_away_timestamp_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("far.jsonl");
    let mut text = String::new();
    for m in 0..5 {
        text.push_str(&format!(
            "{{\"ts\":\"2026-11-20T10:0{m}:00Z\",\"slo_id\":\"diff-requests\",\"good\":1000,\"total\":1000}}\n"
        ));
        if m == 2 {
            text.push_str(
                "{\"ts\":\"9999-12-31T00:00:00Z\",\"slo_id\":\"diff-requests\",\"good\":1,\"total\":1}\n",
            );
        }
    }
    std::fs::write(&data, text).unwrap();
    // A hung replay is killed at the bound and fails on its exit status.
    let out = burnwatch()
        .timeout(Duration::from_secs(60))
        .args(["replay", "--spec"])
        .arg(fixture("replay/slo.yaml"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("far.jsonl:4: timestamp 9999-12-31"),
        "{stderr}"
    );
}

/// `--since` and `--period` far beyond chrono's ±262,143-year range: `history probes` used
/// to panic on `to - Duration` (`DateTime - TimeDelta overflowed`). Such a span now means
/// "since the epoch": the command succeeds and lists what the store holds. The three
/// spans are a plain large one, one just under 2^63 ms and the parser's maximum (2^64-1 ms,
/// which used to wrap to a negative i64).
#[test]
fn history_and_report_accept_a_span_beyond_the_calendar() {
    use burnwatch::probe::{Classification, ProbeRun, StepName, StepResult};
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("data/burnwatch.sqlite");
    std::fs::create_dir_all(store_path.parent().unwrap()).unwrap();
    let store = burnwatch::store::Store::open(&store_path).unwrap();
    store
        .insert_probe_run(&ProbeRun {
            id: "01KBFM0000000000000000TEST".into(),
            target: "far-rds".into(),
            started_at: "2026-11-20T10:00:00.000Z".into(),
            healthy: false,
            classification: Classification::TcpRefused,
            failed_step: Some(StepName::Tcp),
            steps: vec![StepResult {
                step: StepName::Dns,
                ok: true,
                ms: 0.5,
                detail: "127.0.0.1".into(),
            }],
            runbook: Classification::TcpRefused.runbook(),
        })
        .unwrap();
    drop(store);
    for span in ["100000000d", "292000000y", "18446744073709551615ms"] {
        let out = burnwatch()
            .current_dir(dir.path())
            .args(["history", "probes", "--json", "--since", span])
            .arg("--store")
            .arg(&store_path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{span}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{span}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("\"id\":\"01KBFM0000000000000000TEST\""),
            "{span}: the stored run is in range: {stdout}"
        );
        // `history alerts` and `report` read ./data/burnwatch.sqlite (no config here).
        for args in [
            vec!["history", "alerts", "--since", span],
            vec!["report", "--json", "--period", span],
        ] {
            let out = burnwatch()
                .current_dir(dir.path())
                .args(&args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
            assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        }
    }
}

/// A password in an Alertmanager URL stops `burnwatch run` before it starts: exit 2, the
/// error at the URL's position, and the password not echoed.
#[test]
fn run_refuses_credentials_in_an_alertmanager_url() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        "notifiers:\n  alertmanager:\n    urls:\n      - http://am:9093\n      - https://ops:hunter2@am2:9093\n",
    )
    .unwrap();
    let out = burnwatch()
        .timeout(Duration::from_secs(60))
        .current_dir(dir.path())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("burnwatch.yaml:5:9: "), "{stderr}");
    assert!(stderr.contains("credentials in the URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
