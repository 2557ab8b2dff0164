//! [`History`]: one SLO's events over its period at chart resolution, read from the
//! five-minute ring of its [`SloWindows`].
//!
//! The window sums answer "how bad is it now"; the web view also wants "how did we get
//! here": the SLI and the error budget over the period. The five-minute buckets already
//! hold that history, so a chart costs no extra storage: the buckets are summed into at
//! most [`HISTORY_MAX_POINTS`] steps. The history starts at the first bucket with data
//! inside the period (a daemon that backfilled a few hours charts those hours, not 30 days
//! of nothing). Steps without any datapoint stay `None`: a gap, never "good".
//!
//! Pure: the caller passes the end as a minute index and publishes the result.

use super::buckets::Counts;
use super::store::{COARSE_MINUTES, SloWindows};

/// Most steps in one [`History`]: enough detail for a chart as wide as a laptop screen,
/// small enough (a few KiB) to publish for thousands of SLOs.
pub const HISTORY_MAX_POINTS: usize = 240;

/// Event counts per step of one SLO, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Minute index (minutes since the epoch) at which the first step starts.
    pub start_minute: i64,
    /// Length of every step in minutes (a multiple of five).
    pub step_minutes: i64,
    /// Errors and events per step; `None` when no minute of the step had a datapoint.
    pub points: Vec<Option<Counts>>,
}

impl History {
    /// The history of `windows` over the `span_minutes` (the period) that end at minute
    /// index `end` (exclusive), in at most `max_points` steps (at least one). Five-minute
    /// buckets that straddle the span's old edge are left out; the bucket of `end` that is
    /// still being filled is included with the minutes recorded so far.
    pub fn of(windows: &SloWindows, end: i64, span_minutes: i64, max_points: usize) -> History {
        let empty = History {
            start_minute: end,
            step_minutes: COARSE_MINUTES,
            points: Vec::new(),
        };
        if span_minutes <= 0 {
            return empty;
        }
        let first_whole = (end - span_minutes).div_euclid(COARSE_MINUTES)
            + i64::from((end - span_minutes).rem_euclid(COARSE_MINUTES) != 0);
        let last = (end - 1).div_euclid(COARSE_MINUTES);
        let bucket = |c: i64| windows.five_minute_bucket(c).flatten();
        let Some(first) = (first_whole..=last).find(|&c| bucket(c).is_some()) else {
            return empty;
        };
        let buckets = last - first + 1;
        let max = i64::try_from(max_points.max(1)).unwrap_or(i64::MAX);
        let per = (buckets + max - 1) / max;
        // Steps aligned to multiples of their length (hours stay on the hour).
        let start = first - first.rem_euclid(per);
        let mut points = Vec::with_capacity(((last - start) / per + 1) as usize);
        let mut step = start;
        while step <= last {
            let mut sum: Option<Counts> = None;
            for c in step.max(first)..(step + per).min(last + 1) {
                if let Some(counts) = bucket(c) {
                    sum = Some(sum.unwrap_or_default().plus(counts));
                }
            }
            points.push(sum);
            step += per;
        }
        History {
            start_minute: start * COARSE_MINUTES,
            step_minutes: per * COARSE_MINUTES,
            points,
        }
    }

    /// All events and errors of the history.
    pub fn total(&self) -> Counts {
        self.points
            .iter()
            .flatten()
            .fold(Counts::default(), |a, c| a.plus(*c))
    }

    /// The SLI (good / all events) per step; `None` for steps without data or without
    /// events.
    pub fn sli(&self) -> Vec<Option<f64>> {
        self.points
            .iter()
            .map(|p| {
                p.filter(|c| c.total > 0)
                    .map(|c| 1.0 - (c.errors.min(c.total) as f64 / c.total as f64))
            })
            .collect()
    }

    /// The error budget remaining after each step, as a burn-down over the history:
    /// `1 - (errors so far) / (error_budget × all events of the history)`. It ends at the
    /// period's budget remaining (for the part of the period the history covers), and goes
    /// negative once the budget is overspent. `None` for steps without data, and for every
    /// step when there were no events or the budget is zero (objective 100 %).
    pub fn budget_remaining(&self, error_budget: f64) -> Vec<Option<f64>> {
        let allowed = error_budget * self.total().total as f64;
        if !(allowed > 0.0 && allowed.is_finite()) {
            return vec![None; self.points.len()];
        }
        let mut spent = 0u64;
        self.points
            .iter()
            .map(|p| {
                p.map(|c| {
                    spent = spent.saturating_add(c.errors);
                    1.0 - spent as f64 / allowed
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60;
    /// 2026-11-20T00:00Z as a minute index.
    const T0: i64 = 1_795_132_800 / 60;

    fn store() -> SloWindows {
        // 5m, 1h and a 30d period.
        SloWindows::new(&[5, 60, 30 * DAY as u32]).unwrap()
    }

    fn c(errors: u64, total: u64) -> Counts {
        Counts { errors, total }
    }

    #[test]
    fn nothing_recorded_is_an_empty_history() {
        let w = store();
        let h = History::of(&w, T0, 30 * DAY, 240);
        assert!(h.points.is_empty());
        assert!(h.sli().is_empty());
        assert!(h.budget_remaining(0.001).is_empty());
        assert_eq!(h.total(), Counts::default());
    }

    #[test]
    fn minutes_are_summed_per_step_from_the_first_data() {
        let mut w = store();
        // Three hours of traffic two days ago, a gap of an hour, then one more hour.
        let from = T0 - 2 * DAY;
        let mut expected_hours: Vec<Option<Counts>> = Vec::new();
        for hour in 0..5 {
            if hour == 3 {
                expected_hours.push(None);
                continue;
            }
            let mut sum = Counts::default();
            for m in 0..60i64 {
                let counts = c(hour as u64 + (m % 2) as u64, 100 + m as u64);
                w.record(from + hour * 60 + m, counts).unwrap();
                sum = sum.plus(counts);
            }
            expected_hours.push(Some(sum));
        }
        let end = from + 5 * 60;
        w.advance(end);
        // 60 five-minute buckets in 5 steps: one per hour.
        let h = History::of(&w, end, 30 * DAY, 5);
        assert_eq!(h.step_minutes, 60);
        assert_eq!(h.start_minute, from);
        assert_eq!(h.points, expected_hours);

        // At full resolution the fourth hour is twelve gaps.
        let fine = History::of(&w, end, 30 * DAY, 240);
        assert_eq!(fine.step_minutes, 5);
        assert_eq!(fine.points.len(), 60);
        assert!(fine.points[36..48].iter().all(Option::is_none));
        assert_eq!(fine.total(), h.total());
    }

    #[test]
    fn the_span_ends_the_history_and_the_open_bucket_counts() {
        let mut w = store();
        let end = T0 + 3; // three minutes into a five-minute bucket
        w.record(T0 - 61, c(1, 10)).unwrap(); // outside a one-hour span
        w.record(T0 - 10, c(2, 20)).unwrap();
        w.record(T0 + 1, c(3, 30)).unwrap(); // the open bucket
        w.advance(end);
        let h = History::of(&w, end, 60, 240);
        assert_eq!(h.start_minute, T0 - 10);
        assert_eq!(h.points, vec![Some(c(2, 20)), None, Some(c(3, 30))]);
        // Over the whole period, the older minute is the start.
        let all = History::of(&w, end, 30 * DAY, 240);
        assert_eq!(all.start_minute, T0 - 65);
        assert_eq!(all.total(), c(6, 60));
    }

    #[test]
    fn sli_and_budget_burn_down() {
        let h = History {
            start_minute: T0,
            step_minutes: 5,
            points: vec![Some(c(1, 1000)), None, Some(c(0, 0)), Some(c(3, 1000))],
        };
        assert_eq!(h.sli(), vec![Some(0.999), None, None, Some(0.997)]);
        // 99.9 %: 2000 events allow 2 errors; 4 were spent.
        let budget = 1.0 - 0.999;
        let allowed = budget * 2000.0;
        assert_eq!(
            h.budget_remaining(budget),
            vec![
                Some(1.0 - 1.0 / allowed),
                None,
                Some(1.0 - 1.0 / allowed),
                Some(1.0 - 4.0 / allowed)
            ]
        );
        // A 100 % objective has no budget to chart.
        assert_eq!(h.budget_remaining(0.0), vec![None; 4]);
    }

    #[test]
    fn a_zero_span_or_point_budget_does_not_panic() {
        let mut w = store();
        w.record(T0, c(1, 2)).unwrap();
        w.advance(T0 + 1);
        assert!(History::of(&w, T0 + 1, 0, 240).points.is_empty());
        let h = History::of(&w, T0 + 1, 60, 0);
        assert_eq!(h.points, vec![Some(c(1, 2))]);
    }
}
