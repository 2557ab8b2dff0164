//! The SRE Workbook's multi-window multi-burn-rate alerting (slo-math.md §2-§3), computed
//! exactly from per-minute request counts. The promtool tests hold the generated rules to
//! these expectations; nothing here is taken from burnwatch's code or output.
//!
//! What Prometheus computes, and so what this models:
//! - `sum(rate(errors[w])) / sum(rate(total[w]))` at time `t` is Δerrors/Δtotal between the
//!   first and last samples inside `[t - w, t]` (Prometheus 2.x includes both ends).
//!   rate()'s extrapolation multiplies numerator and denominator by the same factor when
//!   every series has the same sample times and counters start far from zero, so it cancels.
//!   Fewer than two samples: no result. 0/0: NaN, which never satisfies `>`.
//! - A pair fires when both its short and long window ratios are strictly above
//!   `factor × error budget`; page = quick pair or slow pair, ticket likewise.
//! - Sloth's period SLI is the mean of the recorded short-window ratios; the exact one is
//!   Σerrors/Σtotal over the period.

use std::ops::RangeInclusive;

/// Counters start here, far from zero, so rate()'s zero-point clamp never applies.
pub const BASE: u64 = 1_000_000_000;

/// Requests per minute of a scenario, and when Prometheus has samples of them.
#[derive(Clone, Debug)]
pub struct Traffic {
    /// `good[k]`, `bad[k]`: requests in minute `(k-1, k]`; index 0 unused.
    good: Vec<u64>,
    bad: Vec<u64>,
    /// Before this minute, samples exist only every `sparse_every` minutes (cheap history).
    dense_from: u32,
    sparse_every: u32,
}

impl Traffic {
    /// `minutes` minutes of `total` requests per minute, `bad` of them failing.
    pub fn steady(minutes: u32, total: u64, bad: u64) -> Self {
        let n = minutes as usize + 1;
        Traffic {
            good: vec![total - bad; n],
            bad: vec![bad; n],
            dense_from: 0,
            sparse_every: 1,
        }
    }

    /// Change the traffic of the minutes ending at `minutes` (1-based minute ends).
    pub fn set(&mut self, minutes: RangeInclusive<u32>, total: u64, bad: u64) {
        for k in minutes {
            self.good[k as usize] = total - bad;
            self.bad[k as usize] = bad;
        }
    }

    /// Sample only every `every` minutes before minute `from` (history nobody looks at
    /// closely; long windows still see it).
    pub fn sparse_before(&mut self, from: u32, every: u32) {
        self.dense_from = from;
        self.sparse_every = every;
    }

    /// Last minute of the scenario.
    pub fn len(&self) -> u32 {
        (self.good.len() - 1) as u32
    }

    /// Is there a sample at minute `t`?
    pub fn sampled(&self, t: u32) -> bool {
        t >= self.dense_from || t.is_multiple_of(self.sparse_every)
    }

    fn cumulative(v: &[u64]) -> Vec<u64> {
        let mut c = Vec::with_capacity(v.len());
        let mut sum = BASE;
        for (k, x) in v.iter().enumerate() {
            if k > 0 {
                sum += x;
            }
            c.push(sum);
        }
        c
    }

    /// promtool `values:` strings for the good and bad counters (`_` = no sample).
    pub fn series_values(&self) -> (String, String) {
        let render = |c: Vec<u64>| {
            c.iter()
                .enumerate()
                .map(|(t, v)| {
                    if self.sampled(t as u32) {
                        v.to_string()
                    } else {
                        "_".to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        (
            render(Self::cumulative(&self.good)),
            render(Self::cumulative(&self.bad)),
        )
    }

    /// (Δbad, Δtotal) between the first and last samples in `[t - w, t]`; `None` with fewer
    /// than two samples. `(0, 0)` is Prometheus' 0/0 = NaN.
    pub fn ratio(&self, w: u32, t: u32) -> Option<(u64, u64)> {
        let start = t.saturating_sub(w);
        let first = (start..=t).find(|&s| self.sampled(s))?;
        let last = (start..=t).rev().find(|&s| self.sampled(s))?;
        if first == last {
            return None;
        }
        let sum = |v: &[u64]| -> u64 { v[first as usize + 1..=last as usize].iter().sum() };
        let bad = sum(&self.bad);
        Some((bad, bad + sum(&self.good)))
    }
}

/// One (short, long) window pair, in minutes, and its burn-rate factor.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// Short window (minutes).
    pub short: u32,
    /// Long window (minutes).
    pub long: u32,
    /// Burn-rate factor: budget share × period / long window.
    pub factor: f64,
}

/// Objective and alert windows, written from the reference tables (slo-math.md §3.1,
/// sloth-compat.md §7), not from burnwatch.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Objective in percent.
    pub objective: f64,
    /// Period in days.
    pub period_days: u32,
    /// Budget share (percent) of the quick page pair; a blip must stay under it.
    pub page_quick_budget_percent: f64,
    /// Quick and slow page pairs.
    pub page: [Pair; 2],
    /// Quick and slow ticket pairs.
    pub ticket: [Pair; 2],
}

/// Three-valued truth: a ratio within rounding distance of a threshold is `Unsure`, and
/// the tests do not assert on such instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    /// Certainly true.
    Yes,
    /// Certainly false.
    No,
    /// Too close to call with floating-point rounding.
    Unsure,
}

impl Tri {
    fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unsure,
        }
    }
    fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unsure,
        }
    }
}

impl Policy {
    /// SRE Workbook windows at 30d: 2 %/1h (5m) and 5 %/6h (30m) page, 10 %/1d (2h) and
    /// 10 %/3d (6h) ticket.
    pub fn workbook(objective: f64, period_days: u32) -> Self {
        let f = |pct: f64, long_h: f64| (pct * f64::from(period_days) * 24.0 / 100.0) / long_h;
        Policy {
            objective,
            period_days,
            page_quick_budget_percent: 2.0,
            page: [
                Pair {
                    short: 5,
                    long: 60,
                    factor: f(2.0, 1.0),
                },
                Pair {
                    short: 30,
                    long: 360,
                    factor: f(5.0, 6.0),
                },
            ],
            ticket: [
                Pair {
                    short: 120,
                    long: 1440,
                    factor: f(10.0, 24.0),
                },
                Pair {
                    short: 360,
                    long: 4320,
                    factor: f(10.0, 72.0),
                },
            ],
        }
    }

    /// The custom 30d catalog in `tests/fixtures/rules/windows/custom-30d.yaml`: 1 %/30m
    /// (2m), 2 %/3h (15m) page; 5 %/12h (1h), 5 %/36h (3h) ticket.
    pub fn custom_30d(objective: f64) -> Self {
        Policy {
            objective,
            period_days: 30,
            page_quick_budget_percent: 1.0,
            page: [
                Pair {
                    short: 2,
                    long: 30,
                    factor: 14.4,
                },
                Pair {
                    short: 15,
                    long: 180,
                    factor: 4.8,
                },
            ],
            ticket: [
                Pair {
                    short: 60,
                    long: 720,
                    factor: 3.0,
                },
                Pair {
                    short: 180,
                    long: 2160,
                    factor: 1.0,
                },
            ],
        }
    }

    /// The error budget as the alert expressions write it: `(100 - objective) / 100`.
    pub fn error_budget(&self) -> f64 {
        (100.0 - self.objective) / 100.0
    }

    /// The error budget as `slo:error_budget:ratio` computes it: `1 - objective/100`.
    pub fn error_budget_recorded(&self) -> f64 {
        1.0 - self.objective / 100.0
    }

    /// The longest alert window (minutes): history needed for every window to be full.
    pub fn longest_window(&self) -> u32 {
        self.page
            .iter()
            .chain(&self.ticket)
            .map(|p| p.long)
            .max()
            .unwrap_or(0)
    }

    /// The period's error budget in "minutes of total outage".
    pub fn budget_minutes(&self) -> f64 {
        self.error_budget() * f64::from(self.period_days) * 24.0 * 60.0
    }

    fn above(&self, r: Option<(u64, u64)>, threshold: f64) -> Tri {
        match r {
            None | Some((_, 0)) => Tri::No,
            Some((bad, total)) => {
                let e = bad as f64 / total as f64;
                if (e - threshold).abs() <= threshold * 1e-9 {
                    Tri::Unsure
                } else if e > threshold {
                    Tri::Yes
                } else {
                    Tri::No
                }
            }
        }
    }

    /// Does `pair` fire at minute `t`?
    pub fn pair_fires(&self, traffic: &Traffic, pair: &Pair, t: u32) -> Tri {
        let thr = pair.factor * self.error_budget();
        self.above(traffic.ratio(pair.short, t), thr)
            .and(self.above(traffic.ratio(pair.long, t), thr))
    }

    /// Is the page alert firing at minute `t`?
    pub fn page(&self, traffic: &Traffic, t: u32) -> Tri {
        self.pair_fires(traffic, &self.page[0], t)
            .or(self.pair_fires(traffic, &self.page[1], t))
    }

    /// Is the ticket alert firing at minute `t`?
    pub fn ticket(&self, traffic: &Traffic, t: u32) -> Tri {
        self.pair_fires(traffic, &self.ticket[0], t)
            .or(self.pair_fires(traffic, &self.ticket[1], t))
    }

    /// Sloth's `slo:period_error_budget_remaining:ratio` at `t`: 1 - mean(short-window
    /// ratios recorded so far) / budget. `guarded`: 0/0 records nothing (burnwatch
    /// `--nan-guard`); otherwise it records NaN and the mean is NaN.
    pub fn budget_remaining_sloth(&self, traffic: &Traffic, t: u32, guarded: bool) -> f64 {
        let period = self.period_days * 24 * 60;
        let short = self.page[0].short;
        let (mut sum, mut count) = (0.0, 0u32);
        for tau in t.saturating_sub(period)..=t {
            match traffic.ratio(short, tau) {
                None => {}
                Some((_, 0)) if guarded => {}
                Some((_, 0)) => return f64::NAN,
                Some((bad, total)) => {
                    sum += bad as f64 / total as f64;
                    count += 1;
                }
            }
        }
        1.0 - (sum / f64::from(count)) / self.error_budget_recorded()
    }

    /// `--exact-period`: 1 - (Σerrors/Σtotal over the period) / budget.
    pub fn budget_remaining_exact(&self, traffic: &Traffic, t: u32) -> f64 {
        let (bad, total) = traffic
            .ratio(self.period_days * 24 * 60, t)
            .unwrap_or((0, 0));
        1.0 - (bad as f64 / total as f64) / self.error_budget_recorded()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_reproduces_workbook_numbers() {
        // Table 5-8 / §3.1 factors.
        let p = Policy::workbook(99.9, 30);
        assert_eq!(p.page[0].factor, 14.4);
        assert_eq!(p.page[1].factor, 6.0);
        assert_eq!(p.ticket[0].factor, 3.0);
        assert_eq!(p.ticket[1].factor, 1.0);
        assert!((p.budget_minutes() - 43.2).abs() < 1e-9);
        let p28 = Policy::workbook(99.9, 28);
        assert!((p28.page[0].factor - 13.44).abs() < 1e-12);
        assert!((p28.ticket[1].factor - 0.9333333333333333).abs() < 1e-12);
    }
}
