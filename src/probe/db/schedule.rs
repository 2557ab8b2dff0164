//! How the daemon runs a probe target and when it pages: the `interval` and `alert` keys
//! of a `probes:` item. `probe db` ignores them (it runs once), but accepts them, so the
//! daemon's configuration file works for both.
//!
//! ```yaml
//! probes:
//!   - name: mass-spec-rds
//!     host: ...
//!     interval: 60s                      # how often the daemon runs the probe (default 60s)
//!     alert: { severity: page, after: 3 }  # page after 3 consecutive unhealthy runs (default)
//!   - name: mass-spec-replica
//!     host: ...
//!     alert: false                       # record and export only, never notify
//! ```
//!
//! Read from the positioned YAML (not through serde) so every problem points at the
//! offending value and says how to fix it.

use crate::spec::diag::Diagnostics;
use crate::spec::reader::{MapReader, Mode};
use crate::spec::yaml::{Node, Value};
use crate::spec::{Duration, Severity};

/// The keys of a `probes:` item this module owns.
pub const KEYS: [&str; 2] = ["interval", "alert"];

/// Default time between two runs of a target: one minute, like a Prometheus scrape of
/// blackbox_exporter; with `after: 3` a dead database pages within about three minutes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Default number of consecutive unhealthy runs before the alert fires: one failed run is
/// a blip (a failover takes 60–120 s on RDS Multi-AZ), three in a row is an outage.
pub const DEFAULT_AFTER: u32 = 3;

/// The shortest accepted interval: alert timestamps have one-second resolution.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// How the daemon schedules one target and alerts on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSchedule {
    /// Time between the starts of two runs (a run longer than that delays the next one).
    pub interval: Duration,
    /// When and how to notify; `None` when the target's `alert` is `false`.
    pub alert: Option<ProbeAlertConfig>,
}

impl Default for ProbeSchedule {
    fn default() -> Self {
        ProbeSchedule {
            interval: DEFAULT_INTERVAL,
            alert: Some(ProbeAlertConfig::default()),
        }
    }
}

/// The `alert:` block of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeAlertConfig {
    /// `sloth_severity` of the alert (`page` or `ticket`), so routes written for SLO
    /// alerts route probe alerts too. Default: page.
    pub severity: Severity,
    /// Consecutive unhealthy runs before the alert fires. Default: [`DEFAULT_AFTER`].
    pub after: u32,
}

impl Default for ProbeAlertConfig {
    fn default() -> Self {
        ProbeAlertConfig {
            severity: Severity::Page,
            after: DEFAULT_AFTER,
        }
    }
}

/// Read `interval` and `alert` from one `probes:` item (a mapping; other keys belong to
/// the target itself). `what` names the item in messages (`probes[0]`).
pub fn read(item: &Node, what: &str, diags: &mut Diagnostics) -> ProbeSchedule {
    let mut out = ProbeSchedule::default();
    let Value::Map(entries) = &item.value else {
        return out;
    };
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
            .filter(|v| v.value != Value::Null)
    };
    if let Some(n) = get("interval")
        && let Some(d) = interval(n, what, diags)
    {
        out.interval = d;
    }
    if let Some(n) = get("alert") {
        out.alert = alert(n, what, diags);
    }
    out
}

fn interval(n: &Node, what: &str, diags: &mut Diagnostics) -> Option<Duration> {
    let fix = "write a positive Prometheus duration such as 30s, 1m or 5m";
    let Value::Str(s) = &n.value else {
        diags.error(
            n.pos,
            format!(
                "{what}: `interval` must be a duration, found {}; {fix}",
                n.type_with_article()
            ),
        );
        return None;
    };
    match Duration::parse_positive(s) {
        Ok(d) if d < MIN_INTERVAL => {
            diags.error(
                n.pos,
                format!("{what}: `interval` {s} is shorter than {MIN_INTERVAL}; use 1s or more"),
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            diags.error(n.pos, format!("{what}: `interval`: {e}; {fix}"));
            None
        }
    }
}

fn alert(n: &Node, what: &str, diags: &mut Diagnostics) -> Option<ProbeAlertConfig> {
    let mut out = ProbeAlertConfig::default();
    match &n.value {
        Value::Bool(false) => return None,
        Value::Bool(true) => return Some(out),
        Value::Map(_) => {}
        _ => {
            diags.error(
                n.pos,
                format!(
                    "{what}: `alert` must be a mapping such as {{ severity: page, after: 3 }}, \
                     or false to never notify; found {}",
                    n.type_with_article()
                ),
            );
            return Some(out);
        }
    }
    let Some(mut m) = MapReader::new(n, diags, Mode::Strict) else {
        return Some(out);
    };
    if let Some(s) = m.node("severity") {
        match s.as_str() {
            Some("page") => out.severity = Severity::Page,
            Some("ticket") => out.severity = Severity::Ticket,
            _ => diags.error(
                s.pos,
                format!(
                    "{what}: `alert.severity` must be page or ticket (the `sloth_severity` label), \
                     found {}",
                    match s.as_str() {
                        Some(v) => format!("{v:?}"),
                        None => s.type_with_article().to_string(),
                    }
                ),
            ),
        }
    }
    if let Some(a) = m.node("after") {
        match &a.value {
            Value::Int(i) if *i >= 1 && *i <= i64::from(u32::MAX) => {
                out.after = u32::try_from(*i).unwrap_or(DEFAULT_AFTER);
            }
            _ => diags.error(
                a.pos,
                format!(
                    "{what}: `alert.after` must be a whole number of consecutive unhealthy runs, \
                     1 or more (default {DEFAULT_AFTER}), found {}",
                    match &a.value {
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        _ => a.type_with_article().to_string(),
                    }
                ),
            ),
        }
    }
    let before = diags.error_count();
    m.finish(diags);
    if diags.error_count() > before {
        diags.error(
            n.pos,
            format!("{what}: `alert` accepts `severity` (page or ticket) and `after` (runs)"),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::db::target::load_file;

    const BASE: &str = "probes:\n  - name: a\n    host: h\n    user: u\n    sslmode: disable\n";

    fn parse(extra: &str) -> Result<Vec<crate::probe::db::ProbeTarget>, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("burnwatch.yaml");
        std::fs::write(&path, format!("{BASE}{extra}")).unwrap();
        load_file(&path).map_err(|d| {
            d.iter()
                .map(|d| {
                    // Keep LINE:COL: message, drop the temp folder.
                    let s = d.to_string();
                    s.split_once("burnwatch.yaml:")
                        .map_or(s.clone(), |(_, rest)| rest.to_string())
                })
                .collect()
        })
    }

    #[test]
    fn defaults_are_one_minute_and_a_page_after_three_failures() {
        let t = parse("").unwrap();
        assert_eq!(t[0].schedule.interval, Duration::from_secs(60));
        assert_eq!(
            t[0].schedule.alert,
            Some(ProbeAlertConfig {
                severity: Severity::Page,
                after: 3
            })
        );
    }

    #[test]
    fn interval_and_alert_are_read() {
        let t = parse("    interval: 15s\n    alert: { severity: ticket, after: 5 }\n").unwrap();
        assert_eq!(t[0].schedule.interval, Duration::from_secs(15));
        assert_eq!(
            t[0].schedule.alert,
            Some(ProbeAlertConfig {
                severity: Severity::Ticket,
                after: 5
            })
        );
        let t = parse("    alert: { after: 1 }\n").unwrap();
        assert_eq!(t[0].schedule.alert.unwrap().severity, Severity::Page);
        assert_eq!(parse("    alert: false\n").unwrap()[0].schedule.alert, None);
        assert_eq!(
            parse("    alert: true\n").unwrap()[0].schedule.alert,
            Some(ProbeAlertConfig::default())
        );
    }

    #[test]
    fn bad_values_are_positioned_and_name_the_fix() {
        let cases = [
            (
                "    interval: 0s\n",
                "6:15: probes[0]: `interval`: duration \"0s\" must be greater than zero; write a positive Prometheus duration such as 30s, 1m or 5m",
            ),
            (
                "    interval: 60\n",
                "6:15: probes[0]: `interval` must be a duration, found an integer; write a positive Prometheus duration",
            ),
            (
                "    interval: 1 minute\n",
                "6:15: probes[0]: `interval`: invalid duration \"1 minute\"",
            ),
            (
                "    interval: 500ms\n",
                "6:15: probes[0]: `interval` 500ms is shorter than 1s; use 1s or more",
            ),
            (
                "    alert: { severity: critical }\n",
                "6:24: probes[0]: `alert.severity` must be page or ticket (the `sloth_severity` label), found \"critical\"",
            ),
            (
                "    alert: { after: 0 }\n",
                "6:21: probes[0]: `alert.after` must be a whole number of consecutive unhealthy runs, 1 or more (default 3), found 0",
            ),
            (
                "    alert: { after: 2.5 }\n",
                "6:21: probes[0]: `alert.after` must be a whole number of consecutive unhealthy runs, 1 or more (default 3), found 2.5",
            ),
            (
                "    alert: page\n",
                "6:12: probes[0]: `alert` must be a mapping such as { severity: page, after: 3 }, or false to never notify; found a string",
            ),
            ("    alert: { afterr: 2 }\n", "6:14: unknown field `afterr`"),
        ];
        for (extra, want) in cases {
            let errs = parse(extra).unwrap_err();
            assert!(
                errs.iter().any(|e| e.starts_with(want)),
                "{extra:?}: want {want:?}, got {errs:#?}"
            );
        }
        // The unknown-key case also lists what `alert` accepts.
        let errs = parse("    alert: { afterr: 2 }\n").unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.contains("`alert` accepts `severity` (page or ticket) and `after`")),
            "{errs:#?}"
        );
    }

    #[test]
    fn other_fields_stay_strict() {
        let errs = parse("    intervall: 10s\n").unwrap_err();
        assert!(errs[0].contains("unknown field `intervall`"), "{errs:#?}");
    }
}
