//! `burnwatch probe db` and `burnwatch history probes` end to end: exit codes, the JSON
//! contract, and a run appearing in history with the same id and content.

use std::path::Path;

use burnwatch::probe::{Classification, ProbeRun};

use crate::pg;
use crate::support::burnwatch;

fn url(port: u16, extra: &str) -> String {
    format!(
        "postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}{extra}",
        pg::ca().display()
    )
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn history_json(store: &Path, extra: &[&str]) -> String {
    let out = burnwatch()
        .args(["history", "probes", "--json", "--store"])
        .arg(store)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn url_probe_is_recorded_verbatim_in_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("h.sqlite");
    let out = burnwatch()
        .args([
            "probe",
            "db",
            "--json",
            "--url",
            &url(pg::shared_port(), ""),
        ])
        .arg("--store")
        .arg(&store)
        .env("PGPASSWORD", pg::password())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let printed = stdout(&out);
    let line = printed.trim_end();
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let run: ProbeRun = serde_json::from_str(line).unwrap();
    assert!(run.healthy);
    assert_eq!(
        run.target,
        format!("postgres@127.0.0.1:{}/postgres", pg::shared_port())
    );
    // Exactly the contract's keys, in the contract's order.
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let contract = [
        "id",
        "target",
        "started_at",
        "healthy",
        "classification",
        "failed_step",
        "steps",
        "runbook",
    ];
    assert_eq!(v.as_object().unwrap().len(), contract.len(), "{line}");
    let positions: Vec<usize> = contract
        .iter()
        .map(|k| {
            line.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing: {line}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{line}");

    // Same id and content in history, by range and by id.
    assert_eq!(history_json(&store, &["--since", "1h"]), printed);
    assert_eq!(history_json(&store, &["--id", &run.id]), printed);
    // Outside the range: nothing.
    assert_eq!(
        history_json(
            &store,
            &[
                "--from",
                "2000-01-01T00:00:00Z",
                "--to",
                "2000-01-02T00:00:00Z"
            ]
        ),
        ""
    );
    // Human output names the run.
    let out = burnwatch()
        .args(["history", "probes", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains(&run.id) && stdout(&out).contains("healthy"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unhealthy_exits_1_and_secrets_stay_out_of_output_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("h.sqlite");
    let secret = "hunter2-inline-in-url";
    let inline = url(pg::shared_port(), "").replace("postgres@", &format!("postgres:{secret}@"));
    let out = burnwatch()
        .args(["probe", "db", "--url", &inline, "--store"])
        .arg(&store)
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("UNHEALTHY: auth_failed (step auth)"),
        "{text}"
    );
    assert!(
        text.contains("runbook: runbooks/db-connectivity.md#auth-failed"),
        "{text}"
    );
    assert!(!text.contains(secret) && !stderr(&out).contains(secret));
    let history = history_json(&store, &[]);
    assert!(
        history.contains("28P01") && !history.contains(secret),
        "{history}"
    );
    // Not in the database file either (WAL included).
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret));
    }
}

#[test]
fn config_file_targets_and_selection() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("h.sqlite");
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:9464\nprobes:\n  - name: primary\n    host: 127.0.0.1\n    port: {}\n    user: postgres\n    \
             password: {{ env: BURNWATCH_IT_DB_PASSWORD }}\n    ca_bundle: {}\n  - name: gone\n    host: 127.0.0.1\n    port: {}\n    \
             user: postgres\n    sslmode: disable\n",
            pg::shared_port(),
            pg::ca().display(),
            pg::free_port()
        ),
    )
    .unwrap();
    let probe = |extra: &[&str]| {
        burnwatch()
            .args(["probe", "db", "--json", "--config"])
            .arg(&config)
            .arg("--store")
            .arg(&store)
            .args(extra)
            .env("BURNWATCH_IT_DB_PASSWORD", pg::password())
            .output()
            .unwrap()
    };
    let out = probe(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let runs: Vec<ProbeRun> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0].target.as_str(), runs[0].classification),
        ("primary", Classification::Healthy)
    );
    assert_eq!(
        (runs[1].target.as_str(), runs[1].classification),
        ("gone", Classification::TcpRefused)
    );

    let out = probe(&["--target", "primary"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = probe(&["--target", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no target named `nope`") && stderr(&out).contains("primary, gone"),
        "{}",
        stderr(&out)
    );
    // Three runs recorded in all, and history can filter by target.
    assert_eq!(history_json(&store, &[]).lines().count(), 3);
    assert_eq!(
        history_json(&store, &["--target", "gone"]).lines().count(),
        1
    );
}

#[test]
fn usage_and_config_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("h.sqlite");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "probes:\n  - name: x\n    host: h\n    user: u\n    sslmode: verify-full\n    prot: 5432\n").unwrap();
    let out = burnwatch()
        .args(["probe", "db", "--config"])
        .arg(&bad)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.yaml:6:5: probes[0]: unknown field `prot`"),
        "{}",
        stderr(&out)
    );

    for (args, want) in [
        (
            vec!["probe", "db", "--url", "mysql://u@h/db"],
            "postgresql://",
        ),
        (
            vec!["probe", "db", "--url", "postgresql://u@127.0.0.1/db"],
            "sslrootcert",
        ),
        (
            vec!["probe", "db", "--config", "/nonexistent/burnwatch.yaml"],
            "cannot read probe config",
        ),
        (vec!["history", "probes", "--from", "yesterday"], "RFC 3339"),
    ] {
        let out = burnwatch()
            .args(&args)
            .arg("--store")
            .arg(&store)
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
}
