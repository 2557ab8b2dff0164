//! `burnwatch history alerts`: alert transitions from the history store, for postmortems.
//!
//! Text output is one aligned line per transition; `--json` prints one object per line
//! with the same keys as `replay --json` (`ts`, `slo_id`, `alert`, `severity`, `state`)
//! plus `detail` (labels, annotations, burn rates at the time).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::spec::Duration;
use crate::store::{AlertTransition, Store};

/// Arguments of `burnwatch history alerts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The daemon's configuration, for the store path. Without it (and without
    /// ./burnwatch.yaml) the default store data/burnwatch.sqlite is read.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Show the last DURATION (e.g. 24h, 7d) up to now.
    #[arg(long, default_value = "24h", value_parser = super::parse_duration, conflicts_with_all = ["from", "to"])]
    pub since: Duration,
    /// Start of the range (RFC 3339, e.g. 2026-11-20T10:00:00Z); needs --to.
    #[arg(long, value_parser = super::parse_ts, requires = "to")]
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339); needs --from.
    #[arg(long, value_parser = super::parse_ts, requires = "from")]
    pub to: Option<DateTime<Utc>>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// Print the transitions in the range, oldest first.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = match super::store_path(args.config.as_deref()) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    if !path.exists() {
        anyhow::bail!(
            "no history store at {} (burnwatch run creates it; check storage.path)",
            path.display()
        );
    }
    let (from, to) = match (args.from, args.to) {
        (Some(f), Some(t)) => (f, t),
        _ => {
            let now = Utc::now();
            (super::start_before(now, args.since), now)
        }
    };
    if from >= to {
        anyhow::bail!("--from must be before --to");
    }
    let store = Store::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let transitions = store.alert_transitions(from, to)?;
    if transitions.is_empty() && !args.json {
        eprintln!(
            "no alert transitions between {} and {}",
            rfc3339(from),
            rfc3339(to)
        );
    }
    print!("{}", render(&transitions, args.json));
    Ok(ExitCode::SUCCESS)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The output for `transitions`: aligned text lines, or JSON Lines.
pub fn render(transitions: &[AlertTransition], json: bool) -> String {
    let mut out = String::new();
    for t in transitions {
        if json {
            let line = serde_json::json!({
                "ts": rfc3339(t.ts),
                "slo_id": t.slo_id,
                "alert": t.alert,
                "severity": t.severity,
                "state": t.state,
                "detail": t.detail,
            });
            out.push_str(&line.to_string());
        } else {
            out.push_str(&format!(
                "{}  {:<8}  {:<6}  {}  {}",
                rfc3339(t.ts),
                t.state,
                t.severity,
                t.slo_id,
                t.alert
            ));
        }
        out.push('\n');
    }
    out
}

/// The store named by the configuration; exit 2 (after printing diagnostics) when the
/// configuration is invalid.
#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn transition(min: u32, state: &str) -> AlertTransition {
        AlertTransition {
            ts: Utc.with_ymd_and_hms(2026, 11, 20, 10, min, 0).unwrap(),
            slo_id: "mass-spec-api-availability".into(),
            alert: "MassSpecAPIAvailability".into(),
            severity: "page".into(),
            state: state.into(),
            detail: serde_json::json!({"burn_rates": {"5m": 20.5}}),
        }
    }

    #[test]
    fn text_and_json_lines() {
        let ts = [transition(0, "firing"), transition(9, "resolved")];
        assert_eq!(
            render(&ts, false),
            "2026-11-20T10:00:00Z  firing    page    mass-spec-api-availability  MassSpecAPIAvailability\n\
             2026-11-20T10:09:00Z  resolved  page    mass-spec-api-availability  MassSpecAPIAvailability\n"
        );
        let json = render(&ts, true);
        let lines: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["ts"], "2026-11-20T10:00:00Z");
        assert_eq!(lines[1]["state"], "resolved");
        assert_eq!(lines[0]["severity"], "page");
        assert_eq!(lines[0]["detail"]["burn_rates"]["5m"], 20.5);
    }

    #[test]
    fn timestamps_must_be_rfc3339() {
        assert!(crate::cli::parse_ts("2026-11-20T10:00:00Z").is_ok());
        assert!(
            crate::cli::parse_ts("2026-11-20 10:00")
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn store_path_comes_from_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bw.yaml");
        std::fs::write(&file, "storage: {path: h.sqlite}\n").unwrap();
        assert_eq!(
            crate::cli::store_path(Some(&file)).unwrap(),
            dir.path().join("h.sqlite")
        );
        std::fs::write(&file, "storage: {pth: h.sqlite}\n").unwrap();
        assert_eq!(
            crate::cli::store_path(Some(&file)).unwrap_err(),
            ExitCode::from(2)
        );
    }
}
