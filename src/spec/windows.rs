//! Alert windows: which (short, long) window pairs and budget percentages make up the
//! page and ticket multi-window multi-burn-rate alerts for an SLO period.
//!
//! Policy is data (Sloth's `AlertWindows` spec). The built-in catalog holds the SRE Workbook
//! windows for 30d and 28d; a folder of `AlertWindows` files replaces it, as Sloth's
//! `--slo-period-windows-path` does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, Diagnostics, Pos};
use super::discover;
use super::duration::Duration;
use super::model::Severity;
use super::reader::{MapReader, Mode};
use super::yaml;

/// One (short, long) window pair and the share of the period's budget it may burn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnWindow {
    /// Share of the period's error budget, in percent, that this pair alerts on.
    pub error_budget_percent: f64,
    /// The short window (resets the alert quickly once errors stop).
    pub short: Duration,
    /// The long window (the budget consumption being measured).
    pub long: Duration,
}

impl BurnWindow {
    /// Burn-rate threshold for this pair, computed in Sloth's floating-point order:
    /// `(errorBudgetPercent * period.Hours() / 100) / longWindow.Hours()`.
    pub fn factor(&self, period: Duration) -> f64 {
        (self.error_budget_percent * period.hours() / 100.0) / self.long.hours()
    }
}

/// The four window pairs for one SLO period.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertWindows {
    /// The SLO period these windows are for.
    pub period: Duration,
    /// Fast page: 2 % of budget in 1h (5m short window) by default.
    pub page_quick: BurnWindow,
    /// Slow page: 5 % in 6h (30m).
    pub page_slow: BurnWindow,
    /// Fast ticket: 10 % in 1d (2h).
    pub ticket_quick: BurnWindow,
    /// Slow ticket: 10 % in 3d (6h).
    pub ticket_slow: BurnWindow,
}

/// Which of the four pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Page, quick pair.
    PageQuick,
    /// Page, slow pair.
    PageSlow,
    /// Ticket, quick pair.
    TicketQuick,
    /// Ticket, slow pair.
    TicketSlow,
}

impl Tier {
    /// All tiers, in Sloth's order.
    pub const ALL: [Tier; 4] = [
        Tier::PageQuick,
        Tier::PageSlow,
        Tier::TicketQuick,
        Tier::TicketSlow,
    ];
    /// Page or ticket.
    pub fn severity(self) -> Severity {
        match self {
            Tier::PageQuick | Tier::PageSlow => Severity::Page,
            Tier::TicketQuick | Tier::TicketSlow => Severity::Ticket,
        }
    }
    /// A stable short name (`page-quick`) used in labels and annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::PageQuick => "page-quick",
            Tier::PageSlow => "page-slow",
            Tier::TicketQuick => "ticket-quick",
            Tier::TicketSlow => "ticket-slow",
        }
    }
}

impl AlertWindows {
    /// The pair for `tier`.
    pub fn get(&self, tier: Tier) -> &BurnWindow {
        match tier {
            Tier::PageQuick => &self.page_quick,
            Tier::PageSlow => &self.page_slow,
            Tier::TicketQuick => &self.ticket_quick,
            Tier::TicketSlow => &self.ticket_slow,
        }
    }
    /// SLI windows as Sloth computes them: the eight alert windows de-duplicated and sorted
    /// ascending, then the period appended (not de-duplicated).
    pub fn sli_windows(&self) -> Vec<Duration> {
        let mut w: Vec<Duration> = Tier::ALL
            .iter()
            .flat_map(|t| [self.get(*t).short, self.get(*t).long])
            .collect();
        w.sort();
        w.dedup();
        w.push(self.period);
        w
    }
}

/// Alert windows per SLO period.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowCatalog {
    by_period: BTreeMap<Duration, AlertWindows>,
}

const BUILTIN: [(&str, &str); 2] = [
    ("google-30d.yaml", include_str!("windows/google-30d.yaml")),
    ("google-28d.yaml", include_str!("windows/google-28d.yaml")),
];

impl WindowCatalog {
    /// The built-in catalog (SRE Workbook windows for 30d and 28d).
    pub fn builtin() -> Self {
        let mut by_period = BTreeMap::new();
        for (name, text) in BUILTIN {
            let mut diags = Diagnostics::new(Path::new(name));
            // The built-in files are part of the binary and covered by tests.
            if let Some(w) = parse_windows(text, &mut diags) {
                by_period.insert(w.period, w);
            }
        }
        WindowCatalog { by_period }
    }

    /// Load every `*.yaml`/`*.yml` under `dir` (recursively). Replaces the built-ins.
    pub fn from_dir(dir: &Path) -> Result<Self, Vec<Diagnostic>> {
        let files = discover::spec_files(&[dir.to_path_buf()]).map_err(|e| vec![e])?;
        let mut by_period: BTreeMap<Duration, (AlertWindows, PathBuf)> = BTreeMap::new();
        let mut all = Vec::new();
        for file in files {
            let mut diags = Diagnostics::new(&file);
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    diags.error(Pos::new(1, 1), format!("cannot read file: {e}"));
                    all.extend(diags.into_vec());
                    continue;
                }
            };
            if let Some(w) = parse_windows(&text, &mut diags) {
                if let Some((_, other)) = by_period.get(&w.period) {
                    diags.error(
                        Pos::new(1, 1),
                        format!(
                            "\"{}\" slo period is already loaded from {}",
                            w.period,
                            other.display()
                        ),
                    );
                } else {
                    by_period.insert(w.period, (w, file.clone()));
                }
            }
            all.extend(diags.into_vec());
        }
        if all
            .iter()
            .any(|d| d.severity == super::diag::Severity::Error)
        {
            return Err(all);
        }
        if by_period.is_empty() {
            return Err(vec![Diagnostic {
                file: dir.to_path_buf(),
                pos: Pos::new(1, 1),
                severity: super::diag::Severity::Error,
                message: "no AlertWindows files (*.yaml, *.yml) found".into(),
            }]);
        }
        Ok(WindowCatalog {
            by_period: by_period.into_iter().map(|(k, (w, _))| (k, w)).collect(),
        })
    }

    /// The windows for `period`, if the catalog has them.
    pub fn get(&self, period: Duration) -> Option<&AlertWindows> {
        self.by_period.get(&period)
    }

    /// The windows for `period`, or an error in Sloth's words (which print the period as a
    /// Go duration, `720h0m0s`) followed by the period in days and what the catalog has.
    pub fn require(&self, period: Duration) -> Result<&AlertWindows, String> {
        self.get(period).ok_or_else(|| {
            let known: Vec<String> = self.by_period.keys().map(|d| in_days(*d)).collect();
            format!(
                "the {} SLO period time window is not supported ({}; the alert-window catalog has: {})",
                go_duration(period),
                in_days(period),
                known.join(", ")
            )
        })
    }

    /// Periods the catalog covers.
    pub fn periods(&self) -> impl Iterator<Item = Duration> + '_ {
        self.by_period.keys().copied()
    }
}

/// A period as users write it: whole days as `28d` (not Prometheus' `4w`), else `5m`-style.
fn in_days(d: Duration) -> String {
    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    if d.as_millis() > 0 && d.as_millis().is_multiple_of(DAY_MS) {
        format!("{}d", d.as_millis() / DAY_MS)
    } else {
        d.to_string()
    }
}

/// Go's `time.Duration.String()` (`720h0m0s`, `1h30m0s`, `2m0s`, `1.5s`, `500ms`), the
/// way Sloth prints periods in its messages.
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        out.push('.');
        out.push_str(format!("{frac:03}").trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// Parse one `AlertWindows` document, reporting problems into `diags`.
pub fn parse_windows(text: &str, diags: &mut Diagnostics) -> Option<AlertWindows> {
    let docs = match yaml::parse(text, 0) {
        Ok(d) => d,
        Err(e) => {
            diags.error(e.pos, format!("invalid YAML: {}", e.message));
            return None;
        }
    };
    let Some(doc) = docs.first() else {
        diags.error(Pos::new(1, 1), "empty AlertWindows file");
        return None;
    };
    let mut root = MapReader::new(doc, diags, Mode::Strict)?;
    let api = root.str("apiVersion", diags);
    if api.as_deref().is_some_and(|a| a != "sloth.slok.dev/v1") {
        let pos = root.pos_of("apiVersion");
        diags.error(pos, "invalid apiVersion, should be \"sloth.slok.dev/v1\"");
    }
    let kind = root.str("kind", diags);
    if kind.as_deref().is_some_and(|k| k != "AlertWindows") {
        let pos = root.pos_of("kind");
        diags.error(pos, "invalid kind, should be \"AlertWindows\"");
    }
    let spec_node = root.required_node("spec", diags)?;
    root.finish(diags);
    let mut spec = MapReader::new(spec_node, diags, Mode::Strict)?;
    let period = spec.duration("sloPeriod", diags);
    if period.is_none() && spec.node("sloPeriod").is_none() {
        diags.error(spec_node.pos, "slo period is required");
    }
    let page = spec.required_node("page", diags);
    let ticket = spec.required_node("ticket", diags);
    spec.finish(diags);
    let (pq, ps) = page
        .map(|n| quick_slow(n, "page", diags))
        .unwrap_or((None, None));
    let (tq, ts) = ticket
        .map(|n| quick_slow(n, "ticket", diags))
        .unwrap_or((None, None));
    Some(AlertWindows {
        period: period?,
        page_quick: pq?,
        page_slow: ps?,
        ticket_quick: tq?,
        ticket_slow: ts?,
    })
}

fn quick_slow(
    node: &yaml::Node,
    what: &str,
    diags: &mut Diagnostics,
) -> (Option<BurnWindow>, Option<BurnWindow>) {
    let Some(mut m) = MapReader::new(node, diags, Mode::Strict) else {
        return (None, None);
    };
    let quick = m
        .required_node("quick", diags)
        .and_then(|n| burn_window(n, &format!("{what} quick"), diags));
    let slow = m
        .required_node("slow", diags)
        .and_then(|n| burn_window(n, &format!("{what} slow"), diags));
    m.finish(diags);
    (quick, slow)
}

fn burn_window(node: &yaml::Node, what: &str, diags: &mut Diagnostics) -> Option<BurnWindow> {
    let mut m = MapReader::new(node, diags, Mode::Strict)?;
    let budget = m.number("errorBudgetPercent", diags);
    let short = m.duration("shortWindow", diags);
    let long = m.duration("longWindow", diags);
    for (key, missing, msg) in [
        (
            "errorBudgetPercent",
            budget.is_none(),
            "error budget is required",
        ),
        ("shortWindow", short.is_none(), "short window is required"),
        ("longWindow", long.is_none(), "long window is required"),
    ] {
        if missing && m.node(key).is_none() {
            diags.error(node.pos, format!("invalid {what}: {msg}"));
        }
    }
    if let Some(b) = budget
        && !(b > 0.0 && b <= 100.0)
    {
        diags.error(
            m.pos_of("errorBudgetPercent"),
            format!("invalid {what}: error budget percent must be in (0, 100]"),
        );
    }
    if let (Some(s), Some(l)) = (short, long)
        && s >= l
    {
        diags.error(
            m.pos_of("shortWindow"),
            format!("invalid {what}: short window {s} must be shorter than long window {l}"),
        );
    }
    m.finish(diags);
    Some(BurnWindow {
        error_budget_percent: budget?,
        short: short?,
        long: long?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_workbook_factors() {
        let cat = WindowCatalog::builtin();
        let d30 = Duration::from_days(30);
        let w = cat.get(d30).unwrap();
        assert_eq!(w.page_quick.factor(d30), 14.4);
        assert_eq!(w.page_slow.factor(d30), 6.0);
        assert_eq!(w.ticket_quick.factor(d30), 3.0);
        assert_eq!(w.ticket_slow.factor(d30), 1.0);
        let d28 = Duration::from_days(28);
        let w = cat.get(d28).unwrap();
        // Sloth's goldens, bit for bit (sloth-compat.md §7).
        assert_eq!(w.page_quick.factor(d28), 13.44);
        assert_eq!(w.page_slow.factor(d28), 5.6000000000000005);
        assert_eq!(w.ticket_quick.factor(d28), 2.8000000000000003);
        assert_eq!(w.ticket_slow.factor(d28), 0.9333333333333333);
        let names: Vec<String> = cat
            .get(d30)
            .unwrap()
            .sli_windows()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(names, ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]);
    }

    #[test]
    fn unsupported_period_is_an_error() {
        let err = WindowCatalog::builtin()
            .require(Duration::from_days(7))
            .unwrap_err();
        assert_eq!(
            err,
            "the 168h0m0s SLO period time window is not supported (7d; the alert-window catalog has: 28d, 30d)"
        );
    }

    #[test]
    fn go_durations_like_time_duration_string() {
        assert_eq!(go_duration(Duration::from_days(30)), "720h0m0s");
        assert_eq!(go_duration(Duration::from_mins(90)), "1h30m0s");
        assert_eq!(go_duration(Duration::from_mins(2)), "2m0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(1250)), "1.25s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(0)), "0s");
        assert_eq!(in_days(Duration::from_days(28)), "28d");
        assert_eq!(in_days(Duration::from_hours(36)), "1d12h");
    }

    #[test]
    fn missing_fields_are_reported_with_positions() {
        let text = "apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec:\n  sloPeriod: 7d\n  page:\n    quick: {errorBudgetPercent: 8, shortWindow: 5m}\n    slow: {errorBudgetPercent: 12.5, shortWindow: 30m, longWindow: 6h}\n  ticket:\n    quick: {errorBudgetPercent: 20, shortWindow: 2h, longWindow: 1d}\n    slow: {errorBudgetPercent: 42, shortWindow: 6h, longWindow: 3d}\n";
        let mut diags = Diagnostics::new(Path::new("w.yaml"));
        assert!(parse_windows(text, &mut diags).is_none());
        let v = diags.into_vec();
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].to_string(),
            "w.yaml:6:12: invalid page quick: long window is required"
        );
    }
}
