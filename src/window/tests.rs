//! Window sums against a brute-force model: random sequences of writes (on time, late,
//! overwriting, far ahead, with gaps) and evaluations (minute steps and long jumps).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// The documented semantics, computed the slow way from every accepted datapoint.
struct Model {
    windows: Vec<i64>,
    fine_len: i64,
    coarse_len: i64,
    data: BTreeMap<i64, Counts>,
    end: Option<i64>,
    newest: i64,
}

impl Model {
    fn new(windows: &[u32]) -> Self {
        let windows: Vec<i64> = windows.iter().map(|&w| i64::from(w)).collect();
        let fine_max = windows
            .iter()
            .copied()
            .filter(|&w| w <= FINE_MAX_MINUTES)
            .max()
            .unwrap_or(0)
            .max(COARSE_MINUTES);
        let fine_len = fine_max + SLACK_MINUTES;
        let coarse_max = windows.iter().copied().max().unwrap_or(0).max(fine_len);
        Model {
            windows,
            fine_len,
            coarse_len: (coarse_max + SLACK_MINUTES + COARSE_MINUTES - 1)
                .div_euclid(COARSE_MINUTES)
                + 2,
            data: BTreeMap::new(),
            end: None,
            newest: 0,
        }
    }

    fn record(&mut self, m: i64, c: Counts) -> bool {
        if self.end.is_none() {
            self.end = Some(m);
            self.newest = m - 1;
        }
        if m <= self.newest - self.fine_len {
            return false;
        }
        self.newest = self.newest.max(m);
        self.data.insert(m, c);
        true
    }

    fn advance(&mut self, e: i64) {
        match self.end {
            None => {
                self.end = Some(e);
                self.newest = e - 1;
            }
            Some(end) if e > end => {
                self.end = Some(e);
                self.newest = self.newest.max(e - 1);
            }
            Some(_) => {}
        }
    }

    /// Sum of minutes `[a, b)`, counting only minutes the minute ring still holds.
    fn minutes(&self, a: i64, b: i64) -> (f64, f64) {
        let oldest = self.newest - self.fine_len + 1;
        if a.max(oldest) >= b {
            return (0.0, 0.0);
        }
        self.data
            .range(a.max(oldest)..b)
            .fold((0.0, 0.0), |(e, t), (_, c)| {
                (e + c.errors as f64, t + c.total as f64)
            })
    }

    /// Sum of five-minute bucket `c`, if the coarse ring still holds it.
    fn coarse(&self, c: i64) -> (f64, f64) {
        if c <= self.newest.div_euclid(5) - self.coarse_len {
            return (0.0, 0.0);
        }
        self.data
            .range(c * 5..c * 5 + 5)
            .fold((0.0, 0.0), |(e, t), (_, c)| {
                (e + c.errors as f64, t + c.total as f64)
            })
    }

    fn sum(&self, i: usize) -> (f64, f64) {
        let Some(end) = self.end else {
            return (0.0, 0.0);
        };
        let w = self.windows[i];
        let start = end - w;
        if w <= FINE_MAX_MINUTES {
            return self.minutes(start, end);
        }
        // Head: minutes of the unfinished five-minute bucket; body: whole buckets; tail:
        // the bucket straddling the start, pro rata.
        let head_from = end.div_euclid(5) * 5;
        let (mut e, mut t) = self.minutes(head_from, end);
        let first_whole = (start + 4).div_euclid(5);
        for c in first_whole..end.div_euclid(5) {
            let (ce, ct) = self.coarse(c);
            e += ce;
            t += ct;
        }
        let inside = first_whole * 5 - start;
        if inside > 0 {
            let (ce, ct) = self.coarse(first_whole - 1);
            e += ce * inside as f64 / 5.0;
            t += ct * inside as f64 / 5.0;
        }
        (e, t)
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Write minute `end + offset`.
    Record {
        offset: i64,
        errors: u64,
        total: u64,
    },
    /// Move the end forward.
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (-480i64..=150, 0u64..50, 0u64..200).prop_map(|(offset, e, t)| Op::Record {
            offset,
            errors: e.min(t),
            total: t,
        }),
        4 => (0i64..=12).prop_map(Op::Advance),
        1 => (0i64..=3000).prop_map(Op::Advance),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn run(windows: &[u32], start: i64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut store = SloWindows::new(windows).unwrap();
    let mut model = Model::new(windows);
    let mut end = start;
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Record {
                offset,
                errors,
                total,
            } => {
                let m = end + offset;
                let c = Counts { errors, total };
                let accepted = store.record(m, c).is_ok();
                prop_assert_eq!(accepted, model.record(m, c), "step {}: record {}", step, m);
            }
            Op::Advance(d) => {
                end += d;
                store.advance(end);
                model.advance(end);
            }
        }
        // Late data shows in the sums at once, not only after the next advance.
        for (i, w) in windows.iter().enumerate() {
            let got = store.sum(i);
            let (e, t) = model.sum(i);
            prop_assert!(
                close(got.errors, e) && close(got.total, t),
                "step {}: window {}m at end {:?}: store ({}, {}) model ({}, {})",
                step,
                w,
                store.end(),
                got.errors,
                got.total,
                e,
                t
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Workbook windows with a 2-day period (the coarse ring wraps quickly) and one odd
    /// window length, so the pro-rated edge sees every phase.
    #[test]
    fn sums_match_brute_force(
        odd in 361u32..3000,
        start in -100_000i64..100_000,
        ops in prop::collection::vec(op(), 1..250),
    ) {
        run(&[5, 30, 60, 120, 360, 1440, 2880, odd], start, &ops)?;
    }

    /// Long windows just over six hours: late data can still reach the five-minute bucket
    /// at their old edge, whose counts the store caches.
    #[test]
    fn late_data_at_a_long_window_edge_matches_brute_force(
        odd in 361u32..=415,
        ops in prop::collection::vec(op(), 1..300),
    ) {
        run(&[5, 361, odd, 415], 7, &ops)?;
    }

    /// Short windows only: the coarse ring is no longer than the minute ring needs.
    #[test]
    fn minute_windows_match_brute_force(
        w in 1u32..=360,
        ops in prop::collection::vec(op(), 1..300),
    ) {
        run(&[w, 1, 7], 0, &ops)?;
    }
}

#[test]
fn thirty_day_period_matches_brute_force_over_two_months() {
    // Deterministic, long: one datapoint a minute with a pattern, late rewrites, and a gap.
    let windows = [5, 30, 60, 120, 360, 1440, 4320, 43200];
    let mut store = SloWindows::new(&windows).unwrap();
    let mut model = Model::new(&windows);
    let t0 = 29_000_000; // some minute in 2025
    for m in t0..t0 + 60 * 24 * 60 {
        let gap = (t0 + 20_000..t0 + 20_700).contains(&m);
        if !gap {
            let total = 100 + (m % 17) as u64;
            let c = Counts {
                errors: (m % 7) as u64 % (total + 1),
                total,
            };
            assert!(store.record(m, c).is_ok());
            assert!(model.record(m, c));
        }
        if m % 97 == 0 {
            // A late correction three minutes back.
            let c = Counts {
                errors: 5,
                total: 50,
            };
            assert!(store.record(m - 3, c).is_ok());
            assert!(model.record(m - 3, c));
        }
        store.advance(m + 1);
        model.advance(m + 1);
        if m % 301 == 0 {
            for (i, w) in windows.iter().enumerate() {
                let got = store.sum(i);
                let (e, t) = model.sum(i);
                assert!(
                    close(got.errors, e) && close(got.total, t),
                    "window {w}m at minute {m}: store {got:?} model ({e}, {t})"
                );
            }
        }
    }
}

#[test]
fn no_datapoint_and_zero_traffic_are_different() {
    let mut store = SloWindows::new(&[5]).unwrap();
    store.record(100, Counts::default()).unwrap();
    store.advance(102);
    assert_eq!(store.bucket(100), Some(Some(Counts::default())));
    assert_eq!(store.bucket(101), Some(None));
    assert_eq!(store.bucket(102), None, "the future is not held");
    assert_eq!(store.last_data_minute(), Some(100));
}

#[test]
fn late_data_overwrites_and_too_late_data_is_refused() {
    let mut store = SloWindows::new(&[5, 60]).unwrap();
    let c = |e, t| Counts {
        errors: e,
        total: t,
    };
    for m in 0..10 {
        store.record(m, c(0, 10)).unwrap();
    }
    store.advance(10);
    assert_eq!(store.sum(0).total, 50.0);
    // A re-read of minute 8 with more events replaces the first value.
    store.record(8, c(4, 12)).unwrap();
    assert_eq!(
        store.sum(0),
        WindowSum {
            errors: 4.0,
            total: 52.0
        }
    );
    assert_eq!(store.sum(1).total, 102.0);
    store.advance(1000);
    let err = store.record(10, c(1, 1)).unwrap_err();
    assert!(
        matches!(err, RecordError::TooLate { minute: 10, .. }),
        "{err}"
    );
}

#[test]
fn a_thirty_day_slo_fits_in_64_kib() {
    let store = SloWindows::new(&[5, 30, 60, 120, 360, 1440, 4320, 43200]).unwrap();
    let bytes = store.heap_bytes() + std::mem::size_of::<SloWindows>();
    assert!(bytes <= 64 * 1024, "{bytes} bytes");
}

#[test]
fn raw_ratios_average_like_sloth() {
    let mut store = SloWindows::new(&[5]).unwrap();
    for (m, r) in [0.0, 0.5, 0.25, 0.1, 0.15].into_iter().enumerate() {
        store.record(m as i64, ratio_counts(r).unwrap()).unwrap();
    }
    store.advance(5);
    let s = store.sum(0);
    assert!((s.errors / s.total - 0.2).abs() < 1e-12);
    assert!(ratio_counts(f64::NAN).is_err());
    assert!(ratio_counts(1.5).is_err());
    assert!(events_counts(5, 3).is_err());
}

#[test]
fn a_whole_five_minute_bucket_can_be_written_past_the_minute_ring() {
    let mut w = SloWindows::new(&[5, 1440]).unwrap();
    let c = |errors, total| Counts { errors, total };
    w.record(10_000, c(0, 10)).unwrap();
    w.advance(10_001);
    // 600 minutes back: past the minute ring, inside the one-day window.
    let old = (10_000 - 600) / COARSE_MINUTES;
    assert!(w.record(old * COARSE_MINUTES, c(1, 1)).is_err());
    w.record_coarse(old, c(7, 50)).unwrap();
    assert_eq!(
        w.sum(1),
        WindowSum {
            errors: 7.0,
            total: 60.0
        }
    );
    // It replaces, as a re-read does.
    w.record_coarse(old, c(3, 50)).unwrap();
    w.advance(10_002);
    assert_eq!(
        w.sum(1),
        WindowSum {
            errors: 3.0,
            total: 60.0
        }
    );
    // A bucket whose minutes the ring still holds is written minute by minute.
    assert!(
        w.record_coarse(10_000 / COARSE_MINUTES - 1, c(1, 1))
            .is_err()
    );
    assert_eq!(w.sum(0).total, 10.0);
}
