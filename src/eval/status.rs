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
use crate::window::{MAX_WINDOWS, WindowSum};

use super::alert::Condition;
use super::slo::{PairDef, SloDef};

/// One window of one SLO at one evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
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
        // Sums come from integer counts: finite, and errors <= total.
        let error_ratio = (sum.total > 0.0).then(|| (sum.errors / sum.total).min(1.0));
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

/// The outcome of one evaluation of one SLO: only what was computed (the window sums and
/// the pair states), so that an evaluation writes a few hundred bytes per SLO; ratios,
/// burn rates and budgets are derived from it on demand with the SLO's definition (see
/// the methods, and [`super::SloView`] which pairs the two).
#[derive(Clone, Debug, PartialEq)]
pub struct SloStatus {
    /// When it was last evaluated (seconds since the epoch).
    pub evaluated_at: Option<i64>,
    /// Event sums per window, in [`SloDef::windows`] order (entries past them are zero).
    pub sums: [WindowSum; MAX_WINDOWS],
    /// State of each pair, in [`SloDef::pairs`] order (`NoData` before any evaluation).
    pub pair_states: [PairState; 4],
    /// End of the newest minute that had a datapoint.
    pub last_data_at: Option<i64>,
    /// True while the SLO has had no datapoint for the configured time.
    pub data_missing: bool,
}

impl Default for SloStatus {
    fn default() -> Self {
        SloStatus {
            evaluated_at: None,
            sums: [WindowSum::default(); MAX_WINDOWS],
            pair_states: [PairState::NoData; 4],
            last_data_at: None,
            data_missing: false,
        }
    }
}

impl SloStatus {
    /// Record the window sums at `now` and decide each pair.
    pub(crate) fn update(
        &mut self,
        pairs: &[PairDef; 4],
        now: i64,
        sums: &[WindowSum; MAX_WINDOWS],
        min_events: u64,
    ) {
        self.evaluated_at = Some(now);
        self.sums = *sums;
        for (state, p) in self.pair_states.iter_mut().zip(pairs) {
            *state = pair_state(&sums[p.short], &sums[p.long], p.threshold, min_events);
        }
    }

    /// The page or ticket condition: any pair of that severity burning → true; else any
    /// pair without data → unknown; else false.
    pub fn condition(&self, severity: Severity) -> Condition {
        let mut unknown = false;
        for (tier, state) in Tier::ALL.iter().zip(&self.pair_states) {
            if tier.severity() != severity {
                continue;
            }
            match state {
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

    /// Window `i` of `def` (Sloth's `slo:sli_error:ratio_rate<w>` is its error ratio).
    ///
    /// # Panics
    /// If `i` is not an index of `def.windows`.
    pub fn window(&self, def: &SloDef, i: usize) -> WindowStatus {
        WindowStatus::new(def.windows[i], self.sums[i], def.error_budget)
    }

    /// All windows of `def`, in order.
    pub fn windows<'a>(&'a self, def: &'a SloDef) -> impl Iterator<Item = WindowStatus> + 'a {
        (0..def.windows.len()).map(move |i| self.window(def, i))
    }

    /// The four pairs with their burn rates.
    pub fn pairs(&self, def: &SloDef) -> [PairStatus; 4] {
        std::array::from_fn(|i| {
            let p = &def.pairs[i];
            let (short, long) = (self.window(def, p.short), self.window(def, p.long));
            PairStatus {
                tier: p.tier,
                state: self.pair_states[i],
                factor: p.factor,
                short_window: short.window,
                short_burn_rate: short.burn_rate,
                long_window: long.window,
                long_burn_rate: long.burn_rate,
            }
        })
    }

    /// Burn rate of the page-quick short window (`slo:current_burn_rate:ratio`).
    pub fn current_burn_rate(&self, def: &SloDef) -> Option<f64> {
        self.window(def, def.current_window).burn_rate
    }

    /// Burn rate over the period (`slo:period_burn_rate:ratio`).
    pub fn period_burn_rate(&self, def: &SloDef) -> Option<f64> {
        self.window(def, def.period_window).burn_rate
    }

    /// `1 - period burn rate` (`slo:period_error_budget_remaining:ratio`); negative once
    /// the budget is overspent.
    pub fn period_error_budget_remaining(&self, def: &SloDef) -> Option<f64> {
        self.period_burn_rate(def).map(|b| 1.0 - b)
    }
}

/// Strictly above the threshold in both windows, with enough events in the long one.
fn pair_state(short: &WindowSum, long: &WindowSum, threshold: f64, min_events: u64) -> PairState {
    if short.total <= 0.0 || long.total <= 0.0 {
        return PairState::NoData;
    }
    if short.errors / short.total > threshold && long.errors / long.total > threshold {
        if long.total >= min_events as f64 {
            PairState::Burning
        } else {
            PairState::LowTraffic
        }
    } else {
        PairState::Quiet
    }
}
