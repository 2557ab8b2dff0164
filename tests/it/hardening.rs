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
