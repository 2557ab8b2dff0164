//! [`SloStatus`]: the numbers of one SLO at one evaluation, and the math that produces
//! them (SRE Workbook ch. 5; Sloth's rule semantics).
//!
//! - error ratio of a window = Σerrors / Σevents over its buckets; no events → no data;
//! - burn rate = error ratio / error budget (`(100 - objective) / 100`);
//! - period budget remaining = 1 - period burn rate (negative once overspent);
//! - a pair burns when both its windows' error ratios are strictly above
//!   `factor × error budget` and the long window saw at least `min_events` events.
//!
//! Every value is finite or absent (`None`): no NaN or infinity leaves this module.

use crate::spec::{Duration, Severity, Tier};
use crate::window::WindowSum;

use super::alert::Condition;
use super::slo::{PairDef, SloDef};

/// One window of one SLO at one evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowStatus {
    /// The window length.
    pub window: Duration,
    /// Bad events in the window (for raw SLIs: the sum of sample ratios, fixed point).
    pub errors: f64,
    /// All events in the window (for raw SLIs: samples, fixed point).
    pub events: f64,
    /// Σerrors / Σevents; `None` (no data) when the window has no events.
    pub error_ratio: Option<f64>,
    /// Error ratio / error budget; `None` with no data or a zero budget (objective 100).
    pub burn_rate: Option<f64>,
}

impl WindowStatus {
    fn new(window: Duration, sum: WindowSum, error_budget: f64) -> Self {
        let error_ratio = (sum.total > 0.0 && sum.errors.is_finite() && sum.total.is_finite())
            .then(|| (sum.errors / sum.total).clamp(0.0, 1.0));
        WindowStatus {
            window,
            errors: sum.errors,
            events: sum.total,
            error_ratio,
            burn_rate: burn_rate(error_ratio, error_budget),
        }
    }
}

/// `ratio / budget` when both make it a finite number.
fn burn_rate(ratio: Option<f64>, error_budget: f64) -> Option<f64> {
    let r = ratio? / error_budget;
    (error_budget > 0.0 && r.is_finite()).then_some(r)
}

/// Why a pair does or does not burn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairState {
    /// Both windows above the threshold, with enough events: this pair fires its alert.
    Burning,
    /// At least one window at or below the threshold.
    Quiet,
    /// Above the threshold but the long window has fewer events than `min_events`.
    LowTraffic,
    /// A window has no events or no datapoints: cannot tell.
    NoData,
}

/// One burn-rate pair at one evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairStatus {
    /// Which pair.
    pub tier: Tier,
    /// Its state.
    pub state: PairState,
    /// The burn-rate threshold (the factor).
    pub factor: f64,
    /// Short window length.
    pub short_window: Duration,
    /// Short window burn rate.
    pub short_burn_rate: Option<f64>,
    /// Long window length.
    pub long_window: Duration,
    /// Long window burn rate.
    pub long_burn_rate: Option<f64>,
}

/// Everything the daemon's `/metrics` and `/api/v1/slos` show for one SLO.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SloStatus {
    /// When it was last evaluated (seconds since the epoch).
    pub evaluated_at: Option<i64>,
    /// Per window, in [`SloDef::windows`] order (Sloth's `slo:sli_error:ratio_rate<w>`).
    pub windows: Vec<WindowStatus>,
    /// Burn rate of the page-quick short window (`slo:current_burn_rate:ratio`).
    pub current_burn_rate: Option<f64>,
    /// Burn rate over the period (`slo:period_burn_rate:ratio`).
    pub period_burn_rate: Option<f64>,
    /// `1 - period burn rate` (`slo:period_error_budget_remaining:ratio`); negative once
    /// the budget is overspent.
    pub period_error_budget_remaining: Option<f64>,
    /// The four pairs, in Sloth's order.
    pub pairs: Vec<PairStatus>,
    /// End of the newest minute that had a datapoint.
    pub last_data_at: Option<i64>,
    /// True while the SLO has had no datapoint for the configured time.
    pub data_missing: bool,
}

impl SloStatus {
    /// A status with room for the SLO's windows and pairs, before any evaluation.
    pub(crate) fn for_def(def: &SloDef) -> Self {
        SloStatus {
            windows: Vec::with_capacity(def.windows.len()),
            pairs: Vec::with_capacity(def.pairs.len()),
            ..SloStatus::default()
        }
    }

    /// Recompute from the window sums at `now`.
    pub(crate) fn update(
        &mut self,
        def: &SloDef,
        now: i64,
        sums: impl Iterator<Item = WindowSum>,
        min_events: u64,
    ) {
        self.evaluated_at = Some(now);
        self.windows.clear();
        self.windows.extend(
            def.windows
                .iter()
                .zip(sums)
                .map(|(w, s)| WindowStatus::new(*w, s, def.error_budget)),
        );
        self.current_burn_rate = self.windows[def.current_window].burn_rate;
        self.period_burn_rate = self.windows[def.period_window].burn_rate;
        self.period_error_budget_remaining = self.period_burn_rate.map(|b| 1.0 - b);
        self.pairs.clear();
        for p in &def.pairs {
            let status = self.pair(p, min_events);
            self.pairs.push(status);
        }
    }

    fn pair(&self, p: &PairDef, min_events: u64) -> PairStatus {
        let (short, long) = (&self.windows[p.short], &self.windows[p.long]);
        let state = match (short.error_ratio, long.error_ratio) {
            (Some(s), Some(l)) if s > p.threshold && l > p.threshold => {
                if long.events >= min_events as f64 {
                    PairState::Burning
                } else {
                    PairState::LowTraffic
                }
            }
            (Some(_), Some(_)) => PairState::Quiet,
            _ => PairState::NoData,
        };
        PairStatus {
            tier: p.tier,
            state,
            factor: p.factor,
            short_window: short.window,
            short_burn_rate: short.burn_rate,
            long_window: long.window,
            long_burn_rate: long.burn_rate,
        }
    }

    /// The page or ticket condition: any pair of that severity burning → true; else any
    /// pair without data → unknown; else false.
    pub fn condition(&self, severity: Severity) -> Condition {
        let mut unknown = false;
        for p in self.pairs.iter().filter(|p| p.tier.severity() == severity) {
            match p.state {
                PairState::Burning => return Condition::True,
                PairState::NoData => unknown = true,
                PairState::Quiet | PairState::LowTraffic => {}
            }
        }
        if unknown {
            Condition::Unknown
        } else {
            Condition::False
        }
    }
}
