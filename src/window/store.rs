//! [`SloWindows`]: one SLO's event buckets and the running sums of its windows.
//!
//! Time is counted in whole minutes since the Unix epoch ("minute index"). A window of
//! `w` minutes evaluated at end `E` covers the minute buckets that started in
//! `[E - w, E)`: at 10:00 the 5m window is the minutes 09:55 to 09:59, all complete.
//!
//! - Windows up to six hours ([`FINE_MAX_MINUTES`]) are summed from one-minute buckets and
//!   are exact.
//! - Longer windows (1d, 3d, the period) are summed from five-minute buckets. They are exact
//!   at their recent edge, which matters for detection: the minutes of the five-minute
//!   bucket still being filled are read from the minute ring. At the old edge, 1d, 3d or 30d
//!   ago, only five-minute detail exists, so the one bucket that straddles the edge counts
//!   pro rata (the share of its minutes inside the window). Every window thus covers exactly
//!   `w` minutes; with steady traffic in that one bucket the sum is exact.
//!
//! Sums are kept as running sums anchored at the current end and slid minute by minute,
//! so an evaluation costs O(number of windows), whatever their length. Data may arrive
//! late (overwriting a minute still in the minute ring adjusts every sum that covers it)
//! and may run ahead of the evaluation by up to [`SLACK_MINUTES`]; further ahead, or
//! after a jump in time, the sums are rebuilt from the buckets once.

use super::buckets::{Buckets, Counts};

/// Minutes per coarse bucket.
pub const COARSE_MINUTES: i64 = 5;
/// Windows up to this length (6h, the longest page window of the SRE Workbook catalog)
/// are kept at minute resolution; longer ones use five-minute buckets.
pub const FINE_MAX_MINUTES: i64 = 360;
/// How many minutes late data may be and still overwrite its minute (on top of the
/// longest minute window), and how far data may run ahead of the evaluation before the
/// sums must be rebuilt. CloudWatch publishes within a few minutes and burnwatch re-reads
/// the last few; an hour covers slow publishers and short daemon stalls.
pub const SLACK_MINUTES: i64 = 60;

/// Event totals of one window. Floats because the five-minute bucket at a long window's
/// old edge counts pro rata; the values are whole numbers for minute windows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WindowSum {
    /// Bad events (for raw SLIs: the sum of per-sample error ratios, fixed point).
    pub errors: f64,
    /// All events (for raw SLIs: the number of samples, fixed point).
    pub total: f64,
}

/// Why a window set was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A window of zero minutes.
    #[error("a window must be at least one minute long")]
    Empty,
}

/// Why a datapoint was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The minute is older than the minute ring keeps; it can no longer be told apart
    /// from the five-minute bucket it was summed into.
    #[error("datapoint for minute {minute} is too late: the oldest minute still kept is {oldest}")]
    TooLate {
        /// The minute index of the datapoint.
        minute: i64,
        /// The oldest minute index that can still be written.
        oldest: i64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Window {
    minutes: i64,
    coarse: bool,
    /// Running sums: all buckets of a minute window, or the whole five-minute buckets of
    /// a long window (not its head minutes, not its pro-rated tail bucket).
    errors: u64,
    total: u64,
}

impl Window {
    fn add(&mut self, c: Counts) {
        self.errors = self.errors.wrapping_add(c.errors);
        self.total = self.total.wrapping_add(c.total);
    }
    fn sub(&mut self, c: Counts) {
        self.errors = self.errors.wrapping_sub(c.errors);
        self.total = self.total.wrapping_sub(c.total);
    }
    /// Whole five-minute buckets `[lo, hi)` of a long window ending at minute `end`.
    fn coarse_range(&self, end: i64) -> (i64, i64) {
        (
            (end - self.minutes).div_euclid(COARSE_MINUTES)
                + i64::from((end - self.minutes).rem_euclid(COARSE_MINUTES) != 0),
            end.div_euclid(COARSE_MINUTES),
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Cursor {
    /// Sums cover windows ending here (exclusive minute index).
    end: i64,
    /// The newest minute whose ring slot is current (written or cleared).
    newest: i64,
}

/// One SLO's buckets and window sums. Pure data: no clock, no I/O.
#[derive(Clone, Debug)]
pub struct SloWindows {
    windows: Vec<Window>,
    fine: Buckets,
    coarse: Buckets,
    cursor: Option<Cursor>,
    /// The running sums are stale and must be rebuilt at the next [`SloWindows::advance`].
    dirty: bool,
    last_data: Option<i64>,
}

impl SloWindows {
    /// A store for windows of the given lengths in minutes (any order, duplicates allowed;
    /// [`SloWindows::sum`] takes an index into this list).
    pub fn new(window_minutes: &[u32]) -> Result<Self, WindowError> {
        if window_minutes.contains(&0) {
            return Err(WindowError::Empty);
        }
        let windows: Vec<Window> = window_minutes
            .iter()
            .map(|&m| Window {
                minutes: i64::from(m),
                coarse: i64::from(m) > FINE_MAX_MINUTES,
                errors: 0,
                total: 0,
            })
            .collect();
        let fine_max = windows
            .iter()
            .filter(|w| !w.coarse)
            .map(|w| w.minutes)
            .max()
            .unwrap_or(0)
            .max(COARSE_MINUTES);
        let fine_len = fine_max + SLACK_MINUTES;
        let coarse_max = windows
            .iter()
            .filter(|w| w.coarse)
            .map(|w| w.minutes)
            .max()
            .unwrap_or(0)
            // The coarse ring must at least span the minute ring (late writes touch both).
            .max(fine_len);
        let coarse_len =
            (coarse_max + SLACK_MINUTES + COARSE_MINUTES - 1).div_euclid(COARSE_MINUTES) + 2;
        Ok(SloWindows {
            windows,
            fine: Buckets::new(fine_len as usize),
            coarse: Buckets::new(coarse_len as usize),
            cursor: None,
            dirty: false,
            last_data: None,
        })
    }

    /// The end (exclusive minute index) the sums are anchored at, once anything happened.
    pub fn end(&self) -> Option<i64> {
        self.cursor.map(|c| c.end)
    }

    /// The newest minute that had a datapoint.
    pub fn last_data_minute(&self) -> Option<i64> {
        self.last_data
    }

    /// Store the counts of one minute, replacing what that minute held (sources re-read
    /// recent minutes as late data arrives; the newest value wins).
    pub fn record(&mut self, minute: i64, counts: Counts) -> Result<(), RecordError> {
        let cur = *self.cursor.get_or_insert(Cursor {
            end: minute,
            newest: minute - 1,
        });
        let fine_len = self.fine.len() as i64;
        if minute > cur.newest {
            self.materialise(minute);
            if minute - cur.end >= SLACK_MINUTES {
                // Too far ahead of the sums to slide them later: rebuild instead.
                self.dirty = true;
            }
        } else if minute <= cur.newest - fine_len {
            return Err(RecordError::TooLate {
                minute,
                oldest: cur.newest - fine_len + 1,
            });
        }
        let slot = minute.rem_euclid(fine_len) as usize;
        let old = self.fine.get(slot);
        self.fine.set(slot, Some(counts));
        let old = old.unwrap_or_default();

        let c = minute.div_euclid(COARSE_MINUTES);
        let cslot = c.rem_euclid(self.coarse.len() as i64) as usize;
        let mut bucket = self.coarse.get(cslot).unwrap_or_default();
        // The five-minute bucket holds the sum of its minutes, so swap the old minute for
        // the new one (wrapping: the sum never really goes below zero).
        bucket.errors = bucket
            .errors
            .wrapping_sub(old.errors)
            .wrapping_add(counts.errors);
        bucket.total = bucket
            .total
            .wrapping_sub(old.total)
            .wrapping_add(counts.total);
        self.coarse.set(cslot, Some(bucket));

        if minute < cur.end && !self.dirty {
            for w in &mut self.windows {
                let inside = if w.coarse {
                    let (lo, hi) = w.coarse_range(cur.end);
                    (lo..hi).contains(&c)
                } else {
                    minute >= cur.end - w.minutes
                };
                if inside {
                    w.sub(old);
                    w.add(counts);
                }
            }
        }
        self.last_data = Some(self.last_data.map_or(minute, |l| l.max(minute)));
        Ok(())
    }

    /// Move the windows' end to minute `end` (exclusive): the evaluation at 10:00 covers
    /// minutes up to 09:59. Minutes that never got a datapoint stay "no datapoint".
    /// Moving backwards is ignored.
    pub fn advance(&mut self, end: i64) {
        let Some(cur) = self.cursor else {
            self.cursor = Some(Cursor {
                end,
                newest: end - 1,
            });
            return;
        };
        if end <= cur.end {
            return;
        }
        // Decide before materialising: clearing slots may drop the buckets a slide needs.
        let rebuild = self.dirty || end - cur.end > SLACK_MINUTES;
        if end - 1 > cur.newest {
            self.materialise(end - 1);
        }
        if rebuild {
            for i in 0..self.windows.len() {
                self.rebuild(i, end);
            }
            self.dirty = false;
        } else {
            for i in 0..self.windows.len() {
                self.slide(i, cur.end, end);
            }
        }
        if let Some(c) = &mut self.cursor {
            c.end = end;
        }
    }

    /// The sum of window `index` (as given to [`SloWindows::new`]) at the current end.
    ///
    /// # Panics
    /// If `index` is out of range (a caller bug, not an input problem).
    pub fn sum(&self, index: usize) -> WindowSum {
        let Some(cur) = self.cursor else {
            return WindowSum::default();
        };
        // Running sums are current unless data ran far ahead since the last advance.
        let w = if self.dirty {
            self.recomputed(&self.windows[index], cur.end)
        } else {
            self.windows[index]
        };
        let mut sum = WindowSum {
            errors: w.errors as f64,
            total: w.total as f64,
        };
        if w.coarse {
            let (lo, hi) = w.coarse_range(cur.end);
            for m in hi * COARSE_MINUTES..cur.end {
                let c = self.minute(m).unwrap_or_default();
                sum.errors += c.errors as f64;
                sum.total += c.total as f64;
            }
            let inside = lo * COARSE_MINUTES - (cur.end - w.minutes);
            if inside > 0 {
                let c = self.coarse_bucket(lo - 1).unwrap_or_default();
                let share = inside as f64 / COARSE_MINUTES as f64;
                sum.errors += c.errors as f64 * share;
                sum.total += c.total as f64 * share;
            }
        }
        sum
    }

    /// The minute bucket `minute`: `None` when the ring no longer (or not yet) holds it,
    /// `Some(None)` when it holds no datapoint, `Some(Some(counts))` otherwise (zero
    /// traffic is `Some(Some(Counts { errors: 0, total: 0 }))`).
    pub fn bucket(&self, minute: i64) -> Option<Option<Counts>> {
        let cur = self.cursor?;
        let len = self.fine.len() as i64;
        (minute <= cur.newest && minute > cur.newest - len)
            .then(|| self.fine.get(minute.rem_euclid(len) as usize))
    }

    /// Heap bytes held by this store (buckets and window sums), for capacity planning.
    pub fn heap_bytes(&self) -> usize {
        self.fine.heap_bytes()
            + self.coarse.heap_bytes()
            + self.windows.capacity() * std::mem::size_of::<Window>()
    }

    /// Minute `m`'s counts, `None` when absent or no longer held.
    #[inline]
    fn minute(&self, m: i64) -> Option<Counts> {
        let newest = self.cursor?.newest;
        let len = self.fine.len() as i64;
        if m > newest || m <= newest - len {
            return None;
        }
        self.fine.get(m.rem_euclid(len) as usize)
    }

    /// Five-minute bucket `c`'s counts, `None` when absent or no longer held.
    #[inline]
    fn coarse_bucket(&self, c: i64) -> Option<Counts> {
        let newest = self.cursor?.newest.div_euclid(COARSE_MINUTES);
        let len = self.coarse.len() as i64;
        if c > newest || c <= newest - len {
            return None;
        }
        self.coarse.get(c.rem_euclid(len) as usize)
    }

    /// Make the ring slots of every minute up to `to` current, clearing the slots that
    /// still hold data from one ring length ago.
    fn materialise(&mut self, to: i64) {
        let Some(cur) = &mut self.cursor else { return };
        if to <= cur.newest {
            return;
        }
        let len = self.fine.len() as i64;
        let from = (cur.newest + 1).max(to - len + 1);
        for m in from..=to {
            self.fine.set(m.rem_euclid(len) as usize, None);
        }
        let clen = self.coarse.len() as i64;
        let cto = to.div_euclid(COARSE_MINUTES);
        let cfrom = (cur.newest.div_euclid(COARSE_MINUTES) + 1).max(cto - clen + 1);
        for c in cfrom..=cto {
            self.coarse.set(c.rem_euclid(clen) as usize, None);
        }
        cur.newest = to;
    }

    fn rebuild(&mut self, i: usize, end: i64) {
        self.windows[i] = self.recomputed(&self.windows[i], end);
    }

    /// `w` with its running sums recomputed from the buckets for a window ending at `end`.
    fn recomputed(&self, w: &Window, end: i64) -> Window {
        let mut acc = Window {
            errors: 0,
            total: 0,
            ..*w
        };
        if w.coarse {
            let (lo, hi) = w.coarse_range(end);
            for c in lo..hi {
                acc.add(self.coarse_bucket(c).unwrap_or_default());
            }
        } else {
            for m in end - w.minutes..end {
                acc.add(self.minute(m).unwrap_or_default());
            }
        }
        acc
    }

    fn slide(&mut self, i: usize, from: i64, to: i64) {
        let mut w = self.windows[i];
        if w.coarse {
            let (lo, hi) = w.coarse_range(from);
            let (lo2, hi2) = w.coarse_range(to);
            if lo2 >= hi {
                return self.rebuild(i, to);
            }
            for c in hi..hi2 {
                w.add(self.coarse_bucket(c).unwrap_or_default());
            }
            for c in lo..lo2 {
                w.sub(self.coarse_bucket(c).unwrap_or_default());
            }
        } else {
            if to - from >= w.minutes {
                return self.rebuild(i, to);
            }
            for m in from..to {
                w.add(self.minute(m).unwrap_or_default());
                w.sub(self.minute(m - w.minutes).unwrap_or_default());
            }
        }
        self.windows[i] = w;
    }
}
