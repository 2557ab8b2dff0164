//! Error-budget concepts past Sloth's single rolling period (issue 17), as plain types a
//! loader (prometheus/v1 extension keys, OpenSLO's `budgetingMethod`/`timeWindow`) can
//! fill. Only [`BudgetPolicy`] is evaluated so far (see `eval::policy`); the budgeting
//! methods and calendar periods are the model the later steps build on.

use thiserror::Error;

use super::duration::Duration;

/// How an SLO counts its budget.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum BudgetingMethod {
    /// Good events over all events in the period (Sloth's, and burnwatch's default).
    #[default]
    Occurrences,
    /// Share of good slices; a slice is good when its SLI meets `slice_target`.
    Timeslices {
        /// Slice length (default 1m).
        slice: Duration,
        /// Share of good events (or threshold) a slice must meet to be good.
        slice_target: f64,
    },
    /// Mean of the per-slice ratios.
    RatioTimeslices {
        /// Slice length (default 1m).
        slice: Duration,
    },
}

/// Calendar unit of a calendar-aligned period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalendarUnit {
    /// ISO week, from Monday 00:00.
    Week,
    /// Calendar month, from the 1st 00:00.
    Month,
    /// Calendar quarter, from Jan/Apr/Jul/Oct 1st 00:00.
    Quarter,
}

/// The period a budget is counted over.
#[derive(Clone, Debug, PartialEq)]
pub enum Period {
    /// The last `Duration` (`28d`, `30d`, ...).
    Rolling(Duration),
    /// Since the start of the current calendar unit in `time_zone` (IANA name, `UTC` by
    /// default); the budget resets exactly at the boundary.
    Calendar {
        /// Week, month or quarter.
        unit: CalendarUnit,
        /// IANA time zone name.
        time_zone: String,
    },
}

/// State of an error-budget policy. Ordered: `Ok < Warn < Freeze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyState {
    /// Budget above every threshold.
    Ok,
    /// Budget below the warn threshold.
    Warn,
    /// Budget at or below the freeze threshold: `gate` refuses releases.
    Freeze,
}

impl PolicyState {
    /// The name used on the API and in history.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyState::Ok => "ok",
            PolicyState::Warn => "warn",
            PolicyState::Freeze => "freeze",
        }
    }

    /// The value of `burnwatch_slo_budget_policy_state` (0 ok, 1 warn, 2 freeze).
    pub fn metric_value(self) -> f64 {
        match self {
            PolicyState::Ok => 0.0,
            PolicyState::Warn => 1.0,
            PolicyState::Freeze => 2.0,
        }
    }
}

/// Thresholds on the fraction of error budget remaining (1.0 = untouched, ≤ 0 = spent).
/// `warn` when remaining is below `warn_below`; `freeze` when at or below `freeze_at`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetPolicy {
    warn_below: Option<f64>,
    freeze_at: Option<f64>,
}

/// A policy that cannot be evaluated sensibly; the loader adds `FILE:LINE:COL`.
#[derive(Debug, Error, PartialEq)]
pub enum PolicyError {
    /// A threshold outside [-1, 1] or not finite.
    #[error("budget policy threshold {0} is out of range: it must be a finite fraction in [-1, 1]")]
    OutOfRange(f64),
    #[error("budget policy warn threshold {warn} must be above its freeze threshold {freeze}")]
    /// Warn at or below freeze would never warn.
    WarnNotAboveFreeze {
        /// The warn threshold.
        warn: f64,
        /// The freeze threshold.
        freeze: f64,
    },
    #[error("budget policy has neither a warn nor a freeze threshold")]
    /// Neither threshold given.
    Empty,
}

impl BudgetPolicy {
    /// Checks the thresholds: each finite in [-1, 1], warn strictly above freeze.
    pub fn new(warn_below: Option<f64>, freeze_at: Option<f64>) -> Result<Self, PolicyError> {
        for t in [warn_below, freeze_at].into_iter().flatten() {
            if !t.is_finite() || !(-1.0..=1.0).contains(&t) {
                return Err(PolicyError::OutOfRange(t));
            }
        }
        match (warn_below, freeze_at) {
            (None, None) => return Err(PolicyError::Empty),
            (Some(warn), Some(freeze)) if warn <= freeze => {
                return Err(PolicyError::WarnNotAboveFreeze { warn, freeze });
            }
            _ => {}
        }
        Ok(BudgetPolicy {
            warn_below,
            freeze_at,
        })
    }

    /// Warn when the budget remaining is below this fraction.
    pub fn warn_below(&self) -> Option<f64> {
        self.warn_below
    }

    /// Freeze when the budget remaining is at or below this fraction.
    pub fn freeze_at(&self) -> Option<f64> {
        self.freeze_at
    }

    /// The state for a budget remaining; `None` (no data yet) keeps the previous state,
    /// because a gap in the data must neither freeze nor release a frozen SLO.
    pub fn state(&self, remaining: Option<f64>, previous: PolicyState) -> PolicyState {
        let Some(r) = remaining.filter(|r| !r.is_nan()) else {
            return previous;
        };
        if self.freeze_at.is_some_and(|f| r <= f) {
            PolicyState::Freeze
        } else if self.warn_below.is_some_and(|w| r < w) {
            PolicyState::Warn
        } else {
            PolicyState::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_validated() {
        assert_eq!(BudgetPolicy::new(None, None), Err(PolicyError::Empty));
        assert_eq!(
            BudgetPolicy::new(Some(1.5), None),
            Err(PolicyError::OutOfRange(1.5))
        );
        assert!(matches!(
            BudgetPolicy::new(None, Some(f64::NAN)),
            Err(PolicyError::OutOfRange(_))
        ));
        assert_eq!(
            BudgetPolicy::new(Some(0.0), Some(0.0)),
            Err(PolicyError::WarnNotAboveFreeze {
                warn: 0.0,
                freeze: 0.0
            })
        );
        assert!(BudgetPolicy::new(Some(0.25), Some(0.0)).is_ok());
    }

    #[test]
    fn warn_below_and_freeze_at_or_below() {
        let p = BudgetPolicy::new(Some(0.25), Some(0.0)).unwrap();
        let s = |r| p.state(Some(r), PolicyState::Ok);
        assert_eq!(s(0.25), PolicyState::Ok);
        assert_eq!(s(0.2499), PolicyState::Warn);
        assert_eq!(s(0.0001), PolicyState::Warn);
        assert_eq!(s(0.0), PolicyState::Freeze);
        assert_eq!(s(-3.0), PolicyState::Freeze);
    }

    #[test]
    fn no_data_keeps_the_previous_state() {
        let p = BudgetPolicy::new(None, Some(0.0)).unwrap();
        assert_eq!(p.state(None, PolicyState::Freeze), PolicyState::Freeze);
        assert_eq!(p.state(Some(f64::NAN), PolicyState::Ok), PolicyState::Ok);
        assert_eq!(p.state(Some(0.5), PolicyState::Freeze), PolicyState::Ok);
    }
}
