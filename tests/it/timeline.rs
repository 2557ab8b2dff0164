//! `burnwatch timeline` and `report` end to end on a real history store: probe runs
//! recorded by `probe db`, read back in time order with their ids and permalinks.

use crate::support::burnwatch;

#[test]
fn timeline_lists_probe_classification_changes_with_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("history.sqlite");
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        "storage:\n  path: history.sqlite\nexternal_url: https://burnwatch.example\n",
    )
    .unwrap();
    let from = chrono::Utc::now() - chrono::Duration::minutes(1);
    // Two failing runs (same classification) against a name that cannot resolve.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let out = burnwatch()
            .args(["probe", "db", "--json", "--store"])
            .arg(&store)
            .args([
                "--url",
                "postgresql://probe@burnwatch-no-such-host.invalid:5432/app?sslmode=disable",
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(run["classification"], "dns_failed");
        ids.push(run["id"].as_str().unwrap().to_string());
    }
    let to = chrono::Utc::now() + chrono::Duration::minutes(1);
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = burnwatch()
        .args(["timeline", "--config"])
        .arg(&config)
        .args(["--from", &ts(from), "--to", &ts(to)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    // Only the change of classification is listed: the first run, not the repeat.
    assert!(md.contains(&format!("run `{}`", ids[0])), "{md}");
    assert!(
        !md.contains(&ids[1]),
        "unchanged classification is not repeated: {md}"
    );
    assert!(md.contains("**dns_failed**, failed step `dns`"), "{md}");
    assert!(
        md.contains(&format!(
            "[link](https://burnwatch.example/api/v1/probes/{})",
            ids[0]
        )),
        "{md}"
    );
    assert!(
        md.contains("runbooks/db-connectivity.md#dns-failed"),
        "{md}"
    );

    let out = burnwatch()
        .args(["timeline", "--format", "json", "--config"])
        .arg(&config)
        .args(["--from", &ts(from), "--to", &ts(to)])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["entries"][0]["probe_id"], ids[0].as_str());
    assert_eq!(doc["entries"].as_array().unwrap().len(), 1);

    // Bad ranges are usage errors.
    let out = burnwatch()
        .args(["timeline", "--config"])
        .arg(&config)
        .args(["--from", &ts(to), "--to", &ts(from)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
